// sigmoid_focal_loss.cpp — the binary / multilabel focal loss, in two forms that compute the
// same math: first reference::sigmoid_focal_loss, one loop over the elements in double with
// the factored backward written as the math reads; then the fast form, branch-free and
// vectorised. Both are ops on the tape, and tests/test_loss_fast_vs_reference.cpp holds them
// together. The core case (torchvision's loss, Mean) comes first; below it the other
// reductions, the dense-prediction options (element weights, α per class, a normaliser from
// the caller), segmentation_models_pytorch's variants (normalized, reduced) and, last, SMP's
// multiclass FocalLoss (smp_multiclass_focal_loss), again reference first.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <utility>

#include <focalgrad/core/autograd.h>
#include <focalgrad/losses/internal/block_sums.h>
#include <focalgrad/losses/internal/elementwise.h>
#include <focalgrad/losses/internal/focal_power.h>
#include <focalgrad/losses/internal/sigmoid_parts.h>
#include <focalgrad/losses/loss_toolkit.h>
#include <focalgrad/losses/sigmoid_focal_loss.h>

namespace focalgrad {

namespace {
void check_options(const char* op, float alpha, float gamma, float reduced_threshold);  // with the fast form
}

// ---- Reference form, the core case: torchvision's loss, Mean over the elements -----------
//   p = σ(x),  ℓ_CE = -y log p - (1 - y) log(1 - p) = softplus(x) - x y
//   ℓ = α_y (1 - p_t)^γ ℓ_CE,   p_t = p y + (1 - p)(1 - y),   α_y = α y + (1 - α)(1 - y)
//   dℓ/dx = α_y (1 - p_t)^γ (γ s ℓ_CE + p - y),   s = (d(1 - p_t)/dx) / (1 - p_t),
//   s = (1 - 2y) p (1 - p) / (1 - p_t), bounded (-p for y = 1, 1 - p for y = 0): factored
//   so, the textbook (1 - p_t)^(γ-1) never appears (infinite at p_t = 1 for γ < 1).
Tensor reference::sigmoid_focal_loss(const Tensor& logits, const Tensor& targets, float alpha, float gamma) {
    constexpr const char* op = "reference::sigmoid_focal_loss";
    check_target_tensor(op, logits, targets);
    check_options(op, alpha, gamma, 0.0f);
    check_finite(op, "logits", logits);
    const int64_t count = logits.numel();
    auto saved_dloss = std::make_shared<std::vector<double>>(size_t(count));  // dℓ/dx per element
    std::vector<double>& dloss = *saved_dloss;
    double total = 0.0;
    for (int64_t e = 0; e < count; ++e) {
        const double x = logits.data()[e], y = targets.data()[e];
        const double p = 1.0 / (1.0 + std::exp(-x)), one_minus_p = 1.0 / (1.0 + std::exp(x));
        // softplus(x) - x y as a sum of terms >= 0 (x - x y would cancel for x > 0, y near 1)
        const double ce = (x >= 0 ? x * (1.0 - y) : -x * y) + std::log1p(std::exp(-std::fabs(x)));
        const double p_minus_y = p * (1.0 - y) - one_minus_p * y;  // p - y, without cancellation
        const double q = p * (1.0 - y) + one_minus_p * y;          // 1 - p_t
        const double s = q > 0.0 ? (1.0 - 2.0 * y) * p * one_minus_p / q : 1.0 - 2.0 * y;  // its limit
        const double alpha_y = alpha < 0.0f ? 1.0 : alpha * y + (1.0 - alpha) * (1.0 - y);
        const double focal = std::pow(q, double(gamma));  // (1 - p_t)^γ; 0^0 = 1
        total += alpha_y * focal * ce;
        dloss[e] = alpha_y * focal * (gamma * s * ce + p_minus_y);
    }
    Tensor loss = Tensor::scalar(count > 0 ? float(total / double(count)) : 0.0f);
    record(op, {logits}, loss, [logits, saved_dloss, count](const Tensor& dy, const Tensor&) {
        const std::vector<double>& dloss = *saved_dloss;
        const double g = double(dy.item()) / double(count);
        Tensor dlogits = Tensor::empty(logits.shape());
        float* dx = dlogits.data();
        for (int64_t e = 0; e < count; ++e) dx[e] = float(g * dloss[e]);
        accumulate_grad(logits, std::move(dlogits));
    });
    return loss;
}

// ---- Fast form: same math as reference::sigmoid_focal_loss, branch-free and vectorised ----
// The per-element terms (loss, its derivative, the focal factor and its derivative) come from
// one function used by the forward pass and by the backward closure alike.
namespace {

constexpr const char* kOp = "sigmoid_focal_loss";
constexpr float kNormEps = 1e-6f;  // SMP's clamp on the normalizer

void check_options(const char* op, float alpha, float gamma, float reduced_threshold) {
    FG_CHECK(std::isfinite(gamma) && gamma >= 0.0f, op, ": gamma must be a finite number >= 0, got ", gamma);
    FG_CHECK(alpha <= 1.0f, op, ": alpha must be in [0, 1] (or negative to turn weighting off), got ", alpha);
    FG_CHECK(reduced_threshold >= 0.0f && reduced_threshold < 1.0f, op,
             ": reduced_threshold must be in [0, 1) (0 turns it off), got ", reduced_threshold);
}

// Checks class_alpha ([C] in [0, 1], C = dim 1 of the logits) and returns the logits' layout
// (the default one when there is no class_alpha).
ClassLayout check_class_alpha(const char* op, const Tensor& logits, const Tensor& class_alpha) {
    if (!class_alpha.defined()) return {};
    FG_CHECK(logits.dim() >= 2, op,
             ": class_alpha needs logits [N, C, d1...] with the classes at dim 1, got ", logits.shape());
    ClassLayout layout = class_layout(op, logits);
    check_class_vector(op, "class_alpha", class_alpha, layout.classes, 1.0f);
    return layout;
}

// The elements the passes read; the tensors must outlive it.
internal::Elements elements_of(const Tensor& logits, const Tensor& targets, const Tensor& weights,
                               float alpha, const Tensor& class_alpha) {
    internal::Elements in;
    in.x = logits.data();
    in.y = targets.data();
    in.weight = weights.defined() ? weights.data() : nullptr;
    in.count = logits.numel();
    in.alpha = alpha;
    if (class_alpha.defined()) {
        ClassLayout layout = class_layout(kOp, logits);
        in.class_alpha = class_alpha.data();
        in.classes = layout.classes;
        in.positions = layout.positions;
    }
    return in;
}

// integer_gamma: γ itself when it is a whole number in [0, 15] and there is no threshold τ;
// then f = q^γ is a few multiplications (focal_power) instead of an exp and a log. -1 otherwise.
struct FocalParams {
    bool use_alpha;
    float gamma, threshold, log_threshold;
    int integer_gamma;
};

FocalParams focal_params(float alpha, const Tensor& class_alpha, float gamma, float tau) {
    return {alpha >= 0.0f || class_alpha.defined(), gamma, tau, tau > 0.0f ? std::log(tau) : 0.0f,
            tau == 0.0f ? internal::whole_gamma(gamma) : -1};
}

// For one element, from its sigmoid parts s (sigmoid_parts_block): the loss α_y f ℓ_CE and
// its derivative, and f and its derivative (the normalized variant needs those). Every
// special case is a select, so loops vectorise.
// kSmpPt picks SMP's p_t = e^(-ℓ_CE) (the variants) over torchvision's; a compile-time
// choice, so that the default mode does not pay for SMP's exp and expm1. kIntegerGamma
// takes f = q^γ from focal_power (params.integer_gamma >= 0).
struct FocalTerms {
    float loss, dloss, focal, dfocal;
};

template <bool kSmpPt, bool kIntegerGamma>
FOCALGRAD_ALWAYS_INLINE FocalTerms focal_terms(float x, float y, float alpha, const FocalParams& params,
                                               const internal::SigmoidParts s) {
    // softplus(x) - x y, as a sum of non-negative terms: x (1 - y) for x >= 0, -x y below
    // (max(x, 0) - x y would cancel for x > 0 and y near 1).
    float ce = fastmath::select(x >= 0.0f, x * (1.0f - y), -x * y) + s.log1p_e;
    float dce = s.p * (1.0f - y) - s.one_minus_p * y;  // p - y, without cancellation
    // q = 1 - p_t and its derivative; both forms agree for 0/1 targets.
    float pt_smp = 1.0f, q, dq;
    if constexpr (kSmpPt) {
        pt_smp = fast_exp(-ce);
        q = -fast_expm1(-ce);
        dq = pt_smp * dce;
    } else {
        q = s.p * (1.0f - y) + s.one_minus_p * y;
        dq = (1.0f - 2.0f * y) * s.p * s.one_minus_p;
    }
    // s = dq / q stays bounded; where q rounds to 0 it takes its limit 1 - 2y.
    float ratio = fastmath::select(q > 0.0f, dq / q, 1.0f - 2.0f * y);
    // f = (q / τ)^γ = e^(γ (log q - log τ)); log τ = 0 without a threshold. γ = 0 gives 1
    // exactly (0 * -inf would be NaN at q = 0).
    float f;
    if constexpr (kIntegerGamma) {
        f = internal::focal_power(q, params.integer_gamma);
    } else {
        f = fastmath::select(params.gamma == 0.0f, 1.0f,
                             fast_exp(params.gamma * (fast_log(q) - params.log_threshold)));
    }
    float df_over_f = params.gamma * ratio;
    bool flat = pt_smp < params.threshold;  // reduced focal loss: f = 1 below the threshold
    f = fastmath::select(flat, 1.0f, f);
    df_over_f = fastmath::select(flat, 0.0f, df_over_f);
    float alpha_y = fastmath::select(params.use_alpha, alpha * y + (1.0f - alpha) * (1.0f - y), 1.0f);
    return {alpha_y * f * ce, alpha_y * f * (df_over_f * ce + dce), f, f * df_over_f};
}

// The compile-time choices of the passes below (kSmpPt, kWeighted, kIntegerGamma), made at
// run time: calls pass(smp, weighted, integer_gamma) with each as a std::bool_constant.
template <class Pass>
auto with_choices(bool smp, bool weighted, bool integer_gamma, Pass&& pass) {
    auto last = [&](auto s, auto w) {
        return integer_gamma ? pass(s, w, std::true_type{}) : pass(s, w, std::false_type{});
    };
    auto second = [&](auto s) { return weighted ? last(s, std::true_type{}) : last(s, std::false_type{}); };
    return smp ? second(std::true_type{}) : second(std::false_type{});
}

// The forward loop: Σ w A with A = α_y f ℓ_CE (w A also into `out` when given), Σ w f (for
// SMP's p_t, which the normalized variant uses; 0 otherwise), and Σ w (the count when there
// are no weights). With `grad`, also w A' per element: the gradient of the unnormalised loss
// before the upstream factor, which the backward then only has to scale (the inputs are
// read once, and the exp and log run once per element).
struct ForwardSums {
    double loss, focal, weight;
};

// One block of n <= kBlock elements from `begin`. The parameters come by value so that
// they live in registers: behind a reference a float might alias the stores, and the
// loop would reload it on every element instead of vectorising.
template <bool kSmpPt, bool kWeighted, bool kIntegerGamma>
void forward_block(const internal::Elements& in, const FocalParams params, int64_t begin, int n,
                   float (*values)[internal::kBlock], float* out, float* grad, float grad_scale) {
    float* loss = values[0];
    float* focal = kSmpPt ? values[1] : nullptr;  // Σ w f: only the normalized variant needs it
    alignas(64) float alpha[internal::kBlock], dloss[internal::kBlock];
    in.alphas(begin, n, alpha);
    const float* x = in.x + begin;
    const float* y = in.y + begin;
    internal::SigmoidBlock parts;
    internal::sigmoid_parts_block(x, n, parts);
    // A target outside [0, 1] (or NaN) turns its loss into NaN, and so does a weight < 0 or
    // not finite: the sum then tells the caller to check them in full (a pass over the
    // targets of its own before this one cost 9 % of the loss).
    constexpr float kInvalid = std::numeric_limits<float>::quiet_NaN();
    for (int i = 0; i < n; ++i) {
        FocalTerms terms = focal_terms<kSmpPt, kIntegerGamma>(x[i], y[i], alpha[i], params, parts[i]);
        loss[i] = fastmath::select(target_in_range(y[i]), terms.loss, kInvalid);
        if constexpr (kSmpPt) focal[i] = terms.focal;
        dloss[i] = terms.dloss;
    }
    if constexpr (kWeighted) {
        const float* w = in.weight + begin;
        float* weight = values[kSmpPt ? 2 : 1];
        for (int i = 0; i < n; ++i) {
            loss[i] = fastmath::select(weight_in_range(w[i]), loss[i] * w[i], kInvalid);
            if constexpr (kSmpPt) focal[i] *= w[i];
            dloss[i] *= w[i];
            weight[i] = w[i];
        }
    }
    if (out) std::copy(loss, loss + n, out + begin);
    if (grad)
        for (int i = 0; i < n; ++i) grad[begin + i] = dloss[i] * grad_scale;
}

template <bool kSmpPt, bool kWeighted, bool kIntegerGamma>
ForwardSums forward_pass(const internal::Elements& in, const FocalParams& params, float* out, float* grad,
                         float grad_scale) {
    constexpr size_t K = 1 + kSmpPt + kWeighted;  // Σ w A, then Σ w f (kSmpPt), then Σ w (kWeighted)
    auto sums = internal::sum_over_blocks<K>(in.count, [&](int64_t begin, int n,
                                                           float(*values)[internal::kBlock]) {
        forward_block<kSmpPt, kWeighted, kIntegerGamma>(in, params, begin, n, values, out, grad, grad_scale);
    });
    return {sums[0], kSmpPt ? sums[1] : 0.0, kWeighted ? sums[K - 1] : double(in.count)};
}

ForwardSums forward(const internal::Elements& in, const FocalParams& params, bool smp, float* out,
                    float* grad = nullptr, float grad_scale = 1.0f) {
    return with_choices(smp, in.weight, params.integer_gamma >= 0, [&](auto s, auto w, auto g) {
        return forward_pass<s(), w(), g()>(in, params, out, grad, grad_scale);
    });
}

// dx = u w A' from the forward's `grad`, scaled in place by what the forward could not
// multiply in: u = scale dy_i, or scale dy (the forward took in scale when it knew it).
void scale_grad(float scale, const float* dy, bool per_row, int64_t count, float* grad) {
    if (!per_row && scale * dy[0] == 1.0f) return;  // already the gradient
    parallel_for(count, kGrain, [scale, dy, per_row, grad](int64_t lo, int64_t hi) {
        if (per_row) {
            for (int64_t i = lo; i < hi; ++i) grad[i] *= scale * dy[i];
        } else {
            const float u = scale * dy[0];
            for (int64_t i = lo; i < hi; ++i) grad[i] *= u;
        }
    });
}

// The backward of the normalized variant, which needs Z (known only after the forward) and
// K (known only with dy): dx_i = w_i (u_i A'_i / Z - f'_i K / Z), u_i = scale dy_i (or
// scale dy), recomputed from the inputs. Evaluated as (w A' / Z) u - (w f' / Z) K, with the
// second product in double: both brackets are bounded (w f / Z <= 1), but K, a sum over the
// whole tensor, may exceed float when the logits are extreme, and K / Z with it, while the
// products stay finite (or are 0 · K). Parameters by value, as in forward_block.
template <bool kSmpPt, bool kWeighted, bool kIntegerGamma>
void backward_block(const internal::Elements& in, const FocalParams params, const float* dy, bool per_row,
                    float scale, float inv_z, double K, int64_t begin, int n, float* dx) {
    alignas(64) float alpha[internal::kBlock], u[internal::kBlock], dfocal[internal::kBlock];
    in.alphas(begin, n, alpha);
    for (int i = 0; i < n; ++i) u[i] = scale * dy[per_row ? begin + i : 0];
    const float* x = in.x + begin;
    const float* y = in.y + begin;
    const float* w = kWeighted ? in.weight + begin : nullptr;
    float* d = dx + begin;
    internal::SigmoidBlock parts;
    internal::sigmoid_parts_block(x, n, parts);
    for (int i = 0; i < n; ++i) {
        FocalTerms terms = focal_terms<kSmpPt, kIntegerGamma>(x[i], y[i], alpha[i], params, parts[i]);
        const float wi = kWeighted ? w[i] : 1.0f;
        d[i] = (wi * terms.dloss * inv_z) * u[i];
        dfocal[i] = wi * terms.dfocal * inv_z;
    }
    if (K != 0.0)  // Z has a gradient
        for (int i = 0; i < n; ++i) d[i] = float(double(d[i]) - double(dfocal[i]) * K);
}

void backward(const internal::Elements& in, const FocalParams& params, bool smp, const UpstreamGrad& upstream,
              float inv_z, double K, float* dx) {
    with_choices(smp, in.weight, params.integer_gamma >= 0, [&](auto s, auto w, auto g) {
        parallel_for(in.count, kGrain, [&](int64_t lo, int64_t hi) {
            for (int64_t begin = lo; begin < hi; begin += internal::kBlock)
                backward_block<s(), w(), g()>(in, params, upstream.dy, upstream.per_row, upstream.scale,
                                              inv_z, K, begin,
                                              int(std::min<int64_t>(internal::kBlock, hi - begin)), dx);
        });
    });
}

// K = Σ_e u_e ℓ_e / Z, the upstream gradient contracted with the output: dy * out for a
// reduced output (u = dy, or dy / D for a mean whose out is Σ / D).
double contract(const UpstreamGrad& upstream, const Tensor& out) {
    const float* pdy = upstream.dy;
    const float* po = out.data();
    if (!upstream.per_row) return double(pdy[0]) * po[0];
    return parallel_sum(out.numel(), kGrain, [&](int64_t lo, int64_t hi) {
        double k = 0.0;
        for (int64_t i = lo; i < hi; ++i) k += double(pdy[i]) * po[i];
        return k;
    });
}

}  // namespace

//   ℓ = w α_y f ℓ_CE            dℓ/dx = w α_y f (γ s ℓ_CE + p - y)
//   normalized: ℓ / Z, Z = max(Σ w f, ε)    d/dx_j = u_j ℓ'_j / Z - w_j f'_j (Σ_e u_e ℓ_e / Z) / Z
Tensor sigmoid_focal_loss(const Tensor& logits, const Tensor& targets,
                          const SigmoidFocalLossOptions& options) {
    // The targets' and weights' values are checked by the forward pass (forward_block).
    check_target_tensor(kOp, logits, targets, /*values=*/false);
    check_element_weights(kOp, targets, options.weight, /*values=*/false);
    check_options(kOp, options.alpha, options.gamma, options.reduced_threshold);
    check_class_alpha(kOp, logits, options.class_alpha);
    mean_denominator(kOp, options.reduction, options.normalizer, 0.0);  // checks the normalizer
    const float tau = options.reduced_threshold;
    const FocalParams params = focal_params(options.alpha, options.class_alpha, options.gamma, tau);
    const bool smp = options.normalized || tau > 0.0f;

    const internal::Elements in =
        elements_of(logits, targets, options.weight, options.alpha, options.class_alpha);
    // One pass: the losses w A and, for the normalized variant, Z = Σ w f alongside.
    // Dividing by Z has to wait until Z is known: a scale of the sum, or of the output.
    // Without normalisation, when a backward will run, the same pass writes w A' too: the
    // gradient but for the upstream factor, which the backward only has to multiply in.
    // The normalized backward recomputes instead: its second term needs Z and dy.
    const bool per_element = options.reduction == Reduction::None;
    Tensor losses = per_element ? Tensor::empty(logits.shape()) : Tensor();
    float* out = per_element ? losses.data() : nullptr;
    // The mean's 1 / denominator goes into it when known before the pass (it is not when
    // it is Σ w), so that the usual dy = 1 leaves nothing to do.
    Tensor grad = needs_grad({logits}) && !options.normalized ? Tensor::empty(logits.shape()) : Tensor();
    const bool scale_known = !(options.reduction == Reduction::Mean && in.weight && !options.normalizer);
    const float grad_scale =
        scale_known ? UpstreamGrad::scale_of(
                          options.reduction,
                          mean_denominator(kOp, options.reduction, options.normalizer, double(in.count)))
                    : 1.0f;
    const ForwardSums sums =
        forward(in, params, smp, out, grad.defined() ? grad.data() : nullptr, grad_scale);
    const float inv_z = options.normalized ? float(1.0 / std::max(sums.focal, double(kNormEps))) : 1.0f;
    const bool z_has_grad = options.normalized && sums.focal > double(kNormEps);
    const double sum = sums.loss * double(inv_z);
    if (out && options.normalized)
        parallel_for(in.count, kGrain, [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) out[i] *= inv_z;
        });
    if (!std::isfinite(sum)) {
        check_target_tensor(kOp, logits, targets);
        check_element_weights(kOp, targets, options.weight);
        check_finite(kOp, "logits", logits);
        // Valid inputs and still not finite: a weighted loss w ℓ beyond float (logits near
        // ±3e38). The reference form computes in double: the exact loss, +inf only where the
        // output itself exceeds float.
        return reference::sigmoid_focal_loss(logits, targets, options);
    }
    const double denominator = mean_denominator(kOp, options.reduction, options.normalizer, sums.weight);

