// conv_gemm.cpp — conv2d's small products (the math: conv_gemm.h).
#include <algorithm>
#include <type_traits>

#include <focalgrad/core/blas.h>
#include <focalgrad/core/fastmath.h>
#include <focalgrad/core/internal/conv_gemm.h>
#include <focalgrad/core/internal/vec8.h>

#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace focalgrad::detail {

using internal::fma8;
using internal::load8;
using internal::splat8;
using internal::store8;
using internal::Vec8;

void conv_gemm_reference(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                         int64_t ldb, bool accumulate, float* C, int64_t ldc) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            float c = accumulate ? C[i * ldc + j] : 0.0f;
            for (int64_t k = 0; k < K; ++k) c = fastmath::fma(A[i * lda + k], B[k * ldb + j], c);
            C[i * ldc + j] = c;
        }
}

namespace {

// The first `width` (1-7) lanes of a vector, for the last strip of columns: loads read nothing
// past p[width - 1] and give 0 in the other lanes, stores write only those lanes. AVX's masked
// moves, one instruction each; lane by lane without AVX.
struct FirstLanes {
    int64_t width;
#if defined(__AVX__)
    __m256i mask;
    explicit FirstLanes(int64_t w) : width(w) {
        typedef int32_t Int8 __attribute__((vector_size(32)));
        const Int8 lane = {0, 1, 2, 3, 4, 5, 6, 7};
        mask = __m256i(lane < int32_t(w));  // -1 in the lanes below w, 0 in the others
    }
    Vec8 load(const float* p) const { return _mm256_maskload_ps(p, mask); }
    void store(float* p, Vec8 v) const { _mm256_maskstore_ps(p, mask, __m256(v)); }
#else
    explicit FirstLanes(int64_t w) : width(w) {}
    Vec8 load(const float* p) const {
        Vec8 v{};
        for (int64_t q = 0; q < width; ++q) v[q] = p[q];
        return v;
    }
    void store(float* p, Vec8 v) const {
        for (int64_t q = 0; q < width; ++q) p[q] = v[q];
    }
#endif
};

// B's vectors are loaded once per k. Without keep_in_register, gcc's -march=native build on
// an AVX-512 CPU (an AMD EPYC of family 26) folds each load of b[v] into every multiply-add
// that uses it, R V loads per k instead of V: the 4 x 24 tile ran at 82 GFLOP/s there against
// 131 in the default build. An empty asm that may change the vector makes it a register value
// the compiler cannot read from memory again; the operations and their order, so the bits,
// are the same.
inline Vec8 keep_in_register(Vec8 v) {
#if defined(__AVX__)
    asm("" : "+x"(v));
#endif
    return v;
}

// R rows x 8 V columns of C, the R x V sums in registers for the whole k loop: per k, V vectors
// of B's row k and R broadcasts of A's column k make R V fused multiply-adds.
template <int R, int V>
inline void tile(int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, bool accumulate,
                 float* C, int64_t ldc) {
    Vec8 c[R][V];
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < V; ++v) c[r][v] = accumulate ? load8(C + r * ldc + 8 * v) : Vec8{};
    for (int64_t k = 0; k < K; ++k) {
        Vec8 b[V];
        for (int v = 0; v < V; ++v) b[v] = keep_in_register(load8(B + k * ldb + 8 * v));
        for (int r = 0; r < R; ++r) {
            const Vec8 a = splat8(A[r * lda + k]);
            for (int v = 0; v < V; ++v) c[r][v] = fma8(a, b[v], c[r][v]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < V; ++v) store8(C + r * ldc + 8 * v, c[r][v]);
}

// The same for the last 1-7 columns: R rows x lanes.width columns.
template <int R>
inline void tile_last(int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                      const FirstLanes& lanes, bool accumulate, float* C, int64_t ldc) {
    Vec8 c[R];
    for (int r = 0; r < R; ++r) c[r] = accumulate ? lanes.load(C + r * ldc) : Vec8{};
    for (int64_t k = 0; k < K; ++k) {
        const Vec8 b = lanes.load(B + k * ldb);
        for (int r = 0; r < R; ++r) c[r] = fma8(splat8(A[r * lda + k]), b, c[r]);
    }
    for (int r = 0; r < R; ++r) lanes.store(C + r * ldc, c[r]);
}

// Runs `tile_of_rows(i, rows)` over all M rows: tiles of R rows, then one tile of the rows
// left (first a tile of 4 when R = 6 leaves 4 or 5). tile_of_rows takes the row count as a
// std::integral_constant, so each tile height is its own compiled loop.
template <int R, class TileOfRows>
inline void over_rows(int64_t M, TileOfRows tile_of_rows) {
    int64_t i = 0;
    for (; i + R <= M; i += R) tile_of_rows(i, std::integral_constant<int, R>{});
    if (R > 4 && M - i >= 4) {
        tile_of_rows(i, std::integral_constant<int, 4>{});
        i += 4;
    }
    switch (M - i) {
        case 3: tile_of_rows(i, std::integral_constant<int, 3>{}); break;
        case 2: tile_of_rows(i, std::integral_constant<int, 2>{}); break;
        case 1: tile_of_rows(i, std::integral_constant<int, 1>{}); break;
        default: break;
    }
}

// All columns in strips of 8 V, then one of 16 and one of 8 if they fit, then the last 1-7;
// each strip over all rows in tiles of R (a strip of B stays in L1 while the rows pass).
template <int R, int V>
void strips(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
            bool accumulate, float* C, int64_t ldc) {
    int64_t j = 0;
    auto full = [&](auto vectors) {  // one strip of 8 vectors columns from column j
        constexpr int kV = decltype(vectors)::value;
        over_rows<R>(M, [&](int64_t i, auto rows) {
            tile<decltype(rows)::value, kV>(K, A + i * lda, lda, B + j, ldb, accumulate, C + i * ldc + j,
                                            ldc);
        });
        j += 8 * kV;
    };
    while (j + 8 * V <= N) full(std::integral_constant<int, V>{});
    if (V > 2 && j + 16 <= N) full(std::integral_constant<int, 2>{});
    if (V > 1 && j + 8 <= N) full(std::integral_constant<int, 1>{});
    if (j < N) {
        const FirstLanes lanes(N - j);
        over_rows<R>(M, [&](int64_t i, auto rows) {
            tile_last<decltype(rows)::value>(K, A + i * lda, lda, B + j, ldb, lanes, accumulate,
                                             C + i * ldc + j, ldc);
        });
    }
}

}  // namespace

// Twelve sums in registers, which is what keeps both FMA units busy (each multiply-add waits
// four cycles for its sum): a 6 x 16 tile (2 loads of B and 6 broadcasts of A per k) or a
// 4 x 24 one (3 and 4). 4 x 24 when the rows do not come in sixes and the columns fill
// strips of 24 (conv2d's forward, O = 16 or 32 rows of P = 196 or 784 columns), 6 x 16
// otherwise (dW's K rows of O = 16 or 32 columns). A strip of B (K x 24 floats: 14 KB for
// K = 144) stays in L1 while all the rows of A pass over it. The tiling changes only the speed:
// every output is the same chain whatever tile computes it.
void conv_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
               bool accumulate, float* C, int64_t ldc) {
    trace_gemm({false, false, M, N, K, accumulate ? 1.0f : 0.0f, true});
    if (M % 6 != 0 && N >= 24)
        strips<4, 3>(M, N, K, A, lda, B, ldb, accumulate, C, ldc);
    else
        strips<6, 2>(M, N, K, A, lda, B, ldb, accumulate, C, ldc);
}

