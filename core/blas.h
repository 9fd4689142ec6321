// blas.h — the one door to BLAS. Every matrix product in focalgrad goes through gemm()
// here: one place to read, to profile (an optional trace of calls) and to swap.
// Row-major throughout. Not here: other BLAS levels; the few vector loops we need are
// plain C++.
#pragma once

#include <cstdint>
#include <vector>

namespace focalgrad {

// C[M, N] = alpha * op(A) * op(B) + beta * C, where op(A) is [M, K] (A^T if trans_a)
// and op(B) is [K, N]; lda, ldb, ldc are the row strides of A, B, C as stored.
// beta = 0 means C's old contents are ignored (they may be uninitialised).
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Optional trace of gemm calls (shapes and flags), used by bench_train to replay the
// exact sequence of products a training step performs and time them alone.
struct GemmCall {
    bool trans_a, trans_b;
    int64_t M, N, K;
    float beta;
};
void set_gemm_trace(std::vector<GemmCall>* trace);  // nullptr turns tracing off

}  // namespace focalgrad
