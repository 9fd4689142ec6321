// anchors.h — RetinaNet's anchors and its training targets: a grid of anchor boxes over a
// feature map, the IoU assignment of anchors to objects (IoU >= 0.5 positive, < 0.4
// negative, in between ignored, each object's best anchor forced positive), and the dense
// classification and box targets a detector's loss reads. Not here: multi-level (FPN)
// anchors in one call (concat the levels), ATSS or other adaptive assigners.
//
// Shape legend: A anchors, C classes, B images, G objects in an image.
#pragma once

#include <cstdint>
#include <vector>

#include <focalgrad/core/tensor.h>
#include <focalgrad/detection/box.h>

namespace focalgrad {

// One feature map of height x width cells, `stride` pixels apart. Cell (y, x) has its
// anchors centred at ((x + offset) stride, (y + offset) stride): offset 0.5 puts them at
// the cell centres (torchvision uses 0, detectron2 lets it be chosen). At each cell there
// is one anchor per (aspect ratio, size) pair, ratio-major as in torchvision: an anchor of
// size s and ratio r = h / w has w = s / sqrt(r), h = s sqrt(r) (area s^2).
struct AnchorGrid {
    int64_t height = 0, width = 0;  // cells
    float stride = 1;               // pixels per cell
    std::vector<float> sizes = {32};
    std::vector<float> aspect_ratios = {1};
    float offset = 0.5f;
    int64_t per_cell() const { return int64_t(sizes.size() * aspect_ratios.size()); }
    int64_t count() const { return height * width * per_cell(); }
};

// The grid's anchors [height * width * per_cell, 4], cell-major (row y, then column x, then
// the anchors of that cell): exactly the order of a head's [N, per_cell * C, H, W] output
// permuted to [N, H, W, per_cell, C] and reshaped to [N, A, C].
Tensor make_anchors(const AnchorGrid& grid);

// What an anchor became; the values double as the labels of losses/hard_mining.h
// (1 positive, 0 negative, -1 ignored).
enum AnchorState : int { kAnchorIgnored = -1, kAnchorNegative = 0, kAnchorPositive = 1 };

struct AssignOptions {
    float positive_iou = 0.5f;  // max IoU >= this: positive, matched to that object
    float negative_iou = 0.4f;  // max IoU <  this: negative (background); in between: ignored
    // Each object's best anchors (every anchor reaching its highest IoU, when that is > 0)
    // become positive for that object, whatever their IoU: no object is left without a
    // positive anchor. An anchor that is the best of several objects goes to the one it
    // overlaps most (the lower index on a tie). This is mmdetection's MaxIoUAssigner with
    // gt_max_assign_all; torchvision's Matcher instead matches such an anchor to the
    // object it overlaps most, which can leave the forcing object with no anchor.
    bool force_best = true;
};

struct Assignment {
    std::vector<int> state;    // [A] AnchorState
    std::vector<int> matched;  // [A] the object of a positive anchor, -1 otherwise
    std::vector<float> iou;    // [A] the anchor's highest IoU with any object (0 without objects)
    int64_t num_positive = 0, num_negative = 0, num_ignored = 0;
};

// Assigns anchors [A, 4] to the G objects of one image. The IoUs are G vectorised passes
// over the anchors ([G, A], box_iou). Options need 0 <= negative_iou <= positive_iou <= 1.
Assignment assign_anchors(const Tensor& anchors, const std::vector<Box>& objects,
                          const AssignOptions& options = {});

// The training targets of a batch, for a classification head of C sigmoid logits per
// anchor and a box head of 4 offsets per anchor, both laid out [B, A, ·]:
struct DenseTargets {
    Tensor labels;           // [B, A, C] 1 at (positive anchor, its object's class), 0 elsewhere
    Tensor label_weights;    // [B, A, C] 1 at positive and negative anchors, 0 at ignored ones
    Tensor box_targets;      // [B, A, 4] encode_boxes(anchor, its object) at positives, 0 elsewhere
    Tensor box_weights;      // [B, A, 4] 1 at positive anchors, 0 elsewhere
    std::vector<int> state;  // [B * A] AnchorState, image-major (for hard-example mining)
    int64_t num_positive = 0, num_negative = 0, num_ignored = 0;  // anchors, over the batch
};

// Targets for images[0..B) of `truth` (each a GroundTruth with labels in [0, C)). The
// positive count is what RetinaNet divides its losses by (clamped to >= 1).
DenseTargets dense_targets(const Tensor& anchors, const std::vector<GroundTruth>& truth,
                           const std::vector<int64_t>& images, int64_t num_classes,
                           const AssignOptions& assign = {}, const BoxCoder& coder = {});

}  // namespace focalgrad
