// poly1_loss.h — a loss of your own, written the way docs/extending.md teaches: Poly-1
// (Leng et al., PolyLoss, ICLR 2022) as one op with its hand-written backward. It gets the
// built-in losses' semantics ([N, C, d1, ...] logits, ignore_index, each reduction and its
// denominator) from the public toolkit, losses/loss_toolkit.h, and is tested in
// tests/test_loss_poly1.cpp. Not here: class weights, label smoothing, a tiled fast form.
//
//   ℓ = -log p_t + ε (1 - p_t),       p = softmax(z) over the row's C classes, t its target
//   dℓ/dz_j = (p_j - [j = t]) + ε p_t (p_j - [j = t]) = (1 + ε p_t) (p_j - [j = t])
#pragma once

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/losses/loss_toolkit.h>

namespace focalgrad::examples {

struct Poly1Options {
    float epsilon = 1.0f;                   // ε; 0 is cross-entropy
    int ignore_index = -100;                // rows with this target count for nothing
    Reduction reduction = Reduction::Mean;  // Mean: over the rows not ignored
};

// ℓ = -log p_t + ε (1 - p_t)          dℓ/dz_j = (1 + ε p_t) (p_j - [j = t])
inline Tensor poly1_loss(const Tensor& logits, const std::vector<int>& targets,
                         const Poly1Options& options = {}) {
    constexpr const char* op = "poly1_loss";
    const ClassLayout layout = class_layout(op, logits);  // checks [N, C, d1, ...]
    const double denominator = check_targets(op, targets, layout, options.ignore_index);  // rows that count
    check_finite(op, "logits", logits);
    FG_CHECK(std::isfinite(options.epsilon), op, ": epsilon must be finite, got ", options.epsilon);

    const int64_t rows = layout.rows(), C = layout.classes;
    const float epsilon = options.epsilon;
    const int ignore_index = options.ignore_index;
    Tensor p = Tensor::zeros(logits.shape());                         // softmax, kept for the backward
    auto coef = std::make_shared<std::vector<double>>(size_t(rows));  // 1 + ε p_t per row (0: ignored)
    std::vector<double> losses(static_cast<size_t>(rows), 0.0);
    // Each row writes only its own entries, so rows can run in parallel.
    parallel_for(rows, 256, [&](int64_t lo, int64_t hi) {
        std::vector<double> z(static_cast<size_t>(C));
        for (int64_t i = lo; i < hi; ++i) {
            const int t = targets[size_t(i)];
            if (t == ignore_index) continue;
            for (int64_t j = 0; j < C; ++j) z[size_t(j)] = logits.data()[layout.index(i, j)];
            // Subtract the row max: every exponent is <= 0, nothing overflows.
            const double m = *std::max_element(z.begin(), z.end());
            double sum = 0.0;
            for (double zj : z) sum += std::exp(zj - m);
            const double log_sum = std::log(sum);  // log Σ_j e^(z_j - m)
            for (int64_t j = 0; j < C; ++j)
                p.data()[layout.index(i, j)] = float(std::exp(z[size_t(j)] - m - log_sum));
            const double log_pt = z[size_t(t)] - m - log_sum;
            losses[size_t(i)] = -log_pt + epsilon * (1.0 - std::exp(log_pt));
            (*coef)[size_t(i)] = 1.0 + epsilon * std::exp(log_pt);
        }
    });
    Tensor loss = reduce_losses(options.reduction, losses, denominator, row_shape(logits.shape()));

    const Reduction reduction = options.reduction;
    record(op, {logits}, loss,
           [logits, targets, layout, p, coef, reduction, denominator](const Tensor& dloss, const Tensor&) {
               const UpstreamGrad g(reduction, dloss, denominator);  // g(i): what reaches row i's loss
               Tensor dlogits = Tensor::zeros(logits.shape());
               parallel_for(layout.rows(), 256, [&](int64_t lo, int64_t hi) {
                   for (int64_t i = lo; i < hi; ++i) {
                       const int t = targets[size_t(i)];
                       // dz_j = g (1 + ε p_t) (p_j - [j = t]); an ignored row's coefficient is 0
                       const double c = g(i) * (*coef)[size_t(i)];
                       for (int64_t j = 0; j < layout.classes; ++j) {
                           const int64_t k = layout.index(i, j);
                           dlogits.data()[k] = float(c * (p.data()[k] - (j == t)));
                       }
                   }
               });
               accumulate_grad(logits, std::move(dlogits));
           });
    return loss;
}

}  // namespace focalgrad::examples
