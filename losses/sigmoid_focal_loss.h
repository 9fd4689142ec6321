// sigmoid_focal_loss.h — the binary / multilabel focal loss on logits (Lin et al. 2017),
// one sigmoid per element, as a single fused op whose backward is finite for every γ >= 0.
// Semantics of torchvision.ops.sigmoid_focal_loss, plus the normalized and reduced variants
// of segmentation_models_pytorch's focal_loss_with_logits.
// Not here: the softmax form (focal_loss.h), an ignore value, gradients for the targets.
//
// Shapes: logits of any shape; targets of the same shape, entries in [0, 1].
#pragma once

#include <focalgrad/core/tensor.h>
#include <focalgrad/losses/reduction.h>

namespace focalgrad {

struct SigmoidFocalLossOptions {
    float alpha = 0.25f;  // weight of the positives (1 - α for negatives); α < 0 turns it off
    float gamma = 2.0f;   // γ >= 0
    Reduction reduction = Reduction::Mean;  // torchvision's default is "none": pass None for it
    bool normalized = false;                // divide by Σ of the focal terms (arXiv 1909.07829)
    float reduced_threshold = 0.0f;         // > 0: reduced focal loss (arXiv 1903.01347); 0 = off
};

// For each element, with p = σ(x) and target y:
//
//   ℓ_CE = -y log p - (1 - y) log(1 - p)          (binary cross-entropy on logits)
//   ℓ    = α_y f ℓ_CE,   α_y = α y + (1 - α)(1 - y)  (1 when α < 0)
//
// Default (torchvision):  f = (1 - p_t)^γ,  p_t = p y + (1 - p)(1 - y).
//   None  ℓ per element;  Sum  Σ ℓ;  Mean  Σ ℓ / (number of elements).
//
// Variants (segmentation_models_pytorch focal_loss_with_logits, with its p_t = e^(-ℓ_CE);
// for 0/1 targets this is the same p_t as above):
//   reduced_threshold = τ > 0:  f = 1 where p_t < τ, ((1 - p_t) / τ)^γ elsewhere (f does not
//                                depend on the logit where it is 1: no gradient through it);
//   normalized:                 every ℓ is divided by Z = max(Σ_all f, 1e-6), the sum of the
//                                focal terms over the whole tensor; Z depends on the logits
//                                and the gradient flows through it. Mean still divides by
//                                the number of elements afterwards, as SMP does (Sum is the
//                                reduction of the paper).
//
// Gradient, factored: with ℓ_CE' = p - y and f' = γ f s, where s = (d(1 - p_t)/dx) / (1 - p_t):
//   torchvision: s = (1 - 2y) p (1 - p) / (1 - p_t)     (= -p for y = 1, 1 - p for y = 0)
//   SMP:         s = p_t (p - y) / (1 - p_t)
//   dℓ/dx = α_y f (γ s ℓ_CE + p - y)
// For 0/1 targets this is Lin et al.'s Appendix B form α_y (1 - p_t)^γ (γ p_t log p_t +
// p_t - 1) up to the sign of x_t; s is bounded, so the form is finite even where p_t
// rounds to 1 (there s takes its limit 1 - 2y).
//
// Throws focalgrad::Error for: targets of another shape or outside [0, 1]; γ < 0 or not
// finite; α > 1 or NaN; reduced_threshold outside [0, 1); NaN or inf logits.
Tensor sigmoid_focal_loss(const Tensor& logits, const Tensor& targets,
                          const SigmoidFocalLossOptions& options = {});

// The same loss as one plain loop in double (sigmoid_focal_loss.cpp opens with it): ops on the
// tape like the fast form above, with the same checks and semantics, for reading, for
// gradcheck and for tests. Slow: not for training.
namespace reference {
// The core case: torchvision's loss with its α and γ, Mean.
Tensor sigmoid_focal_loss(const Tensor& logits, const Tensor& targets, float alpha, float gamma);
// Every option and variant, as sigmoid_focal_loss above.
Tensor sigmoid_focal_loss(const Tensor& logits, const Tensor& targets,
                          const SigmoidFocalLossOptions& options);
}  // namespace reference

}  // namespace focalgrad
