// softmax_tiles.cpp — tile copies and the shared backward of the fast softmax losses.
#include <focalgrad/losses/internal/softmax_tiles.h>

namespace focalgrad {
namespace internal {

// ---- Tiles ----------------------------------------------------------------------------

void gather_rows(const float* src, const ClassLayout& layout, int64_t row0, int n, float* dst) {
    const int64_t C = layout.classes, positions = layout.positions;
    if (positions == 1) {  // [N, C]: the n rows are one contiguous n x C block to transpose
        const float* block = src + row0 * C;
        for (int r = 0; r < n; ++r)
            for (int64_t j = 0; j < C; ++j) dst[j * kTileRows + r] = block[r * C + j];
    } else {
        int64_t sample = row0 / positions, k = row0 % positions;
        for (int r = 0; r < n; ++r) {
            const float* row = src + sample * C * positions + k;
            for (int64_t j = 0; j < C; ++j) dst[j * kTileRows + r] = row[j * positions];
            if (++k == positions) k = 0, ++sample;
        }
    }
    for (int64_t j = 0; j < C; ++j)
        for (int r = n; r < kTileRows; ++r) dst[j * kTileRows + r] = 0.0f;
}

void scatter_rows(const float* src, const ClassLayout& layout, int64_t row0, int n, float* dst) {
    const int64_t C = layout.classes, positions = layout.positions;
    if (positions == 1) {
        float* block = dst + row0 * C;
        for (int r = 0; r < n; ++r)
            for (int64_t j = 0; j < C; ++j) block[r * C + j] = src[j * kTileRows + r];
        return;
    }
    int64_t sample = row0 / positions, k = row0 % positions;
    for (int r = 0; r < n; ++r) {
        float* row = dst + sample * C * positions + k;
        for (int64_t j = 0; j < C; ++j) row[j * positions] = src[j * kTileRows + r];
        if (++k == positions) k = 0, ++sample;
    }
}

void load_tile(const float* logits, const ClassLayout& layout, int64_t row0, int n,
               const std::vector<int>& targets, int ignore_index, SoftmaxTile& tile) {
    gather_rows(logits, layout, row0, n, tile.z);
    for (int r = 0; r < kTileRows; ++r) {
        int t = r < n ? targets[size_t(row0 + r)] : -1;
        tile.target[r] = t == ignore_index ? -1 : t;
    }
}

// ---- The shared backward --------------------------------------------------------------

namespace {

// What every tile of the backward reads and writes.
struct BackwardPass {
    const float* z;
    const ClassLayout& layout;
    const SoftmaxSaved& saved;
    const SoftmaxSpread& spread;
    const UpstreamGrad& upstream;
    float* dz;

    float spread_of(int64_t i) const { return saved.target()[i] >= 0.0f ? spread.spread : 0.0f; }
};

// A tile of [N, C] logits, computed in place in dz's own memory: the rows are contiguous,
// so no class-major copy is needed (it would cost two transposes). Three passes over the
// tile's n x C values, all in L1: shift, one flat vectorised exp, scale.
void contiguous_tile_backward(const BackwardPass& pass, int64_t row0, int n) {
    const int64_t C = pass.layout.classes;
    const float* in = pass.z + row0 * C;
    float* out = pass.dz + row0 * C;
    const float* u = pass.spread.class_weights;
    for (int r = 0; r < n; ++r) {
        const float m = pass.saved.max()[row0 + r], ls = pass.saved.log_sum()[row0 + r];
        for (int64_t j = 0; j < C; ++j) out[r * C + j] = (in[r * C + j] - m) - ls;
    }
    for (int64_t k = 0; k < n * C; ++k) out[k] = fast_exp(out[k]);  // p
    for (int r = 0; r < n; ++r) {
        const int64_t i = row0 + r;
        const float g = pass.upstream(i), g_coef = g * pass.saved.prob_coef()[i],
                    g_spread = g * pass.spread_of(i);
        float* row = out + r * C;
        if (u) {
            for (int64_t j = 0; j < C; ++j) row[j] = g_coef * row[j] - g_spread * u[j];
        } else {
            for (int64_t j = 0; j < C; ++j) row[j] = g_coef * row[j] - g_spread;
        }
        const int t = int(pass.saved.target()[i]);
        if (t >= 0) row[t] = g * pass.saved.target_grad()[i];
    }
}

// A tile of [N, C, d1, ...] logits, whose rows are strided: through a class-major copy.
void strided_tile_backward(const BackwardPass& pass, int64_t row0, int n, float* tile) {
    alignas(64) float g[kTileRows], coef[kTileRows], spread[kTileRows], m[kTileRows], ls[kTileRows];
    gather_rows(pass.z, pass.layout, row0, n, tile);
    for (int r = 0; r < kTileRows; ++r) {
        const bool real = r < n;
        const int64_t i = row0 + (real ? r : 0);
        g[r] = real ? pass.upstream(i) : 0.0f;
        coef[r] = real ? pass.saved.prob_coef()[i] : 0.0f;
        spread[r] = real ? pass.spread_of(i) : 0.0f;
        m[r] = pass.saved.max()[i];
        ls[r] = pass.saved.log_sum()[i];
    }
    const float* u = pass.spread.class_weights;
    for (int64_t j = 0; j < pass.layout.classes; ++j) {
        float* zj = tile + j * kTileRows;
        const float uj = u ? u[j] : 1.0f;
        for (int r = 0; r < kTileRows; ++r)
            zj[r] = g[r] * (coef[r] * fast_exp((zj[r] - m[r]) - ls[r]) - spread[r] * uj);
    }
    for (int r = 0; r < n; ++r) {
        const int t = int(pass.saved.target()[row0 + r]);
        if (t >= 0) tile[t * kTileRows + r] = g[r] * pass.saved.target_grad()[row0 + r];
    }
    scatter_rows(tile, pass.layout, row0, n, pass.dz);
}

}  // namespace

Tensor softmax_backward(const Tensor& logits, const ClassLayout& layout, const SoftmaxSaved& saved,
                        const SoftmaxSpread& spread, const UpstreamGrad& upstream) {
    Tensor dlogits = Tensor::empty(logits.shape());  // [N, C, d1, ...]
    const BackwardPass pass{logits.data(), layout, saved, spread, upstream, dlogits.data()};
    const bool contiguous = layout.positions == 1;
    parallel_for(layout.rows(), rows_per_chunk(layout.classes), [&](int64_t lo, int64_t hi) {
        Tensor tile = contiguous ? Tensor() : Tensor::empty({layout.classes, kTileRows});  // class-major
        for (int64_t r0 = lo; r0 < hi; r0 += kTileRows) {
            int n = int(std::min<int64_t>(kTileRows, hi - r0));
            if (contiguous)
                contiguous_tile_backward(pass, r0, n);
            else
                strided_tile_backward(pass, r0, n, tile.data());
        }
    });
    return dlogits;
}

}  // namespace internal
}  // namespace focalgrad
