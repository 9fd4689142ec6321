// cli.h — what the example programs share: command-line flags with --help, a progress
// line, and the error handling around main(). Header-only, so each example stays one
// .cpp you can copy.
// Not here: anything a library user needs (that is in core/, nn/, losses/, optim/, data/).
#pragma once

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"

namespace focalgrad::cli {

// Flags are --name value or --name=value; booleans are --name. Each getter registers
// its flag for --help and reads it; finish() rejects anything unread, and prints the
// help (then exits) if --help was given.
class Args {
public:
    Args(int argc, char** argv, std::string summary) : program_(argv[0]), summary_(std::move(summary)) {
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            FG_CHECK(a.size() > 2 && a.compare(0, 2, "--") == 0, "unexpected argument '", a,
                     "' (flags start with --)");
            std::string name = a.substr(2), value;
            size_t eq = name.find('=');
            bool has_value = eq != std::string::npos;
            if (has_value) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
            } else if (i + 1 < argc && std::string(argv[i + 1]).compare(0, 2, "--") != 0) {
                value = argv[++i];
                has_value = true;
            }
            if (name == "help") {
                help_ = true;
                continue;
            }
            values_[name] = {value, has_value, false};
        }
    }

    std::string str(const std::string& name, const std::string& fallback, const std::string& help) {
        document(name, "TEXT", fallback, help);
        Value* v = find(name);
        if (!v) return fallback;
        FG_CHECK(v->has_value, "--", name, " needs a value");
        return v->text;
    }

    int64_t integer(const std::string& name, int64_t fallback, const std::string& help, int64_t lo,
                    int64_t hi) {
        document(name, "N", std::to_string(fallback), help);
        Value* v = find(name);
        if (!v) return fallback;
        return parse_integer(name, v, lo, hi);
    }

    double real(const std::string& name, double fallback, const std::string& help, double lo, double hi) {
        std::ostringstream def;
        def << fallback;
        document(name, "X", def.str(), help);
        Value* v = find(name);
        if (!v) return fallback;
        FG_CHECK(v->has_value, "--", name, " needs a number");
        char* end = nullptr;
        double x = std::strtod(v->text.c_str(), &end);
        FG_CHECK(end != v->text.c_str() && *end == '\0' && std::isfinite(x), "--", name,
                 " expects a number, got '", v->text, "'");
        FG_CHECK(x >= lo && x <= hi, "--", name, " must be in [", lo, ", ", hi, "], got ", x);
        return x;
    }

    bool flag(const std::string& name, const std::string& help) {
        document(name, "", "off", help);
        Value* v = find(name);
        FG_CHECK(!v || !v->has_value, "--", name, " is a switch and takes no value (got '",
                 v ? v->text : "", "')");
        return v != nullptr;
    }

    // A comma-separated list of integers, e.g. --seeds 0,1,2.
    std::vector<int64_t> integers(const std::string& name, const std::string& fallback,
                                  const std::string& help, int64_t lo, int64_t hi) {
        document(name, "A,B,...", fallback, help);
        Value* v = find(name);
        std::string text = v ? v->text : fallback;
        FG_CHECK(!v || v->has_value, "--", name, " needs a comma-separated list");
        std::vector<int64_t> out;
        std::stringstream ss(text);
        std::string item;
        while (std::getline(ss, item, ',')) {
            Value tmp{item, true, true};
            out.push_back(parse_integer(name, &tmp, lo, hi));
        }
        FG_CHECK(!out.empty(), "--", name, " needs at least one value");
        return out;
    }

    bool was_given(const std::string& name) const { return values_.count(name) > 0; }

    // Call after every getter: prints --help and exits, or rejects unknown flags.
    void finish() {
        if (help_) {
            std::printf("%s\n\nusage: %s [flags]\n\n", summary_.c_str(), program_.c_str());
            for (const std::string& line : help_lines_) std::printf("%s\n", line.c_str());
            std::printf("  --help                 this text\n");
            std::exit(0);
        }
        for (const auto& [name, v] : values_)
            FG_CHECK(v.used, "unknown flag --", name);
    }