    Tensor result = reduce_losses(options.reduction, sum, denominator, losses);
    if (grad.defined()) {
        record(kOp, {logits}, result,
               [logits, grad, reduction = options.reduction, denominator, scale_known](
                   const Tensor& dy, const Tensor&) mutable {
                   const UpstreamGrad upstream(reduction, dy, denominator);
                   scale_grad(scale_known ? 1.0f : upstream.scale, upstream.dy, upstream.per_row,
                              grad.numel(), grad.data());
                   accumulate_grad(logits, std::move(grad));  // moved: becomes the gradient, no copy
               });
        return result;
    }
    record(kOp, {logits}, result,
           [logits, targets, weights = options.weight, class_alpha = options.class_alpha,
            alpha = options.alpha, params, smp, reduction = options.reduction, denominator, inv_z,
            z_has_grad](const Tensor& dy, const Tensor& out) {
               const internal::Elements in = elements_of(logits, targets, weights, alpha, class_alpha);
               const UpstreamGrad upstream(reduction, dy, denominator);
               const double K = z_has_grad ? contract(upstream, out) : 0.0;
               Tensor dlogits = Tensor::empty(logits.shape());
               backward(in, params, smp, upstream, inv_z, K, dlogits.data());
               accumulate_grad(logits, std::move(dlogits));  // moved: becomes the gradient, no copy
           });
    return result;
}

