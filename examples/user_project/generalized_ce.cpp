// generalized_ce.cpp — the loss of generalized_ce.h as one fused op: the forward computes
// the softmax once and keeps p and p_t^q for the backward, which is the factored gradient
// (no p_t^(q-1) appears, so nothing is infinite when p_t underflows to 0).
#include "generalized_ce.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/error.h>
#include <focalgrad/core/parallel.h>

using namespace focalgrad;

namespace userproject {

Tensor generalized_cross_entropy(const Tensor& logits, const std::vector<int>& targets, float q) {
    FG_CHECK(logits.dim() == 2, "generalized_cross_entropy: logits must be [N, C], got ", logits.shape());
    const int64_t N = logits.size(0), C = logits.size(1);
    FG_CHECK(N > 0 && C > 0, "generalized_cross_entropy: logits ", logits.shape(), " are empty");
    FG_CHECK(int64_t(targets.size()) == N, "generalized_cross_entropy: ", targets.size(),
             " targets for logits ", logits.shape(), " (expected one per row)");
    FG_CHECK(q > 0.0f && q <= 1.0f, "generalized_cross_entropy: q must be in (0, 1], got ", q);
    for (int64_t i = 0; i < N; ++i)
        FG_CHECK(targets[size_t(i)] >= 0 && targets[size_t(i)] < C, "generalized_cross_entropy: target ",
                 targets[size_t(i)], " of row ", i, " is outside [0, ", C, ")");

    Tensor p = Tensor::empty({N, C});                 // softmax, kept for the backward
    std::vector<float> pt_q(static_cast<size_t>(N));  // p_t^q of each row, kept for the backward
    std::vector<double> row_loss(static_cast<size_t>(N));
    const float* z = logits.data();
    float* pd = p.data();
    parallel_for(N, 256, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) {
            const float* zi = z + i * C;
            const float m = *std::max_element(zi, zi + C);  // every exponent <= 0: no overflow
            double sum = 0;
            for (int64_t j = 0; j < C; ++j) sum += std::exp(double(zi[j]) - m);
            const double log_sum = std::log(sum);
            for (int64_t j = 0; j < C; ++j) pd[i * C + j] = float(std::exp(double(zi[j]) - m - log_sum));
            const double q_log_pt = double(q) * (double(zi[targets[size_t(i)]]) - m - log_sum);
            // (1 - p_t^q) / q written as -expm1(q log p_t) / q: exact even when q log p_t is tiny
            row_loss[size_t(i)] = -std::expm1(q_log_pt) / double(q);
            pt_q[size_t(i)] = float(std::exp(q_log_pt));
        }
    });
    double total = 0;
    for (double l : row_loss) total += l;  // in row order: the same bits for any thread count
    Tensor loss = Tensor::scalar(float(total / double(N)));

    record("generalized_cross_entropy", {logits}, loss,
           [logits, p, pt_q, targets, N, C](const Tensor& dloss, const Tensor&) {
               // dlogits[i, j] = dloss / N * p_t^q (p_j - [j = t])
               Tensor dlogits = Tensor::empty({N, C});
               const float scale = dloss.item() / float(N);
               for (int64_t i = 0; i < N; ++i) {
                   const float* pi = p.data() + i * C;
                   const int t = targets[size_t(i)];
                   const float coef = scale * pt_q[size_t(i)];
                   for (int64_t j = 0; j < C; ++j)
                       dlogits.data()[i * C + j] = coef * (pi[j] - (j == t ? 1.0f : 0.0f));
               }
               accumulate_grad(logits, std::move(dlogits));
           });
    return loss;
}

}  // namespace userproject
