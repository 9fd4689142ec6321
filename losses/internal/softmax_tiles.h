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
#include <type_traits>
#include <vector>

#include <focalgrad/core/fastmath.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/core/tensor.h>
#include <focalgrad/losses/internal/block_sums.h>
#include <focalgrad/losses/internal/simd8.h>
#include <focalgrad/losses/loss_toolkit.h>

namespace focalgrad {
namespace internal {

constexpr int kTileRows = 64;
constexpr float kExpOfZero = 1.0f;  // fast_exp(0): exp_target of a row without a target
constexpr int kPrefetchTiles = 1;   // how many tiles ahead prefetch_rows is asked for

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
        : classes(classes),
          buffer(Tensor::empty({2, classes, kTileRows})),
          z(buffer.data()),
          rows(z + classes * kTileRows) {}

    int64_t classes;
    Tensor buffer;                      // [2, C, kTileRows], from the tensor pool
    float* z;                           // buffer.data(): z, then e^(z - m) (softmax_tile_stats)
    float* rows;                        // [kTileRows, C]: the gradient's rows before streaming out
    alignas(64) int target[kTileRows];  // class index, or -1 (ignored or padding)
    alignas(64) float max[kTileRows];   // m = max_j z_j
    alignas(
        64) float shifted_target[kTileRows];   // z_t - m (0 without a target); NaN if a z_j - m is not finite
    alignas(64) float exp_target[kTileRows];   // e^(z_t - m)
    alignas(64) float exp_others[kTileRows];   // Σ_{j != t} e^(z_j - m)
    alignas(64) float shifted_dot[kTileRows];  // Σ_j u_j (z_j - m), when asked for (dot_weights)
};

// Copies rows [row0, row0 + n) of `src` (laid out like the logits) into dst[j * kTileRows
// + r], padding rows n.. with 0; scatter_rows is the way back.
void gather_rows(const float* src, const ClassLayout& layout, int64_t row0, int n, float* dst);
void scatter_rows(const float* src, const ClassLayout& layout, int64_t row0, int n, float* dst);

// Asks the caches for rows [row0, row0 + n) of `data` (laid out like the logits; for
// writing when `write`), clipped to the rows there are, so that they arrive while the tile
// before them is computed: the hardware prefetcher alone left the copies in and out
// waiting for memory. [N, C] only; in [N, C, d1, ...] a tile's rows are C strided runs.
void prefetch_rows(const float* data, const ClassLayout& layout, int64_t row0, int64_t n, bool write);

// A gradient larger than this many bytes is written with non-temporal (streaming) stores:
// it goes to memory anyway, and a plain store first reads each of its cold lines (a 40 MB
// gradient costs 40 MB of reads more). Smaller ones stay in the cache for the next op.
constexpr int64_t kStreamBytes = int64_t(8) << 20;

// dst[i] = src[i] for i < n, the whole 64-byte lines of dst with non-temporal stores where
// the instruction set has them (SSE2, AVX), plain stores for the partial lines at its ends
// and elsewhere. store_fence() orders them before anything a later reader does: each thread
// calls it when its part is written.
void stream_floats(const float* src, int64_t n, float* dst);
void store_fence();

// Loads rows [row0, row0 + n) of the logits and their targets (-1 for ignore_index).
void load_tile(const float* logits, const ClassLayout& layout, int64_t row0, int n,
               const std::vector<int>& targets, int ignore_index, SoftmaxTile& tile);
// Only the targets (load_tile's second half).
void load_targets(int64_t row0, int n, const std::vector<int>& targets, int ignore_index, SoftmaxTile& tile);

// The softmax statistics of a loaded tile, from which each loss computes log p_t and
// 1 - p_t without cancellation:
//   S = exp_target + exp_others,  p_t = exp_target / S,  1 - p_t = exp_others / S.
// dot_weights (u, C entries) asks for shifted_dot = Σ_j u_j (z_j - m) as well; null skips it.
// Each z_j in the tile is replaced by e^(z_j - m): the one exp per logit, which the gradient
// reuses (p_j = e^(z_j - m) / S), and exp_target selected from them (one select per logit
// costs less than a second exp per row: 0.34 instructions per logit at C = 10).
// The plain form, loop by loop over the tile (gcc vectorises each loop over its 64 rows):
// softmax_tile_stats below gives its bits, and tests/test_loss_tiles.cpp holds them together.
inline void softmax_tile_stats_loops(SoftmaxTile& tile, const float* dot_weights) {
    const int64_t C = tile.classes;
    float* m = tile.max;
    for (int r = 0; r < kTileRows; ++r) m[r] = tile.z[size_t(r)];
    for (int64_t j = 1; j < C; ++j) {
        const float* zj = &tile.z[size_t(j) * kTileRows];
        for (int r = 0; r < kTileRows; ++r) m[r] = zj[r] > m[r] ? zj[r] : m[r];
    }
    for (int r = 0; r < kTileRows; ++r) {
        tile.shifted_target[r] = tile.exp_others[r] = tile.shifted_dot[r] = 0.0f;
        tile.exp_target[r] = kExpOfZero;  // rows without a target
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
            tile.exp_others[r] += fastmath::select(is_target, 0.0f, e);
            tile.exp_target[r] = fastmath::select(is_target, e, tile.exp_target[r]);
            // 0 d, a zero unless d is NaN or infinite (a logit was, or z - m overflowed): then
            // it turns z_t - m into NaN, also on rows without a target (their sum is 0 d's only).
            tile.shifted_target[r] += fastmath::select(is_target, d, 0.0f * d);
            zj[r] = e;
        }
    }
}

