// Exercise 3, solved with plain loops (core/ops_linalg.cpp does the same with BLAS).
#include <cstdint>

namespace exercises {

void matmul_backward(float* dA, float* dB, const float* dC, const float* A, const float* B, int64_t M,
                     int64_t K, int64_t N) {
    for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < K; ++k) {
            float s = 0.0f;  // dA[m][k] = Σ_n dC[m][n] B[k][n]
            for (int64_t n = 0; n < N; ++n) s += dC[m * N + n] * B[k * N + n];
            dA[m * K + k] += s;
        }
    for (int64_t k = 0; k < K; ++k)
        for (int64_t n = 0; n < N; ++n) {
            float s = 0.0f;  // dB[k][n] = Σ_m A[m][k] dC[m][n]
            for (int64_t m = 0; m < M; ++m) s += A[m * K + k] * dC[m * N + n];
            dB[k * N + n] += s;
        }
}

}  // namespace exercises
