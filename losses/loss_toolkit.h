// loss_toolkit.h — what every loss over class scores needs besides its formula: the
// [N, C, d1, ...] layout, target checks with ignore_index, per-class vector checks, and the
// reductions with their denominators. The built-in losses use exactly these, so a loss of
// your own that uses them too gets the same semantics (docs/extending.md walks through one).
// Not here: any loss formula, and nothing that is only about speed (losses/internal/).
//
// Shape legend: N batch, C classes, d1... extra positions (pixels). A "row" is the C scores
// of one sample at one position; rows are numbered in the row-major order of [N, d1, ...].
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include <focalgrad/core/error.h>
#include <focalgrad/core/tensor.h>
#include <focalgrad/losses/reduction.h>

namespace focalgrad {

// ---- Layout ---------------------------------------------------------------------------

// Logits [N, C, d1, ..., dk] seen as N blocks of C classes by `positions` = d1 ... dk. For
// the usual [N, C], positions = 1 and row i is the contiguous run z[i C .. i C + C).
struct ClassLayout {
    int64_t batch = 0;      // N
    int64_t classes = 0;    // C
    int64_t positions = 1;  // d1 ... dk

    int64_t rows() const { return batch * positions; }
    // The flat index of class j of row i: sample n = i / positions, position k = i % positions.
    int64_t index(int64_t row, int64_t j) const {
        return ((row / positions) * classes + j) * positions + row % positions;
    }
};

// Checks that logits are defined, at least 2-d and have C >= 1; returns their layout.
ClassLayout class_layout(const char* op, const Tensor& logits);

// [N, d1, ..., dk]: the shape of the per-row losses (Reduction::None).
Shape row_shape(const Shape& logits_shape);

// ---- Checks ---------------------------------------------------------------------------

// Checks that there is one class index per row, each in [0, C) or equal to ignore_index.
// Returns the denominator of the mean: the number of rows that count, or, with class_weights
// (C entries), the sum of class_weights[t] over them.
double check_targets(const char* op, const std::vector<int>& targets, const ClassLayout& layout,
                     int ignore_index, const float* class_weights = nullptr);

// A per-class option (weights, α): undefined, or [C] with finite entries in [0, upper].
void check_class_vector(const char* op, const char* name, const Tensor& values, int64_t classes,
                        float upper = INFINITY);

// What check_target_tensor and check_element_weights accept, entry by entry: a target in
// [0, 1], a weight finite and >= 0. Both are false for NaN. `&`, not `&&`, so that a loop
// testing every entry (a fast form's own pass) has no branch and vectorises.
inline bool target_in_range(float y) { return (y >= 0.0f) & (y <= 1.0f); }
inline bool weight_in_range(float w) { return (w >= 0.0f) & (w <= FLT_MAX); }

// Checks that targets have the shape of the logits and that every entry lies in [0, 1]
// (probability targets, binary and multilabel targets). values = false checks the shape
// only, for a fast form whose own pass turns the loss NaN where an entry is out of range
// (no pass over the targets of its own) and calls this again, with values, when its sum is
// not finite. The same for check_element_weights.
void check_target_tensor(const char* op, const Tensor& logits, const Tensor& targets, bool values = true);

// Element weights of an elementwise loss: undefined (every element weighs 1), or a tensor
// of the targets' shape with finite entries >= 0. A weight scales its element's loss; 0
// takes the element out of the loss, out of its denominators and out of the gradient.
void check_element_weights(const char* op, const Tensor& targets, const Tensor& weights, bool values = true);

// Throws, naming op, x's shape and the first NaN or inf element of x with its index; does
// nothing when x is finite. The built-in losses call it only when their running sum is not
// finite, so that the check costs the forward pass nothing.
void check_finite(const char* op, const char* name, const Tensor& x);

// ---- Reductions -----------------------------------------------------------------------
// None: the per-row losses. Sum: their sum. Mean: their sum divided by the denominator,
// which each loss defines (check_targets returns the usual ones); a mean over nothing (a
// denominator of 0) is 0, with a zero gradient.

// The denominator of Mean when the caller gives one, `normalizer` (RetinaNet divides the
// summed loss by the number of positive anchors; mmdetection calls it avg_factor):
// max(normalizer, 1), so that a batch without positives does not divide by 0. Without one,
// `otherwise`. Checks that it is finite and >= 0 and that the reduction is Mean (None and
// Sum would have no use for it).
double mean_denominator(const char* op, Reduction reduction, const std::optional<double>& normalizer,
                        double otherwise);

// The loss's output from the sum of its per-row losses; per_row holds the losses themselves
// and is returned for Reduction::None (it may be left undefined otherwise).
Tensor reduce_losses(Reduction reduction, double sum, double denominator, Tensor per_row);

// The same from the per-row losses in double; `shape` is theirs (row_shape for class
// scores, the logits' shape for elementwise losses).
Tensor reduce_losses(Reduction reduction, const std::vector<double>& losses, double denominator,
                     const Shape& shape);

// The backward of a reduction: what reaches row i's loss from the output's gradient dy,
//   g_i = dy_i (None),  dy (Sum),  dy / denominator (Mean; 0 for a mean over nothing).
struct UpstreamGrad {
    UpstreamGrad(Reduction reduction, const Tensor& dy, double denominator);
    float operator()(int64_t row) const { return scale * (per_row ? dy[row] : dy[0]); }
    // The scale below, known before dy is (a forward may multiply it in ahead).
    static float scale_of(Reduction reduction, double denominator);

    const float* dy;
    bool per_row;  // None: one upstream value per row; otherwise one in all
    float scale;   // 1, or 1 / denominator for Mean
};

}  // namespace focalgrad