// The same, eight rows at a time with the max and the sums in registers across the classes
// (simd8.h), the same operations in the same order: gcc keeps the plain loops' sums in memory,
// and their max in a pass of its own. z_j - m <= 0 (or NaN), so fast_exp's upper clamp is
// left out (exp8_nonpositive).
// kC > 0 fixes C at compile time (softmax_tile_stats picks it for C = kFixedClasses): the
// class loops then unroll completely, the same operations in the same order.
constexpr int kFixedClasses = 10;  // MNIST, CIFAR-10, the benchmarks' loss rows
static_assert(kFixedClasses == 10, "load_rows10 and stream_rows10 (simd8.h) are written for 10 classes");

// The one place that picks the class count's form: f(std::integral_constant<int, 10>) when
// C = kFixedClasses, f(std::integral_constant<int, 0>) (C read at run time) otherwise.
template <class F>
inline void with_fixed_classes(int64_t C, F&& f) {
    if (C == kFixedClasses)
        f(std::integral_constant<int, kFixedClasses>{});
    else
        f(std::integral_constant<int, 0>{});
}

// The statistics of rows r8 ... r8 + 7, class j of them given by z_of(j) (8 floats): from
// the tile (softmax_tile_stats_c), or from registers (load_tile_stats10). The class loops
// unroll by 10, completely for C = 10: the register form needs each z_of(j) at a constant j,
// or gcc keeps the ten vectors on the stack.
template <int kC, class ZOf>
inline void tile_stats8(SoftmaxTile& tile, int r8, const float* dot_weights, ZOf&& z_of) {
    const int64_t C = kC > 0 ? kC : tile.classes;
    float* z = tile.z + r8;  // class j of these rows: z[j * kTileRows], 8 floats
    Vec8 m8 = z_of(0);
#pragma GCC unroll 10
    for (int64_t j = 1; j < C; ++j) {
        const Vec8 zj = z_of(j);
        m8 = zj > m8 ? zj : m8;
    }
    store8(tile.max + r8, m8);
    Vec8 dot = splat8(0.0f);
    if (dot_weights)
        for (int64_t j = 0; j < C; ++j) dot += splat8(dot_weights[j]) * (z_of(j) - m8);
    store8(tile.shifted_dot + r8, dot);
    const Int8 t8 = load8(tile.target + r8);
    Vec8 others = splat8(0.0f), shifted = splat8(0.0f), target_exp = splat8(kExpOfZero);
    Int8 j8 = Int8{} + 0;
#pragma GCC unroll 10
    for (int64_t j = 0; j < C; ++j, j8 += 1) {
        const Vec8 d = z_of(j) - m8;
        const Vec8 e = exp8_nonpositive(d);
        const Int8 is_target = t8 == j8;
        others += is_target ? splat8(0.0f) : e;
        target_exp = is_target ? e : target_exp;
        // The NaN probe as above, d - d for 0 d: +0 where 0 d is ±0 (the sum starts at +0 and
        // is never -0, so the sign of a zero added does not show), NaN where it is NaN.
        shifted += is_target ? d : d - d;
        store8(z + j * kTileRows, e);
    }
    store8(tile.exp_others + r8, others);
    store8(tile.shifted_target + r8, shifted);
    store8(tile.exp_target + r8, target_exp);
}

