// sigmoid_focal_loss.cpp — the fused sigmoid focal loss: per-element terms (loss, its
// derivative, the focal factor and its derivative) in one branch-free function used by the
// forward pass and by the backward closure alike.
#include <cmath>
#include <utility>

#include <focalgrad/core/autograd.h>
#include <focalgrad/losses/loss_common.h>
#include <focalgrad/losses/sigmoid_focal_loss.h>

namespace focalgrad {

using namespace detail;

namespace {

constexpr const char* kOp = "sigmoid_focal_loss";
constexpr float kNormEps = 1e-6f;  // SMP's clamp on the normalizer

struct FocalParams {
    float alpha, gamma, threshold, log_threshold;
};

// For one element: the loss α_y f ℓ_CE and its derivative, and f and its derivative (the
// normalized variant needs those). Every special case is a select, so loops vectorise.
// kSmp picks SMP's p_t = e^(-ℓ_CE) (the variants) over torchvision's; a compile-time choice,
// so that the default mode does not pay for SMP's exp and expm1.
struct FocalTerms {
    float loss, dloss, focal, dfocal;
};

template <bool kSmp>
inline FocalTerms focal_terms(float x, float y, const FocalParams& P) {
    SigmoidParts s = sigmoid_parts(x);
    // softplus(x) - x y, as a sum of non-negative terms: x (1 - y) for x >= 0, -x y below
    // (max(x, 0) - x y would cancel for x > 0 and y near 1).
    float ce = fastmath::select(x >= 0.0f, x * (1.0f - y), -x * y) + s.log1p_e;
    float dce = s.p * (1.0f - y) - s.one_minus_p * y;  // p - y, without cancellation
    // q = 1 - p_t and its derivative; both forms agree for 0/1 targets.
    float pt_smp = 1.0f, q, dq;
    if constexpr (kSmp) {
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
    float f = fastmath::select(P.gamma == 0.0f, 1.0f, fast_exp(P.gamma * (fast_log(q) - P.log_threshold)));
    float df_over_f = P.gamma * ratio;
    bool flat = pt_smp < P.threshold;  // reduced focal loss: f = 1 below the threshold
    f = fastmath::select(flat, 1.0f, f);
    df_over_f = fastmath::select(flat, 0.0f, df_over_f);
    float alpha_y = P.alpha < 0.0f ? 1.0f : P.alpha * y + (1.0f - P.alpha) * (1.0f - y);
    return {alpha_y * f * ce, alpha_y * f * (df_over_f * ce + dce), f, f * df_over_f};
}

// The forward loop: the losses A = α_y f ℓ_CE (also into `out` when given) and Σ f.
template <bool kSmp>
BlockSums forward_pass(const float* x, const float* y, int64_t count, const FocalParams& P, float* out) {
    return sum2_over_blocks(count, [&](int64_t begin, int n, float* loss, float* focal) {
        for (int i = 0; i < n; ++i) {
            FocalTerms T = focal_terms<kSmp>(x[begin + i], y[begin + i], P);
            loss[i] = T.loss;
            focal[i] = T.focal;
        }
        if (out) std::copy(loss, loss + n, out + begin);
    });
}

// The backward loop: dx_i = u_i A'_i / Z - f'_i K / Z, u_i = scale dy_i (or scale dy).
template <bool kSmp>
void backward_pass(const float* x, const float* y, int64_t count, const FocalParams& P, const float* dy,
                   bool per_element, float scale, float inv_z, float k_over_z, float* dx) {
    // Two loops rather than `per_element ? dy[i] : dy[0]`, which would keep the loop from
    // vectorising (dy[i] may not exist).
    parallel_for(count, kGrain, [&](int64_t lo, int64_t hi) {
        if (per_element) {
            for (int64_t i = lo; i < hi; ++i) {
                FocalTerms T = focal_terms<kSmp>(x[i], y[i], P);
                dx[i] = scale * dy[i] * T.dloss * inv_z - T.dfocal * k_over_z;
            }
        } else {
            const float u = scale * dy[0] * inv_z;
            for (int64_t i = lo; i < hi; ++i) {
                FocalTerms T = focal_terms<kSmp>(x[i], y[i], P);
                dx[i] = u * T.dloss - T.dfocal * k_over_z;
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
    FG_CHECK(std::isfinite(options.gamma) && options.gamma >= 0.0f, kOp,
             ": gamma must be a finite number >= 0, got ", options.gamma);
    FG_CHECK(options.alpha <= 1.0f, kOp,
             ": alpha must be in [0, 1] (or negative to turn "
             "weighting off), got ",
             options.alpha);
    FG_CHECK(options.reduced_threshold >= 0.0f && options.reduced_threshold < 1.0f, kOp,
             ": reduced_threshold must be in [0, 1) (0 turns it off), got ", options.reduced_threshold);
    const float tau = options.reduced_threshold;
    const FocalParams P{options.alpha, options.gamma, tau, tau > 0.0f ? std::log(tau) : 0.0f};
    const bool smp = options.normalized || tau > 0.0f;

    const int64_t count = logits.numel();
    const float* x = logits.data();
    const float* y = targets.data();
    // One pass: the losses A = α_y f ℓ_CE and, for the normalized variant, Z = Σ f alongside.
    // Dividing by Z has to wait until Z is known: a scale of the sum, or of the output.
    const bool per_element = options.reduction == Reduction::None;
    Tensor losses = per_element ? Tensor::empty(logits.shape()) : Tensor();
    float* out = per_element ? losses.data() : nullptr;
    BlockSums sums = smp ? forward_pass<true>(x, y, count, P, out) : forward_pass<false>(x, y, count, P, out);
    const double focal_sum = sums.b;
    const float inv_z = options.normalized ? float(1.0 / std::max(focal_sum, double(kNormEps))) : 1.0f;
    const bool z_has_grad = options.normalized && focal_sum > double(kNormEps);
    const double sum = sums.a * double(inv_z);
    if (out && options.normalized)
        parallel_for(count, kGrain, [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) out[i] *= inv_z;
        });
    if (!std::isfinite(sum)) throw_if_non_finite(kOp, "logits", logits);

    Tensor result = reduced_output(options.reduction, sum, double(count), losses);
    const float scale = options.reduction == Reduction::Mean ? mean_scale(double(count)) : 1.0f;
    record(kOp, {logits}, result,
           [logits, targets, P, smp, per_element, scale, inv_z, z_has_grad](const Tensor& dy,
                                                                            const Tensor& out) {
               const int64_t count = logits.numel();
               const float* x = logits.data();
               const float* y = targets.data();
               const float* pdy = dy.data();
               // K = Σ_e u_e ℓ_e / Z, the upstream gradient contracted with the output: dy * out
               // for a reduced output (u = dy, or dy / count for a mean whose out is Σ / count).
               double K = 0.0;
               if (z_has_grad) {
                   const float* po = out.data();
                   K = per_element ? parallel_sum(count, kGrain,
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
                   backward_pass<true>(x, y, count, P, pdy, per_element, scale, inv_z, k_over_z, dx);
               else
                   backward_pass<false>(x, y, count, P, pdy, per_element, scale, inv_z, k_over_z, dx);
               accumulate_grad(logits, std::move(dlogits));  // moved: becomes the gradient, no copy
           });
    return result;
}

}  // namespace focalgrad