// ---- Reference form with every option ------------------------------------------------------
// The core case's loop, with each reduction, the dense-prediction options and SMP's variants:
//   element weights w:        ℓ_e -> w_e ℓ_e and f_e -> w_e f_e (in Z); Mean divides by Σ w_e,
//                             or by max(normalizer, 1) when one is given
//   class_alpha:              the α of element e is class_alpha[c], c its index along dim 1
// The variants use p_t = e^(-ℓ_CE) (the same p_t for 0/1 targets), so 1 - p_t = -expm1(-ℓ_CE)
// and d(1 - p_t)/dx = p_t (p - y):
//   reduced_threshold τ > 0:  f = 1 where p_t < τ (no gradient through it), ((1 - p_t) / τ)^γ
//                             elsewhere;
//   normalized:               ℓ_e / Z, Z = max(Σ_e w_e f_e, 1e-6), and with u_e the upstream
//                             gradient of element e:  dx_e = u_e ℓ'_e / Z - f'_e (Σ_k u_k ℓ_k / Z) / Z
//                             (the second term only when Z is not clamped).
namespace {

// One element in double: the loss α_y f ℓ_CE, its derivative, f and f'; `smp` picks SMP's p_t.
struct Terms {
    double loss, dloss, focal, dfocal;
};

Terms element_terms(double x, double y, double alpha, double gamma, double tau, bool smp) {
    const double p = 1.0 / (1.0 + std::exp(-x)), one_minus_p = 1.0 / (1.0 + std::exp(x));
    const double ce = (x >= 0 ? x * (1.0 - y) : -x * y) + std::log1p(std::exp(-std::fabs(x)));
    const double p_minus_y = p * (1.0 - y) - one_minus_p * y;
    const double smp_pt = std::exp(-ce);
    const double q = smp ? -std::expm1(-ce) : p * (1.0 - y) + one_minus_p * y;  // 1 - p_t
    const double dq = smp ? smp_pt * p_minus_y : (1.0 - 2.0 * y) * p * one_minus_p;
    const double s = q > 0.0 ? dq / q : 1.0 - 2.0 * y;
    double focal = std::pow(tau > 0.0 ? q / tau : q, gamma), df = gamma * s * focal;
    if (tau > 0.0 && smp_pt < tau) focal = 1.0, df = 0.0;
    const double alpha_y = alpha < 0.0 ? 1.0 : alpha * y + (1.0 - alpha) * (1.0 - y);
    return {alpha_y * focal * ce, alpha_y * (df * ce + focal * p_minus_y), focal, df};
}

}  // namespace

