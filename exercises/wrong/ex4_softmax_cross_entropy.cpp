// Exercise 4, a plausible wrong solution: the unfused chain rule. The backward of
// -log p_t is dp_t = -1/p_t; the backward of softmax is dz_j = p_j (dp_j - Σ_k p_k dp_k).
// Right on paper, but where p_t underflows to 0, -1/p_t is -inf and p_t * -inf is NaN.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace exercises {

void softmax_cross_entropy_backward(float* dz, const float* z, const int* targets, float dL, int64_t N,
                                    int64_t C) {
    std::vector<float> p(static_cast<size_t>(C)), dp(static_cast<size_t>(C));
    for (int64_t i = 0; i < N; ++i) {
        const float* row = z + i * C;
        const float m = *std::max_element(row, row + C);
        float sum = 0.0f;
        for (int64_t j = 0; j < C; ++j) sum += std::exp(row[j] - m);
        float dot = 0.0f;  // Σ_k p_k dp_k
        for (int64_t j = 0; j < C; ++j) {
            p[size_t(j)] = std::exp(row[j] - m) / sum;
            dp[size_t(j)] = j == targets[i] ? -dL / float(N) / p[size_t(j)] : 0.0f;
            dot += p[size_t(j)] * dp[size_t(j)];
        }
        for (int64_t j = 0; j < C; ++j) dz[i * C + j] += p[size_t(j)] * (dp[size_t(j)] - dot);
    }
}

}  // namespace exercises
