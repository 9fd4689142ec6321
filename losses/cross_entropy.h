// cross_entropy.h — softmax cross-entropy on logits as one fused op: a single pass computes
// the loss through log-sum-exp, and one analytic backward gives dlogits. The semantics are
// those of torch.nn.functional.cross_entropy, written out below, with one deliberate
// difference (a mean over nothing is 0, not NaN). Derivations: docs/losses.md.
// Not here: probabilities as input (pass logits), gradients for `weight` or the targets.
//
// Shapes: logits [N, C] or [N, C, d1, ..., dk]; a "row" is the C logits of one sample (at
// one position). Class targets: one per row, N*d1*...*dk ints in the row-major order of
// [N, d1, ..., dk]. Probability targets: the shape of the logits.
#pragma once

#include <vector>

#include <focalgrad/core/tensor.h>
#include <focalgrad/losses/reduction.h>

namespace focalgrad {

struct CrossEntropyOptions {
    Tensor weight;            // [C] per-class weights w_c (finite, >= 0); undefined = all 1
    int ignore_index = -100;  // rows with this target count for nothing (loss and gradient 0)
    Reduction reduction = Reduction::Mean;
    float label_smoothing = 0.0f;  // ε in [0, 1)
};

// Class-index targets. With p = softmax(z) over the row's C classes, t its target, w the
// weights (all 1 if undefined) and ε the smoothing:
//
//   ℓ = (1 - ε) w_t (-log p_t) + (ε / C) Σ_c w_c (-log p_c)          (ignored rows: ℓ = 0)
//
//   None  ℓ for every row, shape [N, d1, ..., dk]
//   Sum   Σ ℓ
//   Mean  Σ ℓ / Σ w_t, both sums over the rows not ignored: the weighted mean. Without
//         weights, the number of rows not ignored. As in PyTorch, the smoothing term is
//         weighted per class too and divided by the same Σ w_t, so class weights change
//         how much smoothing a sample gets (pytorch#104776).
//
//   dℓ/dz_j = a p_j - (ε / C) w_j - (1 - ε) w_t [j = t],   a = (1 - ε) w_t + (ε / C) Σ_c w_c
//
// The target entry is evaluated as -(1 - ε) w_t (1 - p_t) + (ε/C)(Σ_c w_c p_t - w_t), with
// 1 - p_t = (sum of the other classes' e^z) / (sum of all): no cancellation as p_t -> 1.
//
// Any finite logits, up to ±3.4e38: the loss is exact to float (+inf only where it exceeds
// float) and the gradient finite; logits more than FLT_MAX apart take the reference form.
// Throws focalgrad::Error for: logits not [N, C, ...]; a target count that is not one per
// row; a target outside [0, C) that is not ignore_index; a weight not [C] or with a
// negative or non-finite entry; ε outside [0, 1); a NaN or inf logit.
Tensor cross_entropy(const Tensor& logits, const std::vector<int>& targets,
                     const CrossEntropyOptions& options = {});

// Probability ("soft") targets y, same shape as the logits, entries in [0, 1] (rows need not
// sum to 1; for mixup or distillation they usually do). With y' = (1 - ε) y + ε / C:
//
//   ℓ = -Σ_c w_c y'_c log p_c          dℓ/dz_j = p_j Σ_c w_c y'_c - w_j y'_j
//
//   Mean  Σ ℓ / (number of rows), as in PyTorch: with probability targets the weights do
//         not enter the denominator.
//
// ignore_index must stay negative (no row can be ignored), as in PyTorch. Also throws for
// targets of another shape or outside [0, 1], and for everything the overload above checks.
Tensor cross_entropy(const Tensor& logits, const Tensor& target_probs,
                     const CrossEntropyOptions& options = {});

// The same losses as plain per-row loops in double (cross_entropy.cpp opens with them): ops
// on the tape like the fast forms above, with the same checks and semantics, for reading,
// for gradcheck and for tests. Slow (they keep p in double): not for training.
namespace reference {
// The core case: [N, C] logits, targets in [0, C), no options, Mean.
Tensor cross_entropy(const Tensor& logits, const std::vector<int>& targets);
// Every option, as cross_entropy above.
Tensor cross_entropy(const Tensor& logits, const std::vector<int>& targets,
                     const CrossEntropyOptions& options);
Tensor cross_entropy(const Tensor& logits, const Tensor& target_probs, const CrossEntropyOptions& options);
}  // namespace reference

}  // namespace focalgrad
