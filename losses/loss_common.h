// loss_common.h — what the losses share: the [N, C, d1, ...] layout and argument checks,
// the class-major softmax tile that cross_entropy and focal_loss run on (forward statistics,
// shared backward), and the stable pieces of a sigmoid. Internal: include losses/losses.h.
// Not here: any loss formula; each loss file holds its own math.
//
// Shape legend: N batch, C classes, d1... extra positions (pixels); a "row" is the C logits
// of one sample at one position.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <focalgrad/core/error.h>
#include <focalgrad/core/fastmath.h>
#include <focalgrad/core/memory.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/core/tensor.h>
#include <focalgrad/losses/reduction.h>

namespace focalgrad {
namespace detail {

// ---- Layout and checks ----------------------------------------------------------------

// Logits [N, C, d1, ..., dk] as `outer` = N blocks of C classes by `inner` = d1...dk
// positions. Row r = (n, k) holds the C values at offsets base + j * inner. For the usual
// [N, C], inner = 1 and a row is contiguous.
struct ClassLayout {
    int64_t outer = 0, classes = 0, inner = 1;
    int64_t rows() const { return outer * inner; }
};

// Checks logits (at least 2-d, C >= 1) and returns its layout.
ClassLayout class_layout(const char* op, const Tensor& logits);

// [N, d1, ..., dk]: the shape of the per-row losses (Reduction::None).
Shape row_shape(const Shape& logits_shape);

// Checks that there is one target per row, each in [0, C) or equal to ignore_index.
// Returns the sum of weight[t] over the rows that count (weight null: their number).
double check_targets(const char* op, const std::vector<int>& targets, const ClassLayout& L, int ignore_index,
                     const float* weight);

// A per-class vector option: undefined, or [C] with finite entries >= 0.
void check_class_vector(const char* op, const char* name, const Tensor& v, int64_t classes);

// Called when a forward pass's running sum came out NaN or inf: finds the first non-finite
// element of x and throws, naming it. (Does nothing if x is finite, e.g. when the sum
// overflowed on its own.) The scan runs only on this error path, so checking costs the
// forward pass nothing.
void throw_if_non_finite(const char* op, const char* name, const Tensor& x);

// Checks that targets have the shape of the logits and every entry lies in [0, 1].
void check_target_tensor(const char* op, const Tensor& logits, const Tensor& targets);

// ---- Parallel loops over rows ---------------------------------------------------------

// Σ v[0..n) in double, in a fixed order: eight interleaved partial sums (one SIMD register
// of doubles), added together at the end. A single running double sum would be a chain
// of dependent additions, 4 cycles each: slower than computing the losses themselves.
inline double block_sum(const float* v, int n) {
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k) lane[k] += double(v[i + k]);
    for (; i < n; ++i) lane[0] += double(v[i]);
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

constexpr int kTileRows = 64;

// Rows per parallel chunk: whole tiles, about kGrain floats of logits.
inline int64_t rows_per_chunk(int64_t classes) {
    int64_t rows = kGrain / std::max<int64_t>(1, classes);
    return std::max<int64_t>(1, (rows + kTileRows - 1) / kTileRows) * kTileRows;
}

// The scale the backward applies to the upstream gradient of a mean.
inline float mean_scale(double denominator) {
    return denominator > 0 ? float(1.0 / denominator) : 0.0f;  // a mean over nothing is 0
}

// The output for a reduction, from the forward's running sum of the per-row losses and
// the mean's denominator; `per_row` holds the losses themselves (Reduction::None).
inline Tensor reduced_output(Reduction reduction, double sum, double denominator, Tensor per_row) {
    switch (reduction) {
        case Reduction::None: return per_row;
        case Reduction::Sum: return Tensor::scalar(float(sum));
        case Reduction::Mean: break;
    }
    return Tensor::scalar(denominator > 0 ? float(sum / denominator) : 0.0f);
}

// ---- The class-major softmax tile -----------------------------------------------------

// Up to kTileRows rows copied class-major: z[j * kTileRows + r] is class j of row r. The
// loops "for each class j, for each row r" then run over 64 contiguous floats, which the
// compiler turns into SIMD code whatever C is; row-major, the inner loop would be the C
// (often 10) classes of one row. Padding rows r >= n hold z = 0 and target -1.
struct SoftmaxTile {
    explicit SoftmaxTile(int64_t classes) : C(classes), z(size_t(classes) * kTileRows) {}

