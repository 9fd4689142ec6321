// block_sums.h — internal to the losses, not installed: how their forward passes add up
// millions of float losses in double quickly and in a fixed order. It holds no math: what
// is summed is each loss's own (see its file), and the chunks are core's (parallel_sums).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include <focalgrad/core/parallel.h>

namespace focalgrad {
namespace internal {

// Σ values[0..n) in double, in a fixed order: eight interleaved partial sums (one SIMD
// register of doubles), added together at the end. A single running double sum would be a
// chain of dependent additions, 4 cycles each: slower than computing the losses themselves.
inline double block_sum(const float* values, int n) {
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k) lane[k] += double(values[i + k]);
    for (; i < n; ++i) lane[0] += double(values[i]);
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

constexpr int kBlock = 256;

// K sums over [0, count) of per-element values. block_fn(begin, n, values) fills
// values[k][0..n) for elements begin ... begin + n - 1 (at most kBlock of them: a short,
// vectorisable loop), and each row of values is added up with block_sum. The chunks of
// kGrain elements run in parallel and their sums are added in a fixed order (parallel_sums).
template <size_t K, class BlockFn>
std::array<double, K> sum_over_blocks(int64_t count, BlockFn&& block_fn) {
    return parallel_sums<K>(count, kGrain, [&](int64_t lo, int64_t hi) {
        alignas(64) float values[K][kBlock];
        std::array<double, K> sums{};
        for (int64_t begin = lo; begin < hi; begin += kBlock) {
            int n = int(std::min<int64_t>(kBlock, hi - begin));
            block_fn(begin, n, values);
            for (size_t k = 0; k < K; ++k) sums[k] += block_sum(values[k], n);
        }
        return sums;
    });
}

}  // namespace internal
}  // namespace focalgrad
