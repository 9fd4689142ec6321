// anchors.cpp — the anchor grid, the RetinaNet assignment and the dense targets built from it.
#include <algorithm>
#include <cmath>
#include <vector>

#include <focalgrad/core/error.h>
#include <focalgrad/detection/anchors.h>

namespace focalgrad {

Tensor make_anchors(const AnchorGrid& g) {
    FG_CHECK(g.height >= 0 && g.width >= 0, "make_anchors: the grid must have >= 0 cells, got ", g.height,
             " x ", g.width);
    FG_CHECK(g.stride > 0 && std::isfinite(g.stride), "make_anchors: stride must be > 0, got ", g.stride);
    FG_CHECK(!g.sizes.empty() && !g.aspect_ratios.empty(),
             "make_anchors: at least one size and one aspect ratio are needed, got ", g.sizes.size(), " and ",
             g.aspect_ratios.size());
    for (float s : g.sizes) FG_CHECK(s > 0 && std::isfinite(s), "make_anchors: sizes must be > 0, got ", s);
    for (float r : g.aspect_ratios)
        FG_CHECK(r > 0 && std::isfinite(r), "make_anchors: aspect ratios (h / w) must be > 0, got ", r);
    // The anchors of one cell, centred at 0: w = s / sqrt(r), h = s sqrt(r).
    std::vector<float> half_w, half_h;
    for (float r : g.aspect_ratios)
        for (float s : g.sizes) {
            half_w.push_back(0.5f * s / std::sqrt(r));
            half_h.push_back(0.5f * s * std::sqrt(r));
        }
    Tensor anchors = Tensor::empty({g.count(), 4});
    float* p = anchors.data();
    for (int64_t y = 0; y < g.height; ++y)
        for (int64_t x = 0; x < g.width; ++x) {
            float cx = (float(x) + g.offset) * g.stride, cy = (float(y) + g.offset) * g.stride;
            for (size_t k = 0; k < half_w.size(); ++k) {
                *p++ = cx - half_w[k];
                *p++ = cy - half_h[k];
                *p++ = cx + half_w[k];
                *p++ = cy + half_h[k];
            }
        }
    return anchors;
}

Assignment assign_anchors(const Tensor& anchors, const std::vector<Box>& objects, const AssignOptions& o) {
    check_boxes("assign_anchors", "anchors", anchors);
    Tensor gt = boxes_to_tensor(objects);
    check_boxes("assign_anchors", "objects", gt);
    FG_CHECK(0 <= o.negative_iou && o.negative_iou <= o.positive_iou && o.positive_iou <= 1,
             "assign_anchors: expected 0 <= negative_iou <= positive_iou <= 1, got negative_iou = ",
             o.negative_iou, ", positive_iou = ", o.positive_iou);
    const int64_t A = anchors.shape()[0];
    const int64_t G = int64_t(objects.size());
    Assignment r;
    r.state.assign(size_t(A), kAnchorNegative);
    r.matched.assign(size_t(A), -1);
    r.iou.assign(size_t(A), 0.0f);
    if (G == 0 || A == 0) {
        r.num_negative = A;
        return r;
    }
    Tensor ious = box_iou(gt, anchors);  // [G, A]
    const float* iou = ious.data();
    // Each anchor's best object: a running maximum over the G rows, branch-free per anchor
    // (the first maximum on ties, as the comparison is strict).
    std::vector<int> best(size_t(A), 0);
    float* best_iou = r.iou.data();
    int* best_g = best.data();
    std::copy_n(iou, A, best_iou);
    for (int64_t g = 1; g < G; ++g) {
        const float* row = iou + g * A;
        for (int64_t a = 0; a < A; ++a) {
            bool better = row[a] > best_iou[a];
            best_iou[a] = better ? row[a] : best_iou[a];
            best_g[a] = better ? int(g) : best_g[a];
        }
    }
    for (int64_t a = 0; a < A; ++a) {
        float v = best_iou[a];
        if (v >= o.positive_iou) {
            r.state[size_t(a)] = kAnchorPositive;
            r.matched[size_t(a)] = best_g[a];
        } else if (v >= o.negative_iou) {
            r.state[size_t(a)] = kAnchorIgnored;
        }
    }
    if (o.force_best) {
        // forced[a]: the object forcing anchor a, the one with the highest IoU there.
        std::vector<int> forced(size_t(A), -1);
        std::vector<float> forced_iou(size_t(A), 0.0f);
        for (int64_t g = 0; g < G; ++g) {
            const float* row = iou + g * A;
            float top = *std::max_element(row, row + A);
            if (!(top > 0.0f)) continue;  // touches no anchor: nothing to force
            for (int64_t a = 0; a < A; ++a)
                if (row[a] == top && (forced[size_t(a)] < 0 || top > forced_iou[size_t(a)])) {
                    forced[size_t(a)] = int(g);
                    forced_iou[size_t(a)] = top;
                }
        }
        for (int64_t a = 0; a < A; ++a)
            if (forced[size_t(a)] >= 0) {
                r.state[size_t(a)] = kAnchorPositive;
                r.matched[size_t(a)] = forced[size_t(a)];
            }
    }
    for (int s : r.state) {
        r.num_positive += s == kAnchorPositive;
        r.num_negative += s == kAnchorNegative;
        r.num_ignored += s == kAnchorIgnored;
    }
    return r;
}

DenseTargets dense_targets(const Tensor& anchors, const std::vector<GroundTruth>& truth,
                           const std::vector<int64_t>& images, int64_t num_classes,
                           const AssignOptions& assign, const BoxCoder& coder) {
    FG_CHECK(anchors.dim() == 2 && anchors.shape()[1] == 4, "dense_targets: anchors must be [A, 4], got ",
             anchors.shape());
    FG_CHECK(num_classes >= 1, "dense_targets: num_classes must be >= 1, got ", num_classes);
    const int64_t A = anchors.shape()[0], B = int64_t(images.size()), C = num_classes;
    DenseTargets t;
    t.labels = Tensor::zeros({B, A, C});
    t.label_weights = Tensor::empty({B, A, C});
    t.box_targets = Tensor::zeros({B, A, 4});
    t.box_weights = Tensor::zeros({B, A, 4});
    t.state.resize(size_t(B * A));
    for (int64_t b = 0; b < B; ++b) {
        int64_t image = images[size_t(b)];
        FG_CHECK(image >= 0 && image < int64_t(truth.size()), "dense_targets: images[", b, "] = ", image,
                 " is out of range for ", truth.size(), " images");
        const GroundTruth& gt = truth[size_t(image)];
        FG_CHECK(gt.boxes.size() == gt.labels.size(), "dense_targets: image ", image, " has ",
                 gt.boxes.size(), " boxes but ", gt.labels.size(), " labels");
        for (size_t g = 0; g < gt.labels.size(); ++g)
            FG_CHECK(gt.labels[g] >= 0 && gt.labels[g] < C, "dense_targets: image ", image, ", object ", g,
                     ": label ", gt.labels[g], " is out of range for ", C, " classes");
        Assignment as = assign_anchors(anchors, gt.boxes, assign);
        t.num_positive += as.num_positive;
        t.num_negative += as.num_negative;
        t.num_ignored += as.num_ignored;
        std::copy(as.state.begin(), as.state.end(), t.state.begin() + b * A);
        float* labels = t.labels.data() + b * A * C;
        float* weights = t.label_weights.data() + b * A * C;
        // The positive anchors and their objects, encoded in one call.
        std::vector<int64_t> pos;
        std::vector<Box> matched_boxes;
        for (int64_t a = 0; a < A; ++a) {
            std::fill_n(weights + a * C, C, as.state[size_t(a)] == kAnchorIgnored ? 0.0f : 1.0f);
            if (as.state[size_t(a)] != kAnchorPositive) continue;
            int g = as.matched[size_t(a)];
            labels[a * C + gt.labels[size_t(g)]] = 1.0f;
            pos.push_back(a);
            matched_boxes.push_back(gt.boxes[size_t(g)]);
        }
        if (pos.empty()) continue;
        Tensor pos_anchors = Tensor::empty({int64_t(pos.size()), 4});
        for (size_t i = 0; i < pos.size(); ++i)
            std::copy_n(anchors.data() + 4 * pos[i], 4, pos_anchors.data() + 4 * i);
        Tensor offsets = encode_boxes(pos_anchors, boxes_to_tensor(matched_boxes), coder);
        for (size_t i = 0; i < pos.size(); ++i) {
            std::copy_n(offsets.data() + 4 * i, 4, t.box_targets.data() + (b * A + pos[i]) * 4);
            std::fill_n(t.box_weights.data() + (b * A + pos[i]) * 4, 4, 1.0f);
        }
    }
    return t;
}

}  // namespace focalgrad
