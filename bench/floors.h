// floors.h — what the machine allows, measured in the same run as the workloads that are
// compared with it (docs/performance.md, "The floors", defines each one):
//   stream_gbs       streaming bandwidth, read + write, on the pool's threads;
//   exp_ns, exp_log_ns  the vectorised exp (softmax losses) and exp + log (sigmoid losses)
//                    per element, on data already in L1: pure compute;
//   gemm_gflops      sgemm throughput through focalgrad's gemm on a square product;
//   training_flops   the multiply-adds a training step of a model must do (forward, dW, and
//                    dx for every layer but the first), from the layers' sizes alone.
// Each floor is the shortest of its repetitions (best_seconds), the workloads' times their
// median: noise on a shared machine can only make a ratio worse.
// Not here: the replayed GEMM floor of an epoch (workloads.h), the timing of workloads.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/blas.h>
#include <focalgrad/core/error.h>
#include <focalgrad/core/fastmath.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/nn/layers.h>

#include "bench_util.h"

namespace fgbench {

using namespace focalgrad;

// GB/s of y[i] = a x[i] + b over two buffers of `floats` elements each, on the pool's
// threads: 8 bytes per element (one read, one write), as a fused loss reads its logits and
// writes its gradient. The buffers are reused, like the buffer pool reuses a gradient's;
// the footprint should match the workload's, since it decides which cache level answers.
inline double stream_gbs(int64_t floats, int reps) {
    std::vector<float> x(size_t(floats), 1.0f), y(size_t(floats), 0.0f);
    const float* px = x.data();
    float* py = y.data();
    double t = best_seconds(
        [&] {
            parallel_for(floats, 4 * kGrain, [=](int64_t begin, int64_t end) {
                for (int64_t i = begin; i < end; ++i) py[i] = 0.5f * px[i] + 1.0f;
            });
        },
        reps, 2);
    return 8.0 * double(floats) / t / 1e9;
}

namespace detail {

// Wall time per element of then(f(x)) over `elements` inputs, on the pool's threads. Each
// chunk cycles through one 4 KB block of inputs in [-10, 10]: the data stays in L1, so what
// is timed is the arithmetic. f runs over the whole block, then `then` over its results: two
// loops, because one element's f and `then` together can be a chain of dependent operations
// too long for the out-of-order core to overlap (an exp and a log: 1.39 ns per element in one
// loop, 0.87 in two, on the AMD EPYC of family 26), and a floor must be the fastest way.
// An empty asm statement that "reads" the outputs keeps the compiler from dropping them.
template <class F, class Then>
double ns_per_element(int64_t elements, int reps, F f, Then then) {
    constexpr int kBlock = 1024;
    return best_seconds(
               [&] {
                   parallel_for(elements, 64 * kBlock, [&](int64_t begin, int64_t end) {
                       alignas(64) float in[kBlock], out[kBlock];
                       for (int j = 0; j < kBlock; ++j) in[j] = -10.0f + 20.0f * float(j) / kBlock;
                       for (int64_t i = begin; i < end; i += kBlock) {
                           const int n = int(std::min<int64_t>(kBlock, end - i));
                           for (int j = 0; j < n; ++j) out[j] = f(in[j]);
                           for (int j = 0; j < n; ++j) out[j] = then(out[j]);
                           asm volatile("" : : "r"(out) : "memory");
                       }
                   });
               },
               reps, 1) /
           double(elements) * 1e9;
}

}  // namespace detail

// ns per element of e^x: the one transcendental a softmax loss needs per logit.
inline double exp_ns(int64_t elements, int reps) {
    return detail::ns_per_element(
        elements, reps, [](float x) { return fast_exp(x); }, [](float e) { return e; });
}

// ns per element of log(1 + e^(-abs x)): the exp and the log a sigmoid loss needs per element.
inline double exp_log_ns(int64_t elements, int reps) {
    return detail::ns_per_element(
        elements, reps, [](float x) { return fast_exp(-std::fabs(x)); },
        [](float e) { return fast_log(1.0f + e); });
}

// GFLOP/s of C = A B for n x n matrices through focalgrad's gemm (its own partition, on
// the pool's threads), 2 n^3 flops per product.
inline double gemm_gflops(int64_t n, int reps) {
    std::vector<float> A(size_t(n * n), 0.5f), B(size_t(n * n), 0.25f), C(size_t(n * n));
    double t = best_seconds(
        [&] { gemm(false, false, n, n, n, 1.0f, A.data(), n, B.data(), n, 0.0f, C.data(), n); }, reps, 3);
    return 2.0 * double(n) * double(n) * double(n) / t / 1e9;
}

// The flops of one training step of `net` on a batch shaped like x: for every Linear and
// Conv2d layer, 2 x (multiply-adds of its forward), once for the forward, once for dW and
// once for dx, except the first layer, whose input needs no gradient. What the math asks
// for, whatever way the layers call gemm. The shapes come from one forward without grad.
inline double training_flops(Sequential& net, const Tensor& x) {
    NoGradGuard no_grad;
    double flops = 0.0;
    bool first = true;  // no layer with weights seen yet
    Tensor h = x;
    for (size_t i = 0; i < net.size(); ++i) {
        Module& m = net[i];
        Tensor out = m(h);
        double macs = 0.0;
        if (auto* fc = dynamic_cast<Linear*>(&m)) {
            macs = double(out.numel()) * double(fc->in_features);
        } else if (auto* conv = dynamic_cast<Conv2d*>(&m)) {
            macs = double(out.numel()) * double(conv->in_channels * conv->kernel_size * conv->kernel_size);
        }
        if (macs > 0) {
            flops += 2.0 * macs * (first ? 2.0 : 3.0);
            first = false;
        }
        h = out;
    }
    return flops;
}

// The floor of a fused loss's forward + backward: the larger of the time to move the bytes
// it must move (read the logits and the targets once, write the gradient once) at the
// measured bandwidth, and the time of the transcendentals it must evaluate (one exp per
// logit for the softmax losses; an exp and a log per element for the sigmoid ones).
struct LossFloor {
    double bytes = 0, stream_s = 0;      // what must be moved, and how long that takes
    double elements = 0, compute_s = 0;  // transcendental evaluations, and their time
    double seconds() const { return std::max(stream_s, compute_s); }
    std::string describe() const {  // e.g. "max(84 MB at 47 GB/s = 1.8 ms, 10M exp = 1.3 ms)"
        return str("max(", fmt("%.0f MB", bytes / 1e6), " at ", fmt("%.1f GB/s", bytes / stream_s / 1e9),
                   " = ", fmt("%.2f ms", stream_s * 1e3), "; ", fmt("%.3g", elements), " x ",
                   fmt("%.3f ns", compute_s / elements * 1e9), " = ", fmt("%.2f ms", compute_s * 1e3), ")");
    }
};

// [N, C] logits and N integer targets (cross_entropy, focal_loss).
inline LossFloor softmax_loss_floor(int64_t N, int64_t C, double gbs, double exp_ns_each) {
    LossFloor f;
    f.bytes = 4.0 * double(N) * double(C) * 2 + 4.0 * double(N);
    f.stream_s = f.bytes / (gbs * 1e9);
    f.elements = double(N) * double(C);
    f.compute_s = f.elements * exp_ns_each * 1e-9;
    return f;
}

// [N, C] logits and [N, C] float targets (sigmoid_focal_loss).
inline LossFloor sigmoid_loss_floor(int64_t N, int64_t C, double gbs, double exp_log_ns_each) {
    LossFloor f;
    f.bytes = 4.0 * double(N) * double(C) * 3;
    f.stream_s = f.bytes / (gbs * 1e9);
    f.elements = double(N) * double(C);
    f.compute_s = f.elements * exp_log_ns_each * 1e-9;
    return f;
}

}  // namespace fgbench
