// cli.h — what the example programs share: command-line flags with --help, a progress
// line, and the error handling around main(). Header-only, so each example stays one
// .cpp you can copy.
// Not here: anything a library user needs (that is in core/, nn/, losses/, optim/, data/).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cerrno>
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
#include <focalgrad/core/parallel.h>
#include <focalgrad/core/version.h>

namespace focalgrad::cli {

// Flags are --name value or --name=value; switches are --name; -h is --help. Each getter
// registers its flag for --help and consumes its tokens from the command line; finish()
// prints the help (then exits) if --help was given, and otherwise refuses what is left
// over: an unknown flag (--name or -x), or a positional argument the program does not
// take. `--` ends the flags: every token after it is positional, even one starting
// with '-'. A flag given twice is an error, not a silent choice between the two values.
class Args {
public:
    Args(int argc, char** argv, std::string summary) : program_(argv[0]), summary_(std::move(summary)) {
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            if (a == "--") {
                for (++i; i < argc; ++i) after_dashes_.push_back(argv[i]);
                break;
            }
            if (a == "-h") a = "--help";
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
        Token* t = find(name);
        if (!t) return false;
        FG_CHECK(!t->has_value, "--", name, " is a switch and takes no value");
        return true;
    }

    // Whether --name is on the command line, with whatever value; takes nothing (a getter
    // for it must still be called).
    bool given(const std::string& name) const {
        for (const Token& t : tokens_)
            if (t.text == "--" + name) return true;
        return false;
    }

    // A comma-separated list of integers in order, repeats allowed, e.g. --hidden 256,256.
    std::vector<int64_t> integers(const std::string& name, const std::string& fallback,
                                  const std::string& help, int64_t lo, int64_t hi) {
        document(name, "A,B,...", fallback, help);
        std::vector<int64_t> out;
        for (const std::string& item : items(name, fallback))
            out.push_back(parse_integer(name, item, lo, hi));
        return out;
    }

    // A comma-separated set of integers, each at most once, e.g. --seeds 0,1,2: a repeated
    // seed would count one run twice and shrink the reported spread.
    std::vector<int64_t> distinct_integers(const std::string& name, const std::string& fallback,
                                           const std::string& help, int64_t lo, int64_t hi) {
        std::vector<int64_t> out = integers(name, fallback, help, lo, hi);
        for (size_t i = 0; i < out.size(); ++i)
            for (size_t j = 0; j < i; ++j)
                FG_CHECK(out[i] != out[j], "--", name, " lists ", out[i], " twice (each value counts once)");
        return out;
    }

    // A comma-separated set of names from `allowed`, each at most once, e.g. --losses ce,focal.
    std::vector<std::string> names(const std::string& name, const std::string& fallback,
                                   const std::string& help, const std::vector<std::string>& allowed) {
        document(name, "A,B,...", fallback, help);
        std::string choices;
        for (const std::string& a : allowed) choices += (choices.empty() ? "" : ", ") + a;
        std::vector<std::string> out;
        for (const std::string& item : items(name, fallback)) {
            FG_CHECK(std::find(allowed.begin(), allowed.end(), item) != allowed.end(), "--", name,
                     ": unknown value '", item, "' (choose from ", choices, ")");
            FG_CHECK(std::find(out.begin(), out.end(), item) == out.end(), "--", name, " lists '", item,
                     "' twice (each value counts once)");
            out.push_back(item);
        }
        return out;
    }

    // --threads N, the threads of focalgrad's pool; 0 when the flag is absent, which
    // start_threads() below turns into $FOCALGRAD_NUM_THREADS or one thread per core.
    int64_t threads() {
        document("threads", "N", "",
                 focalgrad::str("threads for loops and matrix products, at most ", kMaxThreads,
                                " [$FOCALGRAD_NUM_THREADS, else one per core]"));
        const std::string* v = value("threads");
        return v ? parse_integer("threads", *v, 1, kMaxThreads) : 0;
    }