Tensor reference::sigmoid_focal_loss(const Tensor& logits, const Tensor& targets,
                                     const SigmoidFocalLossOptions& options) {
    constexpr const char* op = "reference::sigmoid_focal_loss";
    check_target_tensor(op, logits, targets);
    check_element_weights(op, targets, options.weight);
    check_options(op, options.alpha, options.gamma, options.reduced_threshold);
    const ClassLayout layout = check_class_alpha(op, logits, options.class_alpha);
    mean_denominator(op, options.reduction, options.normalizer, 0.0);  // checks the normalizer
    check_finite(op, "logits", logits);
    const int64_t count = logits.numel();
    const Tensor& w = options.weight;
    const Tensor& class_alpha = options.class_alpha;
    struct Saved {
        std::vector<double> losses, dloss, dfocal;  // per element: w ℓ_e / Z, w ℓ'_e and w f'_e
    };
    auto saved =
        std::make_shared<Saved>(Saved{std::vector<double>(size_t(count)), std::vector<double>(size_t(count)),
                                      std::vector<double>(size_t(count))});
    auto& [losses, dloss, dfocal] = *saved;
    double focal_sum = 0.0, weight_sum = 0.0;
    for (int64_t e = 0; e < count; ++e) {
        const double weight = w.defined() ? w.data()[e] : 1.0;
        const double alpha = class_alpha.defined()
                                 ? class_alpha.data()[(e / layout.positions) % layout.classes]
                                 : options.alpha;
        const Terms terms =
            element_terms(logits.data()[e], targets.data()[e], alpha, options.gamma,
                          options.reduced_threshold, options.normalized || options.reduced_threshold > 0.0f);
        losses[size_t(e)] = weight * terms.loss;
        dloss[size_t(e)] = weight * terms.dloss;
        dfocal[size_t(e)] = weight * terms.dfocal;
        focal_sum += weight * terms.focal;
        weight_sum += weight;
    }
    const double Z = options.normalized ? std::max(focal_sum, double(kNormEps)) : 1.0;
    const bool z_has_grad = options.normalized && focal_sum > double(kNormEps);
    for (double& loss : losses) loss /= Z;
    const double denominator = mean_denominator(op, options.reduction, options.normalizer, weight_sum);
    Tensor out = reduce_losses(options.reduction, losses, denominator, logits.shape());
    record(op, {logits}, out,
           [logits, saved, Z, z_has_grad, reduction = options.reduction, denominator](const Tensor& dy,
                                                                                      const Tensor&) {
               const auto& [losses, dloss, dfocal] = *saved;
               const int64_t count = logits.numel();
               const UpstreamGrad u(reduction, dy, denominator);  // u(e): what reaches element e's loss
               double K = 0.0;                                    // Σ_k u_k ℓ_k / Z
               if (z_has_grad)
                   for (int64_t e = 0; e < count; ++e) K += u(e) * losses[size_t(e)];
               Tensor dlogits = Tensor::empty(logits.shape());
               float* dx = dlogits.data();
               for (int64_t e = 0; e < count; ++e)
                   dx[e] = float(u(e) * dloss[size_t(e)] / Z - dfocal[size_t(e)] * K / Z);
               accumulate_grad(logits, std::move(dlogits));
           });
    return out;
}

