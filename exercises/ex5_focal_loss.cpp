// Exercise 5 — focal loss (Lin et al. 2017), forward and factored backward.
//
//   forward    p = softmax(z) per row, p_t = p[i][t_i],
//              L = (1/N) Σ_i -(1 - p_t)^γ log p_t                            z [N, C], t [N]
//   backward   dz[i][j] += dL/N * (1 - p_t)^γ (1 - γ φ) (p[i][j] - [j = t_i]),
//              φ = p_t log p_t / (1 - p_t)
//
// Where it comes from: dℓ/dp_t = γ (1 - p_t)^(γ-1) log p_t - (1 - p_t)^γ / p_t and
// dp_t/dz_j = p_t ([j = t] - p_j). Multiplied out, that has (1 - p_t)^(γ-1), which is
// infinite at p_t = 1 when γ < 1 (and p_t does round to 1 in float for a confident
// row): inf * 0 = NaN. Factoring (1 - p_t)^γ out leaves φ, which is finite: it goes from
// 0 (p_t -> 0) to -1 (p_t -> 1). Compute it without 1 - p_t cancelling: with
// e_j = e^(z_j - max z), 1 - p_t = (Σ_{j != t} e_j) / Σ_j e_j, so
// φ = e_t log p_t / Σ_{j != t} e_j, and φ = -1 when that sum is 0.
// γ >= 0. Test: make exercises N=5.
#include <cstdint>

#include "exercise.h"

namespace exercises {

float focal_loss_forward(const float* z, const int* targets, int64_t N, int64_t C, float gamma) {
    (void)z, (void)targets, (void)N, (void)C, (void)gamma;
    throw NotImplemented("exercise 5: focal_loss_forward (exercises/ex5_focal_loss.cpp)");
}

void focal_loss_backward(float* dz, const float* z, const int* targets, float dL, int64_t N, int64_t C,
                         float gamma) {
    (void)dz, (void)z, (void)targets, (void)dL, (void)N, (void)C, (void)gamma;
    throw NotImplemented("exercise 5: focal_loss_backward (exercises/ex5_focal_loss.cpp)");
}

}  // namespace exercises
