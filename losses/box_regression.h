// box_regression.h — the box-regression losses of a detector, as fused ops on predicted and
// target box offsets (any shape; [B, A, 4] for a box head, against dense_targets' box
// targets): l1_loss and smooth_l1_loss (torch.nn.functional's, with β), with element weights
// (0 ignores an element: RetinaNet's box loss counts the positive anchors only) and a
// denominator given by the caller (RetinaNet divides by the number of positive anchors);
// and giou_loss on decoded boxes (torchvision's generalized_box_iou_loss).
// Not here: DIoU / CIoU, balanced L1.
//
// Shapes: input and target of the same shape; weight undefined or of that shape too.
#pragma once

#include <optional>

#include <focalgrad/core/tensor.h>
#include <focalgrad/losses/reduction.h>

namespace focalgrad {

struct RegressionLossOptions {
    Reduction reduction = Reduction::Mean;
    Tensor weight;                     // undefined, or input's shape: w >= 0 per element, 0 ignores
    std::optional<double> normalizer;  // Mean only: max(normalizer, 1) is the denominator, not Σ w
};

// Per element, with d = input - target and weight w (1 without weights):
//
//   l1_loss:         ℓ = |d|                                   dℓ/dd = sign(d)  (0 at d = 0)
//   smooth_l1_loss:  ℓ = d² / (2β)   where |d| < β             dℓ/dd = d / β
//                    ℓ = |d| - β/2   elsewhere                 dℓ/dd = sign(d)
//                    (β = 0 is l1_loss, as in PyTorch; the two pieces meet with equal
//                    value and slope at |d| = β)
//
//   None  w ℓ per element;  Sum  Σ w ℓ;  Mean  Σ w ℓ / D,  D = max(normalizer, 1) if given, else Σ w
//   (the number of elements without weights). With 0/1 weights, Mean is the mean over the
//   elements that count, and an ignored element counts for nothing in the loss, its
//   denominator or its gradient. A mean over nothing (D = 0) is 0, with a zero gradient.
//   RetinaNet's box loss, Σ over the positive anchors' 4 offsets / max(1, #positives), is
//   Mean with weight = dense_targets' box_weights and normalizer = #positives (the same
//   normalizer as sigmoid_focal_loss's; loss_toolkit.h's mean_denominator for both).
//
// Gradients go to input (dℓ/dd) and to target (-dℓ/dd) when they require grad; none to the
// weights. Throws focalgrad::Error for: shapes that differ; weights that are negative or not
// finite; β < 0 or not finite; a normalizer < 0, not finite, or given with None or Sum;
// NaN or inf in input or target.
Tensor l1_loss(const Tensor& input, const Tensor& target, const RegressionLossOptions& options = {});
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, float beta = 1.0f,
                      const RegressionLossOptions& options = {});

// GIoU loss (Rezatofighi et al. 2019) of boxes [..., 4] (x1, y1, x2, y2) against target boxes of
// the same shape, per box, with I, U the intersection and union areas and C the area of the
// smallest box enclosing both (ε = 1e-7 keeps empty boxes finite, as in torchvision):
//
//   ℓ = 1 - GIoU = 1 - I / (U + ε) + (C - U) / (C + ε)          in [0, 2)
//   dℓ = a_I dI + a_A dA + a_C dC,  A the box's area, U = A + A_target - I:
//   a_A = I / (U + ε)² - 1 / (C + ε),  a_I = -1 / (U + ε) - a_A,  a_C = (U + ε) / (C + ε)²
//
// with the areas' derivatives in the coordinates (on a tie of a coordinate with the target's,
// the box's own side is taken). ℓ is symmetric in the two boxes, so the target's gradient is
// the same formula with the roles swapped. weight, if given, has the boxes' shape without
// the last dimension (one weight per box); reductions as above, over boxes. Two empty boxes
// (no area) have GIoU 0 and ℓ = 1, as in torchvision. Throws for
// boxes of another shape, a last dimension other than 4, boxes with x2 < x1 or y2 < y1, NaN
// or inf coordinates. No fast form: one plain loop in double is the whole loss.
Tensor giou_loss(const Tensor& boxes, const Tensor& target, const RegressionLossOptions& options = {});

// The same losses as one plain loop in double (box_regression.cpp opens with it): ops on the
// tape with the same checks and semantics, for reading, gradcheck and tests. Slow.
namespace reference {
Tensor l1_loss(const Tensor& input, const Tensor& target, const RegressionLossOptions& options = {});
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, float beta = 1.0f,
                      const RegressionLossOptions& options = {});
}  // namespace reference

}  // namespace focalgrad