// ---- segmentation_models_pytorch's FocalLoss, mode "multiclass" ---------------------------
// L = Σ_c reduce(ℓ_c): ℓ_c is the binary focal loss of channel c against y = [t = c] over the
// pixels kept, with SMP's p_t = e^(-ℓ_CE) and its α, divided by the class's own Z_c under
// normalized. Pixel i runs over [N, d1...] in row-major order; z_ic is its logit of class c.
namespace {

constexpr const char* kSmpOp = "smp_multiclass_focal_loss";

// SMP's reductions of the per-pixel losses L_i = Σ_c ℓ_ic, and their backward: what reaches
// pixel i's losses from the output's gradient dy.
struct SmpReduce {
    SmpReduction reduction;
    ClassLayout layout;
    double kept;  // the pixels not ignored: Mean's denominator

    // Mean, Sum: a scalar from the total. None: the per-pixel losses [N, d1...] themselves.
    // BatchwiseMean: those summed over n, [d1...] (0-d for [N, C] logits).
    Tensor output(const Shape& logits_shape, double total, Tensor pixel_loss) const {
        switch (reduction) {
            case SmpReduction::Mean: return Tensor::scalar(kept > 0 ? float(total / kept) : 0.0f);
            case SmpReduction::Sum: return Tensor::scalar(float(total));
            case SmpReduction::None: return pixel_loss;
            case SmpReduction::BatchwiseMean: break;
        }
        Shape positions_shape;
        for (int d = 2; d < logits_shape.size(); ++d) positions_shape.push_back(logits_shape[d]);
        Tensor out = Tensor::empty(positions_shape);
        const float* L = pixel_loss.data();
        for (int64_t k = 0; k < layout.positions; ++k) {
            double sum = 0.0;
            for (int64_t n = 0; n < layout.batch; ++n) sum += L[n * layout.positions + k];
            out.data()[k] = float(sum);
        }
        return out;
    }

