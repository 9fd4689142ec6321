// balanced_cross_entropy.cpp — the α-balanced binary cross-entropy in two forms that compute
// the same math: first reference::balanced_binary_cross_entropy, one loop over the elements
// in double with its backward as the math reads; then the fast form, branch-free and
// vectorised, tested equal to it (tests/test_loss_fast_vs_reference.cpp). Below them: class
// weights from counts, and balanced CE (cross_entropy with those weights).
#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include <focalgrad/core/autograd.h>
#include <focalgrad/losses/balanced_cross_entropy.h>
#include <focalgrad/losses/cross_entropy.h>
#include <focalgrad/losses/internal/block_sums.h>
#include <focalgrad/losses/internal/sigmoid_parts.h>
#include <focalgrad/losses/loss_toolkit.h>

namespace focalgrad {

namespace {

constexpr const char* kBinaryOp = "balanced_binary_cross_entropy";

void check_alpha(const char* op, float alpha) {
    FG_CHECK(alpha >= 0.0f && alpha <= 1.0f, op, ": alpha must be in [0, 1], got ", alpha,
             " (alpha weights the positives, 1 - alpha the negatives)");
}

}  // namespace

// ---- Reference form: one loop over the elements, each reduction -------------------------
//   ℓ = -[α y log σ(x) + (1-α)(1-y) log(1 - σ(x))] = α y softplus(-x) + (1-α)(1-y) softplus(x)
//   dℓ/dx = (1-α)(1-y) σ(x) - α y (1 - σ(x))
Tensor reference::balanced_binary_cross_entropy(const Tensor& logits, const Tensor& targets, float alpha,
                                                Reduction reduction) {
    constexpr const char* op = "reference::balanced_binary_cross_entropy";
    check_target_tensor(op, logits, targets);
    check_alpha(op, alpha);
    check_finite(op, "logits", logits);
    const int64_t count = logits.numel();
    std::vector<double> losses(static_cast<size_t>(count));
    auto saved_dloss = std::make_shared<std::vector<double>>(size_t(count));  // dℓ/dx per element
    std::vector<double>& dloss = *saved_dloss;
    for (int64_t e = 0; e < count; ++e) {
        const double x = logits.data()[e], y = targets.data()[e];
        const double p = 1.0 / (1.0 + std::exp(-x)), one_minus_p = 1.0 / (1.0 + std::exp(x));
        const double log1p_e = std::log1p(std::exp(-std::fabs(x)));  // softplus(±x) = max(±x, 0) + log1p_e
        const double softplus_pos = std::max(x, 0.0) + log1p_e, softplus_neg = std::max(-x, 0.0) + log1p_e;
        const double pos = alpha * y, neg = (1.0 - alpha) * (1.0 - y);
        losses[e] = pos * softplus_neg + neg * softplus_pos;
        dloss[e] = neg * p - pos * one_minus_p;
    }
    Tensor out = reduce_losses(reduction, losses, double(count), logits.shape());
    record(op, {logits}, out, [logits, saved_dloss, reduction](const Tensor& dy, const Tensor&) {
        const std::vector<double>& dloss = *saved_dloss;
        const UpstreamGrad g(reduction, dy, double(logits.numel()));  // g(e): what reaches element e's loss
        Tensor dlogits = Tensor::empty(logits.shape());
        float* dx = dlogits.data();
        for (int64_t e = 0; e < logits.numel(); ++e) dx[e] = float(g(e) * dloss[e]);
        accumulate_grad(logits, std::move(dlogits));
    });
    return out;
}

// ---- Fast form: same math as reference::balanced_binary_cross_entropy, vectorised ---------
namespace {

struct BinaryTerms {
    float loss, dloss;
};

inline BinaryTerms balanced_bce_terms(float x, float y, float alpha) {
    internal::SigmoidParts s = internal::sigmoid_parts(x);
    float softplus_pos = std::max(x, 0.0f) + s.log1p_e;   // -log(1 - σ(x))
    float softplus_neg = std::max(-x, 0.0f) + s.log1p_e;  // -log σ(x)
    float pos = alpha * y, neg = (1.0f - alpha) * (1.0f - y);
    return {pos * softplus_neg + neg * softplus_pos, neg * s.p - pos * s.one_minus_p};
}

}  // namespace

Tensor balanced_binary_cross_entropy(const Tensor& logits, const Tensor& targets, float alpha,
                                     Reduction reduction) {
    check_target_tensor(kBinaryOp, logits, targets);
    check_alpha(kBinaryOp, alpha);
    const int64_t count = logits.numel();
    const bool per_element = reduction == Reduction::None;
    Tensor losses = per_element ? Tensor::empty(logits.shape()) : Tensor();
    float* out = per_element ? losses.data() : nullptr;
    const float* x = logits.data();
    const float* y = targets.data();

    double sum =
        internal::sum_over_blocks<1>(count, [&](int64_t begin, int n, float(*values)[internal::kBlock]) {
            float* loss = values[0];
            for (int i = 0; i < n; ++i) loss[i] = balanced_bce_terms(x[begin + i], y[begin + i], alpha).loss;
            if (out) std::copy(loss, loss + n, out + begin);
        })[0];
    if (!std::isfinite(sum)) check_finite(kBinaryOp, "logits", logits);

    Tensor result = reduce_losses(reduction, sum, double(count), losses);
    record(kBinaryOp, {logits}, result, [logits, targets, alpha, reduction](const Tensor& dy, const Tensor&) {
        const float* x = logits.data();
        const float* y = targets.data();
        const UpstreamGrad upstream(reduction, dy, double(logits.numel()));
        const float* pdy = upstream.dy;
        const float scale = upstream.scale;
        Tensor dlogits = Tensor::empty(logits.shape());
        float* dx = dlogits.data();
        parallel_for(logits.numel(), kGrain, [&](int64_t lo, int64_t hi) {
            if (upstream.per_row) {
                for (int64_t i = lo; i < hi; ++i)
                    dx[i] = scale * pdy[i] * balanced_bce_terms(x[i], y[i], alpha).dloss;
            } else {
                const float u = scale * pdy[0];
                for (int64_t i = lo; i < hi; ++i) dx[i] = u * balanced_bce_terms(x[i], y[i], alpha).dloss;
            }
        });
        accumulate_grad(logits, std::move(dlogits));  // moved: becomes the gradient, no copy
    });
    return result;
}

// ---- Class weights from counts, and balanced cross-entropy ---------------------------------

std::vector<float> class_weights(const std::vector<int64_t>& counts, WeightScheme scheme, double beta) {
    FG_CHECK(!counts.empty(), "class_weights: counts is empty; expected one count per class");
    double total = 0.0;
    for (size_t c = 0; c < counts.size(); ++c) {
        FG_CHECK(counts[c] >= 1, "class_weights: class ", c, " has count ", counts[c],
                 "; every class needs at least one sample (drop the class, or add a pseudo-count)");
        total += double(counts[c]);
    }
    const double C = double(counts.size());
    std::vector<float> w(counts.size());
    switch (scheme) {
        case WeightScheme::InverseFrequency:
            for (size_t c = 0; c < counts.size(); ++c) w[c] = float(total / (C * double(counts[c])));
            break;
        case WeightScheme::InverseSqrt:
            for (size_t c = 0; c < counts.size(); ++c)
                w[c] = float(std::sqrt(total / (C * double(counts[c]))));
            break;
        case WeightScheme::EffectiveNumber: {
            FG_CHECK(beta >= 0.0 && beta < 1.0,
                     "class_weights: beta must be in [0, 1) for the "
                     "effective-number scheme, got ",
                     beta, " (Cui et al. use 0.9 ... 0.9999)");
            // 1 - β^n = -expm1(n log β): accurate when β^n is close to 1 (β near 1, n small).
            std::vector<double> raw(counts.size());
            double raw_sum = 0.0;
            for (size_t c = 0; c < counts.size(); ++c) {
                double one_minus_beta_n = beta == 0.0 ? 1.0 : -std::expm1(double(counts[c]) * std::log(beta));
                raw[c] = (1.0 - beta) / one_minus_beta_n;
                raw_sum += raw[c];
            }
            for (size_t c = 0; c < counts.size(); ++c) w[c] = float(raw[c] * C / raw_sum);
            break;
        }
    }
    return w;
}

Tensor balanced_cross_entropy(const Tensor& logits, const std::vector<int>& targets,
                              const std::vector<int64_t>& class_counts, const BalancedCEOptions& options) {
    FG_CHECK(logits.defined() && logits.dim() >= 2,
             "balanced_cross_entropy: expected logits of "
             "shape [N, C] or [N, C, d1, ...], got ",
             logits.defined() ? logits.shape() : Shape{});
    FG_CHECK(int64_t(class_counts.size()) == logits.size(1), "balanced_cross_entropy: got ",
             class_counts.size(), " class counts for logits with C = ", logits.size(1), " classes (shape ",
             logits.shape(), "); expected one count per class");
    std::vector<float> w = class_weights(class_counts, options.scheme, options.beta);
    CrossEntropyOptions ce;
    ce.weight = Tensor::from(w, Shape{int64_t(w.size())});
    ce.ignore_index = options.ignore_index;
    ce.reduction = options.reduction;
    ce.label_smoothing = options.label_smoothing;
    return cross_entropy(logits, targets, ce);
}

}  // namespace focalgrad
