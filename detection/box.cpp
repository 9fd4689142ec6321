// box.cpp — box IoU (one vectorised pass over the second set per box of the first), the
// box coder, clipping.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <vector>

#include <focalgrad/core/error.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/detection/box.h>

namespace focalgrad {

namespace {

void check_shape(const char* op, const char* name, const Tensor& t) {
    FG_CHECK(t.dim() == 2 && t.shape()[1] == 4, op, ": ", name,
             " must be [N, 4] boxes (x1, y1, x2, y2), got ", t.shape());
}

}  // namespace

void check_boxes(const char* op, const char* name, const Tensor& t) {
    check_shape(op, name, t);
    const float* p = t.data();
    const int64_t n = t.shape()[0];
    // Branch-free passes (vectorised; NaN fails every comparison), and only if some box
    // fails, a third one to name it.
    int bad = 0;
    for (int64_t j = 0; j < 4 * n; ++j) bad |= !(std::fabs(p[j]) <= FLT_MAX);
    for (int64_t i = 0; i < n; ++i)
        bad |= int(!(p[4 * i] <= p[4 * i + 2])) | int(!(p[4 * i + 1] <= p[4 * i + 3]));
    if (!bad) return;
    for (int64_t i = 0; i < n; ++i) {
        const float* b = p + 4 * i;
        bool finite =
            std::isfinite(b[0]) && std::isfinite(b[1]) && std::isfinite(b[2]) && std::isfinite(b[3]);
        FG_CHECK(finite && b[0] <= b[2] && b[1] <= b[3], op, ": ", name, "[", i, "] = (", b[0], ", ", b[1],
                 ", ", b[2], ", ", b[3],
                 ") is not a box: coordinates must be finite with x1 <= x2 and y1 <= y2");
    }
}

Tensor boxes_to_tensor(const std::vector<Box>& boxes) {
    Tensor t = Tensor::empty({int64_t(boxes.size()), 4});
    float* p = t.data();
    for (const Box& b : boxes) {
        *p++ = b.x1;
        *p++ = b.y1;
        *p++ = b.x2;
        *p++ = b.y2;
    }
    return t;
}

std::vector<Box> tensor_to_boxes(const Tensor& boxes) {
    check_shape("tensor_to_boxes", "boxes", boxes);
    std::vector<Box> out(size_t(boxes.shape()[0]));
    const float* p = boxes.data();
    for (Box& b : out) {
        b = {p[0], p[1], p[2], p[3]};
        p += 4;
    }
    return out;
}

// inter = max(0, min(x2) - max(x1)) * max(0, min(y2) - max(y1)),  union = area_a + area_b - inter
float box_iou(const Box& a, const Box& b) {
    float w = std::max(0.0f, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
    float h = std::max(0.0f, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
    float inter = w * h;
    float uni = a.area() + b.area() - inter;
    return inter / std::max(uni, FLT_MIN);  // an empty union has inter = 0: IoU 0
}

Tensor box_iou(const Tensor& a, const Tensor& b) {
    check_boxes("box_iou", "a", a);
    check_boxes("box_iou", "b", b);
    const int64_t N = a.shape()[0], M = b.shape()[0];
    Tensor iou = Tensor::empty({N, M});
    const float* pa = a.data();
    const float* pb = b.data();
    float* out = iou.data();
    int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, M));
    parallel_for(N, grain, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) {
            const float ax1 = pa[4 * i], ay1 = pa[4 * i + 1], ax2 = pa[4 * i + 2], ay2 = pa[4 * i + 3];
            const float aarea = (ax2 - ax1) * (ay2 - ay1);
            float* row = out + i * M;
            // One pass over b: the compiler de-interleaves its (x1, y1, x2, y2) rows into SIMD
            // registers and computes 8 IoUs at a time. The division is unconditional, by
            // max(union, FLT_MIN): an empty union has inter = 0, so IoU 0, and a conditional
            // division ("union > 0 ? ... : 0") keeps GCC's AVX2 code scalar.
            for (int64_t j = 0; j < M; ++j) {
                const float* q = pb + 4 * j;
                float w = std::max(0.0f, std::min(ax2, q[2]) - std::max(ax1, q[0]));
                float h = std::max(0.0f, std::min(ay2, q[3]) - std::max(ay1, q[1]));
                float inter = w * h;
                float barea = (q[2] - q[0]) * (q[3] - q[1]);
                row[j] = inter / std::max(aarea + barea - inter, FLT_MIN);
            }
        }
    });
    return iou;
}

