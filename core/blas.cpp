// blas.cpp — gemm over CBLAS (OpenBLAS).
#include "core/blas.h"

#include <cblas.h>

#include <algorithm>

#include "core/error.h"
#include "core/parallel.h"

namespace focalgrad {

namespace {
thread_local std::vector<GemmCall>* t_trace = nullptr;
}

void set_gemm_trace(std::vector<GemmCall>* trace) { t_trace = trace; }

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
          const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
          int64_t ldc) {
    FG_CHECK(M >= 0 && N >= 0 && K >= 0 && M <= INT32_MAX && N <= INT32_MAX && K <= INT32_MAX,
             "gemm: sizes M=", M, " N=", N, " K=", K, " must be in [0, 2^31)");
    static const int threads_applied = num_threads();  // honour FOCALGRAD_NUM_THREADS
    (void)threads_applied;
    if (t_trace) t_trace->push_back({trans_a, trans_b, M, N, K, beta});
    if (M == 0 || N == 0) return;
    if (K == 0) {  // an empty sum: C = beta * C (BLAS would reject lda = 0)
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0 ? 0.0f : beta * C[i * ldc + j];
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, int(M), int(N), int(K), alpha, A,
                int(std::max<int64_t>(lda, 1)), B, int(std::max<int64_t>(ldb, 1)), beta, C,
                int(std::max<int64_t>(ldc, 1)));
}

}  // namespace focalgrad