    // u_i: dy_i (None), dy_k for pixel i at position k (BatchwiseMean), dy (Sum), dy / kept
    // (Mean; 0 for a mean over nothing).
    float upstream(const float* dy, int64_t pixel) const {
        switch (reduction) {
            case SmpReduction::None: return dy[pixel];
            case SmpReduction::BatchwiseMean: return dy[pixel % layout.positions];
            case SmpReduction::Sum: return dy[0];
            case SmpReduction::Mean: break;
        }
        return kept > 0 ? float(dy[0] / kept) : 0.0f;
    }
};

}  // namespace

// Reference form. Each class is the binary reference loop above on its channel, over the
// pixels kept; then the per-pixel sums over the classes, reduced as SMP does:
//   ℓ_ic = ℓ(z_ic, [t_i = c]) / Z_c,  Z_c = max(Σ_(i kept) f_ic, 1e-6) when normalized
//   dx_ic = u_i ℓ'_ic / Z_c - f'_ic K_c / Z_c,  K_c = Σ_(i kept) u_i ℓ_ic  (0 at ignored pixels)
Tensor reference::smp_multiclass_focal_loss(const Tensor& logits, const std::vector<int>& targets,
                                            const SmpFocalLossOptions& options) {
    constexpr const char* op = "reference::smp_multiclass_focal_loss";
    const ClassLayout layout = class_layout(op, logits);
    const double kept = check_targets(op, targets, layout, options.ignore_index);
    check_options(op, options.alpha, options.gamma, options.reduced_threshold);
    check_finite(op, "logits", logits);
    const int64_t pixels = layout.rows(), C = layout.classes, count = logits.numel();
    struct Saved {
        std::vector<double> losses, dloss, dfocal;  // per element (flat index): ℓ_ic / Z_c, ℓ'_ic, f'_ic
        std::vector<double> Z;                      // per class
        std::vector<bool> z_has_grad;
    };
    auto saved = std::make_shared<Saved>();
    auto& [losses, dloss, dfocal, Z, z_has_grad] = *saved;
    losses.assign(size_t(count), 0.0), dloss.assign(size_t(count), 0.0), dfocal.assign(size_t(count), 0.0);
    for (int64_t c = 0; c < C; ++c) {
        double focal_sum = 0.0;
        for (int64_t i = 0; i < pixels; ++i) {
            if (targets[size_t(i)] == options.ignore_index) continue;
            const int64_t e = layout.index(i, c);
            const Terms terms = element_terms(logits.data()[e], targets[size_t(i)] == c ? 1.0 : 0.0,
                                              options.alpha, options.gamma, options.reduced_threshold, true);
            losses[size_t(e)] = terms.loss, dloss[size_t(e)] = terms.dloss, dfocal[size_t(e)] = terms.dfocal;
            focal_sum += terms.focal;
        }
        Z.push_back(options.normalized ? std::max(focal_sum, double(kNormEps)) : 1.0);
        z_has_grad.push_back(options.normalized && focal_sum > double(kNormEps));
        for (int64_t i = 0; i < pixels; ++i) losses[size_t(layout.index(i, c))] /= Z.back();
    }
    Tensor pixel_loss = Tensor::empty(row_shape(logits.shape()));
    double total = 0.0;
    for (int64_t i = 0; i < pixels; ++i) {
        double sum = 0.0;
        for (int64_t c = 0; c < C; ++c) sum += losses[size_t(layout.index(i, c))];
        pixel_loss.data()[i] = float(sum);
        total += sum;
    }
    const SmpReduce reduce{options.reduction, layout, kept};
    Tensor out = reduce.output(logits.shape(), total, pixel_loss);
    const int ignore_index = options.ignore_index;
    record(op, {logits}, out,
           [logits, targets, saved, reduce, ignore_index](const Tensor& dy, const Tensor&) {
               const auto& [losses, dloss, dfocal, Z, z_has_grad] = *saved;
               const ClassLayout& layout = reduce.layout;
               Tensor dlogits = Tensor::zeros(logits.shape());
               float* dx = dlogits.data();
               for (int64_t c = 0; c < layout.classes; ++c) {
                   double K = 0.0;  // Σ_i u_i ℓ_ic
                   if (z_has_grad[size_t(c)])
                       for (int64_t i = 0; i < layout.rows(); ++i)
                           K += reduce.upstream(dy.data(), i) * losses[size_t(layout.index(i, c))];
                   for (int64_t i = 0; i < layout.rows(); ++i) {
                       if (targets[size_t(i)] == ignore_index) continue;
                       const size_t e = size_t(layout.index(i, c));
                       const double u = reduce.upstream(dy.data(), i);
                       dx[e] = float(u * dloss[e] / Z[size_t(c)] - dfocal[e] * K / Z[size_t(c)]);
                   }
               }
               accumulate_grad(logits, std::move(dlogits));
           });
    return out;
}