    int64_t C;
    std::vector<float> z;                     // [C, kTileRows]
    alignas(64) int target[kTileRows];        // class index, or -1 (ignored or padding)
    alignas(64) float max[kTileRows];         // m = max_j z_j
    alignas(64) float z_target[kTileRows];    // z_t - m
    alignas(64) float e_target[kTileRows];    // e^(z_t - m)
    alignas(64) float e_others[kTileRows];    // sum over j != t of e^(z_j - m)
    alignas(64) float dot[kTileRows];         // sum_j v_j (z_j - m), when asked for
    alignas(64) float non_finite[kTileRows];  // sum_j 0 * (z_j - m): NaN iff a logit is NaN/inf
};

// Copies rows [row0, row0 + n) of `src` (laid out like the logits) into dst[j * kTileRows
// + r], padding rows n.. with 0; scatter_rows is the way back.
void gather_rows(const float* src, const ClassLayout& L, int64_t row0, int n, float* dst);
void scatter_rows(const float* src, const ClassLayout& L, int64_t row0, int n, float* dst);

// Loads rows [row0, row0 + n) of the logits and their targets (-1 for ignore_index).
void load_tile(const float* logits, const ClassLayout& L, int64_t row0, int n,
               const std::vector<int>& targets, int ignore_index, SoftmaxTile& tile);

// The softmax statistics of a loaded tile, from which each loss computes log p_t and
// 1 - p_t without cancellation:
//   S = e_target + e_others,  p_t = e_target / S,  1 - p_t = e_others / S.
// `v` (length C) asks for dot = sum_j v_j (z_j - m) as well (label smoothing); null skips it.
inline void softmax_tile_stats(SoftmaxTile& tile, const float* v) {
    const int64_t C = tile.C;
    float* m = tile.max;
    for (int r = 0; r < kTileRows; ++r) m[r] = tile.z[size_t(r)];
    for (int64_t j = 1; j < C; ++j) {
        const float* zj = &tile.z[size_t(j) * kTileRows];
        for (int r = 0; r < kTileRows; ++r) m[r] = zj[r] > m[r] ? zj[r] : m[r];
    }
    for (int r = 0; r < kTileRows; ++r) {
        tile.z_target[r] = tile.e_target[r] = tile.e_others[r] = 0.0f;
        tile.dot[r] = tile.non_finite[r] = 0.0f;
    }
    for (int64_t j = 0; j < C; ++j) {
        const float* zj = &tile.z[size_t(j) * kTileRows];
        for (int r = 0; r < kTileRows; ++r) {
            float d = zj[r] - m[r];  // <= 0: e^d never overflows
            float e = fast_exp(d);
            bool is_target = tile.target[r] == int(j);
            tile.e_target[r] += is_target ? e : 0.0f;
            tile.e_others[r] += is_target ? 0.0f : e;
            tile.z_target[r] += is_target ? d : 0.0f;
            tile.non_finite[r] += 0.0f * d;  // inf or NaN anywhere in the row makes this NaN
        }
    }
    if (!v) return;
    for (int64_t j = 0; j < C; ++j) {
        const float* zj = &tile.z[size_t(j) * kTileRows];
        for (int r = 0; r < kTileRows; ++r) tile.dot[r] += v[j] * (zj[r] - m[r]);
    }
}

// log p_t for the rows of a tile with stats, accurate at both ends:
//   p_t >= 1/2 (e_others <= e_target):  log p_t = -log1p(e_others / e_target), exact to an
//                                       ulp even when 1 - p_t is far below float epsilon;
//   p_t <  1/2:                         log p_t = (z_t - m) - log S, no cancellation.
inline float log_p_target(const SoftmaxTile& tile, int r, float log_sum) {
    float near_one = -fast_log1p(tile.e_others[r] / tile.e_target[r]);
    float far = tile.z_target[r] - log_sum;
    return fastmath::select(tile.e_others[r] <= tile.e_target[r], near_one, far);
}

// Per-row arrays a backward needs, taken from the tensor buffer pool (core/memory.h) like
// tensors are: after the first step they are reused, not faulted in afresh (24 MB of fresh
// pages per step at N = 1,000,000 cost more than the loss itself).
class PooledFloats {
public:
    explicit PooledFloats(int64_t n) : n_(n), p_(alloc_floats(n)) {}
    ~PooledFloats() { free_floats(p_, n_); }
    PooledFloats(const PooledFloats&) = delete;
    PooledFloats& operator=(const PooledFloats&) = delete;
    float* data() const { return p_; }

private:
    int64_t n_;
    float* p_;
};

// What a softmax loss saves for its backward, per row r:
//   dz_rj = g_r (a_r p_rj - b_r v_j)   for j != t_r,      dz_r,t_r = g_r dt_r,
// with p_rj = e^(z_rj - max_r - log_sum_r) recomputed from the logits (cheaper than
// storing p: one vectorised exp against 2 x 4 bytes of memory traffic per logit), g_r the
// upstream gradient (times the reduction's scale), v a class vector (or ones), b_r = b for
// the rows that count and 0 for ignored ones. dt is stored separately because a_r p_t - ...
// would lose 1 - p_t to cancellation.
struct SoftmaxSaved {
    explicit SoftmaxSaved(int64_t rows) : buffer(5 * rows), rows(rows) {}
    PooledFloats buffer;  // [5, rows]
    int64_t rows;
    float b = 0.0f;
    float* max() const { return buffer.data(); }
    float* log_sum() const { return buffer.data() + rows; }
    float* a() const { return buffer.data() + 2 * rows; }
    float* dt() const { return buffer.data() + 3 * rows; }
    // Class indices are exact in float up to 2^24 classes; -1 marks an ignored row.
    float* target() const { return buffer.data() + 4 * rows; }

