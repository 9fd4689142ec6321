// bench_losses.cpp — forward + backward time of the fused losses at N = 1,000,000 samples
// and C = 10 classes, each against its floor measured in the same run (bench/floors.h):
// the larger of moving the bytes it must move at the measured streaming bandwidth and
// evaluating its transcendentals at the measured vectorised exp (exp + log) rate.
// Targets (issue 16): cross_entropy and focal_loss <= 2.5x their floor, sigmoid_focal_loss
// <= 3x. Focal loss composed from core ops is timed too, against the same floor.
// The cases are measured round-robin (a shared machine drifts); each figure is a median.
// Not here: correctness (tests/test_loss_*.cpp), other shapes (bench_scan).
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
#include "floors.h"

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
    double load = fgbench::load_average();
    for (int r = 0; r < reps; ++r)
        for (Case& c : cases) {
            auto [wall, cpu] = time_step(c.loss, x);
            c.ms.push_back(wall);
            c.cpu.push_back(cpu);
        }

    // The floors, measured on the same footprint (40 MB in, 40 MB out) and threads.
    const double gbs = fgbench::stream_gbs(N * C, 20);
    const double exp_each = fgbench::exp_ns(N * C, 10), exp_log_each = fgbench::exp_log_ns(N * C, 10);
    const fgbench::LossFloor softmax_floor = fgbench::softmax_loss_floor(N, C, gbs, exp_each);
    const fgbench::LossFloor sigmoid_floor = fgbench::sigmoid_loss_floor(N, C, gbs, exp_log_each);

    if (!fgbench::has_flag(argc, argv, "--no-header")) {
        std::printf(
            "bench_losses: N = %lld, C = %lld, %d threads, %s, load average %.2f; forward + backward, "
            "median of %d, the cases measured round-robin\n\n",
            (long long)N, (long long)C, num_threads(), fgbench::build_isa(), load, reps);
        fgbench::table_header();
    }
    using fgbench::fmt;
    using fgbench::target_cell;
    const int threads = num_threads();
    fgbench::table_row(str("floor: streaming bandwidth, read + write, 40 MB -> 40 MB, ", threads, " threads"),
                       fmt("%.1f GB/s", gbs), "y = a x + b, 8 bytes per element", "", "");
    fgbench::table_row(str("floor: vectorised exp, ", threads, " threads, ", fgbench::build_isa()),
                       fmt("%.3f ns/element", exp_each), "fast_exp on L1-resident data", "", "");
    fgbench::table_row(str("floor: vectorised exp + log, ", threads, " threads, ", fgbench::build_isa()),
                       fmt("%.3f ns/element", exp_log_each), "log(1 + e^(-abs x)) on L1-resident data", "",
                       "");
    auto row = [&](const char* name, const Case& c, const fgbench::LossFloor& f, double limit) {
        double ms = median(c.ms), ratio = ms / (f.seconds() * 1e3);
        fgbench::table_row(name, fmt("%.2f ms", ms), "floor " + f.describe(), fmt("%.2fx floor", ratio),
                           limit > 0 ? target_cell(ratio, limit) : "");
    };
    row("cross_entropy fwd+bwd, 1M x 10 (fused)", cases[0], softmax_floor, 2.5);
    row("focal_loss fwd+bwd, 1M x 10 (fused, gamma 2)", cases[1], softmax_floor, 2.5);
    row("focal_loss composed from core ops, 1M x 10", cases[2], softmax_floor, 0);
    row("sigmoid_focal_loss fwd+bwd, 1M x 10 elements (fused)", cases[3], sigmoid_floor, 3.0);
    return 0;
}
