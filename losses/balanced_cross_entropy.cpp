// balanced_cross_entropy.cpp — the α-balanced binary cross-entropy in two forms that compute
// the same math: first reference::balanced_binary_cross_entropy, one loop over the elements
// in double with its backward as the math reads; then the fast form, branch-free and
// vectorised, with the dense-prediction options (element weights, α per class, a normaliser
// from the caller), tested equal to it (tests/test_loss_fast_vs_reference.cpp); the reference
// form with those options. Below them: class weights from counts, and balanced CE
// (cross_entropy with those weights).
#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <utility>

#include <focalgrad/core/autograd.h>
#include <focalgrad/losses/balanced_cross_entropy.h>
#include <focalgrad/losses/cross_entropy.h>
#include <focalgrad/losses/internal/block_sums.h>
#include <focalgrad/losses/internal/elementwise.h>
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

// From the logit's sigmoid parts s (sigmoid_parts_block).
FOCALGRAD_ALWAYS_INLINE BinaryTerms balanced_bce_terms(float x, float y, float alpha,
                                                       const internal::SigmoidParts s) {
    float softplus_pos = std::max(x, 0.0f) + s.log1p_e;   // -log(1 - σ(x))
    float softplus_neg = std::max(-x, 0.0f) + s.log1p_e;  // -log σ(x)
    float pos = alpha * y, neg = (1.0f - alpha) * (1.0f - y);
    return {pos * softplus_neg + neg * softplus_pos, neg * s.p - pos * s.one_minus_p};
}

// Checks the dense-prediction options; returns the logits' layout when class_alpha is given.
ClassLayout check_options(const char* op, const Tensor& logits, const Tensor& targets,
                          const BalancedBCEOptions& options) {
    check_target_tensor(op, logits, targets);
    check_alpha(op, options.alpha);
    check_element_weights(op, targets, options.weight);
    mean_denominator(op, options.reduction, options.normalizer, 0.0);  // checks the normalizer
    if (!options.class_alpha.defined()) return {};
    FG_CHECK(logits.dim() >= 2, op,
             ": class_alpha needs logits [N, C, d1...] with the classes at dim 1, got ", logits.shape());
    ClassLayout layout = class_layout(op, logits);
    check_class_vector(op, "class_alpha", options.class_alpha, layout.classes, 1.0f);
    return layout;
}

internal::Elements elements_of(const Tensor& logits, const Tensor& targets, const Tensor& weights,
                               float alpha, const Tensor& class_alpha, const ClassLayout& layout) {
    internal::Elements in;
    in.x = logits.data();
    in.y = targets.data();
    in.weight = weights.defined() ? weights.data() : nullptr;
    in.count = logits.numel();
    in.alpha = alpha;
    if (class_alpha.defined()) {
        in.class_alpha = class_alpha.data();
        in.classes = layout.classes;
        in.positions = layout.positions;
    }
    return in;
}

// Σ w ℓ (w ℓ also into `out` when given) and Σ w (the count without weights).
template <bool kWeighted>
std::array<double, 2> forward_pass(const internal::Elements& in, float* out) {
    constexpr size_t K = kWeighted ? 2 : 1;
    auto sums =
        internal::sum_over_blocks<K>(in.count, [&](int64_t begin, int n, float(*values)[internal::kBlock]) {
            float* loss = values[0];
            alignas(64) float alpha[internal::kBlock];
            in.alphas(begin, n, alpha);
            const float* x = in.x + begin;
            const float* y = in.y + begin;
            internal::SigmoidBlock parts;
            internal::sigmoid_parts_block(x, n, parts);
            for (int i = 0; i < n; ++i) loss[i] = balanced_bce_terms(x[i], y[i], alpha[i], parts[i]).loss;
            if constexpr (kWeighted) {
                const float* w = in.weight + begin;
                float* weight = values[K - 1];
                for (int i = 0; i < n; ++i) {
                    loss[i] *= w[i];
                    weight[i] = w[i];
                }
            }
            if (out) std::copy(loss, loss + n, out + begin);
        });
    return {sums[0], kWeighted ? sums[K - 1] : double(in.count)};
}

// dx_i = w_i u_i ℓ'_i, u_i = scale dy_i (or scale dy).
template <bool kWeighted>
void backward_pass(const internal::Elements& in, const UpstreamGrad& upstream, float* dx) {
    const float scale = upstream.scale;
    parallel_for(in.count, kGrain, [&](int64_t lo, int64_t hi) {
        alignas(64) float alpha[internal::kBlock];
        internal::SigmoidBlock parts;
        for (int64_t begin = lo; begin < hi; begin += internal::kBlock) {
            const int n = int(std::min<int64_t>(internal::kBlock, hi - begin));
            in.alphas(begin, n, alpha);
            const float* x = in.x + begin;
            const float* y = in.y + begin;
            float* d = dx + begin;
            internal::sigmoid_parts_block(x, n, parts);
            if (upstream.per_row) {  // two loops: `per_row ? dy[i] : dy[0]` would not vectorise
                const float* dy = upstream.dy + begin;
                for (int i = 0; i < n; ++i)
                    d[i] = scale * dy[i] * balanced_bce_terms(x[i], y[i], alpha[i], parts[i]).dloss;
            } else {
                const float u = scale * upstream.dy[0];
                for (int i = 0; i < n; ++i)
                    d[i] = u * balanced_bce_terms(x[i], y[i], alpha[i], parts[i]).dloss;
            }
            if constexpr (kWeighted) {
                const float* w = in.weight + begin;
                for (int i = 0; i < n; ++i) d[i] *= w[i];
            }
        }
    });
}

}  // namespace

