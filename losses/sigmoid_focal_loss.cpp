// sigmoid_focal_loss.cpp — the binary / multilabel focal loss, in two forms that compute the
// same math: first reference::sigmoid_focal_loss, one loop over the elements in double with
// the factored backward written as the math reads; then the fast form, branch-free and
// vectorised. Both are ops on the tape, and tests/test_loss_fast_vs_reference.cpp holds them
// together. The core case (torchvision's loss, Mean) comes first; the other reductions and
// segmentation_models_pytorch's variants (normalized, reduced) below it.
#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include <focalgrad/core/autograd.h>
#include <focalgrad/losses/internal/block_sums.h>
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

struct FocalParams {
    float alpha, gamma, threshold, log_threshold;
};

// For one element: the loss α_y f ℓ_CE and its derivative, and f and its derivative (the
// normalized variant needs those). Every special case is a select, so loops vectorise.
// kSmpPt picks SMP's p_t = e^(-ℓ_CE) (the variants) over torchvision's; a compile-time
// choice, so that the default mode does not pay for SMP's exp and expm1.
struct FocalTerms {
    float loss, dloss, focal, dfocal;
};

template <bool kSmpPt>
inline FocalTerms focal_terms(float x, float y, const FocalParams& params) {
    internal::SigmoidParts s = internal::sigmoid_parts(x);
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
    float f = fastmath::select(params.gamma == 0.0f, 1.0f,
                               fast_exp(params.gamma * (fast_log(q) - params.log_threshold)));
    float df_over_f = params.gamma * ratio;
    bool flat = pt_smp < params.threshold;  // reduced focal loss: f = 1 below the threshold
    f = fastmath::select(flat, 1.0f, f);
    df_over_f = fastmath::select(flat, 0.0f, df_over_f);
    float alpha_y = params.alpha < 0.0f ? 1.0f : params.alpha * y + (1.0f - params.alpha) * (1.0f - y);
    return {alpha_y * f * ce, alpha_y * f * (df_over_f * ce + dce), f, f * df_over_f};
}

// The forward loop: the losses A = α_y f ℓ_CE (also into `out` when given) and Σ f.
struct ForwardSums {
    double loss, focal;
};

template <bool kSmpPt>
ForwardSums forward_pass(const float* x, const float* y, int64_t count, const FocalParams& params,
                         float* out) {
    auto sums =
        internal::sum_over_blocks<2>(count, [&](int64_t begin, int n, float(*values)[internal::kBlock]) {
            float* loss = values[0];
            float* focal = values[1];
            for (int i = 0; i < n; ++i) {
                FocalTerms terms = focal_terms<kSmpPt>(x[begin + i], y[begin + i], params);
                loss[i] = terms.loss;
                focal[i] = terms.focal;
            }
            if (out) std::copy(loss, loss + n, out + begin);
        });
    return {sums[0], sums[1]};
}

// The backward loop: dx_i = u_i A'_i / Z - f'_i K / Z, u_i = scale dy_i (or scale dy).
template <bool kSmpPt>
void backward_pass(const float* x, const float* y, int64_t count, const FocalParams& params,
                   const UpstreamGrad& upstream, float inv_z, float k_over_z, float* dx) {
    // Two loops rather than `per_row ? dy[i] : dy[0]`, which would keep the loop from
    // vectorising (dy[i] may not exist).
    const float* dy = upstream.dy;
    const float scale = upstream.scale;
    parallel_for(count, kGrain, [&](int64_t lo, int64_t hi) {
        if (upstream.per_row) {
            for (int64_t i = lo; i < hi; ++i) {
                FocalTerms terms = focal_terms<kSmpPt>(x[i], y[i], params);
                dx[i] = scale * dy[i] * terms.dloss * inv_z - terms.dfocal * k_over_z;
            }
        } else {
            const float u = scale * dy[0] * inv_z;
            for (int64_t i = lo; i < hi; ++i) {
                FocalTerms terms = focal_terms<kSmpPt>(x[i], y[i], params);
                dx[i] = u * terms.dloss - terms.dfocal * k_over_z;
            }
        }
    });
}

}  // namespace

