// bench_step.cpp — the cost of one training step, against the cost of its matrix
// products alone (the "GEMM floor"), on random data:
//   MLP 784-256-128-10, batch 128, SGD with momentum 0.9;
//   CNN conv(1->32, 3x3, pad 1)-relu-pool-conv(32->64, 3x3, pad 1)-relu-pool-linear(3136->10),
//   batch 64, on 28x28 images.
// Each step is forward, a softmax cross-entropy composed of core ops (log_softmax,
// gather, mean), backward and the optimizer update; the phases are timed separately.
// The floor replays the exact gemm calls of one step (recorded with core/blas.h's trace)
// on preallocated buffers. Prints one table per thread count (1 and 2).
// Usage: bench_step [--steps N] [--threads N] [--only mlp|cnn]. Not a test: quote
// ratios from one run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/blas.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/core/random.h>
#include <focalgrad/nn/layers.h>
#include <focalgrad/optim/optimizer.h>

#include "workloads.h"

using namespace focalgrad;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

Tensor softmax_cross_entropy(const Tensor& logits, const std::vector<int>& y) {
    return -mean(gather(log_softmax(logits, 1), y));
}

struct Phases {
    double forward = 0, backward = 0, update = 0, total = 0;
};

// Runs `steps` training steps (after a few warm-up steps) and returns the median phases.
Phases time_steps(Module& net, Optimizer& opt, const Tensor& x, const std::vector<int>& y, int steps,
                  std::vector<GemmCall>* trace) {
    std::vector<double> f, b, u, t;
    for (int s = -5; s < steps; ++s) {
        bool record = trace && s == -1;
        if (record) set_gemm_trace(trace);
        auto t0 = Clock::now();
        opt.zero_grad();
        Tensor loss = softmax_cross_entropy(net(x), y);
        auto t1 = Clock::now();
        loss.backward();
        auto t2 = Clock::now();
        opt.step();
        auto t3 = Clock::now();
        if (record) set_gemm_trace(nullptr);
        if (s < 0) continue;
        f.push_back(std::chrono::duration<double>(t1 - t0).count());
        b.push_back(std::chrono::duration<double>(t2 - t1).count());
        u.push_back(std::chrono::duration<double>(t3 - t2).count());
        t.push_back(std::chrono::duration<double>(t3 - t0).count());
    }
    return {median(f), median(b), median(u), median(t)};
}

void report(const char* name, const Phases& p, double floor) {
    std::printf("  %-34s %8.3f ms  (forward %.3f, backward %.3f, update %.3f)\n", name, 1e3 * p.total,
                1e3 * p.forward, 1e3 * p.backward, 1e3 * p.update);
    std::printf("  %-34s %8.3f ms  -> step / floor = %.2fx\n", "  its gemm calls alone (floor)", 1e3 * floor,
                p.total / floor);
}

void random_labels(std::vector<int>& y, int64_t n, Generator& gen) {
    y.resize(size_t(n));
    for (auto& v : y) v = int(gen.below(10));
}

}  // namespace

int main(int argc, char** argv) {
    if (fgbench::help_requested(argc, argv,
                                "bench_step: one training step, phase by phase, against its sgemm calls "
                                "alone.\nusage: bench_step [--steps N] [--threads N] [--only mlp|cnn]"))
        return 0;
    int steps = 100;
    std::vector<int> thread_counts{1, 2};
    std::string only;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--steps") == 0)
            steps = std::max(1, std::atoi(argv[i + 1]));
        else if (std::strcmp(argv[i], "--threads") == 0)
            thread_counts = {std::max(1, std::atoi(argv[i + 1]))};
        else if (std::strcmp(argv[i], "--only") == 0)
            only = argv[i + 1];
    }
    Generator gen(0);
    Tensor x_mlp = Tensor::rand({128, 784}, gen);
    Tensor x_cnn = Tensor::rand({64, 1, 28, 28}, gen);
    std::vector<int> y_mlp, y_cnn;
    random_labels(y_mlp, 128, gen);
    random_labels(y_cnn, 64, gen);

    for (int threads : thread_counts) {
        set_num_threads(threads);
        std::printf("threads = %d (median of %d steps)\n", threads, steps);
        if (only.empty() || only == "mlp") {
            manual_seed(1);
            Sequential mlp(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10));
            SGD opt(mlp.parameters(), 0.01, 0.9);
            std::vector<GemmCall> trace;
            Phases p = time_steps(mlp, opt, x_mlp, y_mlp, steps, &trace);
            report("MLP 784-256-128-10, batch 128", p, fgbench::gemm_floor_seconds(trace, steps));
        }
        if (only.empty() || only == "cnn") {
            manual_seed(1);
            Sequential cnn(Conv2d(1, 32, 3, 1, 1), ReLU(), MaxPool2d(2), Conv2d(32, 64, 3, 1, 1), ReLU(),
                           MaxPool2d(2), Flatten(), Linear(64 * 7 * 7, 10));
            SGD opt(cnn.parameters(), 0.01, 0.9);
            std::vector<GemmCall> trace;
            int cnn_steps = std::max(1, steps / 5);
            Phases p = time_steps(cnn, opt, x_cnn, y_cnn, cnn_steps, &trace);
            report("CNN (2 conv + linear), batch 64", p, fgbench::gemm_floor_seconds(trace, cnn_steps));
        }
    }
    return 0;
}
