// Exercise 3, a plausible wrong solution: dB computed as dCᵀ A, the transpose of Aᵀ dC,
// and written into dB's buffer. It has the right number of elements, so nothing
// complains about a shape; with square matrices it is even "the right shape".
#include <cstdint>

namespace exercises {

void matmul_backward(float* dA, float* dB, const float* dC, const float* A, const float* B, int64_t M,
                     int64_t K, int64_t N) {
    for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < K; ++k) {
            float s = 0.0f;
            for (int64_t n = 0; n < N; ++n) s += dC[m * N + n] * B[k * N + n];
            dA[m * K + k] += s;
        }
    for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k) {
            float s = 0.0f;  // (dCᵀ A)[n][k], an [N, K] matrix
            for (int64_t m = 0; m < M; ++m) s += dC[m * N + n] * A[m * K + k];
            dB[n * K + k] += s;
        }
}

}  // namespace exercises