// Fast form: same math as reference::smp_multiclass_focal_loss. Each class runs the binary
// fast form's passes on its channel, copied out contiguously, with the targets [t = c] and
// the pixels kept as 0/1 element weights; its gradient is copied back into the channel.
namespace {

// Channel c of [N, C, d1...] to and from a contiguous [N, d1...] buffer.
void gather_channel(const float* z, const ClassLayout& layout, int64_t c, float* channel) {
    const int64_t P = layout.positions, C = layout.classes;
    parallel_for(layout.batch, std::max<int64_t>(1, kGrain / P), [&](int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n)
            std::copy(z + (n * C + c) * P, z + (n * C + c + 1) * P, channel + n * P);
    });
}

void scatter_channel(const float* channel, const ClassLayout& layout, int64_t c, float* z) {
    const int64_t P = layout.positions, C = layout.classes;
    parallel_for(layout.batch, std::max<int64_t>(1, kGrain / P), [&](int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n)
            std::copy(channel + n * P, channel + (n + 1) * P, z + (n * C + c) * P);
    });
}

// y_i = [t_i = c]: class c's binary targets.
void class_targets(const std::vector<int>& targets, int64_t c, float* y) {
    const int* t = targets.data();
    parallel_for(int64_t(targets.size()), kGrain, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) y[i] = t[i] == c ? 1.0f : 0.0f;
    });
}

}  // namespace

