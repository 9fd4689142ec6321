// box.h — axis-aligned boxes and the box arithmetic of a one-stage detector: area, IoU,
// and the box coder of R-CNN and RetinaNet (ground truth encoded as offsets from an anchor;
// the box head's offsets decoded back to a box). Plain computations, not recorded on the
// tape: targets and inference need no gradient. Not here: rotated boxes, masks, GIoU.
//
// A box is (x1, y1, x2, y2) in pixels, x to the right and y down, x1 <= x2 and y1 <= y2,
// with width x2 - x1 (torchvision's convention, no "+ 1"): the box around pixel columns
// c0..c1 has x1 = c0, x2 = c1 + 1. A tensor of N boxes is [N, 4] in that order.
#pragma once

#include <cmath>
#include <vector>

#include <focalgrad/core/tensor.h>

namespace focalgrad {

struct Box {
    float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
    float width() const { return x2 - x1; }
    float height() const { return y2 - y1; }
    float area() const { return (x2 - x1) * (y2 - y1); }
    bool operator==(const Box& o) const { return x1 == o.x1 && y1 == o.y1 && x2 == o.x2 && y2 == o.y2; }
};

// The ground truth of one image: boxes[i] holds an object of class labels[i].
struct GroundTruth {
    std::vector<Box> boxes;
    std::vector<int> labels;
};

// Checks that `boxes` is [N, 4] and every box has finite coordinates with x1 <= x2 and
// y1 <= y2; the error names `op`, `name` and the first bad box.
void check_boxes(const char* op, const char* name, const Tensor& boxes);

// [N, 4] from N boxes, and back (the tensor must be [N, 4]).
Tensor boxes_to_tensor(const std::vector<Box>& boxes);
std::vector<Box> tensor_to_boxes(const Tensor& boxes);

// IoU = area(a ∩ b) / area(a ∪ b), and 0 when the union is empty (two degenerate boxes).
float box_iou(const Box& a, const Box& b);

// iou[i, j] = IoU(a_i, b_j) for a [N, 4] and b [M, 4] -> [N, M]. Each row is one
// vectorised pass over b, so N objects against thousands of anchors cost N passes over the
// anchors. Boxes must have x1 <= x2 and y1 <= y2 and finite coordinates.
Tensor box_iou(const Tensor& a, const Tensor& b);

// ---- Box coder -------------------------------------------------------------------------
// A box (x, y: centre; w, h: size) relative to an anchor (xa, ya, wa, ha):
//   encode:  t = (wx (x - xa) / wa,  wy (y - ya) / ha,  ww log(w / wa),  wh log(h / ha))
//   decode:  x = xa + wa tx / wx,  y = ya + ha ty / wy,  w = wa e^(min(tw / ww, clip)), ...
// with weights (1, 1, 1, 1) in RetinaNet (torchvision's RetinaNet, detectron2) and
// (10, 10, 5, 5) in Faster R-CNN's second stage. The clip, log(1000 / 16) as in
// torchvision, keeps e^t finite for any network output.
struct BoxCoder {
    float wx = 1, wy = 1, ww = 1, wh = 1;
    float clip = 4.135166556742356f;  // log(1000 / 16)
};

// Offsets [N, 4] of boxes [N, 4] from anchors [N, 4], row by row. Anchors and boxes must
// have positive width and height (log(0) has no offset); the error names the first that
// does not.
Tensor encode_boxes(const Tensor& anchors, const Tensor& boxes, const BoxCoder& coder = {});

// Boxes [N, 4] from offsets [N, 4] against anchors [N, 4]: the inverse of encode_boxes (up
// to rounding, and the clip). NaN offsets give NaN boxes; they are not checked.
Tensor decode_boxes(const Tensor& anchors, const Tensor& offsets, const BoxCoder& coder = {});

// Boxes [N, 4] cut to the image [0, width] x [0, height], in place.
void clip_boxes(Tensor& boxes, float width, float height);

}  // namespace focalgrad