template <int kC>
inline void softmax_tile_stats_c(SoftmaxTile& tile, const float* dot_weights) {
    for (int r8 = 0; r8 < kTileRows; r8 += 8)
        tile_stats8<kC>(tile, r8, dot_weights, [&](int64_t j) { return load8(tile.z + j * kTileRows + r8); });
}

// load_tile and softmax_tile_stats at once for a whole tile of [N, C] logits with C = 10
// (rows: its first row's logits): each eight rows go from memory into the ten class vectors
// (load_rows10) and their statistics are taken from those registers, the logits not stored
// into the tile and loaded back twice (for the max, for the exps). The same operations on
// the same values, so the same bits. The targets must be loaded already (load_targets).
inline void load_tile_stats10(const float* rows, SoftmaxTile& tile, const float* dot_weights) {
    for (int r8 = 0; r8 < kTileRows; r8 += 8) {
        Vec8 z[kFixedClasses];
        load_rows10(rows + r8 * kFixedClasses, z);
        tile_stats8<kFixedClasses>(tile, r8, dot_weights, [&](int64_t j) { return z[j]; });
    }
}

inline void softmax_tile_stats(SoftmaxTile& tile, const float* dot_weights) {
    with_fixed_classes(tile.classes,
                       [&](auto fixed) { softmax_tile_stats_c<decltype(fixed)::value>(tile, dot_weights); });
}

// log S, accurate when the target is the row's largest logit (z_t = m, e_t = 1): then S - 1
// is exactly exp_others, which 1 + exp_others would round away when p_t is near 1, and
// log S = log1p(exp_others) keeps it. Otherwise log S = log1p(S - 1), which is log S to an ulp
// (S >= 1). From it log p_t = (z_t - m) - log S is accurate at both ends: both terms are <= 0,
// so nothing cancels, and for z_t = m it is -log1p(exp_others), exact even when 1 - p_t is far
// below float epsilon.
inline float accurate_log_sum(const SoftmaxTile& tile, int r, float sum) {
    return fast_log1p(fastmath::select(tile.shifted_target[r] == 0.0f, tile.exp_others[r], sum - 1.0f));
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
// mean), in the tile, while the row's e^(z - m) and 1/S are at hand: the logits are read
// once, nothing per row is kept, and the backward only multiplies in dy (scale_by_upstream).

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
        store_fence();  // the streamed gradient (stream_floats), if any
        return sum;
    });
}

// What a softmax loss with class-index targets knows about row r of a tile once its
// statistics are in, and what it gives back: the row's loss and the two per-row numbers of
// its gradient (prob_coef and target_grad, see "The gradient").
struct SoftmaxRow {
    float weight;        // the target class's weight (1 without weights)
    float log_sum;       // log S (accurate_log_sum)
    float log_pt;        // log p_t = (z_t - m) - log S, accurate at both ends
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
    bool stream_grad = false;               // grad written with streaming stores (kStreamBytes)
    float grad_scale = 1.0f;                // the scale of g_i (UpstreamGrad::scale_of)
    float spread = 0.0f;                    // spread_i on the rows that count
    const float* spread_weights = nullptr;  // u, C entries; null = all 1
};

// Writes the gradient of a tile's rows (see "The gradient") into options.grad. p_j =
// e^(z_j - m) / S takes the exp that softmax_tile_stats left in the tile, so each logit costs
// one exp in all:
//   dz_j = (g prob_coef / S) e^(z_j - m) - g spread u_j,   dz_t = g target_grad,
// with the row's factor g prob_coef / S formed once (prob_coef_over_sum holds prob_coef / S).
// Computed eight rows at a time (dz8); for a whole streamed tile of C = 10 the rows go
// straight from the registers to memory (stream_rows10), otherwise the tile's classes are
// overwritten with dz_j and copied out (scatter_rows, and stream_floats when streaming).
void tile_gradient(SoftmaxTile& tile, int64_t row0, int n, const float* prob_coef_over_sum,
                   const float* target_grad, const ClassLayout& layout, const SoftmaxForward& options);

