// nms.cpp — greedy NMS over boxes sorted once, per-class NMS by grouping, and RetinaNet's
// inference built on them.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <numeric>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/error.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/detection/nms.h>

namespace focalgrad {

namespace {

void check_scores(const char* op, const Tensor& boxes, const Tensor& scores) {
    check_boxes(op, "boxes", boxes);
    FG_CHECK(scores.dim() == 1 && scores.shape()[0] == boxes.shape()[0], op,
             ": scores must be [N] for boxes ", boxes.shape(), ", got ", scores.shape());
    for (int64_t i = 0; i < scores.numel(); ++i)
        FG_CHECK(!std::isnan(scores.data()[i]), op, ": scores[", i, "] is NaN");
}

// Greedy suppression over boxes already in score order, `order[0..n)` indexing into
// `boxes`: appends the kept ones to `kept`. The candidates are copied into coordinate
// arrays so that each kept box clears its overlaps in one vectorised pass.
void suppress(const float* boxes, const int64_t* order, int64_t n, float iou_threshold,
              std::vector<int64_t>& kept) {
    std::vector<float> soa(static_cast<size_t>(5 * n));
    float *x1 = soa.data(), *y1 = x1 + n, *x2 = y1 + n, *y2 = x2 + n, *area = y2 + n;
    for (int64_t j = 0; j < n; ++j) {
        const float* b = boxes + 4 * order[j];
        x1[j] = b[0], y1[j] = b[1], x2[j] = b[2], y2[j] = b[3];
        area[j] = (b[2] - b[0]) * (b[3] - b[1]);
    }
    std::vector<int32_t> alive(size_t(n), 1);  // as wide as a float: one SIMD lane each
    int32_t* live = alive.data();
    for (int64_t i = 0; i < n; ++i) {
        if (!live[i]) continue;
        kept.push_back(order[i]);
        const float ix1 = x1[i], iy1 = y1[i], ix2 = x2[i], iy2 = y2[i], iarea = area[i];
        for (int64_t j = i + 1; j < n; ++j) {  // IoU as in box_iou, branch-free
            float w = std::max(0.0f, std::min(ix2, x2[j]) - std::max(ix1, x1[j]));
            float h = std::max(0.0f, std::min(iy2, y2[j]) - std::max(iy1, y1[j]));
            float inter = w * h;
            float iou = inter / std::max(iarea + area[j] - inter, FLT_MIN);
            live[j] &= int32_t(iou <= iou_threshold);
        }
    }
}

// Indices [0, n) by decreasing score, equal scores in index order.
std::vector<int64_t> by_score(const float* scores, int64_t n) {
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), int64_t(0));
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
    });
    return order;
}

}  // namespace

std::vector<int64_t> nms(const Tensor& boxes, const Tensor& scores, float iou_threshold) {
    check_scores("nms", boxes, scores);
    std::vector<int64_t> order = by_score(scores.data(), scores.numel());
    std::vector<int64_t> kept;
    suppress(boxes.data(), order.data(), int64_t(order.size()), iou_threshold, kept);
    return kept;
}