Tensor smp_multiclass_focal_loss(const Tensor& logits, const std::vector<int>& targets,
                                 const SmpFocalLossOptions& options) {
    const ClassLayout layout = class_layout(kSmpOp, logits);
    const double kept = check_targets(kSmpOp, targets, layout, options.ignore_index);
    check_options(kSmpOp, options.alpha, options.gamma, options.reduced_threshold);
    const float tau = options.reduced_threshold;
    const FocalParams params = focal_params(options.alpha, Tensor(), options.gamma, tau);
    const bool smp = options.normalized || tau > 0.0f;
    const int64_t pixels = layout.rows(), C = layout.classes;

    // The pixels kept, as weights 1 (0 for the ignored), shared by every class.
    Tensor keep = Tensor::empty({pixels});
    for (int64_t i = 0; i < pixels; ++i)
        keep.data()[i] = targets[size_t(i)] == options.ignore_index ? 0.0f : 1.0f;
    Tensor x_c = Tensor::empty({pixels}), y_c = Tensor::empty({pixels});
    internal::Elements in{x_c.data(), y_c.data(), keep.data(), pixels, options.alpha};
    const bool per_pixel =
        options.reduction == SmpReduction::None || options.reduction == SmpReduction::BatchwiseMean;
    Tensor pixel_loss = per_pixel ? Tensor::zeros(row_shape(logits.shape())) : Tensor();
    Tensor class_loss = per_pixel ? Tensor::empty({pixels}) : Tensor();
    std::vector<float> inv_z(size_t(C), 1.0f);
    std::vector<double> class_sum(static_cast<size_t>(C));  // Σ_i ℓ_ic / Z_c
    std::vector<bool> z_has_grad(size_t(C), false);
    double total = 0.0;
    for (int64_t c = 0; c < C; ++c) {
        gather_channel(logits.data(), layout, c, x_c.data());
        class_targets(targets, c, y_c.data());
        ForwardSums sums = forward(in, params, smp, per_pixel ? class_loss.data() : nullptr);
        if (options.normalized) {
            inv_z[size_t(c)] = float(1.0 / std::max(sums.focal, double(kNormEps)));
            z_has_grad[size_t(c)] = sums.focal > double(kNormEps);
        }
        class_sum[size_t(c)] = sums.loss * double(inv_z[size_t(c)]);
        total += class_sum[size_t(c)];
        if (per_pixel) {
            float* L = pixel_loss.data();
            const float* l = class_loss.data();
            const float s = inv_z[size_t(c)];
            parallel_for(pixels, kGrain, [&](int64_t lo, int64_t hi) {
                for (int64_t i = lo; i < hi; ++i) L[i] += l[i] * s;
            });
        }
    }
    if (!std::isfinite(total)) {
        check_finite(kSmpOp, "logits", logits);
        return reference::smp_multiclass_focal_loss(logits, targets, options);  // overflow, as above
    }
    const SmpReduce reduce{options.reduction, layout, kept};
    Tensor result = reduce.output(logits.shape(), total, pixel_loss);
    record(kSmpOp, {logits}, result,
           [logits, targets, keep, reduce, params, smp, alpha = options.alpha, inv_z, z_has_grad, class_sum](
               const Tensor& dy, const Tensor&) {
               const ClassLayout& layout = reduce.layout;
               const int64_t pixels = layout.rows();
               // u per pixel for the per-pixel reductions (BatchwiseMean's dy spread over n);
               // one value for Mean and Sum.
               Tensor u_pixels;
               UpstreamGrad upstream(Reduction::Sum, dy, 0.0);
               if (reduce.reduction == SmpReduction::Mean)
                   upstream = UpstreamGrad(Reduction::Mean, dy, reduce.kept);
               if (reduce.reduction == SmpReduction::None) upstream = UpstreamGrad(Reduction::None, dy, 0.0);
               if (reduce.reduction == SmpReduction::BatchwiseMean) {
                   u_pixels = Tensor::empty({pixels});
                   for (int64_t i = 0; i < pixels; ++i) u_pixels.data()[i] = reduce.upstream(dy.data(), i);
                   upstream = UpstreamGrad(Reduction::None, u_pixels, 0.0);
               }
               Tensor x_c = Tensor::empty({pixels}), y_c = Tensor::empty({pixels}),
                      dx_c = Tensor::empty({pixels});
               Tensor class_loss = upstream.per_row ? Tensor::empty({pixels}) : Tensor();
               internal::Elements in{x_c.data(), y_c.data(), keep.data(), pixels, alpha};
               Tensor dlogits = Tensor::empty(logits.shape());
               for (int64_t c = 0; c < layout.classes; ++c) {
                   gather_channel(logits.data(), layout, c, x_c.data());
                   class_targets(targets, c, y_c.data());
                   double K = 0.0;  // Σ_i u_i ℓ_ic / Z_c
                   if (z_has_grad[size_t(c)] && upstream.per_row) {
                       forward(in, params, smp, class_loss.data());
                       const float* u = upstream.dy;
                       const float* l = class_loss.data();
                       K = parallel_sum(pixels, kGrain,
                                        [&](int64_t lo, int64_t hi) {
                                            double k = 0.0;
                                            for (int64_t i = lo; i < hi; ++i) k += double(u[i]) * l[i];
                                            return k;
                                        }) *
                           double(inv_z[size_t(c)]);
                   } else if (z_has_grad[size_t(c)]) {
                       K = double(upstream.scale) * upstream.dy[0] * class_sum[size_t(c)];
                   }
                   backward(in, params, smp, upstream, inv_z[size_t(c)], K, dx_c.data());
                   scatter_channel(dx_c.data(), layout, c, dlogits.data());
               }
               accumulate_grad(logits, std::move(dlogits));
           });
    return result;
}

}  // namespace focalgrad