//   ℓ = α_y f ℓ_CE            dℓ/dx = α_y f (γ s ℓ_CE + p - y)
//   normalized: ℓ / Z, Z = max(Σ f, ε)    d/dx_j = u_j ℓ'_j / Z - f'_j (Σ_e u_e ℓ_e / Z) / Z
Tensor sigmoid_focal_loss(const Tensor& logits, const Tensor& targets,
                          const SigmoidFocalLossOptions& options) {
    check_target_tensor(kOp, logits, targets);
    check_options(kOp, options.alpha, options.gamma, options.reduced_threshold);
    const float tau = options.reduced_threshold;
    const FocalParams params{options.alpha, options.gamma, tau, tau > 0.0f ? std::log(tau) : 0.0f};
    const bool smp = options.normalized || tau > 0.0f;

    const int64_t count = logits.numel();
    const float* x = logits.data();
    const float* y = targets.data();
    // One pass: the losses A = α_y f ℓ_CE and, for the normalized variant, Z = Σ f alongside.
    // Dividing by Z has to wait until Z is known: a scale of the sum, or of the output.
    const bool per_element = options.reduction == Reduction::None;
    Tensor losses = per_element ? Tensor::empty(logits.shape()) : Tensor();
    float* out = per_element ? losses.data() : nullptr;
    ForwardSums sums =
        smp ? forward_pass<true>(x, y, count, params, out) : forward_pass<false>(x, y, count, params, out);
    const double focal_sum = sums.focal;
    const float inv_z = options.normalized ? float(1.0 / std::max(focal_sum, double(kNormEps))) : 1.0f;
    const bool z_has_grad = options.normalized && focal_sum > double(kNormEps);
    const double sum = sums.loss * double(inv_z);
    if (out && options.normalized)
        parallel_for(count, kGrain, [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) out[i] *= inv_z;
        });
    if (!std::isfinite(sum)) check_finite(kOp, "logits", logits);

    Tensor result = reduce_losses(options.reduction, sum, double(count), losses);
    const Reduction reduction = options.reduction;
    record(kOp, {logits}, result,
           [logits, targets, params, smp, reduction, inv_z, z_has_grad](const Tensor& dy, const Tensor& out) {
               const int64_t count = logits.numel();
               const float* x = logits.data();
               const float* y = targets.data();
               const UpstreamGrad upstream(reduction, dy, double(count));
               const float* pdy = dy.data();
               // K = Σ_e u_e ℓ_e / Z, the upstream gradient contracted with the output: dy * out
               // for a reduced output (u = dy, or dy / count for a mean whose out is Σ / count).
               double K = 0.0;
               if (z_has_grad) {
                   const float* po = out.data();
                   K = upstream.per_row ? parallel_sum(count, kGrain,
                                                       [&](int64_t lo, int64_t hi) {
                                                           double k = 0.0;
                                                           for (int64_t i = lo; i < hi; ++i)
                                                               k += double(pdy[i]) * po[i];
                                                           return k;
                                                       })
                                        : double(pdy[0]) * po[0];
               }
               const float k_over_z = float(K) * inv_z;
               Tensor dlogits = Tensor::empty(logits.shape());
               float* dx = dlogits.data();
               if (smp)
                   backward_pass<true>(x, y, count, params, upstream, inv_z, k_over_z, dx);
               else
                   backward_pass<false>(x, y, count, params, upstream, inv_z, k_over_z, dx);
               accumulate_grad(logits, std::move(dlogits));  // moved: becomes the gradient, no copy
           });
    return result;
}

// ---- Reference form with every option ------------------------------------------------------
// The core case's loop, with each reduction and SMP's variants. Those use p_t = e^(-ℓ_CE) (the
// same p_t for 0/1 targets), so 1 - p_t = -expm1(-ℓ_CE) and d(1 - p_t)/dx = p_t (p - y):
//   reduced_threshold τ > 0:  f = 1 where p_t < τ (no gradient through it), ((1 - p_t) / τ)^γ
//                             elsewhere;
//   normalized:               ℓ_e / Z, Z = max(Σ_e f_e, 1e-6), and with u_e the upstream
//                             gradient of element e:  dx_e = u_e ℓ'_e / Z - f'_e (Σ_k u_k ℓ_k / Z) / Z
//                             (the second term only when Z is not clamped).
Tensor reference::sigmoid_focal_loss(const Tensor& logits, const Tensor& targets,
                                     const SigmoidFocalLossOptions& options) {
    constexpr const char* op = "reference::sigmoid_focal_loss";
    check_target_tensor(op, logits, targets);
    check_options(op, options.alpha, options.gamma, options.reduced_threshold);
    check_finite(op, "logits", logits);
    const int64_t count = logits.numel();
    const double alpha = options.alpha, gamma = options.gamma, tau = options.reduced_threshold;
    const bool smp = options.normalized || tau > 0.0;
    struct Saved {
        std::vector<double> losses, dloss, dfocal;  // per element: ℓ_e / Z, ℓ'_e and f'_e
    };
    auto saved =
        std::make_shared<Saved>(Saved{std::vector<double>(size_t(count)), std::vector<double>(size_t(count)),
                                      std::vector<double>(size_t(count))});
    auto& [losses, dloss, dfocal] = *saved;
    double focal_sum = 0.0;
    for (int64_t e = 0; e < count; ++e) {
        const double x = logits.data()[e], y = targets.data()[e];
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
        losses[e] = alpha_y * focal * ce;
        dloss[e] = alpha_y * (df * ce + focal * p_minus_y);
        dfocal[e] = df;
        focal_sum += focal;
    }
    const double Z = options.normalized ? std::max(focal_sum, double(kNormEps)) : 1.0;
    const bool z_has_grad = options.normalized && focal_sum > double(kNormEps);
    for (double& loss : losses) loss /= Z;
    Tensor out = reduce_losses(options.reduction, losses, double(count), logits.shape());
    const Reduction reduction = options.reduction;
    record(op, {logits}, out, [logits, saved, Z, z_has_grad, reduction](const Tensor& dy, const Tensor&) {
        const auto& [losses, dloss, dfocal] = *saved;
        const int64_t count = logits.numel();
        const UpstreamGrad u(reduction, dy, double(count));  // u(e): what reaches element e's loss
        double K = 0.0;                                      // Σ_k u_k ℓ_k / Z
        if (z_has_grad)
            for (int64_t e = 0; e < count; ++e) K += u(e) * losses[e];
        Tensor dlogits = Tensor::empty(logits.shape());
        float* dx = dlogits.data();
        for (int64_t e = 0; e < count; ++e) dx[e] = float(u(e) * dloss[e] / Z - dfocal[e] * K / Z);
        accumulate_grad(logits, std::move(dlogits));
    });
    return out;
}

}  // namespace focalgrad
