// anchors.cpp — the anchor grid, the RetinaNet assignment and the dense targets built from it.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include <focalgrad/core/error.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/detection/anchors.h>

namespace focalgrad {

namespace {

// The largest of n >= 0 IoUs (0 if n = 0). IoUs are finite and >= 0, and non-negative floats
// are ordered like their bit patterns read as integers: an integer maximum, which the
// compiler vectorises (a float maximum it does not, because of NaN).
float max_iou(const float* v, int64_t n) {
    int32_t m = 0;
    for (int64_t i = 0; i < n; ++i) {
        int32_t bits;
        std::memcpy(&bits, v + i, sizeof bits);
        m = std::max(m, bits);
    }
    float top;
    std::memcpy(&top, &m, sizeof top);
    return top;
}

}  // namespace

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

namespace {

static_assert(kAnchorPositive == 1 && kAnchorIgnored == -1 && kAnchorNegative == 0,
              "assign() computes the states as 1, -1, 0");

void check_assign_options(const AssignOptions& o) {
    FG_CHECK(0 <= o.negative_iou && o.negative_iou <= o.positive_iou && o.positive_iou <= 1,
             "assign_anchors: expected 0 <= negative_iou <= positive_iou <= 1, got negative_iou = ",
             o.negative_iou, ", positive_iou = ", o.positive_iou);
}

// assign_anchors on checked anchors (dense_targets checks them once for a whole batch).
Assignment assign(const Tensor& anchors, const std::vector<Box>& objects, const AssignOptions& o) {
    Tensor gt = boxes_to_tensor(objects);
    check_boxes("assign_anchors", "objects", gt);
    const int64_t A = anchors.shape()[0];
    const int64_t G = int64_t(objects.size());
    // Zero-initialised (a memset), then every entry written by the vectorised loops below.
    Assignment r;
    r.state.resize(size_t(A));
    r.matched.resize(size_t(A));
    r.iou.resize(size_t(A));
    if (G == 0 || A == 0) {
        std::fill(r.matched.begin(), r.matched.end(), -1);
        r.num_negative = A;
        return r;
    }
    Tensor ious = box_iou(gt, anchors);  // [G, A]
    const float* iou = ious.data();
    // Each anchor's best object: a running maximum over the G rows, branch-free per anchor
    // (the first maximum on ties, as the comparison is strict).
    std::vector<int> best(static_cast<size_t>(A));
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
    int* state = r.state.data();
    int* matched = r.matched.data();
    const float pos_iou = o.positive_iou, neg_iou = o.negative_iou;
    for (int64_t a = 0; a < A; ++a) {  // branch-free, vectorised: 1, -1 or 0
        int positive = best_iou[a] >= pos_iou, between = (best_iou[a] >= neg_iou) & !positive;
        state[a] = positive - between;
        matched[a] = positive ? best_g[a] : -1;
    }
    if (o.force_best) {
        // Each object's best anchors (a few: ties only), then per anchor the object with the
        // highest IoU there, the lower index on a tie.
        struct Forced {
            int64_t anchor;
            float iou;
            int object;
        };
        std::vector<Forced> forced;
        for (int64_t g = 0; g < G; ++g) {
            const float* row = iou + g * A;
            float top = max_iou(row, A);
            if (!(top > 0.0f)) continue;  // touches no anchor: nothing to force
            // Ties are few: count them in one vectorised pass, then search only until all
            // are found.
            int64_t ties = 0;
            for (int64_t a = 0; a < A; ++a) ties += row[a] == top;
            for (int64_t a = 0; ties > 0; ++a)
                if (row[a] == top) {
                    forced.push_back({a, top, int(g)});
                    --ties;
                }
        }
        std::sort(forced.begin(), forced.end(), [](const Forced& x, const Forced& y) {
            if (x.anchor != y.anchor) return x.anchor < y.anchor;
            return x.iou > y.iou || (x.iou == y.iou && x.object < y.object);
        });
        for (size_t k = 0; k < forced.size(); ++k)
            if (k == 0 || forced[k].anchor != forced[k - 1].anchor) {
                state[forced[k].anchor] = kAnchorPositive;
                matched[forced[k].anchor] = forced[k].object;
            }
    }
    int64_t positive = 0, ignored = 0;
    for (int64_t a = 0; a < A; ++a) {
        positive += state[a] == kAnchorPositive;
        ignored += state[a] == kAnchorIgnored;
    }
    r.num_positive = positive;
    r.num_ignored = ignored;
    r.num_negative = A - positive - ignored;
    return r;
}

}  // namespace

Assignment assign_anchors(const Tensor& anchors, const std::vector<Box>& objects, const AssignOptions& o) {
    check_boxes("assign_anchors", "anchors", anchors);
    check_assign_options(o);
    return assign(anchors, objects, o);
}

DenseTargets dense_targets(const Tensor& anchors, const std::vector<GroundTruth>& truth,
                           const std::vector<int64_t>& images, int64_t num_classes,
                           const AssignOptions& assign, const BoxCoder& coder) {
    check_boxes("dense_targets", "anchors", anchors);
    check_assign_options(assign);
    FG_CHECK(num_classes >= 1, "dense_targets: num_classes must be >= 1, got ", num_classes);
    const int64_t A = anchors.shape()[0], B = int64_t(images.size()), C = num_classes;
    for (int64_t b = 0; b < B; ++b) {  // everything checked first: the parallel part cannot fail
        int64_t image = images[size_t(b)];
        FG_CHECK(image >= 0 && image < int64_t(truth.size()), "dense_targets: images[", b, "] = ", image,
                 " is out of range for ", truth.size(), " images");
        const GroundTruth& gt = truth[size_t(image)];
        FG_CHECK(gt.boxes.size() == gt.labels.size(), "dense_targets: image ", image, " has ",
                 gt.boxes.size(), " boxes but ", gt.labels.size(), " labels");
        for (size_t g = 0; g < gt.labels.size(); ++g)
            FG_CHECK(gt.labels[g] >= 0 && gt.labels[g] < C, "dense_targets: image ", image, ", object ", g,
                     ": label ", gt.labels[g], " is out of range for ", C, " classes");
        check_boxes("dense_targets", str("the objects of image ", image).c_str(), boxes_to_tensor(gt.boxes));
    }
    DenseTargets t;
    t.labels = Tensor::empty({B, A, C});
    t.label_weights = Tensor::empty({B, A, C});
    t.box_targets = Tensor::empty({B, A, 4});
    t.box_weights = Tensor::empty({B, A, 4});
    t.state.resize(size_t(B * A));
    // Image by image, in parallel: each writes only its own slices. The positive anchors
    // and their objects are collected, and encoded afterwards in one call.
    std::vector<Assignment> as(static_cast<size_t>(B));
    parallel_for(B, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t b = lo; b < hi; ++b) {
            const GroundTruth& gt = truth[size_t(images[size_t(b)])];
            float* labels = t.labels.data() + b * A * C;
            float* weights = t.label_weights.data() + b * A * C;
            std::fill_n(labels, A * C, 0.0f);
            std::fill_n(weights, A * C, 1.0f);
            std::fill_n(t.box_targets.data() + b * A * 4, A * 4, 0.0f);
            std::fill_n(t.box_weights.data() + b * A * 4, A * 4, 0.0f);
            Assignment& r = as[size_t(b)] = focalgrad::assign(anchors, gt.boxes, assign);
            std::copy(r.state.begin(), r.state.end(), t.state.begin() + b * A);
            for (int64_t a = 0; a < A; ++a) {
                if (r.state[size_t(a)] == kAnchorIgnored) std::fill_n(weights + a * C, C, 0.0f);
                if (r.state[size_t(a)] == kAnchorPositive)
                    labels[a * C + gt.labels[size_t(r.matched[size_t(a)])]] = 1.0f;
            }
        }
    });
    std::vector<int64_t> rows;  // b * A + a of each positive anchor
    std::vector<Box> matched;
    for (int64_t b = 0; b < B; ++b) {
        const Assignment& r = as[size_t(b)];
        t.num_positive += r.num_positive;
        t.num_negative += r.num_negative;
        t.num_ignored += r.num_ignored;
        for (int64_t a = 0; a < A; ++a)
            if (r.state[size_t(a)] == kAnchorPositive) {
                rows.push_back(b * A + a);
                matched.push_back(truth[size_t(images[size_t(b)])].boxes[size_t(r.matched[size_t(a)])]);
            }
    }
    const int64_t P = int64_t(rows.size());
    Tensor pos_anchors = Tensor::empty({P, 4});
    for (int64_t i = 0; i < P; ++i)
        std::copy_n(anchors.data() + 4 * (rows[size_t(i)] % A), 4, pos_anchors.data() + 4 * i);
    Tensor offsets = encode_boxes(pos_anchors, boxes_to_tensor(matched), coder);
    for (int64_t i = 0; i < P; ++i) {
        std::copy_n(offsets.data() + 4 * i, 4, t.box_targets.data() + rows[size_t(i)] * 4);
        std::fill_n(t.box_weights.data() + rows[size_t(i)] * 4, 4, 1.0f);
    }
    return t;
}

}  // namespace focalgrad
