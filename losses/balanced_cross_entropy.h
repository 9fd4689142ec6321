// balanced_cross_entropy.h — cross-entropy that counteracts class imbalance by weighting
// each sample with its class's weight, computed from the training set's class counts; and
// its binary form from the focal-loss write-ups, α for positives and 1 - α for negatives.
// Both are single fused ops (the multiclass one is cross_entropy with `weight` set).
// Not here: resampling, which balances the data instead of the loss.
//
// Shapes: as cross_entropy.h for the multiclass form; any shape for the binary form, with
// targets (and element weights) of the same shape; a per-class α needs [N, C, d1...].
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <focalgrad/core/tensor.h>
#include <focalgrad/losses/reduction.h>

namespace focalgrad {

// Per-class weights from class counts n_c (N = Σ n_c, C classes). Each scheme gives 1 to
// every class when the counts are equal, so balanced CE then equals CE.
//   InverseFrequency  w_c = N / (C n_c): a class's total weight n_c w_c is N / C for every
//                     class (sklearn's "balanced").
//   InverseSqrt       w_c = sqrt(N / (C n_c)): a milder correction.
//   EffectiveNumber   w_c ∝ (1 - β) / (1 - β^n_c), scaled so that Σ_c w_c = C (Cui et al.
//                     2019, "Class-Balanced Loss"). (1 - β^n) / (1 - β) is the "effective
//                     number" of samples: it saturates at 1 / (1 - β) as n grows. β = 0
//                     gives equal weights, β -> 1 approaches InverseFrequency's shape.
enum class WeightScheme { InverseFrequency, InverseSqrt, EffectiveNumber };

// Throws focalgrad::Error if counts is empty, a count is < 1 (a class without samples has
// no meaningful weight: drop it or add a pseudo-count), or, for EffectiveNumber, β is not in
// [0, 1).
std::vector<float> class_weights(const std::vector<int64_t>& counts, WeightScheme scheme,
                                 double beta = 0.9999);

struct BalancedCEOptions {
    WeightScheme scheme = WeightScheme::InverseFrequency;
    double beta = 0.9999;  // EffectiveNumber only
    int ignore_index = -100;
    Reduction reduction = Reduction::Mean;
    float label_smoothing = 0.0f;
};

// cross_entropy(logits, targets, {weight = class_weights(class_counts, scheme, beta), ...}):
// the weighted mean Σ w_t ℓ / Σ w_t and everything else exactly as in cross_entropy.h.
// class_counts must have one count per class (C of them).
Tensor balanced_cross_entropy(const Tensor& logits, const std::vector<int>& targets,
                              const std::vector<int64_t>& class_counts,
                              const BalancedCEOptions& options = {});

// Binary cross-entropy on logits x with targets y in [0, 1], α-balanced:
//
//   ℓ = -[α y log σ(x) + (1 - α)(1 - y) log(1 - σ(x))]
//     =   α y softplus(-x) + (1 - α)(1 - y) softplus(x)        (stable for any x)
//   dℓ/dx = (1 - α)(1 - y) σ(x) - α y (1 - σ(x))
//
//   None: ℓ per element (shape of x); Sum: Σ ℓ; Mean: Σ ℓ / (number of elements).
// α = 0.5 is half of plain binary cross-entropy. Any finite logits, up to ±3.4e38, give the
// exact loss (+inf only beyond float) and a finite gradient. Throws for α outside [0, 1],
// targets of another shape or outside [0, 1], and NaN or inf logits.
Tensor balanced_binary_cross_entropy(const Tensor& logits, const Tensor& targets, float alpha,
                                     Reduction reduction = Reduction::Mean);

// The same loss with the options of dense prediction, with the semantics they have in
// sigmoid_focal_loss.h (for 0/1 targets, this loss is sigmoid_focal_loss at γ = 0):
//   weight w:           ℓ -> w ℓ, Mean divides by Σ w; weight 0 ignores an element (not in
//                       the loss, the denominator or the gradient);
//   class_alpha α_c:    for [N, C, d1...] logits, α_c for the elements of class c (dim 1);
//   normalizer n:       Mean = Σ w ℓ / max(n, 1) (the number of positive anchors).
// Throws also for weights of another shape, negative or not finite; class_alpha not [C] or
// outside [0, 1]; a normalizer negative, not finite, or given with None or Sum.
struct BalancedBCEOptions {
    float alpha = 0.25f;  // weight of the positives, 1 - α of the negatives, in [0, 1]
    Reduction reduction = Reduction::Mean;
    Tensor weight;       // element weights, the targets' shape, finite >= 0; 0 ignores; undefined: all 1
    Tensor class_alpha;  // [C]: α_c for the elements of class c (dim 1), replacing alpha
    std::optional<double> normalizer;  // Mean's denominator, clamped to >= 1; Mean only
};

Tensor balanced_binary_cross_entropy(const Tensor& logits, const Tensor& targets,
                                     const BalancedBCEOptions& options = {});

// The same loss as one plain loop in double (balanced_cross_entropy.cpp opens with it): an op
// on the tape like the fast form above, with the same checks and semantics, for reading, for
// gradcheck and for tests. Slow: not for training.
namespace reference {
// The core case: one α, each reduction.
Tensor balanced_binary_cross_entropy(const Tensor& logits, const Tensor& targets, float alpha,
                                     Reduction reduction = Reduction::Mean);
// Every option, as balanced_binary_cross_entropy above.
Tensor balanced_binary_cross_entropy(const Tensor& logits, const Tensor& targets,
                                     const BalancedBCEOptions& options);
}  // namespace reference

}  // namespace focalgrad
