// test_detection_box.cpp — box IoU on hand-worked pairs and against a double-precision
// reference, the box coder on a hand-worked case and in a round trip, clipping, errors.
#include <cmath>

#include <focalgrad/detection/box.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

// Random valid boxes with corners in [0, 100), some of them degenerate (zero width).
std::vector<Box> random_boxes(int n, uint64_t seed) {
    Generator g(seed);
    std::vector<Box> boxes;
    for (int i = 0; i < n; ++i) {
        float x = g.uniform(0, 80), y = g.uniform(0, 80);
        float w = i % 7 == 0 ? 0.0f : g.uniform(1, 30), h = g.uniform(1, 30);
        boxes.push_back({x, y, x + w, y + h});
    }
    return boxes;
}

double iou_reference(const Box& a, const Box& b) {
    double w = std::max(0.0, std::min<double>(a.x2, b.x2) - std::max<double>(a.x1, b.x1));
    double h = std::max(0.0, std::min<double>(a.y2, b.y2) - std::max<double>(a.y1, b.y1));
    double area_a = (double(a.x2) - a.x1) * (double(a.y2) - a.y1),
           area_b = (double(b.x2) - b.x1) * (double(b.y2) - b.y1);
    double u = area_a + area_b - w * h;
    return u > 0 ? w * h / u : 0.0;
}

}  // namespace

TEST_CASE("box_iou: hand-worked pairs") {
    Box a{0, 0, 10, 10};
    CHECK(box_iou(a, a) == 1.0f);
    CHECK(box_iou(a, Box{0, 0, 10, 5}) == 0.5f);                            // half of a, inside it
    CHECK(box_iou(a, Box{5, 0, 15, 10}) == doctest::Approx(50.0 / 150.0));  // shifted by half
    CHECK(box_iou(a, Box{10, 0, 20, 10}) == 0.0f);                          // touching edges
    CHECK(box_iou(a, Box{20, 20, 30, 30}) == 0.0f);                         // apart
    CHECK(box_iou(a, Box{2, 2, 4, 4}) == doctest::Approx(4.0 / 100.0));     // nested
    CHECK(box_iou(Box{3, 3, 3, 3}, Box{3, 3, 3, 3}) == 0.0f);  // two points: empty union, 0 not NaN
    CHECK(box_iou(Box{0, 0, 0, 10}, a) == 0.0f);               // a line inside a box

    Tensor t =
        box_iou(boxes_to_tensor({a, {0, 0, 10, 5}}), boxes_to_tensor({a, {5, 0, 15, 10}, {10, 0, 20, 10}}));
    REQUIRE(t.shape() == Shape{2, 3});
    fgtest::check_close(t, {1, 1.0 / 3, 0, 0.5, 0.25 / 1.25, 0}, 1e-6, 1e-7);
}

TEST_CASE("box_iou: every pair of random boxes against a double-precision reference") {
    std::vector<Box> a = random_boxes(13, 1), b = random_boxes(300, 2);
    Tensor t = box_iou(boxes_to_tensor(a), boxes_to_tensor(b));
    REQUIRE(t.shape() == Shape{13, 300});
    std::vector<double> expected;
    for (const Box& p : a)
        for (const Box& q : b) expected.push_back(iou_reference(p, q));
    fgtest::check_close(t, expected, 1e-5, 1e-7);
    int overlapping = 0;
    for (double v : expected) overlapping += v > 0;
    CHECK(overlapping > 100);  // the test covers overlaps, not only disjoint pairs
    CHECK(box_iou(boxes_to_tensor({}), boxes_to_tensor(b)).shape() == Shape{0, 300});
    CHECK(tensor_to_boxes(boxes_to_tensor(a)) == a);
}

TEST_CASE("box coder: a hand-worked case, the weights, and a round trip") {
    // Anchor centred at (5, 5), 10 x 10; box centred at (7, 14), 10 x 20.
    Tensor anchor = boxes_to_tensor({{0, 0, 10, 10}}), box = boxes_to_tensor({{2, 4, 12, 24}});
    fgtest::check_close(encode_boxes(anchor, box), {0.2, 0.9, 0.0, std::log(2.0)}, 1e-6, 1e-7);
    BoxCoder rcnn{10, 10, 5, 5};
    fgtest::check_close(encode_boxes(anchor, box, rcnn), {2, 9, 0, 5 * std::log(2.0)}, 1e-6, 1e-6);
    fgtest::check_close(decode_boxes(anchor, encode_boxes(anchor, box, rcnn), rcnn), {2, 4, 12, 24}, 1e-6,
                        1e-5);

    std::vector<Box> anchors, boxes;
    for (const Box& b : random_boxes(200, 3))
        if (b.width() > 0) anchors.push_back(b);
    for (const Box& b : random_boxes(200, 4))
        if (b.width() > 0) boxes.push_back(b);
    size_t n = std::min(anchors.size(), boxes.size());
    anchors.resize(n), boxes.resize(n);
    Tensor ta = boxes_to_tensor(anchors), tb = boxes_to_tensor(boxes);
    for (const BoxCoder& coder : {BoxCoder{}, rcnn}) {
        Tensor back = decode_boxes(ta, encode_boxes(ta, tb, coder), coder);
        std::vector<double> expected(tb.data(), tb.data() + tb.numel());
        fgtest::check_close(back, expected, 1e-5, 1e-4);
    }
}

TEST_CASE("box coder: the clip keeps decoded sizes finite; clip_boxes") {
    Tensor anchor = boxes_to_tensor({{0, 0, 10, 10}});
    Tensor huge = Tensor::from({0, 0, 1e4f, 1e4f}, {1, 4});
    Tensor d = decode_boxes(anchor, huge);
    double w = 10 * std::exp(double(BoxCoder{}.clip));  // 625
    fgtest::check_close(d, {5 - w / 2, 5 - w / 2, 5 + w / 2, 5 + w / 2}, 1e-5, 1e-3);
    clip_boxes(d, 64, 32);
    fgtest::check_close(d, {0, 0, 64, 32}, 0, 0);
    Tensor nan = Tensor::from({std::nanf(""), 0, 0, 0}, {1, 4});
    CHECK(std::isnan(decode_boxes(anchor, nan).data()[0]));
}

TEST_CASE("box ops: bad input") {
    Tensor ok = boxes_to_tensor({{0, 0, 1, 1}});
    CHECK_ERROR(box_iou(Tensor::zeros({2, 3}), ok), "box_iou", "a must be [N, 4]", "[2, 3]");
    CHECK_ERROR(box_iou(ok, boxes_to_tensor({{0, 0, 1, 1}, {5, 0, 4, 1}})), "box_iou", "b[1]", "x1 <= x2");
    CHECK_ERROR(box_iou(ok, boxes_to_tensor({{0, 0, 1, std::nanf("")}})), "box_iou", "b[0]", "finite");
    CHECK_ERROR(encode_boxes(ok, boxes_to_tensor({{0, 0, 1, 1}, {0, 0, 1, 1}})), "encode_boxes",
                "one box per anchor");
    CHECK_ERROR(encode_boxes(ok, boxes_to_tensor({{3, 3, 3, 5}})), "encode_boxes", "boxes[0]", "positive");
    CHECK_ERROR(encode_boxes(boxes_to_tensor({{0, 0, 0, 1}}), ok), "encode_boxes", "anchors[0]", "positive");
    CHECK_ERROR(decode_boxes(ok, Tensor::zeros({1, 3})), "decode_boxes", "offsets must be [N, 4]");
    Tensor t = ok.clone();
    CHECK_ERROR(clip_boxes(t, -1, 5), "clip_boxes", ">= 0");
}