private:
    struct Value {
        std::string text;
        bool has_value;
        bool used;
    };

    Value* find(const std::string& name) {
        auto it = values_.find(name);
        if (it == values_.end()) return nullptr;
        it->second.used = true;
        return &it->second;
    }

    int64_t parse_integer(const std::string& name, Value* v, int64_t lo, int64_t hi) {
        FG_CHECK(v->has_value, "--", name, " needs an integer");
        char* end = nullptr;
        long long x = std::strtoll(v->text.c_str(), &end, 10);
        FG_CHECK(end != v->text.c_str() && *end == '\0', "--", name, " expects an integer, got '",
                 v->text, "'");
        FG_CHECK(x >= lo && x <= hi, "--", name, " must be in [", lo, ", ", hi, "], got ", x);
        return x;
    }

    void document(const std::string& name, const std::string& meta, const std::string& fallback,
                  const std::string& help) {
        std::string head = "  --" + name + (meta.empty() ? "" : " " + meta);
        if (head.size() < 24) head.resize(24, ' ');
        help_lines_.push_back(head + " " + help + (fallback.empty() ? "" : " [" + fallback + "]"));
    }

    std::string program_, summary_;
    std::map<std::string, Value> values_;
    std::vector<std::string> help_lines_;
    bool help_ = false;
};

// Runs body(); prints a focalgrad::Error (or any exception) with a one-line hint and
// returns the exit status: 0 on success, 2 on a usage or runtime error.
inline int run_main(const char* program, const std::function<void()>& body) {
    try {
        body();
        return 0;
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "%s: error: %s\n", program, e.what());
        std::fprintf(stderr, "hint: run `%s --help` for the flags and their ranges\n", program);
        return 2;
    }
}

// A one-line progress report for an epoch: redrawn in place on a terminal, printed
// once at the end otherwise (logs and CI stay readable).
class Progress {
public:
    Progress(std::string label, int64_t total_steps, bool quiet)
        : label_(std::move(label)), total_(total_steps), quiet_(quiet), tty_(isatty(fileno(stderr))),
          start_(std::chrono::steady_clock::now()) {}

    void update(int64_t step, double loss, int64_t samples) {
        samples_ = samples;
        loss_ = loss;
        if (quiet_ || !tty_) return;
        auto now = std::chrono::steady_clock::now();
        if (step + 1 < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
        last_draw_ = now;
        const int width = 24;
        int filled = int(width * (step + 1) / std::max<int64_t>(1, total_));
        std::fprintf(stderr, "\r%s [%s%s] %3d%%  loss %.4f  %.0f samples/s", label_.c_str(),
                     std::string(size_t(filled), '=').c_str(), std::string(size_t(width - filled), ' ').c_str(),
                     int(100 * (step + 1) / std::max<int64_t>(1, total_)), loss, rate());
        std::fflush(stderr);
    }

    void done() {
        if (quiet_) return;
        if (tty_) std::fprintf(stderr, "\r\033[K");
        std::fprintf(stderr, "%s  loss %.4f  %.0f samples/s  %.2f s\n", label_.c_str(), loss_, rate(), seconds());
    }

    double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }

private:
    double rate() const { return samples_ / std::max(1e-9, seconds()); }

    std::string label_;
    int64_t total_;
    bool quiet_, tty_;
    std::chrono::steady_clock::time_point start_, last_draw_{};
    double loss_ = 0;
    int64_t samples_ = 0;
};

// Training must stop, with a message that says where, when the loss stops being a number.
inline void check_loss_finite(double loss, int64_t epoch, int64_t step, const std::string& hint) {
    FG_CHECK(std::isfinite(loss), "training diverged: the loss became ", loss, " at epoch ", epoch,
             ", step ", step, "; ", hint);
}

}  // namespace focalgrad::cli
