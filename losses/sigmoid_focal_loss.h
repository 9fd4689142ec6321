// sigmoid_focal_loss.h — the binary / multilabel focal loss on logits (Lin et al. 2017),
// one sigmoid per element, as a single fused op whose backward is finite for every γ >= 0.
// Semantics of torchvision.ops.sigmoid_focal_loss, plus the normalized and reduced variants
// of segmentation_models_pytorch's focal_loss_with_logits; for dense prediction, element
// weights (0 ignores an anchor or a pixel), α per class and a normaliser given by the
// caller; and SMP's FocalLoss in its multiclass mode (smp_multiclass_focal_loss).
// Not here: the softmax form (focal_loss.h), gradients for the targets or the weights.
//
// Shapes: logits of any shape; targets (and element weights) of the same shape, targets in
// [0, 1]. Per-class α needs [N, C, d1...] logits (C = dim 1).
#pragma once

#include <optional>
#include <vector>

#include <focalgrad/core/tensor.h>
#include <focalgrad/losses/reduction.h>

namespace focalgrad {

struct SigmoidFocalLossOptions {
    float alpha = 0.25f;  // weight of the positives (1 - α for negatives); α < 0 turns it off
    float gamma = 2.0f;   // γ >= 0
    Reduction reduction = Reduction::Mean;  // torchvision's default is "none": pass None for it
    bool normalized = false;                // divide by Σ of the focal terms (arXiv 1909.07829)
    float reduced_threshold = 0.0f;         // > 0: reduced focal loss (arXiv 1903.01347); 0 = off

