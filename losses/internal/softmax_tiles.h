// softmax_tiles.h — internal to the losses, not installed: how the fast forms of the softmax
// losses (cross_entropy, focal_loss) run. Rows are copied 64 at a time into class-major
// tiles so that every loop vectorises; chunks of tiles run in parallel and are summed in a
// fixed order. When a backward will run, the forward also writes the gradient while p is
// at hand in the tile; the backward then only multiplies in the upstream gradient.
// It holds no math of its own: each loss's formulas are in its file, first as a plain
// reference:: form, and reach this engine as a per-row function (softmax_loss_forward).
//
// Shape legend: as in losses/loss_toolkit.h; r is a row's place in its tile.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include <focalgrad/core/fastmath.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/core/tensor.h>
#include <focalgrad/losses/internal/block_sums.h>
#include <focalgrad/losses/loss_toolkit.h>

namespace focalgrad {
namespace internal {

constexpr int kTileRows = 64;

// Rows per parallel chunk: whole tiles, about kGrain floats of logits.
inline int64_t rows_per_chunk(int64_t classes) {
    int64_t rows = kGrain / std::max<int64_t>(1, classes);
    return std::max<int64_t>(1, (rows + kTileRows - 1) / kTileRows) * kTileRows;
}

// ---- The class-major tile -------------------------------------------------------------

// Up to kTileRows rows copied class-major: z[j * kTileRows + r] is class j of row r. The
// loops "for each class j, for each row r" then run over 64 contiguous floats, which the
// compiler turns into SIMD code whatever C is; row-major, the inner loop would be the C
// (often 10) classes of one row. Padding rows r >= n hold z = 0 and target -1.
struct SoftmaxTile {
    explicit SoftmaxTile(int64_t classes)
        : classes(classes), buffer(Tensor::empty({classes, kTileRows})), z(buffer.data()) {}

