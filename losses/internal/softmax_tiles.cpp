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

// ---- The backward ---------------------------------------------------------------------

void scale_by_upstream(float* grad, const ClassLayout& layout, bool per_row, const float* dy) {
    const int64_t C = layout.classes, P = layout.positions;
    if (!per_row) {
        const float g = dy[0];
        if (g == 1.0f) return;
        parallel_for(layout.rows() * C, kGrain, [grad, g](int64_t lo, int64_t hi) {
            for (int64_t e = lo; e < hi; ++e) grad[e] *= g;
        });
        return;
    }
    // Sample n's class j at position k is grad[(n C + j) P + k], of row n P + k.
    parallel_for(layout.batch, std::max<int64_t>(1, kGrain / (C * P)), [=](int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n)
            for (int64_t j = 0; j < C; ++j) {
                float* g = grad + (n * C + j) * P;
                const float* d = dy + n * P;
                for (int64_t k = 0; k < P; ++k) g[k] *= d[k];
            }
    });
}

}  // namespace internal
}  // namespace focalgrad
