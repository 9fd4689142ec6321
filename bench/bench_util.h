// bench_util.h — timing helpers shared by the benchmark programs: median (workloads) and
// shortest (floors) wall time of repeated runs, and a markdown table row printer so that
// `make bench` output reads as one table. Machines are shared and noisy: compare ratios
// from the same run.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace fgbench {

inline double now_seconds() {
    using clock = std::chrono::steady_clock;
    return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

// Median of `reps` timings of f(), in seconds, after `warmup` untimed calls.
template <class F>
double median_seconds(F&& f, int reps, int warmup = 1) {
    for (int i = 0; i < warmup; ++i) f();
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        double start = now_seconds();
        f();
        t.push_back(now_seconds() - start);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

// The shortest of `reps` timings of f(), in seconds, after `warmup` untimed calls: what the
// floors take (bench/floors.h), so that a slow moment of a shared machine can only raise a
// workload's ratio to its floor, never lower it.
template <class F>
double best_seconds(F&& f, int reps, int warmup = 1) {
    for (int i = 0; i < warmup; ++i) f();
    double best = 0.0;
    for (int i = 0; i < reps; ++i) {
        double start = now_seconds();
        f();
        const double t = now_seconds() - start;
        if (i == 0 || t < best) best = t;
    }
    return best;
}

// `make bench` runs every benchmark with --no-header and prints the header once, so the
// rows of all of them form one table.
inline bool has_flag(int argc, char** argv, const char* flag) {
    for (int i = 1; i < argc; ++i)
        if (std::string(argv[i]) == flag) return true;
    return false;
}

// With --help: prints what the program measures and its flags, and returns true (main
// then returns 0). Unknown flags are ignored, because `make bench ARGS=...` hands the same
// flags to every benchmark.
inline bool help_requested(int argc, char** argv, const char* usage) {
    if (!has_flag(argc, argv, "--help")) return false;
    std::printf("%s\n", usage);
    return true;
}

inline void table_header() {
    std::printf("| benchmark | measured | floor or reference | ratio | target |\n");
    std::printf("|---|---|---|---|---|\n");
}

inline void table_row(const std::string& name, const std::string& measured, const std::string& reference,
                      const std::string& ratio, const std::string& target) {
    std::printf("| %s | %s | %s | %s | %s |\n", name.c_str(), measured.c_str(), reference.c_str(),
                ratio.c_str(), target.c_str());
    std::fflush(stdout);
}

inline std::string fmt(const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

// "<= 2.5x floor: met" or "... not met": every target row says whether this run met it.
inline std::string target_cell(double ratio, double limit, const char* of = "floor") {
    char buf[96];
    std::snprintf(buf, sizeof buf, "<= %gx %s: %s", limit, of, ratio <= limit ? "met" : "NOT met");
    return buf;
}

// The 1-minute load average: on a shared machine wall-clock times are only comparable
// within one run, and this says how busy the machine was.
inline double load_average() {
    double load = -1.0;
    if (FILE* f = std::fopen("/proc/loadavg", "r")) {
        if (std::fscanf(f, "%lf", &load) != 1) load = -1.0;
        std::fclose(f);
    }
    return load;
}

// The instruction set this program was compiled for: the floors of the vectorised
// kernels depend on it (AVX-512 does twice the work per instruction of AVX2).
inline const char* build_isa() {
#if defined(__AVX512F__)
    return "AVX-512";
#elif defined(__AVX2__) && defined(__FMA__)
    return "AVX2+FMA";
#elif defined(__AVX__)
    return "AVX";
#else
    return "SSE2";
#endif
}

}  // namespace fgbench