std::vector<int64_t> batched_nms(const Tensor& boxes, const Tensor& scores, const std::vector<int>& classes,
                                 float iou_threshold) {
    check_scores("batched_nms", boxes, scores);
    FG_CHECK(int64_t(classes.size()) == boxes.shape()[0], "batched_nms: one class per box expected, got ",
             classes.size(), " classes for ", boxes.shape()[0], " boxes");
    const float* s = scores.data();
    // Grouped by class, each group in score order: one sort, then NMS within each group.
    std::vector<int64_t> order = by_score(s, scores.numel());
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return classes[size_t(a)] < classes[size_t(b)]; });
    std::vector<int64_t> kept;
    for (size_t begin = 0; begin < order.size();) {
        size_t end = begin;
        while (end < order.size() && classes[size_t(order[end])] == classes[size_t(order[begin])]) ++end;
        suppress(boxes.data(), order.data() + begin, int64_t(end - begin), iou_threshold, kept);
        begin = end;
    }
    std::sort(kept.begin(), kept.end(),
              [&](int64_t a, int64_t b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
    return kept;
}

Detections detect(const Tensor& logits, const Tensor& offsets, const Tensor& anchors, const DetectOptions& o,
                  const BoxCoder& coder) {
    FG_CHECK(logits.dim() == 2, "detect: logits must be [A, C], got ", logits.shape());
    const int64_t A = logits.shape()[0], C = logits.shape()[1];
    FG_CHECK(offsets.shape() == Shape({A, 4}), "detect: offsets must be [A, 4] = [", A, ", 4] for logits ",
             logits.shape(), ", got ", offsets.shape());
    FG_CHECK(anchors.shape() == Shape({A, 4}), "detect: anchors must be [A, 4] = [", A, ", 4] for logits ",
             logits.shape(), ", got ", anchors.shape());
    FG_CHECK(o.score_threshold >= 0 && o.score_threshold <= 1,
             "detect: score_threshold must be in [0, 1], got ", o.score_threshold);
    FG_CHECK(o.candidates >= 0 && o.max_detections >= 0,
             "detect: candidates and max_detections must be >= 0, got ", o.candidates, " and ",
             o.max_detections);
    NoGradGuard no_grad;
    // σ(z) > threshold, for every (anchor, class) pair: flat index a * C + c. A trained
    // head puts almost every logit far below logit(threshold), so σ is computed only past a
    // cut 0.01 below it (the exact test on σ follows; σ's rounding moves the boundary by far
    // less for any threshold below 1 - 1e-5), and NaN is looked for in one pass.
    const float* z = logits.data();
    bool any_nan = false;
    for (int64_t i = 0; i < A * C; ++i) any_nan |= std::isnan(z[i]);
    if (any_nan)
        for (int64_t i = 0; i < A * C; ++i)
            FG_CHECK(!std::isnan(z[i]), "detect: logits[", i / C, ", ", i % C, "] is NaN");
    const double t = o.score_threshold;
    const float cut = t <= 0 ? -INFINITY : t >= 1 ? INFINITY : float(std::log(t / (1 - t))) - 0.01f;
    std::vector<float> cand_scores;
    std::vector<int64_t> cand_index;
    for (int64_t i = 0; i < A * C; ++i) {
        if (!(z[i] > cut)) continue;
        float p = 1.0f / (1.0f + std::exp(-z[i]));
        if (p > o.score_threshold) {
            cand_scores.push_back(p);
            cand_index.push_back(i);
        }
    }
    int64_t n = int64_t(cand_scores.size());
    int64_t k = std::min(n, o.candidates);
    ValuesIndices top = topk(Tensor::from(cand_scores, {n}), k);
    // The chosen pairs' boxes, decoded from their anchors.
    Tensor chosen_anchors = Tensor::empty({k, 4}), chosen_offsets = Tensor::empty({k, 4});
    std::vector<int> labels(static_cast<size_t>(k));
    for (int64_t j = 0; j < k; ++j) {
        int64_t flat = cand_index[size_t(top.indices[size_t(j)])];
        int64_t a = flat / C;
        labels[size_t(j)] = int(flat % C);
        std::copy_n(anchors.data() + 4 * a, 4, chosen_anchors.data() + 4 * j);
        std::copy_n(offsets.data() + 4 * a, 4, chosen_offsets.data() + 4 * j);
        for (int q = 0; q < 4; ++q)
            FG_CHECK(std::isfinite(offsets.data()[4 * a + q]), "detect: offsets[", a, ", ", q,
                     "] = ", offsets.data()[4 * a + q], " is not finite");
    }
    Tensor boxes = decode_boxes(chosen_anchors, chosen_offsets, coder);
    if (o.image_width > 0 && o.image_height > 0) clip_boxes(boxes, o.image_width, o.image_height);
    std::vector<int64_t> kept = batched_nms(boxes, top.values, labels, o.nms_iou);
    if (int64_t(kept.size()) > o.max_detections) kept.resize(size_t(o.max_detections));
    Detections d;
    for (int64_t j : kept) {
        const float* b = boxes.data() + 4 * j;
        d.boxes.push_back({b[0], b[1], b[2], b[3]});
        d.scores.push_back(top.values.data()[j]);
        d.labels.push_back(labels[size_t(j)]);
    }
    return d;
}

std::vector<Detections> detect_batch(const Tensor& logits, const Tensor& offsets, const Tensor& anchors,
                                     const DetectOptions& options, const BoxCoder& coder) {
    FG_CHECK(logits.dim() == 3, "detect_batch: logits must be [B, A, C], got ", logits.shape());
    const int64_t B = logits.shape()[0], A = logits.shape()[1], C = logits.shape()[2];
    FG_CHECK(offsets.shape() == Shape({B, A, 4}), "detect_batch: offsets must be [B, A, 4] = [", B, ", ", A,
             ", 4] for logits ", logits.shape(), ", got ", offsets.shape());
    std::vector<Detections> out;
    for (int64_t b = 0; b < B; ++b) {
        // Image b's rows, copied out (a tensor is always a whole buffer, never a slice of one).
        Tensor z = Tensor::empty({A, C}), t = Tensor::empty({A, 4});
        std::copy_n(logits.data() + b * A * C, A * C, z.data());
        std::copy_n(offsets.data() + b * A * 4, A * 4, t.data());
        out.push_back(detect(z, t, anchors, options, coder));
    }
    return out;
}

}  // namespace focalgrad