Tensor balanced_binary_cross_entropy(const Tensor& logits, const Tensor& targets, float alpha,
                                     Reduction reduction) {
    BalancedBCEOptions options;
    options.alpha = alpha;
    options.reduction = reduction;
    return balanced_binary_cross_entropy(logits, targets, options);
}

//   ℓ = w [α y softplus(-x) + (1-α)(1-y) softplus(x)]      dℓ/dx = w [(1-α)(1-y) σ(x) - α y (1 - σ(x))]
Tensor balanced_binary_cross_entropy(const Tensor& logits, const Tensor& targets,
                                     const BalancedBCEOptions& options) {
    const ClassLayout layout = check_options(kBinaryOp, logits, targets, options);
    const internal::Elements in =
        elements_of(logits, targets, options.weight, options.alpha, options.class_alpha, layout);
    const bool per_element = options.reduction == Reduction::None;
    Tensor losses = per_element ? Tensor::empty(logits.shape()) : Tensor();
    float* out = per_element ? losses.data() : nullptr;
    const auto [sum, weight_sum] = in.weight ? forward_pass<true>(in, out) : forward_pass<false>(in, out);
    if (!std::isfinite(sum)) {
        check_finite(kBinaryOp, "logits", logits);
        // Finite logits and still not finite: a weighted loss w ℓ beyond float (logits near
        // ±3e38). The reference form computes in double, exactly.
        return reference::balanced_binary_cross_entropy(logits, targets, options);
    }
    const double denominator = mean_denominator(kBinaryOp, options.reduction, options.normalizer, weight_sum);

    Tensor result = reduce_losses(options.reduction, sum, denominator, losses);
    record(
        kBinaryOp, {logits}, result,
        [logits, targets, weights = options.weight, class_alpha = options.class_alpha, alpha = options.alpha,
         layout, reduction = options.reduction, denominator](const Tensor& dy, const Tensor&) {
            const internal::Elements in = elements_of(logits, targets, weights, alpha, class_alpha, layout);
            const UpstreamGrad upstream(reduction, dy, denominator);
            Tensor dlogits = Tensor::empty(logits.shape());
            if (in.weight)
                backward_pass<true>(in, upstream, dlogits.data());
            else
                backward_pass<false>(in, upstream, dlogits.data());
            accumulate_grad(logits, std::move(dlogits));  // moved: becomes the gradient, no copy
        });
    return result;
}

// ---- Reference form with every option ---------------------------------------------------
// The core case's loop with element weights w (ℓ -> w ℓ, Mean over Σ w or max(normalizer, 1))
// and α per class (class_alpha[c] for the elements of class c, dim 1).
Tensor reference::balanced_binary_cross_entropy(const Tensor& logits, const Tensor& targets,
                                                const BalancedBCEOptions& options) {
    constexpr const char* op = "reference::balanced_binary_cross_entropy";
    const ClassLayout layout = check_options(op, logits, targets, options);
    check_finite(op, "logits", logits);
    const int64_t count = logits.numel();
    const Tensor& w = options.weight;
    std::vector<double> losses(static_cast<size_t>(count));
    auto saved_dloss = std::make_shared<std::vector<double>>(size_t(count));  // w dℓ/dx per element
    std::vector<double>& dloss = *saved_dloss;
    double weight_sum = 0.0;
    for (int64_t e = 0; e < count; ++e) {
        const double x = logits.data()[e], y = targets.data()[e];
        const double weight = w.defined() ? w.data()[e] : 1.0;
        const double alpha = options.class_alpha.defined()
                                 ? options.class_alpha.data()[(e / layout.positions) % layout.classes]
                                 : options.alpha;
        const double p = 1.0 / (1.0 + std::exp(-x)), one_minus_p = 1.0 / (1.0 + std::exp(x));
        const double log1p_e = std::log1p(std::exp(-std::fabs(x)));
        const double softplus_pos = std::max(x, 0.0) + log1p_e, softplus_neg = std::max(-x, 0.0) + log1p_e;
        const double pos = alpha * y, neg = (1.0 - alpha) * (1.0 - y);
        losses[size_t(e)] = weight * (pos * softplus_neg + neg * softplus_pos);
        dloss[size_t(e)] = weight * (neg * p - pos * one_minus_p);
        weight_sum += weight;
    }
    const double denominator = mean_denominator(op, options.reduction, options.normalizer, weight_sum);
    Tensor out = reduce_losses(options.reduction, losses, denominator, logits.shape());
    record(
        op, {logits}, out,
        [logits, saved_dloss, reduction = options.reduction, denominator](const Tensor& dy, const Tensor&) {
            const std::vector<double>& dloss = *saved_dloss;
            const UpstreamGrad g(reduction, dy, denominator);
            Tensor dlogits = Tensor::empty(logits.shape());
            float* dx = dlogits.data();
            for (int64_t e = 0; e < logits.numel(); ++e) dx[e] = float(g(e) * dloss[size_t(e)]);
            accumulate_grad(logits, std::move(dlogits));
        });
    return out;
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