// ---- Box coder -----------------------------------------------------------------------

Tensor encode_boxes(const Tensor& anchors, const Tensor& boxes, const BoxCoder& coder) {
    check_shape("encode_boxes", "anchors", anchors);
    check_shape("encode_boxes", "boxes", boxes);
    FG_CHECK(anchors.shape() == boxes.shape(), "encode_boxes: one box per anchor expected, got anchors ",
             anchors.shape(), " and boxes ", boxes.shape());
    const int64_t N = anchors.shape()[0];
    Tensor t = Tensor::empty({N, 4});
    const float* pa = anchors.data();
    const float* pb = boxes.data();
    float* pt = t.data();
    for (int64_t i = 0; i < N; ++i) {
        const float* a = pa + 4 * i;
        const float* b = pb + 4 * i;
        float wa = a[2] - a[0], ha = a[3] - a[1], w = b[2] - b[0], h = b[3] - b[1];
        FG_CHECK(wa > 0 && ha > 0 && std::isfinite(wa) && std::isfinite(ha), "encode_boxes: anchors[", i,
                 "] = (", a[0], ", ", a[1], ", ", a[2], ", ", a[3],
                 ") must have a positive finite width and height");
        FG_CHECK(w > 0 && h > 0 && std::isfinite(w) && std::isfinite(h), "encode_boxes: boxes[", i, "] = (",
                 b[0], ", ", b[1], ", ", b[2], ", ", b[3],
                 ") must have a positive finite width and height (log(0) has no offset)");
        float xa = a[0] + 0.5f * wa, ya = a[1] + 0.5f * ha, x = b[0] + 0.5f * w, y = b[1] + 0.5f * h;
        pt[4 * i] = coder.wx * (x - xa) / wa;
        pt[4 * i + 1] = coder.wy * (y - ya) / ha;
        pt[4 * i + 2] = coder.ww * std::log(w / wa);
        pt[4 * i + 3] = coder.wh * std::log(h / ha);
    }
    return t;
}

Tensor decode_boxes(const Tensor& anchors, const Tensor& offsets, const BoxCoder& coder) {
    check_shape("decode_boxes", "anchors", anchors);
    check_shape("decode_boxes", "offsets", offsets);
    FG_CHECK(anchors.shape() == offsets.shape(),
             "decode_boxes: one offset row per anchor expected, got anchors ", anchors.shape(),
             " and offsets ", offsets.shape());
    const int64_t N = anchors.shape()[0];
    Tensor boxes = Tensor::empty({N, 4});
    const float* pa = anchors.data();
    const float* pt = offsets.data();
    float* pb = boxes.data();
    for (int64_t i = 0; i < N; ++i) {
        const float* a = pa + 4 * i;
        const float* t = pt + 4 * i;
        float wa = a[2] - a[0], ha = a[3] - a[1];
        float x = a[0] + 0.5f * wa + wa * t[0] / coder.wx;
        float y = a[1] + 0.5f * ha + ha * t[1] / coder.wy;
        float w = wa * std::exp(std::min(t[2] / coder.ww, coder.clip));
        float h = ha * std::exp(std::min(t[3] / coder.wh, coder.clip));
        pb[4 * i] = x - 0.5f * w;
        pb[4 * i + 1] = y - 0.5f * h;
        pb[4 * i + 2] = x + 0.5f * w;
        pb[4 * i + 3] = y + 0.5f * h;
    }
    return boxes;
}

void clip_boxes(Tensor& boxes, float width, float height) {
    check_shape("clip_boxes", "boxes", boxes);
    FG_CHECK(width >= 0 && height >= 0, "clip_boxes: the image size must be >= 0, got ", width, " x ",
             height);
    float* p = boxes.data();
    for (int64_t i = 0; i < boxes.shape()[0]; ++i) {
        float* b = p + 4 * i;
        b[0] = std::clamp(b[0], 0.0f, width);
        b[1] = std::clamp(b[1], 0.0f, height);
        b[2] = std::clamp(b[2], 0.0f, width);
        b[3] = std::clamp(b[3], 0.0f, height);
    }
}

}  // namespace focalgrad
