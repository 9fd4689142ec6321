// Exercise 5, a plausible wrong solution: the forward is right, the backward is the chain
// rule multiplied out, with (1 - p_t)^(γ-1). It passes a gradcheck on moderate logits;
// at γ < 1 and p_t = 1 (in float) it is inf * 0 = NaN.
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace exercises {

float focal_loss_forward(const float* z, const int* targets, int64_t N, int64_t C, float gamma) {
    double total = 0.0;
    for (int64_t i = 0; i < N; ++i) {
        const float* row = z + i * C;
        const float m = *std::max_element(row, row + C);
        double sum = 0.0, others = 0.0;
        for (int64_t j = 0; j < C; ++j) {
            sum += std::exp(double(row[j] - m));
            if (j != targets[i]) others += std::exp(double(row[j] - m));
        }
        double log_pt = double(row[targets[i]] - m) - std::log(sum);
        total += -std::pow(others / sum, double(gamma)) * log_pt;
    }
    return float(total / double(N));
}

void focal_loss_backward(float* dz, const float* z, const int* targets, float dL, int64_t N, int64_t C,
                         float gamma) {
    for (int64_t i = 0; i < N; ++i) {
        const float* row = z + i * C;
        const int t = targets[i];
        const float m = *std::max_element(row, row + C);
        float sum = 0.0f;
        for (int64_t j = 0; j < C; ++j) sum += std::exp(row[j] - m);
        const float p_t = std::exp(row[t] - m) / sum;
        // dℓ/dp_t = γ (1 - p_t)^(γ-1) log p_t - (1 - p_t)^γ / p_t, times dp_t/dz_j = p_t ([j = t] - p_j).
        const float dl_dpt =
            gamma * std::pow(1.0f - p_t, gamma - 1.0f) * std::log(p_t) - std::pow(1.0f - p_t, gamma) / p_t;
        for (int64_t j = 0; j < C; ++j) {
            float p_j = std::exp(row[j] - m) / sum;
            dz[i * C + j] += dL / float(N) * dl_dpt * p_t * (float(j == t) - p_j);
        }
    }
}

}  // namespace exercises
