// blas.h — the one door to BLAS. Every matrix product in focalgrad goes through gemm()
// here: one place to read, to profile (an optional trace of calls) and to swap.
// Row-major throughout. Not here: other BLAS levels; the few vector loops we need are
// plain C++.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace focalgrad {

// C[M, N] = alpha * op(A) * op(B) + beta * C, where op(A) is [M, K] (A^T if trans_a)
// and op(B) is [K, N]; lda, ldb, ldc are the row strides of A, B, C as stored.
// beta = 0 means C's old contents are ignored (they may be uninitialised).
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Work on one block of C, rows [row0, row1) x columns [col0, col1), done by the thread that
// computes that block: `before` right before its product (with beta = 1 the product then
// adds to what `before` wrote, e.g. a bias), `after` right after (e.g. an activation),
// while the block is still in that core's cache. Either may be null. The blocks are those
// of gemm's own partition: a function of the sizes only, like everything else here.
struct GemmBlockHooks {
    void (*before)(void* ctx, int64_t row0, int64_t row1, int64_t col0, int64_t col1) = nullptr;
    void (*after)(void* ctx, int64_t row0, int64_t row1, int64_t col0, int64_t col1) = nullptr;
    void* ctx = nullptr;
};
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
          const GemmBlockHooks& hooks);

// Optional trace of gemm calls (shapes and flags), used by bench_train to replay the
// exact sequence of products a training step performs and time them alone.
struct GemmCall {
    bool trans_a, trans_b;
    int64_t M, N, K;
    float beta;
    bool conv_kernel = false;  // conv2d's own product (core/internal/conv_gemm.h), not OpenBLAS's
};
void set_gemm_trace(std::vector<GemmCall>* trace);  // nullptr turns tracing off

// The OpenBLAS kernels in use, by OpenBLAS's name ("SkylakeX", "Haswell", "Zen", ...), and
// a note if focalgrad replaced OpenBLAS's own choice: on a CPU it does not know, OpenBLAS
// 0.3.21 runs SSE3 kernels ("Prescott"), and focalgrad switches it to the AVX2 or AVX-512
// ones the CPU has (core/blas.cpp says when; setting OPENBLAS_CORETYPE turns this off, and
// the string then says it was set, and whether the CPU has AVX-512 that the kernels leave unused).
std::string blas_kernels();

namespace detail {
void trace_gemm(const GemmCall& call);  // adds to the trace, if one is set (conv_gemm's calls)
// Once per process, before the first product: OpenBLAS single-threaded, on the kernels
// blas_kernels() names. gemm and the thread pool call it; so may a caller of raw BLAS.
void configure_openblas();
// Does OpenBLAS run its AVX-512 kernels (SkylakeX, Cooperlake, SapphireRapids)?
bool openblas_avx512();
bool openblas_avx512_kernels(const char* corename);  // is `corename` one of those?
// The kernels to replace OpenBLAS's choice `corename` with, or nullptr to keep it: only when
// OpenBLAS fell back to "Prescott" (SSE3) on a CPU with AVX2 + FMA, and OPENBLAS_CORETYPE
// (`coretype_env`, null if unset) is not set.
struct CpuVectorUnits {
    bool avx2_fma = false;
    bool avx512 = false;  // F, CD, BW, DQ and VL, as OpenBLAS's SkylakeX kernels need
};
const char* openblas_replacement(const char* coretype_env, const char* corename, CpuVectorUnits cpu);
}  // namespace detail

}  // namespace focalgrad
