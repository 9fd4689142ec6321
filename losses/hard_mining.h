// hard_mining.h — hard-example mining as a differentiable piece: from per-example losses
// (a loss with Reduction::None, summed over classes if need be), the loss of the kept
// examples only, so that only they receive a gradient. OHEM (Shrivastava et al. 2016): the
// B highest-loss examples of each group, optionally at a fixed share of positives (Lin et
// al. 2017, Table 1d: "OHEM 1:3"); SSD's hard negative mining (Liu et al. 2016): every
// positive plus the ratio x n_pos highest-loss negatives of each group.
// Not here: OHEM's NMS over the examples' boxes (run detection/nms.h on them first), random
// sampling of examples (Faster R-CNN's sampler).
//
// Shapes: losses [N] (one group) or [G, M] (G groups, e.g. images, of M examples each;
// mining runs per group). labels: one per example, in row-major order: 1 positive, 0
// negative, -1 ignored (never kept). These are detection/anchors.h's AnchorState values, so
// DenseTargets::state can be passed as it is.
#pragma once

#include <cstdint>
#include <vector>

#include <focalgrad/core/tensor.h>
#include <focalgrad/losses/reduction.h>

namespace focalgrad {

struct MinedLoss {
    Tensor loss;                // the reduction over the kept examples, differentiable
    std::vector<int64_t> kept;  // flat indices of the kept examples, increasing
    int64_t num_positive = 0;   // kept positives
    int64_t num_negative = 0;   // kept negatives
};

// Sum: Σ of the kept losses. Mean: that / (number kept), 0 when nothing is kept. None: the
// losses' shape, each kept loss in its place and 0 elsewhere. The gradient of every example
// not kept is 0. Equal losses are taken in index order, so the choice is deterministic.

struct OhemOptions {
    int64_t batch_size = 256;  // examples kept per group (every example that counts, if fewer)
    // 0: the batch_size highest losses whatever the labels. > 0: the round(f B) highest-loss
    // positives (all of them if fewer), then the highest-loss negatives up to B in all.
    float positive_fraction = 0;
    Reduction reduction = Reduction::Sum;
};
MinedLoss ohem(const Tensor& losses, const std::vector<int>& labels, const OhemOptions& options = {});

struct HardNegativeOptions {
    float negative_ratio = 3;   // per group, floor(ratio x n_pos) negatives with the highest losses
    int64_t min_negatives = 0;  // per group at least this many negatives (if it has them), also
                                // without positives; SSD keeps none then
    Reduction reduction = Reduction::Sum;
};
MinedLoss hard_negative_mining(const Tensor& losses, const std::vector<int>& labels,
                               const HardNegativeOptions& options = {});

// The same selection and loss as plain loops in double (hard_mining.cpp opens with them):
// ops on the tape with the same checks, for reading and tests. ohem and
// hard_negative_mining above are built from core ops instead (index_select and topk).
namespace reference {
MinedLoss ohem(const Tensor& losses, const std::vector<int>& labels, const OhemOptions& options = {});
MinedLoss hard_negative_mining(const Tensor& losses, const std::vector<int>& labels,
                               const HardNegativeOptions& options = {});
}  // namespace reference

}  // namespace focalgrad