    // Dense prediction (RetinaNet: anchors x classes; segmentation: pixels x classes).
    Tensor weight;       // element weights, the targets' shape, finite >= 0; 0 ignores; undefined: all 1
    Tensor class_alpha;  // [C]: α_c for the elements of class c (dim 1), replacing alpha
    // Mean divides by max(normalizer, 1) instead of by Σ w: the number of positive anchors
    // (RetinaNet), mmdetection's avg_factor. Only with Reduction::Mean.
    std::optional<double> normalizer;
};

// For each element, with p = σ(x) and target y:
//
//   ℓ_CE = -y log p - (1 - y) log(1 - p)          (binary cross-entropy on logits)
//   ℓ    = α_y f ℓ_CE,   α_y = α y + (1 - α)(1 - y)  (1 when α < 0)
//
// Default (torchvision):  f = (1 - p_t)^γ,  p_t = p y + (1 - p)(1 - y).
//   None  ℓ per element;  Sum  Σ ℓ;  Mean  Σ ℓ / (number of elements).
//
// Dense prediction:
//   weight w:           each ℓ becomes w ℓ, and Mean divides by Σ w (the weighted mean; with
//                       0/1 weights, the number of elements kept). An element of weight 0
//                       counts for nothing: not in the loss, not in Mean's denominator, not
//                       in normalized's Z, and its gradient is 0. (Multiplying the None
//                       output by a mask by hand is not the same under normalized: the
//                       masked elements' focal terms would still be in Z.) PyTorch's
//                       BCE-with-logits `weight` divides by the number of elements instead:
//                       pass normalizer = numel for that.
//   class_alpha α_c:    for logits [N, C, d1...], the element of class c (index 1) weighs α_c
//                       if positive, 1 - α_c if negative; entries in [0, 1].
//   normalizer n:       Mean = Σ w ℓ / max(n, 1): RetinaNet's sum over the anchors not
//                       ignored divided by the number of positive anchors.
//
// Variants (segmentation_models_pytorch focal_loss_with_logits, with its p_t = e^(-ℓ_CE);
// for 0/1 targets this is the same p_t as above):
//   reduced_threshold = τ > 0:  f = 1 where p_t < τ, ((1 - p_t) / τ)^γ elsewhere (f does not
//                                depend on the logit where it is 1: no gradient through it);
//   normalized:                 every ℓ is divided by Z = max(Σ w f, 1e-6), the sum of the
//                                focal terms over the whole tensor (the elements kept); Z
//                                depends on the logits and the gradient flows through it.
//                                Mean still divides by Σ w afterwards, as SMP does (Sum is
//                                the reduction of the paper).
//
// Porting segmentation_models_pytorch's FocalLoss(mode="multiclass"): it is NOT this loss
// on one-hot targets in one call. SMP sums C binary losses, each reduced on its own: under
// Mean this loss is 1/C of SMP's (it divides by N·C elements, SMP's by the N pixels kept
// once per class), under Sum they are equal, and under normalized they differ by no fixed
// ratio (one Z over all classes here, one Z_c per class in SMP). Use
// smp_multiclass_focal_loss below.
//
// Gradient, factored: with ℓ_CE' = p - y and f' = γ f s, where s = (d(1 - p_t)/dx) / (1 - p_t):
//   torchvision: s = (1 - 2y) p (1 - p) / (1 - p_t)     (= -p for y = 1, 1 - p for y = 0)
//   SMP:         s = p_t (p - y) / (1 - p_t)
//   dℓ/dx = α_y f (γ s ℓ_CE + p - y)
// For 0/1 targets this is Lin et al.'s Appendix B form α_y (1 - p_t)^γ (γ p_t log p_t +
// p_t - 1) up to the sign of x_t; s is bounded, so the form is finite even where p_t
// rounds to 1 (there s takes its limit 1 - 2y).
//
// Any finite logits, up to ±3.4e38: the loss is exact to float (+inf only where it exceeds
// float) and the gradient finite.
// Throws focalgrad::Error for: targets or element weights of another shape; targets outside
// [0, 1]; weights negative or not finite; γ < 0 or not finite; α > 1 or NaN; class_alpha not
// [C] or outside [0, 1]; reduced_threshold outside [0, 1); a normalizer that is negative or
// not finite, or given with None or Sum; NaN or inf logits.
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

// ---- segmentation_models_pytorch's FocalLoss, mode "multiclass" -------------------------

// SMP's reductions. BatchwiseMean is what SMP's code does for "batchwise_mean", a sum over
// dim 0 (the batch) of the per-pixel losses, shape [d1...]: neither a mean nor per sample,
// whatever SMP's docstring says ("computes mean loss per sample in batch"). It is here
// only, not in the shared Reduction.
enum class SmpReduction { None, Mean, Sum, BatchwiseMean };

struct SmpFocalLossOptions {
    float alpha = -1.0f;  // SMP's alpha: α for the pixels of the class, 1 - α for the others; < 0 = None
    float gamma = 2.0f;   // γ >= 0
    int ignore_index = -100;  // pixels with this target count for nothing (SMP: ignore_index)
    SmpReduction reduction = SmpReduction::Mean;
    bool normalized = false;         // one Z_c per class
    float reduced_threshold = 0.0f;  // > 0: reduced focal loss; 0 = off
};

// Logits [N, C, d1...], one class index per pixel ([N, d1...] flattened, as cross_entropy
// takes them), each in [0, C) or ignore_index. SMP's formula: a sum over the classes of a
// binary focal loss on channel c against the targets (t == c), each over the pixels kept:
//
//   L = Σ_c reduce_c(ℓ_c),   ℓ_c = α_y f ℓ_CE of logit z_c against y = [t = c] (as above,
//                            SMP's p_t = e^(-ℓ_CE)), divided by Z_c = max(Σ_kept f, 1e-6)
//                            when normalized (each class its own Z)
//   Mean           Σ_c Σ_kept ℓ_c / N_kept: every class averaged over the N_kept pixels
//                  kept (0 when none is kept; SMP gives NaN there)
//   Sum            Σ_c Σ_kept ℓ_c
//   None           Σ_c ℓ_c per pixel, shape [N, d1...], 0 at ignored pixels (SMP returns
//                  the kept pixels only, as one flat vector, when ignore_index is set)
//   BatchwiseMean  the None output summed over n, shape [d1...] (a scalar for [N, C]
//                  logits). With ignore_index set, SMP's filtering flattens the pixels first,
//                  so its sum over dim 0 is the total: Sum here.
//
// The gradient is the one of sigmoid_focal_loss, class by class; ignored pixels get 0.
// Not from SMP's code: targets out of range are an error (SMP counts them as negatives in
// every class), and ignore_index defaults to -100 rather than None (the same for valid
// targets). Throws as sigmoid_focal_loss and as check_targets (loss_toolkit.h).
Tensor smp_multiclass_focal_loss(const Tensor& logits, const std::vector<int>& targets,
                                 const SmpFocalLossOptions& options = {});

namespace reference {
// The same as plain loops in double over classes and pixels, an op on the tape.
Tensor smp_multiclass_focal_loss(const Tensor& logits, const std::vector<int>& targets,
                                 const SmpFocalLossOptions& options = {});
}  // namespace reference

}  // namespace focalgrad
