// test_detection_nms.cpp — NMS and per-class NMS on hand-worked cases (the threshold is
// strict, equal scores go in index order) and against a plain quadratic reference on
// random boxes; RetinaNet's inference (detect) on a hand-built head output.
#include <algorithm>
#include <cmath>
#include <numeric>

#include <focalgrad/detection/nms.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

// The textbook loop: repeatedly take the highest remaining score (lowest index on ties),
// drop every remaining box of the same group overlapping it by more than the threshold.
std::vector<int64_t> nms_reference(const std::vector<Box>& boxes, const std::vector<float>& scores,
                                   const std::vector<int>& groups, float threshold) {
    std::vector<int64_t> left(boxes.size()), kept;
    std::iota(left.begin(), left.end(), int64_t(0));
    while (!left.empty()) {
        auto best = std::min_element(left.begin(), left.end(), [&](int64_t a, int64_t b) {
            return scores[size_t(a)] > scores[size_t(b)] || (scores[size_t(a)] == scores[size_t(b)] && a < b);
        });
        int64_t i = *best;
        kept.push_back(i);
        std::vector<int64_t> rest;
        for (int64_t j : left)
            if (j != i && (groups[size_t(j)] != groups[size_t(i)] ||
                           box_iou(boxes[size_t(i)], boxes[size_t(j)]) <= threshold))
                rest.push_back(j);
        left = rest;
    }
    return kept;
}

}  // namespace

TEST_CASE("nms: hand-worked cases") {
    std::vector<Box> boxes = {{0, 0, 10, 10}, {1, 0, 11, 10}, {20, 20, 30, 30}, {0, 0, 10, 10}};
    Tensor b = boxes_to_tensor(boxes), s = Tensor::from({0.9f, 0.8f, 0.7f, 0.95f});
    // Box 3 (0.95) suppresses its copy 0 (IoU 1) and box 1 (IoU 9 / 11); box 2 is apart.
    CHECK(nms(b, s, 0.5f) == std::vector<int64_t>{3, 2});
    CHECK(nms(b, s, 0.85f) == std::vector<int64_t>{3, 1, 2});  // 9 / 11 = 0.82 <= 0.85 stays
    // Per class: box 3 is of another class and suppresses nothing.
    CHECK(batched_nms(b, s, {0, 0, 0, 1}, 0.5f) == std::vector<int64_t>{3, 0, 2});
    CHECK(batched_nms(b, s, {7, -2, 7, 7}, 0.5f) == std::vector<int64_t>{3, 1, 2});
    // The threshold is strict: IoU exactly 0.5 does not suppress.
    Tensor half = boxes_to_tensor({{0, 0, 10, 10}, {0, 0, 10, 5}});
    CHECK(nms(half, Tensor::from({1.0f, 0.5f}), 0.5f) == std::vector<int64_t>{0, 1});
    CHECK(nms(half, Tensor::from({1.0f, 0.5f}), 0.49f) == std::vector<int64_t>{0});
    // Equal scores: the lower index is taken first and suppresses the other.
    CHECK(nms(half, Tensor::from({0.5f, 0.5f}), 0.3f) == std::vector<int64_t>{0});
    Tensor swapped = boxes_to_tensor({{0, 0, 10, 5}, {0, 0, 10, 10}});
    CHECK(nms(swapped, Tensor::from({0.5f, 0.5f}), 0.3f) == std::vector<int64_t>{0});
    CHECK(nms(boxes_to_tensor({}), Tensor::zeros({0}), 0.5f).empty());
}

TEST_CASE("nms and batched_nms: random boxes, against the quadratic reference") {
    Generator g(5);
    std::vector<Box> boxes;
    std::vector<float> scores;
    std::vector<int> classes, none;
    for (int i = 0; i < 400; ++i) {
        float x = g.uniform(0, 60), y = g.uniform(0, 60), w = g.uniform(2, 20), h = g.uniform(2, 20);
        boxes.push_back({x, y, x + w, y + h});
        scores.push_back(float(g.below(50)) / 50.0f);  // many equal scores
        classes.push_back(int(g.below(4)));
        none.push_back(0);
    }
    Tensor b = boxes_to_tensor(boxes), s = Tensor::from(scores, {400});
    std::vector<size_t> sizes;
    for (float t : {0.0f, 0.3f, 0.5f, 0.7f, 1.0f}) {
        std::vector<int64_t> kept = nms(b, s, t);
        CHECK(kept == nms_reference(boxes, scores, none, t));
        CHECK(batched_nms(b, s, classes, t) == nms_reference(boxes, scores, classes, t));
        sizes.push_back(kept.size());
    }
    // Lower thresholds suppress more; at 1 nothing is suppressed.
    CHECK(std::is_sorted(sizes.begin(), sizes.end()));
    CHECK(sizes[0] < sizes[2]);
    CHECK(sizes[2] < sizes[4]);
    CHECK(sizes[4] == 400);
}

TEST_CASE("nms: bad input") {
    Tensor b = boxes_to_tensor({{0, 0, 1, 1}, {0, 0, 2, 2}});
    CHECK_ERROR(nms(b, Tensor::zeros({3}), 0.5f), "nms", "scores must be [N]");
    CHECK_ERROR(nms(b, Tensor::from({0.5f, std::nanf("")}), 0.5f), "nms", "scores[1] is NaN");
    CHECK_ERROR(batched_nms(b, Tensor::zeros({2}), {0}, 0.5f), "batched_nms", "one class per box");
    CHECK_ERROR(nms(boxes_to_tensor({{2, 0, 1, 1}}), Tensor::zeros({1}), 0.5f), "nms", "boxes[0]",
                "x1 <= x2");
}

