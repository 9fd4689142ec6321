// bench_losses.cpp — forward + backward time of the fused losses against focal loss composed
// from core ops, at N = 1,000,000 samples and C = 10 classes, and the target ratios:
//   fused focal <= 1.3 x fused cross-entropy,  >= 4 x faster than composed,  <= 30 ms.
// The three are measured round-robin in one run (a shared machine drifts; ratios from one
// run are what count); each figure is the median of the repetitions.
// Not here: correctness (tests/test_loss_*.cpp), other shapes.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <utility>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/core/random.h>
#include <focalgrad/losses/losses.h>

#include "bench_util.h"

using namespace focalgrad;

namespace {

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

double cpu_ms() {  // CPU time of the whole process, all threads
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
}

// One forward + backward: wall-clock and CPU milliseconds. The gradient is released first
// (set_to_none), as in a training step.
std::pair<double, double> time_step(const std::function<Tensor(const Tensor&)>& loss, Tensor& x) {
    x.zero_grad();
    double cpu0 = cpu_ms();
    auto start = std::chrono::steady_clock::now();
    Tensor l = loss(x);
    l.backward();
    auto stop = std::chrono::steady_clock::now();
    return {std::chrono::duration<double, std::milli>(stop - start).count(), cpu_ms() - cpu0};
}

// The 1-minute load average: on a shared machine, wall-clock times are only comparable
// within one run, and this says how busy the machine was.
double load_average() {
    double load = -1.0;
    if (FILE* f = std::fopen("/proc/loadavg", "r")) {
        if (std::fscanf(f, "%lf", &load) != 1) load = -1.0;
        std::fclose(f);
    }
    return load;
}

}  // namespace

int main(int argc, char** argv) {
    if (fgbench::help_requested(
            argc, argv,
            "bench_losses: forward+backward of the fused losses and of focal loss composed from core ops, N "
            "= 1,000,000, C = 10.\nusage: bench_losses [--no-header]"))
        return 0;
    const int64_t N = 1000000, C = 10;
    const float gamma = 2.0f;
    const int reps = 15;
    Generator gen(0);
    Tensor x = Tensor::normal({N, C}, 0.0f, 2.0f, gen).set_requires_grad(true);  // [N, C]
    std::vector<int> t(static_cast<size_t>(N));
    for (auto& v : t) v = int(gen.below(uint32_t(C)));

    FocalLossOptions focal_options;
    focal_options.gamma = gamma;
    struct Case {
        const char* name;
        std::function<Tensor(const Tensor&)> loss;
        std::vector<double> ms, cpu;
    };
    // The binary form on the same number of elements, for reference (not a target).
    Tensor binary_targets = Tensor::empty({N, C});  // [N, C], 0/1
    for (int64_t i = 0; i < N * C; ++i) binary_targets.data()[i] = float(gen.below(2));
    std::vector<Case> cases = {
        {"cross_entropy (fused)", [&](const Tensor& z) { return cross_entropy(z, t); }, {}, {}},
        {"focal_loss (fused, gamma 2)",
         [&](const Tensor& z) { return focal_loss(z, t, focal_options); },
         {},
         {}},
        {"focal composed from core ops",
         [&](const Tensor& z) {
             Tensor log_pt = gather(log_softmax(z, 1), t);  // [N]
             return mean(neg(pow(1.0f - exp(log_pt), gamma) * log_pt));
         },
         {},
         {}},
        {"sigmoid_focal_loss (fused)",
         [&](const Tensor& z) { return sigmoid_focal_loss(z, binary_targets); },
         {},
         {}},
    };
    for (Case& c : cases) time_step(c.loss, x);  // warm-up: page faults, buffer pool
    double load = load_average();
    for (int r = 0; r < reps; ++r)
        for (Case& c : cases) {
            auto [wall, cpu] = time_step(c.loss, x);
            c.ms.push_back(wall);
            c.cpu.push_back(cpu);
        }

    if (!fgbench::has_flag(argc, argv, "--no-header")) {
        std::printf(
            "bench_losses: N = %lld, C = %lld, %d threads, load average %.2f; forward + backward, "
            "median of %d, the cases measured round-robin\n\n",
            (long long)N, (long long)C, num_threads(), load, reps);
        fgbench::table_header();
    }
    double ce = median(cases[0].ms), focal = median(cases[1].ms), composed = median(cases[2].ms);
    using fgbench::fmt;
    fgbench::table_row("cross_entropy fwd+bwd, 1M x 10 (fused)", fmt("%.2f ms", ce),
                       fmt("CPU %.1f ms, all threads", median(cases[0].cpu)), "", "");
    fgbench::table_row("focal_loss fwd+bwd, 1M x 10 (fused, gamma 2)", fmt("%.2f ms", focal),
                       fmt("cross_entropy %.2f ms", ce), fmt("%.2fx CE", focal / ce), "<= 1.3x CE; <= 30 ms");
    fgbench::table_row("focal composed from core ops, 1M x 10", fmt("%.2f ms", composed),
                       fmt("fused focal %.2f ms", focal), fmt("fused is %.1fx faster", composed / focal),
                       ">= 4x");
    fgbench::table_row("sigmoid_focal_loss fwd+bwd, 1M x 10 elements", fmt("%.2f ms", median(cases[3].ms)),
                       "", "", "");
    return 0;
}
