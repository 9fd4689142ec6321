// focal_loss.h — the softmax (multiclass) focal loss of Lin et al. 2017 on logits, as one
// fused op: one forward pass, one analytic backward written in a factored form that stays
// finite for every γ >= 0, including 0 < γ < 1 as p_t -> 1 (no (1 - p_t)^(γ-1) anywhere).
// Derivation: docs/losses.md. Not here: the sigmoid (binary, multilabel) form, which is
// sigmoid_focal_loss.h; soft targets; label smoothing; gradients for alpha.
//
// Shapes: logits [N, C] (also [N, C, d1, ..., dk]), one class index per row as in
// cross_entropy.h.
#pragma once

#include <vector>

#include <focalgrad/core/tensor.h>
#include <focalgrad/losses/reduction.h>

namespace focalgrad {

struct FocalLossOptions {
    float gamma = 2.0f;  // γ >= 0, any real; γ = 0 is (α-weighted) cross-entropy
    // α: undefined = no weighting (α_t = 1);
    //    a 0-d scalar α in [0, 1] = the kornia/MONAI convention: class background_class
    //       gets 1 - α, every other class α (a scalar applied to every class alike would
    //       only rescale the loss: it would silently do nothing);
    //    a [C] vector = α_t = alpha[t], entries finite and >= 0.
    Tensor alpha;
    int ignore_index = -100;  // rows with this target count for nothing
    Reduction reduction = Reduction::Mean;
    // Mean = Σ ℓ / Σ α_t instead of Σ ℓ / N_valid; no effect on None and Sum.
    bool normalize_by_alpha = false;
    int background_class = 0;  // the class that gets 1 - α under a scalar α
};

// With p = softmax(z) over the row's classes and t its target:
//
//   ℓ = -α_t (1 - p_t)^γ log p_t                                (ignored rows: ℓ = 0)
//
//   None  ℓ per row, shape [N, d1, ..., dk]
//   Sum   Σ ℓ
//   Mean  Σ ℓ / N_valid, N_valid = the rows not ignored (the plain mean that kornia and
//         MONAI use; no division by C or by the number of positives);
//         with normalize_by_alpha, Σ ℓ / Σ α_t: for γ = 0 exactly the weighted
//         cross-entropy with weight = α.
//
//   dℓ/dz_j = α_t (1 - p_t)^γ (1 - γ φ) (p_j - [j = t]),   φ = p_t log p_t / (1 - p_t)
//
// φ runs from 0 (p_t -> 0) to -1 (p_t -> 1); it is evaluated as e_t log p_t / e_others
// with e_others = Σ_{j != t} e^(z_j - m), and log p_t = -log1p(e_others / e_t) near p_t = 1,
// so it is exact to float precision everywhere, -1 when p_t rounds to 1.
//
// Any finite logits, up to ±3.4e38: the loss is exact to float (+inf only where it exceeds
// float) and the gradient finite; logits more than FLT_MAX apart take the reference form.
// Throws focalgrad::Error for: γ < 0 or not finite; a scalar α outside [0, 1]; an α
// vector not [C] or with a negative or non-finite entry; an α of any other shape;
// background_class outside [0, C) when α is a scalar; and everything cross_entropy checks
// (shapes, target range, NaN or inf logits).
Tensor focal_loss(const Tensor& logits, const std::vector<int>& targets,
                  const FocalLossOptions& options = {});

// The same loss as plain per-row loops in double (focal_loss.cpp opens with them): ops on the
// tape like the fast form above, with the same checks and semantics, for reading, for
// gradcheck and for tests. Slow (they keep p in double): not for training.
namespace reference {
// The core case: [N, C] logits, targets in [0, C), no α, Mean.
Tensor focal_loss(const Tensor& logits, const std::vector<int>& targets, float gamma);
// Every option, as focal_loss above.
Tensor focal_loss(const Tensor& logits, const std::vector<int>& targets, const FocalLossOptions& options);
}  // namespace reference

}  // namespace focalgrad
