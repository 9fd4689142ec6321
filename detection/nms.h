// nms.h — non-maximum suppression, per class, and RetinaNet's inference from a dense head
// (score threshold, top-k candidates, decode, per-class NMS, at most D detections).
// Not here: soft-NMS, weighted box fusion, class-agnostic NMS in detect().
//
// Shape legend: N boxes, A anchors, C classes.
#pragma once

#include <cstdint>
#include <vector>

#include <focalgrad/core/tensor.h>
#include <focalgrad/detection/box.h>

namespace focalgrad {

// Greedy NMS: take boxes [N, 4] in order of decreasing score (equal scores in index
// order); keep a box unless its IoU with a box already kept is > iou_threshold (strictly,
// as torchvision.ops.nms). Returns the kept indices, highest score first.
// O(N log N) for the sort and O(kept * N) for the suppression: each kept box clears its
// overlaps from the remaining ones in one vectorised pass.
std::vector<int64_t> nms(const Tensor& boxes, const Tensor& scores, float iou_threshold);

// The same within each class: boxes of different classes never suppress each other
// (torchvision.ops.batched_nms). classes[i] is box i's class (any int). Returns the kept
// indices of all classes merged, highest score first (equal scores in index order).
std::vector<int64_t> batched_nms(const Tensor& boxes, const Tensor& scores, const std::vector<int>& classes,
                                 float iou_threshold);

// The detections of one image.
struct Detections {
    std::vector<Box> boxes;
    std::vector<float> scores;  // highest first
    std::vector<int> labels;    // class in [0, C)
    int64_t size() const { return int64_t(scores.size()); }
};

// RetinaNet's inference (torchvision's RetinaNet.postprocess_detections), for one image.
struct DetectOptions {
    float score_threshold = 0.05f;            // keep (anchor, class) pairs with σ(logit) > this
    int64_t candidates = 1000;                // then the highest-scoring this many
    float nms_iou = 0.5f;                     // per-class NMS threshold
    int64_t max_detections = 100;             // then at most this many, highest first
    float image_width = 0, image_height = 0;  // > 0: decoded boxes are clipped to the image
};

// logits [A, C] of the classification head, offsets [A, 4] of the box head, anchors [A, 4]:
// the scores σ(logit) above the threshold, the top `candidates` of them (topk), their
// boxes decoded from their anchors, per-class NMS, the first max_detections.
Detections detect(const Tensor& logits, const Tensor& offsets, const Tensor& anchors,
                  const DetectOptions& options = {}, const BoxCoder& coder = {});

// detect for each image of a batch: logits [B, A, C] and offsets [B, A, 4] (the heads'
// outputs permuted and reshaped as anchors.h describes), the same anchors [A, 4] for all.
std::vector<Detections> detect_batch(const Tensor& logits, const Tensor& offsets, const Tensor& anchors,
                                     const DetectOptions& options = {}, const BoxCoder& coder = {});

}  // namespace focalgrad