    int64_t classes;
    Tensor buffer;                                // [C, kTileRows], from the tensor pool
    float* z;                                     // buffer.data(): z, then z - m (softmax_tile_stats)
    alignas(64) int target[kTileRows];            // class index, or -1 (ignored or padding)
    alignas(64) float max[kTileRows];             // m = max_j z_j
    alignas(64) float shifted_target[kTileRows];  // z_t - m
    alignas(64) float exp_target[kTileRows];      // e^(z_t - m)
    alignas(64) float exp_others[kTileRows];      // Σ_{j != t} e^(z_j - m)
    alignas(64) float shifted_dot[kTileRows];     // Σ_j u_j (z_j - m), when asked for (dot_weights)
    alignas(64) float nan_probe[kTileRows];  // Σ_j 0 (z_j - m): NaN iff a z_j or a z_j - m is not finite
};

// Copies rows [row0, row0 + n) of `src` (laid out like the logits) into dst[j * kTileRows
// + r], padding rows n.. with 0; scatter_rows is the way back.
void gather_rows(const float* src, const ClassLayout& layout, int64_t row0, int n, float* dst);
void scatter_rows(const float* src, const ClassLayout& layout, int64_t row0, int n, float* dst);

// Loads rows [row0, row0 + n) of the logits and their targets (-1 for ignore_index).
void load_tile(const float* logits, const ClassLayout& layout, int64_t row0, int n,
               const std::vector<int>& targets, int ignore_index, SoftmaxTile& tile);

// The softmax statistics of a loaded tile, from which each loss computes log p_t and
// 1 - p_t without cancellation:
//   S = exp_target + exp_others,  p_t = exp_target / S,  1 - p_t = exp_others / S.
// dot_weights (u, C entries) asks for shifted_dot = Σ_j u_j (z_j - m) as well; null skips it.
// Each z_j in the tile is replaced by z_j - m, from which the gradient takes p_j.
inline void softmax_tile_stats(SoftmaxTile& tile, const float* dot_weights) {
    const int64_t C = tile.classes;
    float* m = tile.max;
    for (int r = 0; r < kTileRows; ++r) m[r] = tile.z[size_t(r)];
    for (int64_t j = 1; j < C; ++j) {
        const float* zj = &tile.z[size_t(j) * kTileRows];
        for (int r = 0; r < kTileRows; ++r) m[r] = zj[r] > m[r] ? zj[r] : m[r];
    }
    for (int r = 0; r < kTileRows; ++r) {
        tile.shifted_target[r] = tile.exp_target[r] = tile.exp_others[r] = 0.0f;
        tile.shifted_dot[r] = tile.nan_probe[r] = 0.0f;
    }
    if (dot_weights) {
        for (int64_t j = 0; j < C; ++j) {
            const float* zj = &tile.z[size_t(j) * kTileRows];
            for (int r = 0; r < kTileRows; ++r) tile.shifted_dot[r] += dot_weights[j] * (zj[r] - m[r]);
        }
    }
    for (int64_t j = 0; j < C; ++j) {
        float* zj = &tile.z[size_t(j) * kTileRows];
        for (int r = 0; r < kTileRows; ++r) {
            float d = zj[r] - m[r];  // <= 0: e^d never overflows
            float e = fast_exp(d);
            bool is_target = tile.target[r] == int(j);
            tile.exp_target[r] += fastmath::select(is_target, e, 0.0f);
            tile.exp_others[r] += fastmath::select(is_target, 0.0f, e);
            tile.shifted_target[r] += fastmath::select(is_target, d, 0.0f);
            tile.nan_probe[r] += 0.0f * d;  // NaN if a logit is NaN or inf, or d overflowed
            zj[r] = d;
        }
    }
}

// log p_t for the rows of a tile with stats, accurate at both ends:
//   p_t >= 1/2 (exp_others <= exp_target):  log p_t = -log1p(exp_others / exp_target),
//                                          exact to an ulp even when 1 - p_t is far below
//                                          float epsilon;
//   p_t <  1/2:                            log p_t = (z_t - m) - log S, no cancellation.
inline float log_p_target(const SoftmaxTile& tile, int r, float log_sum) {
    float near_one = -fast_log1p(tile.exp_others[r] / tile.exp_target[r]);
    float far = tile.shifted_target[r] - log_sum;
    return fastmath::select(tile.exp_others[r] <= tile.exp_target[r], near_one, far);
}

// ---- The gradient --------------------------------------------------------------------

// The gradient of every softmax loss here has this form, for row i with target t_i and
// upstream gradient g_i = scale dy_i (UpstreamGrad):
//
//   dz_ij = g_i (prob_coef_i p_ij - spread_i u_j)   for j != t_i,
//   dz_it = g_i target_grad_i,
//
// The spread term is label smoothing's ε/C, spread over the classes by the weights u (or
// ones); spread_i is 0 on ignored rows, and 0 everywhere for losses without smoothing.
// target_grad is apart because prob_coef p_t - ... would lose 1 - p_t to cancellation.
// The forward computes it with g_i's scale in (known before dy is: 1 / denominator for a
// mean), in the tile, while the row's z - m and log S are at hand: the logits are read once,
// nothing per row is kept, and the backward only multiplies in dy (scale_by_upstream).

// grad *= dy_i on the entries of row i (per_row: Reduction::None), or *= dy[0] on all
// (nothing to do for dy = 1); grad is laid out like the logits.
void scale_by_upstream(float* grad, const ClassLayout& layout, bool per_row, const float* dy);

// ---- The forward pass -----------------------------------------------------------------

// Runs tile_fn(tile, row0, n) -> double over all rows, tile by tile, chunks in parallel;
// returns the sum of the results, added in a fixed order (bit-identical on any number of
// threads).
template <class TileFn>
double sum_over_tiles(const ClassLayout& layout, TileFn&& tile_fn) {
    return parallel_sum(layout.rows(), rows_per_chunk(layout.classes), [&](int64_t lo, int64_t hi) {
        SoftmaxTile tile(layout.classes);
        double sum = 0.0;
        for (int64_t r0 = lo; r0 < hi; r0 += kTileRows)
            sum += tile_fn(tile, r0, int(std::min<int64_t>(kTileRows, hi - r0)));
        return sum;
    });
}

// What a softmax loss with class-index targets knows about row r of a tile once its
// statistics are in, and what it gives back: the row's loss and the two per-row numbers of
// its gradient (prob_coef and target_grad, see "The gradient").
struct SoftmaxRow {
    float weight;        // the target class's weight (1 without weights)
    float log_sum;       // log S
    float log_pt;        // log p_t, accurate at both ends (log_p_target)
    float pt;            // p_t = exp_target / S
    float one_minus_pt;  // 1 - p_t = exp_others / S, without cancellation
};
struct SoftmaxRowResult {
    float loss, prob_coef, target_grad;
};

// The options of softmax_loss_forward; all null (or none) by default.
struct SoftmaxForward {
    const float* class_weights = nullptr;   // C entries: SoftmaxRow::weight; null = 1 for every class
    const float* dot_weights = nullptr;     // C entries: asks the tile for shifted_dot; null skips it
    float* per_row_losses = nullptr;        // one float per row, written when not null (Reduction::None)
    float* grad = nullptr;                  // laid out like the logits: the gradient above, when not null
    float grad_scale = 1.0f;                // the scale of g_i (UpstreamGrad::scale_of)
    float spread = 0.0f;                    // spread_i on the rows that count
    const float* spread_weights = nullptr;  // u, C entries; null = all 1
};

// Writes the gradient of a tile's rows (see "The gradient"), from the z - m that
// softmax_tile_stats left in it and each row's prob_coef, target_grad and log S, into
// options.grad: computed class-major in the tile itself, then copied out. p_j is
// e^((z_j - m) - log S), a second exp rather than e^(z_j - m) / S, and g multiplies prob_coef
// and spread before p and u: the bits of the recomputing backward this replaced, so that
// trained models (the demo's JSON) stay the same.
inline void tile_gradient(SoftmaxTile& tile, int64_t row0, int n, const float* prob_coef,
                          const float* target_grad, const float* log_sum, const ClassLayout& layout,
                          const SoftmaxForward& options) {
    alignas(64) float g_coef[kTileRows], g_spread[kTileRows];
    const float g = options.grad_scale;
    for (int r = 0; r < kTileRows; ++r) {
        g_coef[r] = g * prob_coef[r];
        g_spread[r] = fastmath::select(tile.target[r] >= 0, g * options.spread, 0.0f);
    }
    const float* u = options.spread_weights;
    for (int64_t j = 0; j < tile.classes; ++j) {
        float* dj = &tile.z[size_t(j) * kTileRows];  // z_j - m, becoming dz_j
        const float uj = u ? u[j] : 1.0f;
        for (int r = 0; r < kTileRows; ++r)
            dj[r] = g_coef[r] * fast_exp(dj[r] - log_sum[r]) - g_spread[r] * uj;
    }
    for (int r = 0; r < n; ++r) {
        const int t = tile.target[r];
        if (t >= 0) tile.z[size_t(t) * kTileRows + size_t(r)] = g * target_grad[r];
    }
    scatter_rows(tile.z, layout, row0, n, options.grad);
}

// The forward pass every softmax loss shares: tile by tile (in parallel, summed in a fixed
// order), load the logits and targets, compute the softmax statistics, call
// row_fn(tile, r, row) -> SoftmaxRowResult for each row, give ignored rows 0, and write what
// `options` asks for (the row losses, the gradient). Returns the sum of the row losses; throws, naming `op`, if a logit is
// NaN or infinite. The sum is not finite, with finite logits, exactly when float overflowed
// (z_j - m beyond -FLT_MAX, or a loss beyond FLT_MAX): the caller then takes its reference::
// form, in double. row_fn is inlined into a branch-free loop over the tile's rows, so it
// should be branch-free too (fastmath::select) to keep that loop vectorised.
template <class RowFn>
double softmax_loss_forward(const char* op, const Tensor& logits, const ClassLayout& layout,
                            const std::vector<int>& targets, int ignore_index, const SoftmaxForward& options,
                            RowFn&& row_fn) {
    const float* z = logits.data();
    const float* class_weights = options.class_weights;
    float* out = options.per_row_losses;
    double sum = sum_over_tiles(layout, [&](SoftmaxTile& tile, int64_t row0, int n) {
        load_tile(z, layout, row0, n, targets, ignore_index, tile);
        softmax_tile_stats(tile, options.dot_weights);
        alignas(64) float loss[kTileRows], prob_coef[kTileRows], target_grad[kTileRows], log_sum[kTileRows];
        alignas(64) float weight[kTileRows];
        for (int r = 0; r < kTileRows; ++r) {
            int t = tile.target[r];
            weight[r] = t < 0 ? 0.0f : (class_weights ? class_weights[t] : 1.0f);
        }
        for (int r = 0; r < kTileRows; ++r) {
            float S = tile.exp_target[r] + tile.exp_others[r];
            log_sum[r] = fast_log(S);
            SoftmaxRow row{weight[r], log_sum[r], log_p_target(tile, r, log_sum[r]), tile.exp_target[r] / S,
                           tile.exp_others[r] / S};
            SoftmaxRowResult res = row_fn(tile, r, row);
            bool valid = tile.target[r] >= 0;
            loss[r] = fastmath::select(valid, res.loss, 0.0f);
            prob_coef[r] = fastmath::select(valid, res.prob_coef, 0.0f);
            target_grad[r] = fastmath::select(valid, res.target_grad, 0.0f);
        }
        // The nan_probe terms are 0, or NaN when a logit is: then the sum tells.
        double tile_sum = block_sum(loss, n) + block_sum(tile.nan_probe, n);
        if (out) std::copy(loss, loss + n, out + row0);
        if (options.grad) tile_gradient(tile, row0, n, prob_coef, target_grad, log_sum, layout, options);
        return tile_sum;
    });
    if (!std::isfinite(sum)) check_finite(op, "logits", logits);
    return sum;
}

}  // namespace internal
}  // namespace focalgrad