// conv_gemm's chains run on 8-float vectors, the widest the default build may use. Where
// OpenBLAS runs AVX-512 kernels, twice as wide, it is the faster one for these products too:
// single-threaded, on an Intel Xeon of family 6 model 207 with OpenBLAS's SkylakeX kernels,
// 97.6 against 66.8 GFLOP/s for the first convolution's 16 x 784 x 9 and 125.9 against 67.6
// for the second's 32 x 196 x 144; conv_gemm stays where OpenBLAS's kernels are AVX2 ones
// (Haswell, Zen), as it was written to. The sums are then OpenBLAS's, whose order depends on
// its kernels: the bits depend on the CPU, as every other product's do, and still not on the
// thread count (each call is one single-threaded product, as in gemm's blocks).
void conv_product(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                  bool accumulate, float* C, int64_t ldc) {
    if (openblas_avx512())
        gemm(false, false, M, N, K, 1.0f, A, lda, B, ldb, accumulate ? 1.0f : 0.0f, C, ldc);
    else
        conv_gemm(M, N, K, A, lda, B, ldb, accumulate, C, ldc);
}

// With B given transposed, OpenBLAS's own transposed product (NT) is the faster one where
// the sums are long and the rows few: single-threaded, SkylakeX kernels, the first
// convolution's dW (9 x 16 x 784) took 2.6 us against 7.6 for the transpose and conv_product,
// 34 against 61 for 9 x 32 x 3136, but 20.3 against 14.9 for the second's (144 x 32 x 196);
// of 8 shapes measured, NT won where K >= 4 M, and tied at K = 196, M = 36.
void conv_product_bt(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* Bt,
                     float* scratch, bool accumulate, float* C, int64_t ldc) {
    if (openblas_avx512() && K >= 4 * M) {
        gemm(false, true, M, N, K, 1.0f, A, lda, Bt, K, accumulate ? 1.0f : 0.0f, C, ldc);
        return;
    }
    transpose_floats(Bt, N, K, scratch);
    conv_product(M, N, K, A, lda, scratch, N, accumulate, C, ldc);
}

void transpose_floats_reference(const float* src, int64_t rows, int64_t cols, float* dst) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
}

// The 8 x 8 blocks go tile by tile, 32 rows x 64 columns (8 KB read, 8 KB written), so that
// each line of dst is filled while it is in L1: row by row over a whole 256 x 90 source (one
// of dense_digits' heads, through permute), dst's 90 lines of every 8 rows were evicted
// half-written, and the copy ran at 0.34 ns per float against 0.09 tiled.
void transpose_floats(const float* src, int64_t rows, int64_t cols, float* dst) {
    const int64_t rows8 = rows - rows % 8, cols8 = cols - cols % 8;
    constexpr int64_t kTileRows = 32, kTileCols = 64;
    for (int64_t r0 = 0; r0 < rows8; r0 += kTileRows)
        for (int64_t c0 = 0; c0 < cols8; c0 += kTileCols)
            for (int64_t r = r0; r < std::min(rows8, r0 + kTileRows); r += 8)
                for (int64_t c = c0; c < std::min(cols8, c0 + kTileCols); c += 8) {
                    Vec8 block[8];
                    for (int k = 0; k < 8; ++k) block[k] = load8(src + (r + k) * cols + c);
                    internal::transpose8(block);
                    for (int k = 0; k < 8; ++k) store8(dst + (c + k) * rows + r, block[k]);
                }
    for (int64_t r = 0; r < rows; ++r)  // the last cols % 8 columns, then the last rows % 8 rows
        for (int64_t c = (r < rows8 ? cols8 : 0); c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
}

}  // namespace focalgrad::detail