TEST_CASE("detect: threshold, top candidates, decoding, per-class NMS, the cap") {
    // Four anchors, two classes. logit(0.9) = 2.197, logit(0.05) = -2.944.
    Tensor anchors = boxes_to_tensor({{0, 0, 10, 10}, {1, 0, 11, 10}, {40, 40, 50, 50}, {60, 0, 70, 10}});
    float lo = -10.0f;
    Tensor logits = Tensor::from({3.0f, 2.0f,     // anchor 0: class 0 at σ(3), class 1 at σ(2)
                                  2.5f, lo,       // anchor 1: class 0, overlaps anchor 0 (IoU 9/11)
                                  lo, 0.0f,       // anchor 2: class 1 at 0.5
                                  -2.9f, -3.0f},  // anchor 3: σ(-2.9) = 0.052 > 0.05 > σ(-3) = 0.047
                                 {4, 2});
    Tensor offsets = Tensor::zeros({4, 4});
    offsets.data()[2 * 4 + 0] = 0.5f;  // anchor 2's box moves right by half its width
    Detections d = detect(logits, offsets, anchors);
    // Candidates: (0,0) .953, (1,0) .924, (0,1) .881, (2,1) .5, (3,0) .052. Class 0: anchor 1
    // is suppressed by anchor 0; class 1: anchors 0 and 2 are apart.
    REQUIRE(d.size() == 4);
    CHECK(d.labels == std::vector<int>{0, 1, 1, 0});
    CHECK(d.scores[0] == doctest::Approx(1 / (1 + std::exp(-3.0))));
    CHECK(d.scores[2] == doctest::Approx(0.5));
    CHECK(d.scores[3] == doctest::Approx(1 / (1 + std::exp(2.9))));
    CHECK(d.boxes[0] == Box{0, 0, 10, 10});
    CHECK(d.boxes[1] == Box{0, 0, 10, 10});
    CHECK(d.boxes[2] == Box{45, 40, 55, 50});
    // Only the top 2 candidates: (0,0) and (1,0), and NMS leaves one.
    DetectOptions two;
    two.candidates = 2;
    CHECK(detect(logits, offsets, anchors, two).size() == 1);
    DetectOptions capped;
    capped.max_detections = 2;
    Detections c = detect(logits, offsets, anchors, capped);
    CHECK(c.labels == std::vector<int>{0, 1});
    // Clipped to a 52 x 52 image.
    DetectOptions clip;
    clip.image_width = clip.image_height = 52;
    CHECK(detect(logits, offsets, anchors, clip).boxes[2] == Box{45, 40, 52, 50});
    // Nothing above the threshold: no detections.
    CHECK(detect(Tensor::full({4, 2}, -5.0f), offsets, anchors).size() == 0);
    CHECK_ERROR(detect(logits, Tensor::zeros({3, 4}), anchors), "detect", "offsets must be [A, 4]");
    logits.data()[3] = std::nanf("");
    CHECK_ERROR(detect(logits, offsets, anchors), "detect", "logits[1, 1] is NaN");
}

TEST_CASE("detect: the score threshold is exact, also for logits next to logit(threshold)") {
    // 2,000 disjoint anchors, one class, logits within 0.05 of logit(0.05) = -2.944: every
    // anchor whose σ(z) (computed as detect does) is above 0.05 is detected, no other.
    const int64_t A = 2000;
    std::vector<Box> boxes;
    for (int64_t i = 0; i < A; ++i) boxes.push_back({float(10 * i), 0, float(10 * i + 5), 5});
    Generator g(9);
    Tensor logits = Tensor::uniform({A, 1}, -2.995f, -2.895f, g);
    DetectOptions o;
    o.candidates = A;
    o.max_detections = A;
    int64_t expected = 0;
    for (int64_t i = 0; i < A; ++i) expected += 1.0f / (1.0f + std::exp(-logits.data()[i])) > 0.05f;
    CHECK(expected > 500);
    CHECK(expected < 1500);
    CHECK(detect(logits, Tensor::zeros({A, 4}), boxes_to_tensor(boxes), o).size() == expected);
    o.score_threshold = 0;  // every anchor (σ > 0 for all these logits)
    CHECK(detect(logits, Tensor::zeros({A, 4}), boxes_to_tensor(boxes), o).size() == A);
    o.score_threshold = 1.5f;
    CHECK_ERROR(detect(logits, Tensor::zeros({A, 4}), boxes_to_tensor(boxes), o), "score_threshold",
                "[0, 1]");
}

TEST_CASE("detect_batch: detect for each image of [B, A, C] and [B, A, 4]") {
    Tensor anchors = boxes_to_tensor({{0, 0, 10, 10}, {40, 40, 50, 50}});
    Tensor logits = Tensor::from({3, -9, -9, -9, /* image 1 */ -9, -9, -9, 1}, {2, 2, 2});
    Tensor offsets = Tensor::zeros({2, 2, 4});
    std::vector<Detections> d = detect_batch(logits, offsets, anchors);
    REQUIRE(d.size() == 2);
    CHECK(d[0].labels == std::vector<int>{0});
    CHECK(d[0].boxes[0] == Box{0, 0, 10, 10});
    CHECK(d[1].labels == std::vector<int>{1});
    CHECK(d[1].boxes[0] == Box{40, 40, 50, 50});
    CHECK_ERROR(detect_batch(Tensor::zeros({2, 2}), offsets, anchors), "detect_batch", "[B, A, C]");
    CHECK_ERROR(detect_batch(logits, Tensor::zeros({2, 2, 3}), anchors), "detect_batch", "offsets");
}
