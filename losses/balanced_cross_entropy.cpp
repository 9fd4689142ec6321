// balanced_cross_entropy.cpp — class weights from counts, balanced CE (cross_entropy with
// those weights) and the fused α-balanced binary cross-entropy.
#include <cmath>
#include <memory>
#include <utility>

#include <focalgrad/core/autograd.h>
#include <focalgrad/losses/balanced_cross_entropy.h>
#include <focalgrad/losses/cross_entropy.h>
#include <focalgrad/losses/loss_common.h>

namespace focalgrad {

using namespace detail;

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

// ---- α-balanced binary cross-entropy ------------------------------------------------------
//   ℓ = α y softplus(-x) + (1-α)(1-y) softplus(x)
//   dℓ/dx = (1-α)(1-y) σ(x) - α y (1 - σ(x))
namespace {

constexpr const char* kBinaryOp = "balanced_binary_cross_entropy";

struct BinaryTerms {
    float loss, dloss;
};

inline BinaryTerms balanced_bce_terms(float x, float y, float alpha) {
    SigmoidParts s = sigmoid_parts(x);
    float softplus_pos = std::max(x, 0.0f) + s.log1p_e;   // -log(1 - σ(x))
    float softplus_neg = std::max(-x, 0.0f) + s.log1p_e;  // -log σ(x)
    float pos = alpha * y, neg = (1.0f - alpha) * (1.0f - y);
    return {pos * softplus_neg + neg * softplus_pos, neg * s.p - pos * s.one_minus_p};
}

}  // namespace

Tensor balanced_binary_cross_entropy(const Tensor& logits, const Tensor& targets, float alpha,
                                     Reduction reduction) {
    check_target_tensor(kBinaryOp, logits, targets);
    FG_CHECK(alpha >= 0.0f && alpha <= 1.0f, kBinaryOp, ": alpha must be in [0, 1], got ", alpha,
             " (alpha weights the positives, 1 - alpha the negatives)");
    const int64_t count = logits.numel();
    const bool per_element = reduction == Reduction::None;
    Tensor losses = per_element ? Tensor::empty(logits.shape()) : Tensor();
    float* out = per_element ? losses.data() : nullptr;
    const float* x = logits.data();
    const float* y = targets.data();

    double sum = sum_over_blocks(count, [&](int64_t begin, int n, float* loss) {
        for (int i = 0; i < n; ++i) loss[i] = balanced_bce_terms(x[begin + i], y[begin + i], alpha).loss;
        if (out) std::copy(loss, loss + n, out + begin);
    });
    if (!std::isfinite(sum)) throw_if_non_finite(kBinaryOp, "logits", logits);

    Tensor result = reduced_output(reduction, sum, double(count), losses);
    const float scale = reduction == Reduction::Mean ? mean_scale(double(count)) : 1.0f;
    record(kBinaryOp, {logits}, result,
           [logits, targets, alpha, per_element, scale](const Tensor& dy, const Tensor&) {
               const float* x = logits.data();
               const float* y = targets.data();
               const float* pdy = dy.data();
               Tensor dlogits = Tensor::empty(logits.shape());
               float* dx = dlogits.data();
               parallel_for(logits.numel(), kGrain, [&](int64_t lo, int64_t hi) {
                   if (per_element) {
                       for (int64_t i = lo; i < hi; ++i)
                           dx[i] = scale * pdy[i] * balanced_bce_terms(x[i], y[i], alpha).dloss;
                   } else {
                       const float u = scale * pdy[0];
                       for (int64_t i = lo; i < hi; ++i)
                           dx[i] = u * balanced_bce_terms(x[i], y[i], alpha).dloss;
                   }
               });
               accumulate_grad(logits, std::move(dlogits));  // moved: becomes the gradient, no copy
           });
    return result;
}

}  // namespace focalgrad
