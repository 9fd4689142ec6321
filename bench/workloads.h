// workloads.h — the training workloads that bench_train and bench_peers_focalgrad time,
// written once so that both measure exactly the same thing as the PyTorch and libtorch
// peers in bench/peers/: one MNIST epoch of an MLP or a CNN (SGD with momentum 0.9,
// softmax cross-entropy, shuffled batches, last partial batch kept), the GEMM floor of an
// epoch, and fused-loss timings on 1,000,000 x 10 logits.
#pragma once

#include <sys/resource.h>

#include <cstdio>
#include <string>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/blas.h>
#include <focalgrad/core/error.h>
#include <focalgrad/core/internal/conv_gemm.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/data/loader.h>
#include <focalgrad/data/mnist.h>
#include <focalgrad/losses/losses.h>
#include <focalgrad/nn/layers.h>
#include <focalgrad/optim/optimizer.h>

#include "../examples/models.h"
#include "bench_util.h"

namespace fgbench {

using namespace focalgrad;

// MNIST's training set when it can be found, else 60,000 random images of the same size
// (timings do not depend on pixel values; the caller is told which it got).
inline Dataset training_images(bool* real) {
    try {
        Dataset d = load_mnist(find_mnist_dir(""), Split::train);
        *real = true;
        return d;
    } catch (const Error&) {
        *real = false;
        Dataset d;
        d.name = "random images";
        d.rows = d.cols = 28;
        for (int c = 0; c < 10; ++c) d.class_names.push_back(std::to_string(c));
        Generator g(0);
        d.images.resize(size_t(60000) * 784);
        for (uint8_t& p : d.images) p = uint8_t(g.below(256));
        for (int i = 0; i < 60000; ++i) d.labels.push_back(int(g.below(10)));
        return d;
    }
}

// The examples' own networks (examples/models.h), initialised from `seed`.
inline std::shared_ptr<Sequential> bench_mlp(const std::vector<int64_t>& hidden, uint64_t seed) {
    Generator gen(seed);
    return examples::mlp(hidden, gen);
}

inline std::shared_ptr<Sequential> bench_cnn(uint64_t seed) {
    Generator gen(seed);
    return examples::cnn(gen);
}

// Where a step's time goes, as means over one epoch: waiting for the loader's batch (with
// 2 threads it is assembled during the previous step), forward with the loss, backward,
// the optimizer's update (zero_grad and step).
struct StepPhases {
    double loader = 0, forward = 0, backward = 0, update = 0;  // seconds per step
};

struct EpochResult {
    double seconds = 0;           // median epoch time
    double loss = 0;              // mean batch loss of the last epoch (a sanity value)
    int64_t steps = 0;            // batches per epoch
    StepPhases phases;            // of the median epoch
    std::vector<GemmCall> gemms;  // the matrix products of one epoch, in order
};

// `epochs` timed epochs after `warmup_steps` untimed steps; returns the median epoch.
// With max_batches > 0, each "epoch" stops after that many batches (quick runs). The four
// clock readings per step that split it into phases cost ~0.1 us.
inline EpochResult time_epochs(Module& model, const Dataset& data, int64_t batch, bool flatten, int epochs,
                               int warmup_steps, int64_t max_batches = 0) {
    LoaderOptions lo;
    lo.batch_size = batch;
    lo.seed = 0;
    lo.flatten = flatten;
    lo.normalize = kMnistStats;
    DataLoader loader(data, lo);
    SGD opt(model.parameters(), 0.05, 0.9);
    auto step = [&](const Batch& b, StepPhases& sum) {
        double t0 = now_seconds();
        Tensor loss = cross_entropy(model(b.x), b.y);
        double t1 = now_seconds();
        loss.backward();
        double t2 = now_seconds();
        opt.step();
        opt.zero_grad();
        double t3 = now_seconds();
        sum.forward += t1 - t0;
        sum.backward += t2 - t1;
        sum.update += t3 - t2;
        return double(loss.item());
    };
    int64_t w = 0;
    StepPhases unused;
    for (const Batch& b : loader.epoch(1000)) {
        if (w++ >= warmup_steps) break;
        step(b, unused);
    }
    EpochResult r;
    std::vector<std::pair<double, StepPhases>> times;
    for (int e = 0; e < epochs; ++e) {
        std::vector<GemmCall> trace;
        if (e == 0) set_gemm_trace(&trace);
        double total = 0;
        int64_t n = 0;
        StepPhases sum;
        double start = now_seconds(), ready = start;
        for (const Batch& b : loader.epoch(e)) {
            if (max_batches > 0 && n >= max_batches) break;
            sum.loader += now_seconds() - ready;
            total += step(b, sum);
            ++n;
            ready = now_seconds();
        }
        times.push_back({now_seconds() - start, sum});
        if (e == 0) {
            set_gemm_trace(nullptr);
            r.gemms = std::move(trace);
        }
        r.loss = total / double(n);
        r.steps = n;
    }
    std::sort(times.begin(), times.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    r.seconds = times[times.size() / 2].first;
    const StepPhases& median = times[times.size() / 2].second;
    const double n = double(r.steps);
    r.phases = {median.loader / n, median.forward / n, median.backward / n, median.update / n};
    return r;
}

// "per step: loader 4 us, forward 18 us, backward 16 us, update 5 us; products alone 28 us"
inline std::string describe_phases(const EpochResult& r, double floor_seconds) {
    const StepPhases& p = r.phases;
    auto us = [](double s) { return fmt("%.0f us", s * 1e6); };
    return str("  per step: loader ", us(p.loader), ", forward ", us(p.forward), ", backward ",
               us(p.backward), ", update ", us(p.update), "; its products alone ",
               us(floor_seconds / double(r.steps)));
}

// The loader alone: the median of `epochs` epochs of batch assembly with nothing else,
// the same loader options as time_epochs.
inline double loader_epoch_seconds(const Dataset& data, int64_t batch, bool flatten, int epochs,
                                   int64_t max_batches = 0) {
    LoaderOptions lo;
    lo.batch_size = batch;
    lo.seed = 0;
    lo.flatten = flatten;
    lo.normalize = kMnistStats;
    DataLoader loader(data, lo);
    std::vector<double> times;
    for (int e = 0; e < epochs; ++e) {
        int64_t n = 0;
        double start = now_seconds();
        for (const Batch& b : loader.epoch(e)) {
            if (max_batches > 0 && n >= max_batches) break;
            (void)b;
            ++n;
        }
        times.push_back(now_seconds() - start);
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

// The GEMM floor: the same products, in the same order and with the same shapes and
// flags, on buffers that exist already: what the epoch would cost if everything but its
// matrix products were free. The shortest of `reps` replays, as for the other floors.
inline double gemm_floor_seconds(const std::vector<GemmCall>& calls, int reps) {
    int64_t a = 1, b = 1, c = 1;
    for (const GemmCall& g : calls) {
        a = std::max(a, g.M * g.K);
        b = std::max(b, g.K * g.N);
        c = std::max(c, g.M * g.N);
    }
    std::vector<float> A(size_t(a), 0.5f), B(size_t(b), 0.25f), C(size_t(c), 0.0f);
    return best_seconds(
        [&] {
            for (const GemmCall& g : calls)
                if (g.conv_kernel)
                    focalgrad::detail::conv_gemm(g.M, g.N, g.K, A.data(), g.K, B.data(), g.N, g.beta != 0.0f,
                                                 C.data(), g.N);
                else
                    gemm(g.trans_a, g.trans_b, g.M, g.N, g.K, 1.0f, A.data(), g.trans_a ? g.M : g.K, B.data(),
                         g.trans_b ? g.K : g.N, g.beta, C.data(), g.N);
        },
        reps, 1);
}

// Forward + backward of a loss on [N, C] standard-normal logits with random targets,
// median of `reps` runs, in seconds.
template <class LossFn>
double time_loss(int64_t N, int64_t C, int reps, LossFn loss_fn) {
    Generator g(0);
    Tensor logits = Tensor::randn({N, C}, g).set_requires_grad();
    std::vector<int> targets(static_cast<size_t>(N));
    for (int& t : targets) t = int(g.below(uint32_t(C)));
    return median_seconds(
        [&] {
            logits.zero_grad();
            Tensor loss = loss_fn(logits, targets);
            loss.backward();
        },
        reps, 2);
}

// Focal loss (gamma = 2) composed from core primitives through the tape, as a user
// without a fused op would write it: log_softmax, gather, exp, pow, mul, mean.
inline Tensor composed_focal(const Tensor& logits, const std::vector<int>& targets) {
    Tensor log_pt = gather(log_softmax(logits, 1), targets);  // [N]
    Tensor pt = exp(log_pt);
    return -mean(pow(1.0f - pt, 2.0f) * log_pt);
}

inline double peak_rss_mb() {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_maxrss) / 1024.0;  // kB on Linux
}

}  // namespace fgbench
