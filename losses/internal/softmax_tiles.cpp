// softmax_tiles.cpp — the tile copies (8 x 8 transposes in registers), the gradient written
// out of the tile (streamed from registers for C = 10) and the backward's
// scaling, for the fast softmax losses.
#include <cstdint>
#include <cstring>
#include <type_traits>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include <focalgrad/losses/internal/softmax_tiles.h>

namespace focalgrad {
namespace internal {

// ---- Tiles ----------------------------------------------------------------------------

namespace {

// The copies between row-major [N, C] logits and class-major tiles move 8 rows x 8 classes
// at a time through registers: eight 8-float loads, 24 shuffles, eight 8-float stores,
// where a float-by-float copy costs 64 loads and 64 stores. gcc's vector extensions, not
// intrinsics: the same code is AVX2 in the default build and SSE in PORTABLE=1.

// dst[k * dst_stride + i] = src[i * src_stride + k] for i, k in [0, 8). The three rounds of
// shuffles are the textbook AVX ones (unpack, shuffle, permute of 128-bit halves); each mask
// picks lanes of its two inputs, 0-7 from the first and 8-15 from the second. Written out
// in full: with arrays and loops gcc kept the sixteen vectors on the stack.
inline void transpose8(const float* src, int64_t src_stride, float* dst, int64_t dst_stride) {
    // Loads and stores are memcpy (one unaligned vector move each). Pointers, not vectors,
    // cross the lambdas: a vector argument changes the ABI where AVX is off (gcc warns).
    auto load = [&](Vec8* v, int i) { std::memcpy(v, src + i * src_stride, sizeof(Vec8)); };
    auto store = [&](int k, const Vec8* v) { std::memcpy(dst + k * dst_stride, v, sizeof(Vec8)); };
    Vec8 a0, a1, a2, a3, a4, a5, a6, a7;
    load(&a0, 0), load(&a1, 1), load(&a2, 2), load(&a3, 3), load(&a4, 4), load(&a5, 5), load(&a6, 6),
        load(&a7, 7);
    // b0 = (a0_0 a1_0 a0_1 a1_1 | a0_4 a1_4 a0_5 a1_5), b1 the same at 2, 3 | 6, 7; and so on.
    const Lanes8 unpack_lo = {0, 8, 1, 9, 4, 12, 5, 13}, unpack_hi = {2, 10, 3, 11, 6, 14, 7, 15};
    const Vec8 b0 = __builtin_shuffle(a0, a1, unpack_lo), b1 = __builtin_shuffle(a0, a1, unpack_hi);
    const Vec8 b2 = __builtin_shuffle(a2, a3, unpack_lo), b3 = __builtin_shuffle(a2, a3, unpack_hi);
    const Vec8 b4 = __builtin_shuffle(a4, a5, unpack_lo), b5 = __builtin_shuffle(a4, a5, unpack_hi);
    const Vec8 b6 = __builtin_shuffle(a6, a7, unpack_lo), b7 = __builtin_shuffle(a6, a7, unpack_hi);
    // c_k: column k of rows 0-3 in its low half, column k + 4 in its high half (rows 4-7: c_k+4).
    const Lanes8 pairs_lo = {0, 1, 8, 9, 4, 5, 12, 13}, pairs_hi = {2, 3, 10, 11, 6, 7, 14, 15};
    const Vec8 c0 = __builtin_shuffle(b0, b2, pairs_lo), c1 = __builtin_shuffle(b0, b2, pairs_hi);
    const Vec8 c2 = __builtin_shuffle(b1, b3, pairs_lo), c3 = __builtin_shuffle(b1, b3, pairs_hi);
    const Vec8 c4 = __builtin_shuffle(b4, b6, pairs_lo), c5 = __builtin_shuffle(b4, b6, pairs_hi);
    const Vec8 c6 = __builtin_shuffle(b5, b7, pairs_lo), c7 = __builtin_shuffle(b5, b7, pairs_hi);
    const Lanes8 low_halves = {0, 1, 2, 3, 8, 9, 10, 11}, high_halves = {4, 5, 6, 7, 12, 13, 14, 15};
    Vec8 d[8];  // the columns
    d[0] = __builtin_shuffle(c0, c4, low_halves);
    d[1] = __builtin_shuffle(c1, c5, low_halves);
    d[2] = __builtin_shuffle(c2, c6, low_halves);
    d[3] = __builtin_shuffle(c3, c7, low_halves);
    d[4] = __builtin_shuffle(c0, c4, high_halves);
    d[5] = __builtin_shuffle(c1, c5, high_halves);
    d[6] = __builtin_shuffle(c2, c6, high_halves);
    d[7] = __builtin_shuffle(c3, c7, high_halves);
    store(0, &d[0]), store(1, &d[1]), store(2, &d[2]), store(3, &d[3]);
    store(4, &d[4]), store(5, &d[5]), store(6, &d[6]), store(7, &d[7]);
}

// The 4-class version, for the last classes of a row when 8 does not divide C: 8 rows x 4
// classes, a half-vector per row. Packing row i and row i + 4 into one register makes the
// first two rounds of transpose8 a 4 x 4 transpose in each 128-bit half at once
// (transpose4_halves, simd8.h), which is all it takes: 8 shuffles where an 8 x 8 block
// overlapping the one before would cost 24. Applied to the 4 class vectors instead, it gives
// back the packed rows (the way out).
typedef float Vec4 __attribute__((vector_size(16)));

// dst[k * dst_stride + i] = src[i * src_stride + k] for i in [0, 8), k in [0, 4).
inline void transpose8x4(const float* src, int64_t src_stride, float* dst, int64_t dst_stride) {
    auto rows = [&](Vec8* v, int i) {  // (row i | row i + 4), 4 classes each
        Vec4 lo, hi;
        std::memcpy(&lo, src + i * src_stride, sizeof(Vec4));
        std::memcpy(&hi, src + (i + 4) * src_stride, sizeof(Vec4));
        *v = __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7);
    };
    auto store = [&](int k, const Vec8* v) { std::memcpy(dst + k * dst_stride, v, sizeof(Vec8)); };
    Vec8 a0, a1, a2, a3;
    rows(&a0, 0), rows(&a1, 1), rows(&a2, 2), rows(&a3, 3);
    transpose4_halves(a0, a1, a2, a3);  // a_k = class k of rows 0-7
    store(0, &a0), store(1, &a1), store(2, &a2), store(3, &a3);
}

// The way back: dst[i * dst_stride + k] = src[k * src_stride + i] for i in [0, 8), k in [0, 4).
inline void transpose4x8(const float* src, int64_t src_stride, float* dst, int64_t dst_stride) {
    auto load = [&](Vec8* v, int k) { std::memcpy(v, src + k * src_stride, sizeof(Vec8)); };
    auto rows = [&](int i, const Vec8* v) {  // row i gets the low half, row i + 4 the high one
        const Vec4 lo = __builtin_shufflevector(*v, *v, 0, 1, 2, 3),
                   hi = __builtin_shufflevector(*v, *v, 4, 5, 6, 7);
        std::memcpy(dst + i * dst_stride, &lo, sizeof(Vec4));
        std::memcpy(dst + (i + 4) * dst_stride, &hi, sizeof(Vec4));
    };
    Vec8 a0, a1, a2, a3;
    load(&a0, 0), load(&a1, 1), load(&a2, 2), load(&a3, 3);
    transpose4_halves(a0, a1, a2, a3);  // a_i = (row i | row i + 4)
    rows(0, &a0), rows(1, &a1), rows(2, &a2), rows(3, &a3);
}

// How the classes of 8 rows are copied, for C >= 4: blocks of 8 classes while they fit, then
// the rest ending at C, as one block of 8 (5-7 classes left, C >= 8) or of 4 (1-4 left, or
// 4 < C < 8, where two blocks of 4 cover the row). A last block overlaps the one before when
// it does not fit exactly, copying some values twice, the same both times. copy8(j) and
// copy4(j) copy the block starting at class j.
template <class Copy8, class Copy4>
inline void for_class_blocks(int64_t C, Copy8&& copy8, Copy4&& copy4) {
    int64_t j = 0;
    for (; j + 8 <= C; j += 8) copy8(j);
    const int64_t rest = C - j;
    if (rest > 4 && C >= 8) {
        copy8(C - 8);
    } else if (rest > 0) {
        if (rest > 4) copy4(j);
        copy4(C - 4);
    }
}

// The [N, C] copies of n rows starting at `block` (row-major, C floats a row) to and from a
// tile. kC > 0 fixes C at compile time (with_fixed_classes, softmax_tiles.h), which leaves
// the class blocks' offsets constants and the block loop without its run-time dispatch;
// kC = 0 reads it from `classes`. The same moves either way.
template <int kC>
void gather_matrix(const float* block, int64_t classes, int n, float* dst) {
    const int64_t C = kC > 0 ? kC : classes;
    int r = 0;
    if (C >= 4)
        for (; r + 8 <= n; r += 8)
            for_class_blocks(
                C, [&](int64_t j) { transpose8(block + r * C + j, C, dst + j * kTileRows + r, kTileRows); },
                [&](int64_t j) { transpose8x4(block + r * C + j, C, dst + j * kTileRows + r, kTileRows); });
    for (; r < n; ++r)
        for (int64_t j = 0; j < C; ++j) dst[j * kTileRows + r] = block[r * C + j];
}

template <int kC>
void scatter_matrix(const float* src, int64_t classes, int n, float* block) {
    const int64_t C = kC > 0 ? kC : classes;
    int r = 0;
    if (C >= 4)
        for (; r + 8 <= n; r += 8)
            for_class_blocks(
                C, [&](int64_t j) { transpose8(src + j * kTileRows + r, kTileRows, block + r * C + j, C); },
                [&](int64_t j) { transpose4x8(src + j * kTileRows + r, kTileRows, block + r * C + j, C); });
    for (; r < n; ++r)
        for (int64_t j = 0; j < C; ++j) block[r * C + j] = src[j * kTileRows + r];
}

}  // namespace

void gather_rows(const float* src, const ClassLayout& layout, int64_t row0, int n, float* dst) {
    const int64_t C = layout.classes, positions = layout.positions;
    if (positions == 1) {  // [N, C]: the n rows are one contiguous n x C block to transpose
        with_fixed_classes(
            C, [&](auto fixed) { gather_matrix<decltype(fixed)::value>(src + row0 * C, C, n, dst); });
    } else {
        int64_t sample = row0 / positions, k = row0 % positions;
        for (int r = 0; r < n; ++r) {
            const float* row = src + sample * C * positions + k;
            for (int64_t j = 0; j < C; ++j) dst[j * kTileRows + r] = row[j * positions];
            if (++k == positions) k = 0, ++sample;
        }
    }
    if (n < kTileRows)
        for (int64_t j = 0; j < C; ++j)
            for (int r = n; r < kTileRows; ++r) dst[j * kTileRows + r] = 0.0f;
}

void scatter_rows(const float* src, const ClassLayout& layout, int64_t row0, int n, float* dst) {
    const int64_t C = layout.classes, positions = layout.positions;
    if (positions == 1) {
        with_fixed_classes(
            C, [&](auto fixed) { scatter_matrix<decltype(fixed)::value>(src, C, n, dst + row0 * C); });
        return;
    }
    int64_t sample = row0 / positions, k = row0 % positions;
    for (int r = 0; r < n; ++r) {
        float* row = dst + sample * C * positions + k;
        for (int64_t j = 0; j < C; ++j) row[j * positions] = src[j * kTileRows + r];
        if (++k == positions) k = 0, ++sample;
    }
}

// ---- The gradient ---------------------------------------------------------------------

void tile_gradient(SoftmaxTile& tile, int64_t row0, int n, const float* prob_coef_over_sum,
                   const float* target_grad, const ClassLayout& layout, const SoftmaxForward& options) {
    alignas(64) float g_coef[kTileRows], g_spread[kTileRows], g_target[kTileRows];
    const float g = options.grad_scale;
    for (int r = 0; r < kTileRows; ++r) {
        g_coef[r] = g * prob_coef_over_sum[r];
        g_spread[r] = fastmath::select(tile.target[r] >= 0, g * options.spread, 0.0f);
        g_target[r] = g * target_grad[r];
    }
    const float* u = options.spread_weights;
    // dz_j of rows r8 ... r8 + 7; weighted: u is given (otherwise u_j = 1, and g spread u_j is
    // g spread itself, the product by 1 left out).
    auto dz8 = [&](int r8, int64_t j, auto weighted) {
        const Vec8 e = load8(tile.z + j * kTileRows + r8);  // e^(z_j - m)
        const Int8 is_target = load8(tile.target + r8) == (Int8{} + int(j));
        Vec8 spread = load8(g_spread + r8);
        if constexpr (decltype(weighted)::value) spread *= splat8(u[j]);
        // (g prob_coef / S) e^(z_j - m) - g spread u_j, fused as gcc fuses the plain loop's form.
        return is_target ? load8(g_target + r8) : fms8(load8(g_coef + r8), e, spread);
    };
    auto with_weights = [&](auto&& f) { u ? f(std::true_type{}) : f(std::false_type{}); };
    float* rows_out = options.grad + row0 * tile.classes;  // [N, C] only, when streaming
    if (options.stream_grad && tile.classes == kFixedClasses && n == kTileRows &&
        reinterpret_cast<uintptr_t>(rows_out) % 64 == 0) {
        with_weights([&](auto weighted) {
            for (int r8 = 0; r8 < kTileRows; r8 += 8) {
                Vec8 dz[kFixedClasses];
#pragma GCC unroll 10
                for (int j = 0; j < kFixedClasses; ++j) dz[j] = dz8(r8, j, weighted);
                stream_rows10(dz, rows_out + r8 * kFixedClasses);
            }
        });
        return;
    }
    // dz_j over the tile's classes, C fixed at compile time when it is kFixedClasses (as in
    // softmax_tile_stats).
    with_fixed_classes(tile.classes, [&](auto fixed) {
        constexpr int kC = decltype(fixed)::value;
        const int64_t C = kC > 0 ? kC : tile.classes;
        with_weights([&](auto weighted) {
            for (int64_t j = 0; j < C; ++j)
                for (int r8 = 0; r8 < kTileRows; r8 += 8)
                    store8(tile.z + j * kTileRows + r8, dz8(r8, j, weighted));
        });
    });
    if (options.stream_grad) {  // the tile's rows are one block of n C floats
        scatter_rows(tile.z, layout, 0, n, tile.rows);
        stream_floats(tile.rows, n * tile.classes, rows_out);
    } else {
        scatter_rows(tile.z, layout, row0, n, options.grad);
    }
}

void prefetch_rows(const float* data, const ClassLayout& layout, int64_t row0, int64_t n, bool write) {
    if (layout.positions != 1) return;
    const int64_t end = std::min(row0 + n, layout.rows()) * layout.classes;
    constexpr int64_t kLine = 64 / sizeof(float);  // floats per cache line
    // Unrolled: a tile of ten classes is 40 lines, and the plain loop's four instructions per
    // line were 0.34 instructions per logit, 4 % of cross_entropy's.
    if (write) {
#pragma GCC unroll 8
        for (int64_t e = row0 * layout.classes; e < end; e += kLine) __builtin_prefetch(data + e, 1);
    } else {
#pragma GCC unroll 8
        for (int64_t e = row0 * layout.classes; e < end; e += kLine) __builtin_prefetch(data + e, 0);
    }
}

void stream_floats(const float* src, int64_t n, float* dst) {
#if defined(__SSE2__)
    int64_t i = 0;
    for (; i < n && (reinterpret_cast<uintptr_t>(dst + i) & 63) != 0; ++i) dst[i] = src[i];
    const int64_t lines_end = i + ((n - i) & ~int64_t(15));  // 16 floats to a line
#if defined(__AVX__)
    for (; i + 32 <= lines_end; i += 32) {  // two lines an iteration
        _mm256_stream_ps(dst + i, _mm256_loadu_ps(src + i));
        _mm256_stream_ps(dst + i + 8, _mm256_loadu_ps(src + i + 8));
        _mm256_stream_ps(dst + i + 16, _mm256_loadu_ps(src + i + 16));
        _mm256_stream_ps(dst + i + 24, _mm256_loadu_ps(src + i + 24));
    }
    for (; i < lines_end; i += 16) {
        _mm256_stream_ps(dst + i, _mm256_loadu_ps(src + i));
        _mm256_stream_ps(dst + i + 8, _mm256_loadu_ps(src + i + 8));
    }
#else
    for (; i < lines_end; i += 16) {
        _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
        _mm_stream_ps(dst + i + 4, _mm_loadu_ps(src + i + 4));
        _mm_stream_ps(dst + i + 8, _mm_loadu_ps(src + i + 8));
        _mm_stream_ps(dst + i + 12, _mm_loadu_ps(src + i + 12));
    }
#endif
    for (; i < n; ++i) dst[i] = src[i];
#else
    std::memcpy(dst, src, size_t(n) * sizeof(float));
#endif
}

void store_fence() {
#if defined(__SSE2__)
    _mm_sfence();
#endif
}

void load_tile(const float* logits, const ClassLayout& layout, int64_t row0, int n,
               const std::vector<int>& targets, int ignore_index, SoftmaxTile& tile) {
    gather_rows(logits, layout, row0, n, tile.z);
    load_targets(row0, n, targets, ignore_index, tile);
}

void load_targets(int64_t row0, int n, const std::vector<int>& targets, int ignore_index, SoftmaxTile& tile) {
    const int* t = targets.data() + row0;
    for (int r = 0; r < n; ++r) tile.target[r] = t[r] == ignore_index ? -1 : t[r];
    for (int r = n; r < kTileRows; ++r) tile.target[r] = -1;
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
