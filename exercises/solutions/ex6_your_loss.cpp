// Exercise 6, a worked example: the Brier score (Brier 1950), the squared distance between
// the predicted distribution and the one-hot target. It is bounded (0 <= ℓ <= 2), so one
// confidently wrong sample cannot dominate a batch the way it can with cross-entropy.
//
//   forward    p = softmax(z),   ℓ = Σ_j (p_j - y_j)²,  y = onehot(t),   L = (1/N) Σ_i ℓ_i
//   backward   g_j = dℓ/dp_j = 2 (p_j - y_j)
//              dℓ/dz_k = Σ_j g_j dp_j/dz_k = p_k (g_k - Σ_j p_j g_j)   (softmax's backward)
//              dz += dL/N * that
//
// Invariants (they use neither the gradient nor the code above):
//   - adding the same constant to every logit of a row changes nothing (softmax does not
//     see it), so L(z + c) = L(z);
//   - with all logits equal, p_j = 1/C and ℓ = (1 - 1/C)² + (C - 1)/C² = (C - 1)/C.
#include <algorithm>
#include <cmath>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/tensor.h>

namespace exercises {

using focalgrad::Tensor;

namespace {

// Row-wise softmax of z [N, C], in double.
std::vector<double> softmax_rows(const Tensor& z) {
    const int64_t N = z.size(0), C = z.size(1);
    std::vector<double> p(size_t(N * C));
    for (int64_t i = 0; i < N; ++i) {
        const float* row = z.data() + i * C;
        const float m = *std::max_element(row, row + C);
        double sum = 0.0;
        for (int64_t j = 0; j < C; ++j) sum += p[size_t(i * C + j)] = std::exp(double(row[j] - m));
        for (int64_t j = 0; j < C; ++j) p[size_t(i * C + j)] /= sum;
    }
    return p;
}

}  // namespace

Tensor my_loss(const Tensor& logits, const std::vector<int>& targets) {
    const int64_t N = logits.size(0), C = logits.size(1);
    std::vector<double> p = softmax_rows(logits);
    double total = 0.0;
    for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < C; ++j) {
            double d = p[size_t(i * C + j)] - (j == targets[size_t(i)]);
            total += d * d;
        }
    Tensor L = Tensor::scalar(float(total / double(N)));
    focalgrad::record(
        "brier_score", {logits}, L, [logits, targets, p, N, C](const Tensor& dL, const Tensor&) {
            Tensor dz = Tensor::empty(logits.shape());
            for (int64_t i = 0; i < N; ++i) {
                const double* pi = p.data() + i * C;
                double dot = 0.0;  // Σ_j p_j g_j
                for (int64_t j = 0; j < C; ++j) dot += pi[j] * 2.0 * (pi[j] - (j == targets[size_t(i)]));
                for (int64_t k = 0; k < C; ++k) {
                    double g_k = 2.0 * (pi[k] - (k == targets[size_t(i)]));
                    dz.data()[i * C + k] = float(double(dL.item()) / double(N) * pi[k] * (g_k - dot));
                }
            }
            focalgrad::accumulate_grad(logits, std::move(dz));
        });
    return L;
}

bool my_loss_invariant(const Tensor& logits, const std::vector<int>& targets) {
    const int64_t N = logits.size(0), C = logits.size(1);
    focalgrad::NoGradGuard no_grad;
    // Shifting every logit by 3.5 changes nothing.
    Tensor shifted = logits.clone();
    for (int64_t i = 0; i < shifted.numel(); ++i) shifted.data()[i] += 3.5f;
    double L = my_loss(logits, targets).item(), L_shifted = my_loss(shifted, targets).item();
    bool shift_ok = std::fabs(L - L_shifted) <= 1e-5 * std::max(1.0, std::fabs(L));
    // Equal logits give (C - 1) / C.
    double uniform = my_loss(Tensor::full({N, C}, -1.25f), targets).item();
    bool uniform_ok = std::fabs(uniform - double(C - 1) / double(C)) <= 1e-6;
    return shift_ok && uniform_ok;
}

}  // namespace exercises