    // Saves rows [row0, row0 + n) of a tile and its per-row results.
    void store(const SoftmaxTile& tile, int64_t row0, int n, const float* log_sum_r, const float* a_r,
               const float* dt_r) const {
        for (int r = 0; r < n; ++r) {
            int64_t i = row0 + r;
            max()[i] = tile.max[r];
            log_sum()[i] = log_sum_r[r];
            a()[i] = a_r[r];
            dt()[i] = dt_r[r];
            target()[i] = float(tile.target[r]);
        }
    }
};

// dz for the whole tensor from `saved`: dy is the upstream gradient, one value per row
// (per_row, for Reduction::None) or a single one; `scale` multiplies it (1 / denominator
// for a mean).
Tensor softmax_backward(const Tensor& logits, const ClassLayout& L, const SoftmaxSaved& saved, const float* v,
                        const Tensor& dy, bool per_row, float scale);

// Runs tile_fn(tile, row0, n) -> double over all rows, tile by tile, chunks in parallel;
// returns the sum of the results, added in a fixed order (bit-identical on any number of
// threads).
template <class TileFn>
double sum_over_tiles(const ClassLayout& L, TileFn&& tile_fn) {
    return parallel_sum(L.rows(), rows_per_chunk(L.classes), [&](int64_t lo, int64_t hi) {
        SoftmaxTile tile(L.classes);
        double sum = 0.0;
        for (int64_t r0 = lo; r0 < hi; r0 += kTileRows)
            sum += tile_fn(tile, r0, int(std::min<int64_t>(kTileRows, hi - r0)));
        return sum;
    });
}

// What a fused softmax loss with class-index targets knows about row r of a tile once
// its statistics are in, and what it gives back: the row's loss, and the a_r and dt_r
// its backward needs (SoftmaxSaved).
struct SoftmaxRow {
    float weight;        // the target class's weight (1 without weights)
    float log_sum;       // log S
    float log_pt;        // log p_t, accurate at both ends (log_p_target)
    float pt;            // p_t = e_target / S
    float one_minus_pt;  // 1 - p_t = e_others / S, without cancellation
};
struct SoftmaxRowLoss {
    float loss, a, dt;
};

// The forward pass every softmax loss shares: tile by tile (in parallel, summed in a
// fixed order), load the logits and targets, compute the softmax statistics (`v` as in
// softmax_tile_stats), call row_fn(tile, r, row) -> SoftmaxRowLoss for each row, give
// ignored rows 0, copy the per-row losses to `out` and the backward's values to `saved`
// (either may be null). Returns the sum of the row losses; throws, naming `op`, if a
// logit is NaN or infinite. `class_weight` (length C, or null for ones) gives
// SoftmaxRow::weight. row_fn is inlined into a branch-free loop over the tile's rows, so
// it should be branch-free too (fastmath::select) to keep that loop vectorised.
template <class RowFn>
double softmax_loss_forward(const char* op, const Tensor& logits, const ClassLayout& L,
                            const std::vector<int>& targets, int ignore_index, const float* class_weight,
                            const float* v, float* out, const SoftmaxSaved* saved, RowFn&& row_fn) {
    const float* z = logits.data();
    double sum = sum_over_tiles(L, [&](SoftmaxTile& tile, int64_t row0, int n) {
        load_tile(z, L, row0, n, targets, ignore_index, tile);
        softmax_tile_stats(tile, v);
        alignas(64) float loss[kTileRows], a[kTileRows], dt[kTileRows], log_sum[kTileRows];
        alignas(64) float weight[kTileRows];
        for (int r = 0; r < kTileRows; ++r) {
            int t = tile.target[r];
            weight[r] = t < 0 ? 0.0f : (class_weight ? class_weight[t] : 1.0f);
        }
        for (int r = 0; r < kTileRows; ++r) {
            float S = tile.e_target[r] + tile.e_others[r];
            log_sum[r] = fast_log(S);
            SoftmaxRow row{weight[r], log_sum[r], log_p_target(tile, r, log_sum[r]), tile.e_target[r] / S,
                           tile.e_others[r] / S};
            SoftmaxRowLoss res = row_fn(tile, r, row);
            bool valid = tile.target[r] >= 0;
            loss[r] = fastmath::select(valid, res.loss, 0.0f);
            a[r] = fastmath::select(valid, res.a, 0.0f);
            dt[r] = fastmath::select(valid, res.dt, 0.0f);
        }
        // The non_finite terms are 0, or NaN when a logit is: then the sum tells.
        double tile_sum = block_sum(loss, n) + block_sum(tile.non_finite, n);
        if (out) std::copy(loss, loss + n, out + row0);
        if (saved) saved->store(tile, row0, n, log_sum, a, dt);
        return tile_sum;
    });
    if (!std::isfinite(sum)) throw_if_non_finite(op, "logits", logits);
    return sum;
}

// ---- Elementwise losses ----------------------------------------------------------------

constexpr int kBlock = 256;

// Runs block_fn(begin, n, loss) over [0, count) in blocks of at most kBlock elements; the
// block function fills loss[0..n) (a vectorisable loop), which is then added up in double.
// Chunks run in parallel, their sums are added in a fixed order.
template <class BlockFn>
double sum_over_blocks(int64_t count, BlockFn&& block_fn) {
    return parallel_sum(count, kGrain, [&](int64_t lo, int64_t hi) {
        alignas(64) float loss[kBlock];
        double sum = 0.0;
        for (int64_t begin = lo; begin < hi; begin += kBlock) {
            int n = int(std::min<int64_t>(kBlock, hi - begin));
            block_fn(begin, n, loss);
            sum += block_sum(loss, n);
        }
        return sum;
    });
}

// Two running sums at once: block_fn(begin, n, a, b) fills a[0..n) and b[0..n). Same fixed
// chunking as parallel_sum, partial sums kept per chunk and added in chunk order.
struct BlockSums {
    double a = 0.0, b = 0.0;
};

template <class BlockFn>
BlockSums sum2_over_blocks(int64_t count, BlockFn&& block_fn) {
    const int64_t chunks = (count + kGrain - 1) / kGrain;
    std::vector<BlockSums> partial(static_cast<size_t>(chunks));
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
        alignas(64) float a[kBlock], b[kBlock];
        for (int64_t c = c0; c < c1; ++c) {
            const int64_t hi = std::min(count, (c + 1) * kGrain);
            for (int64_t begin = c * kGrain; begin < hi; begin += kBlock) {
                int n = int(std::min<int64_t>(kBlock, hi - begin));
                block_fn(begin, n, a, b);
                partial[size_t(c)].a += block_sum(a, n);
                partial[size_t(c)].b += block_sum(b, n);
            }
        }
    });
    BlockSums total;
    for (const BlockSums& p : partial) {
        total.a += p.a;
        total.b += p.b;
    }
    return total;
}

// ---- Sigmoid pieces -------------------------------------------------------------------

// At logit x, with e = e^(-|x|) in (0, 1] (never overflows):
//   p = σ(x) = 1/(1+e) or e/(1+e), and 1 - p = σ(-x) the other one, both accurate to
//   an ulp even when the other is tiny (no 1 - p subtraction);
//   log1p_e = log(1 + e) = softplus(-|x|), so softplus(x) = max(x, 0) + log1p_e and
//   softplus(-x) = max(-x, 0) + log1p_e.
struct SigmoidParts {
    float p, one_minus_p, log1p_e;
};

inline SigmoidParts sigmoid_parts(float x) {
    float e = fast_exp(-std::fabs(x));
    float w = 1.0f + e;
    float big = 1.0f / w;   // σ(|x|)
    float small = e * big;  // σ(-|x|)
    // log(1 + e) as in fast_log1p, sharing its 1 / w with σ: log w corrected by the
    // rounding error (w - 1) - e of 1 + e.
    float log1p_e = fast_log(w) - ((w - 1.0f) - e) * big;
    bool positive = x >= 0.0f;
    return {fastmath::select(positive, big, small), fastmath::select(positive, small, big), log1p_e};
}

}  // namespace detail
}  // namespace focalgrad
