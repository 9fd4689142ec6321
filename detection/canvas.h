// canvas.h — digits on a canvas: detection data made from MNIST (or Fashion-MNIST). Each
// canvas holds a few items at random positions and scales, each with a box tight around
// its strokes; optional clutter pastes fragments of other items as hard negatives. The
// generator is seeded and deterministic: canvas i depends only on (seed, i) and the
// source, never on how many canvases are made or on the thread count. Training canvases
// come from a training split and test canvases from a test split because each set is
// drawn from the one Dataset it is given (and, with `items`, from part of it only).
// Not here: augmentation, colour, overlapping objects beyond a chosen IoU.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <focalgrad/core/tensor.h>
#include <focalgrad/data/loader.h>
#include <focalgrad/data/mnist.h>
#include <focalgrad/detection/anchors.h>
#include <focalgrad/detection/box.h>
#include <focalgrad/detection/coco.h>
#include <focalgrad/detection/nms.h>
#include <focalgrad/report/chart.h>

namespace focalgrad {

struct CanvasOptions {
    int64_t size = 64;                       // canvas height = width, pixels
    int min_objects = 1, max_objects = 3;    // per canvas, uniform
    int64_t min_scale = 12, max_scale = 24;  // the 28 x 28 item is resized to s x s, s uniform
    float max_overlap = 0.0f;                // highest IoU allowed between two objects' boxes
    int clutter = 0;                         // fragments of other items per canvas
    int ink_threshold = 32;                  // a pixel >= this (of 255) is stroke: boxes hug these
    std::vector<int64_t> items;              // the source items that may be used; empty: all
};

struct CanvasSet {
    std::string name;  // "MNIST train canvases"
    int64_t size = 0;  // side in pixels
    std::vector<std::string> class_names;
    std::vector<uint8_t> pixels;              // [count, size * size], 0 = background
    std::vector<GroundTruth> truth;           // [count] boxes and labels of each canvas
    std::vector<std::vector<int64_t>> items;  // [count] the source item behind each object

    int64_t count() const { return int64_t(truth.size()); }
    int num_classes() const { return int(class_names.size()); }
    const uint8_t* image(int64_t i) const { return pixels.data() + i * size * size; }
};

// `count` canvases from `source` (28 x 28 items), canvas i drawn by Generator(seed,
// stream = i). Per canvas: n objects, n uniform in [min_objects, max_objects]; each a
// random item resized to s x s (a box filter when shrinking,
// linear interpolation when enlarging) and placed uniformly where it fits, re-drawn
// (up to 100 times) while its box overlaps an earlier one by IoU > max_overlap, and left
// out if no place is found; the canvas is the pixelwise maximum of its items. A box is
// tight around the item's stroke pixels (>= ink_threshold), in the box.h convention.
// A clutter fragment is a random window of another resized item, 30-50 % of its stroke box
// in each direction (so at most a quarter of it, never a whole digit), that holds at least 8
// stroke pixels, placed where its strokes touch no object's box.
CanvasSet make_canvases(const Dataset& source, int64_t count, uint64_t seed,
                        const CanvasOptions& options = {});

// Canvases images[0..B) as [B, 1, size, size] floats (pixel / 255 - mean) / std.
Tensor canvas_batch(const CanvasSet& set, const std::vector<int64_t>& images,
                    const PixelStats& normalize = {});

// The set as a COCO ground truth: image ids 0..count-1 named "canvas_000000.png" and so
// on, annotation ids from 1, category id = class index, named after the class.
CocoDataset canvas_coco_truth(const CanvasSet& set);

// Appends one canvas's detections to a COCO results list, in canvas_coco_truth's ids: image
// id = the canvas's index, category id = the class.
void add_coco_detections(std::vector<CocoDetection>& results, int64_t canvas, const Detections& detections);

// RetinaNet's anchor design scaled to a set's objects (pass the training set), at
// `stride` pixels per cell over the whole canvas: three sizes m 2^(-1/3), m, m 2^(1/3) with m
// the median of sqrt(w h) over the boxes (RetinaNet's octave scales), times the aspect ratios
// (h / w) 0.5, 1 and 2: 9 anchors per cell. The stride must divide the canvas size.
AnchorGrid canvas_anchor_grid(const CanvasSet& set, int64_t stride = 4);

// Canvas `index` as a chart (report/chart.h) in image coordinates: its pixels, the ground
// truth as dashed grey boxes tagged with their class, and the detections with a score >=
// min_score as solid boxes in their class's colour tagged "class score". report::draw puts
// several side by side in one Svg (a grid of test canvases); save_svg writes one.
report::Plot canvas_plot(const CanvasSet& set, int64_t index, const Detections& detections = {},
                         float min_score = 0.3f);

// How unbalanced the classification targets are: per canvas, A anchors x C classes
// targets; a positive anchor holds one positive target (its class) and C - 1 negatives,
// a negative anchor C negatives, an ignored anchor none.
struct TargetImbalance {
    int64_t canvases = 0, anchors = 0, classes = 0;     // anchors per canvas
    double objects = 0;                                 // per canvas
    double positive_anchors = 0, ignored_anchors = 0;   // per canvas
    double positive_targets = 0, negative_targets = 0;  // per canvas
    double negatives_per_positive = 0;                  // over the whole set
    int64_t objects_without_positive = 0;               // over the whole set
};
TargetImbalance target_imbalance(const CanvasSet& set, const Tensor& anchors,
                                 const AssignOptions& assign = {});
std::string format_imbalance(const TargetImbalance& stats);

}  // namespace focalgrad
