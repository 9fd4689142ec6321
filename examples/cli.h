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

#include <focalgrad/core/error.h>

namespace focalgrad::cli {

// Flags are --name value or --name=value; switches are --name. Each getter registers its
// flag for --help and consumes its tokens from the command line; finish() prints the help
// (then exits) if --help was given, rejects unknown flags, and leaves the remaining
// tokens as positional arguments (e.g. image files).
class Args {
public:
    Args(int argc, char** argv, std::string summary) : program_(argv[0]), summary_(std::move(summary)) {
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            size_t eq = a.find('=');
            bool inline_value = a.rfind("--", 0) == 0 && eq != std::string::npos;
            tokens_.push_back({inline_value ? a.substr(0, eq) : a, inline_value ? a.substr(eq + 1) : "",
                               inline_value, false});
        }
    }

    std::string str(const std::string& name, const std::string& fallback, const std::string& help) {
        document(name, "TEXT", fallback, help);
        const std::string* v = value(name);
        return v ? *v : fallback;
    }

    int64_t integer(const std::string& name, int64_t fallback, const std::string& help, int64_t lo,
                    int64_t hi) {
        document(name, "N", std::to_string(fallback), help);
        const std::string* v = value(name);
        return v ? parse_integer(name, *v, lo, hi) : fallback;
    }

    double real(const std::string& name, double fallback, const std::string& help, double lo, double hi) {
        std::ostringstream def;
        def << fallback;
        document(name, "X", def.str(), help);
        const std::string* v = value(name);
        if (!v) return fallback;
        char* end = nullptr;
        double x = std::strtod(v->c_str(), &end);
        FG_CHECK(end != v->c_str() && *end == '\0' && std::isfinite(x), "--", name,
                 " expects a number, got '", *v, "'");
        FG_CHECK(x >= lo && x <= hi, "--", name, " must be in [", lo, ", ", hi, "], got ", x);
        return x;
    }

    bool flag(const std::string& name, const std::string& help) {
        document(name, "", "", help);
        for (Token& t : tokens_) {
            if (t.text != "--" + name) continue;
            FG_CHECK(!t.has_value, "--", name, " is a switch and takes no value");
            return t.used = true;
        }
        return false;
    }

    // A comma-separated list of integers, e.g. --seeds 0,1,2.
    std::vector<int64_t> integers(const std::string& name, const std::string& fallback,
                                  const std::string& help, int64_t lo, int64_t hi) {
        document(name, "A,B,...", fallback, help);
        const std::string* v = value(name);
        std::stringstream ss(v ? *v : fallback);
        std::vector<int64_t> out;
        std::string item;
        while (std::getline(ss, item, ',')) out.push_back(parse_integer(name, item, lo, hi));
        FG_CHECK(!out.empty(), "--", name, " needs at least one value");
        return out;
    }

    // Call after every getter: prints --help and exits, or rejects unknown flags.
    void finish() {
        bool help = false;
        for (Token& t : tokens_)
            if (!t.used && t.text == "--help") help = t.used = true;
        if (help) {
            std::printf("%s\n\nusage: %s [flags]\n\n", summary_.c_str(), program_.c_str());
            for (const std::string& line : help_lines_) std::printf("%s\n", line.c_str());
            std::printf("  --help                 this text\n");
            std::exit(0);
        }
        for (const Token& t : tokens_) {
            if (t.used) continue;
            FG_CHECK(t.text.rfind("--", 0) != 0 || t.text == "--", "unknown flag ", t.text);
            positionals_.push_back(t.text);
        }
    }

    const std::vector<std::string>& positionals() const { return positionals_; }

private:
    struct Token {
        std::string text;   // "--name" or a plain argument
        std::string value;  // from --name=value
        bool has_value;
        bool used;
    };

    // The value of --name (from --name=value or the next token), or null when absent.
    const std::string* value(const std::string& name) {
        for (size_t i = 0; i < tokens_.size(); ++i) {
            Token& t = tokens_[i];
            if (t.text != "--" + name) continue;
            t.used = true;
            if (t.has_value) return &t.value;
            FG_CHECK(i + 1 < tokens_.size() && tokens_[i + 1].text.rfind("--", 0) != 0, "--", name,
                     " needs a value");
            tokens_[i + 1].used = true;
            return &tokens_[i + 1].text;
        }
        return nullptr;
    }

    int64_t parse_integer(const std::string& name, const std::string& text, int64_t lo, int64_t hi) {
        char* end = nullptr;
        long long x = std::strtoll(text.c_str(), &end, 10);
        FG_CHECK(!text.empty() && end != text.c_str() && *end == '\0', "--", name,
                 " expects an integer, got '", text, "'");
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
    std::vector<Token> tokens_;
    std::vector<std::string> help_lines_, positionals_;
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
        : label_(std::move(label)),
          total_(total_steps),
          quiet_(quiet),
          tty_(isatty(fileno(stderr))),
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
                     std::string(size_t(filled), '=').c_str(),
                     std::string(size_t(width - filled), ' ').c_str(),
                     int(100 * (step + 1) / std::max<int64_t>(1, total_)), loss, rate());
        std::fflush(stderr);
    }

    void done() {
        if (quiet_) return;
        if (tty_) std::fprintf(stderr, "\r\033[K");
        std::fprintf(stderr, "%s  loss %.4f  %.0f samples/s  %.2f s\n", label_.c_str(), loss_, rate(),
                     seconds());
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
    FG_CHECK(std::isfinite(loss), "training diverged: the loss became ", loss, " at epoch ", epoch, ", step ",
             step, "; ", hint);
}

}  // namespace focalgrad::cli