    // Call after every getter: prints --help and exits, or refuses what no getter took.
    // `positional` names the positional arguments the program takes ("IMAGE..."); the
    // default, none, makes any positional argument an error.
    void finish(const std::string& positional = "") {
        bool help = false;
        for (Token& t : tokens_)
            if (!t.used && t.text == "--help") help = t.used = true;
        if (help) {
            std::printf("%s\n\nusage: %s [flags]%s\n\n", summary_.c_str(), program_.c_str(),
                        positional.empty() ? "" : (" [--] " + positional).c_str());
            for (const std::string& line : help_lines_) std::printf("%s\n", line.c_str());
            std::printf("  -h, --help             this text\n\nfocalgrad %s\n", focalgrad::version());
            std::exit(0);
        }
        for (const Token& t : tokens_) {
            if (t.used) continue;
            FG_CHECK(t.text.size() < 2 || t.text[0] != '-', "unknown flag ", t.text,
                     t.text[1] == '-' ? "" : " (flags are spelled --name; -h is --help)");
            positionals_.push_back(t.text);
        }
        positionals_.insert(positionals_.end(), after_dashes_.begin(), after_dashes_.end());
        FG_CHECK(!positional.empty() || positionals_.empty(), "unexpected argument '", positionals_[0],
                 "': this program takes no positional arguments (flags are --name VALUE)");
    }

    const std::vector<std::string>& positionals() const { return positionals_; }

private:
    struct Token {
        std::string text;   // "--name" or a plain argument
        std::string value;  // from --name=value
        bool has_value;
        bool used;
    };

    // The token of --name, marked used, or null when absent. A second --name is an error.
    Token* find(const std::string& name) {
        Token* found = nullptr;
        for (Token& t : tokens_) {
            if (t.text != "--" + name || t.used) continue;
            FG_CHECK(!found, "--", name, " given twice (give each flag once)");
            found = &t;
            t.used = true;
        }
        return found;
    }

    // The value of --name (from --name=value or the next token), or null when absent.
    const std::string* value(const std::string& name) {
        Token* t = find(name);
        if (!t) return nullptr;
        if (t->has_value) return &t->value;
        Token* next = t + 1;
        FG_CHECK(next != tokens_.data() + tokens_.size() && !next->used && next->text.rfind("--", 0) != 0,
                 "--", name, " needs a value");
        next->used = true;
        return &next->text;
    }

    // The comma-separated items of --name (or of `fallback`), at least one, none empty.
    std::vector<std::string> items(const std::string& name, const std::string& fallback) {
        const std::string* v = value(name);
        const std::string& text = v ? *v : fallback;
        std::vector<std::string> out;
        for (size_t begin = 0;;) {
            size_t comma = text.find(',', begin);
            out.push_back(text.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin));
            FG_CHECK(!out.back().empty(), "--", name, " has an empty entry in '", text, "'");
            if (comma == std::string::npos) return out;
            begin = comma + 1;
        }
    }

    int64_t parse_integer(const std::string& name, const std::string& text, int64_t lo, int64_t hi) {
        char* end = nullptr;
        errno = 0;
        long long x = std::strtoll(text.c_str(), &end, 10);
        FG_CHECK(!text.empty() && end != text.c_str() && *end == '\0' && errno != ERANGE, "--", name,
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
    std::vector<std::string> after_dashes_;  // the tokens after `--`
    std::vector<std::string> help_lines_, positionals_;
};

// Applies --threads (from Args::threads) after finish(): the flag's count if given, which
// then wins over $FOCALGRAD_NUM_THREADS, else the variable's or one per core (a malformed
// variable is reported here, before any work starts). Warns when the count exceeds the
// cores this process may use: the threads then take turns on the cores, and every
// parallel loop waits for the one that is descheduled. Returns the count in use.
inline int start_threads(int64_t requested) {
    if (requested == 0) return num_threads();
    int cores = available_cores();
    if (requested > cores)
        std::fprintf(stderr,
                     "warning: --threads %lld is more than the %d core(s) this process may use; "
                     "expect every step to be slower than with --threads %d\n",
                     (long long)requested, cores, cores);
    set_num_threads(int(requested));
    return num_threads();
}

// Runs body(); prints a focalgrad::Error (or any exception) with a one-line hint and
// returns the exit status: 0 on success, 2 on a usage or runtime error.
inline int run_main(const char* program, const std::function<void()>& body) {
    try {
        body();
        return 0;
    } catch (const std::bad_alloc&) {
        std::fflush(stdout);
        std::fprintf(stderr, "%s: error: out of memory (std::bad_alloc)\n", program);
        std::fprintf(stderr, "hint: a smaller --batch or a smaller model needs less\n");
        return 2;
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

}  // namespace focalgrad::cli