// The forward pass every softmax loss shares: tile by tile (in parallel, summed in a fixed
// order), load the logits and targets, compute the softmax statistics, call
// row_fn(tile, r, row) -> SoftmaxRowResult for each row, give ignored rows 0, and write what
// `options` asks for (the row losses, the gradient). Returns the sum of the row losses;
// throws, naming `op`, if a logit is NaN or infinite. The sum is not finite, with finite
// logits, exactly when float overflowed (z_j - m, or a row's Σ_j (z_j - m), beyond -FLT_MAX,
// or a loss beyond FLT_MAX): the caller then takes its reference:: form, in double. row_fn is
// inlined into a branch-free loop over the tile's rows, so it should be branch-free too
// (fastmath::select) to keep that loop vectorised.
template <class RowFn>
double softmax_loss_forward(const char* op, const Tensor& logits, const ClassLayout& layout,
                            const std::vector<int>& targets, int ignore_index, const SoftmaxForward& options,
                            RowFn&& row_fn) {
    const float* z = logits.data();
    const float* class_weights = options.class_weights;
    float* out = options.per_row_losses;
    SoftmaxForward opts = options;
    opts.stream_grad =
        options.grad && layout.positions == 1 && logits.numel() * int64_t(sizeof(float)) > kStreamBytes;
    double sum = sum_over_tiles(layout, [&](SoftmaxTile& tile, int64_t row0, int n) {
        prefetch_rows(z, layout, row0 + kPrefetchTiles * kTileRows, kTileRows, false);
        if (options.grad && !opts.stream_grad)
            prefetch_rows(options.grad, layout, row0 + kPrefetchTiles * kTileRows, kTileRows, true);
        if (layout.positions == 1 && layout.classes == kFixedClasses && n == kTileRows) {
            load_targets(row0, n, targets, ignore_index, tile);
            load_tile_stats10(z + row0 * kFixedClasses, tile, options.dot_weights);
        } else {
            load_tile(z, layout, row0, n, targets, ignore_index, tile);
            softmax_tile_stats(tile, options.dot_weights);
        }
        alignas(64) float loss[kTileRows], prob_coef_over_sum[kTileRows], target_grad[kTileRows];
        alignas(64) float weight[kTileRows];
        if (class_weights) {
            for (int r = 0; r < kTileRows; ++r)
                weight[r] =
                    fastmath::select(tile.target[r] >= 0, class_weights[std::max(tile.target[r], 0)], 0.0f);
        } else {
            for (int r = 0; r < kTileRows; ++r) weight[r] = fastmath::select(tile.target[r] >= 0, 1.0f, 0.0f);
        }
        for (int r = 0; r < kTileRows; ++r) {
            const float S = tile.exp_target[r] + tile.exp_others[r], inv_sum = 1.0f / S;
            const float log_sum = accurate_log_sum(tile, r, S);
            SoftmaxRow row{weight[r], log_sum, tile.shifted_target[r] - log_sum, tile.exp_target[r] * inv_sum,
                           tile.exp_others[r] * inv_sum};
            SoftmaxRowResult res = row_fn(tile, r, row);
            bool valid = tile.target[r] >= 0;
            // 0 (z_t - m) is 0, or NaN when a logit of the row is not finite: then the sum tells.
            loss[r] = fastmath::select(valid, res.loss, 0.0f) + 0.0f * tile.shifted_target[r];
            prob_coef_over_sum[r] = fastmath::select(valid, res.prob_coef * inv_sum, 0.0f);
            target_grad[r] = fastmath::select(valid, res.target_grad, 0.0f);
        }
        double tile_sum = block_sum(loss, n);
        if (out) std::copy(loss, loss + n, out + row0);
        if (options.grad) tile_gradient(tile, row0, n, prob_coef_over_sum, target_grad, layout, opts);
        return tile_sum;
    });
    if (!std::isfinite(sum)) check_finite(op, "logits", logits);
    return sum;
}

}  // namespace internal
}  // namespace focalgrad
