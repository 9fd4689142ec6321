// test_detection_anchors.cpp — the anchor grid's boxes and order, the RetinaNet assignment
// on hand-built cases (each threshold exactly, forced best anchors, ties, shared best
// anchors, an object no anchor touches), and the dense targets built from it.
#include <cmath>

#include <focalgrad/core/parallel.h>
#include <focalgrad/detection/anchors.h>

#include "helpers.h"

using namespace focalgrad;

namespace {
// Rows [first, first + n) of a [A, 4] tensor.
Tensor rows(const Tensor& t, int64_t first, int64_t n) {
    return Tensor::from(std::vector<float>(t.data() + 4 * first, t.data() + 4 * (first + n)), {n, 4});
}
}  // namespace

TEST_CASE("make_anchors: boxes and their order on a hand-worked grid") {
    AnchorGrid g;
    g.height = 2, g.width = 3, g.stride = 8;
    g.sizes = {8, 16};
    g.aspect_ratios = {1, 4};
    CHECK(g.per_cell() == 4);
    Tensor a = make_anchors(g);
    REQUIRE(a.shape() == Shape{24, 4});
    // Cell (0, 0), centred at (4, 4): ratio 1 sizes 8 and 16, then ratio 4 (w = s / 2, h = 2 s).
    fgtest::check_close(rows(a, 0, 4), {0, 0, 8, 8, -4, -4, 12, 12, 2, -4, 6, 12, 0, -12, 8, 20}, 0, 1e-6);
    // Cell (1, 2) is the last: centre (20, 12).
    fgtest::check_close(rows(a, 20, 4), {16, 8, 24, 16, 12, 4, 28, 20, 18, 4, 22, 20, 16, -4, 24, 28}, 0,
                        1e-6);
    // Row-major cells: anchor 4 is cell (0, 1), centre (12, 4).
    CHECK(a.at({4, 0}) == 8.0f);
    CHECK(a.at({12, 1}) == 8.0f);  // cell (1, 0): centre y = 12, size-8 square
    g.offset = 0;
    CHECK(make_anchors(g).at({0, 0}) == -4.0f);  // torchvision's corner-aligned centres
    CHECK_ERROR(make_anchors(AnchorGrid{2, 2, 0.0f}), "make_anchors", "stride");
    AnchorGrid bad = g;
    bad.aspect_ratios = {};
    CHECK_ERROR(make_anchors(bad), "make_anchors", "aspect ratio");
}

TEST_CASE("assign_anchors: the thresholds, exactly") {
    // One object (0, 0, 10, 10); anchor i has IoU 0.5, 0.4, 0.3999..., 0.45 and 0.8 with it.
    Tensor anchors = boxes_to_tensor({{0, 0, 10, 5},       // 0.5: positive (>= 0.5)
                                      {0, 0, 10, 4},       // 0.4: ignored (not < 0.4)
                                      {0, 0, 10, 3.99f},   // < 0.4: negative
                                      {0, 0, 10, 4.5f},    // 0.45: ignored
                                      {0, 0, 10, 8},       // 0.8: positive, the best
                                      {50, 50, 60, 60}});  // 0: negative
    AssignOptions no_force;
    no_force.force_best = false;
    for (const AssignOptions& o : {AssignOptions{}, no_force}) {
        Assignment r = assign_anchors(anchors, {{0, 0, 10, 10}}, o);
        CHECK(r.state == std::vector<int>{1, -1, 0, -1, 1, 0});
        CHECK(r.matched == std::vector<int>{0, -1, -1, -1, 0, -1});
        CHECK(r.num_positive == 2);
        CHECK(r.num_ignored == 2);
        CHECK(r.num_negative == 2);
        fgtest::check_close(Tensor::from(r.iou, {6}), {0.5, 0.4, 0.399, 0.45, 0.8, 0}, 1e-6, 0);
    }
}

TEST_CASE("assign_anchors: each object's best anchor is forced positive") {
    Tensor anchors = boxes_to_tensor({{0, 0, 10, 10},    // object 0: IoU 0.3, its best
                                      {0, 0, 10, 20},    // object 0: IoU 0.15
                                      {30, 0, 40, 10},   // object 1: IoU 30 / 130, tied best
                                      {30, 10, 40, 20},  // object 1: IoU 30 / 130, tied best
                                      {100, 100, 110, 110}});
    std::vector<Box> objects = {{0, 0, 10, 3}, {30, 7, 40, 13}, {200, 200, 210, 210}};
    Assignment r = assign_anchors(anchors, objects);
    CHECK(r.state == std::vector<int>{1, 0, 1, 1, 0});
    CHECK(r.matched == std::vector<int>{0, -1, 1, 1, -1});
    CHECK(r.num_positive == 3);
    // Object 2 touches no anchor: it forces nothing (torchvision's Matcher would tie every
    // anchor at IoU 0 and make them all positive).
    AssignOptions no_force;
    no_force.force_best = false;
    Assignment plain = assign_anchors(anchors, objects, no_force);
    CHECK(plain.state == std::vector<int>{0, 0, 0, 0, 0});
    CHECK(plain.num_negative == 5);
}

TEST_CASE("assign_anchors: a shared best anchor goes to the object it overlaps most") {
    Tensor anchors = boxes_to_tensor({{0, 0, 10, 10}, {40, 40, 50, 50}});
    // Both objects have anchor 0 as their best: object 1 overlaps it more (0.3 > 0.2).
    Assignment r = assign_anchors(anchors, {{0, 0, 10, 2}, {0, 0, 10, 3}});
    CHECK(r.state == std::vector<int>{1, 0});
    CHECK(r.matched == std::vector<int>{1, -1});
    // Anchor 0 is positive for object 0 on its own (IoU 0.7, its highest), but it is the best
    // anchor of object 1 (IoU 2/3) while object 0's best is anchor 1 (IoU 1): anchor 0 is
    // forced to object 1, so that both objects have an anchor (mmdetection's rule;
    // torchvision's Matcher would keep it on object 0 and leave object 1 without one).
    Tensor three = boxes_to_tensor({{0, 0, 10, 10}, {0, 0, 10, 7}, {40, 40, 50, 50}});
    Assignment s = assign_anchors(three, {{0, 0, 10, 7}, {-5, 0, 10, 10}});
    CHECK(s.state == std::vector<int>{1, 1, 0});
    CHECK(s.matched == std::vector<int>{1, 0, -1});
    // Without objects every anchor is negative.
    Assignment none = assign_anchors(anchors, {});
    CHECK(none.state == std::vector<int>{0, 0});
    CHECK(none.num_negative == 2);
    CHECK_ERROR(assign_anchors(anchors, {{5, 0, 4, 1}}), "assign_anchors", "objects[0]", "x1 <= x2");
    AssignOptions bad;
    bad.negative_iou = 0.6f;
    CHECK_ERROR(assign_anchors(anchors, {}, bad), "assign_anchors", "negative_iou <= positive_iou");
}

TEST_CASE("assign_anchors: many anchors, against a direct per-anchor loop") {
    AnchorGrid g;
    g.height = g.width = 16, g.stride = 4;
    g.sizes = {10, 14};
    g.aspect_ratios = {0.5f, 1, 2};
    Tensor anchors = make_anchors(g);
    std::vector<Box> objects = {{3, 5, 15, 22}, {30, 30, 44, 41}, {40, 2, 47, 20}};
    Assignment r = assign_anchors(anchors, objects, AssignOptions{0.5f, 0.4f, false});
    for (int64_t a = 0; a < anchors.shape()[0]; ++a) {
        Box ab{anchors.at({a, 0}), anchors.at({a, 1}), anchors.at({a, 2}), anchors.at({a, 3})};
        float best = 0;
        int who = -1;
        for (int k = 0; k < 3; ++k)
            if (box_iou(ab, objects[size_t(k)]) > best) best = box_iou(ab, objects[size_t(k)]), who = k;
        int state = best >= 0.5f ? 1 : best < 0.4f ? 0 : -1;
        CHECK(r.state[size_t(a)] == state);
        CHECK(r.matched[size_t(a)] == (state == 1 ? who : -1));
        CHECK(r.iou[size_t(a)] == doctest::Approx(best).epsilon(1e-6));
    }
    CHECK(r.num_positive > 3);
}

TEST_CASE("dense_targets: one-hot labels, ignore weights, encoded boxes at positives") {
    Tensor anchors = boxes_to_tensor({{0, 0, 10, 5}, {0, 0, 10, 4}, {50, 50, 60, 60}, {20, 20, 30, 30}});
    std::vector<GroundTruth> truth(3);
    truth[0] = {{{0, 0, 10, 10}}, {2}};  // anchor 0 positive, 1 ignored, 2-3 negative
    truth[1] = {};                       // no objects
    truth[2] = {{{20, 20, 30, 30}, {50, 50, 60, 62}}, {0, 1}};
    DenseTargets t = dense_targets(anchors, truth, {0, 2, 1}, 3);
    REQUIRE(t.labels.shape() == Shape{3, 4, 3});
    REQUIRE(t.box_targets.shape() == Shape{3, 4, 4});
    // Image 0: anchor 0 is class 2.
    fgtest::check_close(t.labels,
                        {0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // image 0
                         0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0,  // image 2: anchor 2 class 1, 3 class 0
                         0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                        0, 0);
    fgtest::check_close(t.label_weights,
                        {1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1,  // anchor 1 ignored
                         1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
                        0, 0);
    CHECK(t.state == std::vector<int>{1, -1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0});
    CHECK(t.num_positive == 3);
    CHECK(t.num_ignored == 1);
    CHECK(t.num_negative == 8);
    // Box targets: anchor 0 of image 0 against (0, 0, 10, 10): (0, 0.5, 0, log 2); anchor 3 of
    // image 2 matches its object exactly: zeros; anchor 2 against (50, 50, 60, 62): (0, 0.1, 0, log 1.2).
    std::vector<double> expected(48, 0.0);
    expected[1] = 0.5, expected[3] = std::log(2.0);
    expected[16 + 8 + 1] = 0.1, expected[16 + 8 + 3] = std::log(1.2);
    fgtest::check_close(t.box_targets, expected, 1e-6, 1e-7);
    std::vector<double> weights(48, 0.0);
    for (int k = 0; k < 4; ++k)
        weights[size_t(k)] = weights[size_t(16 + 8 + k)] = weights[size_t(16 + 12 + k)] = 1;
    fgtest::check_close(t.box_weights, weights, 0, 0);
    CHECK_ERROR(dense_targets(anchors, truth, {3}, 3), "dense_targets", "images[0] = 3", "out of range");
    CHECK_ERROR(dense_targets(anchors, truth, {0}, 2), "dense_targets", "label 2", "2 classes");
    truth[1] = {{{5, 5, 4, 9}}, {0}};
    CHECK_ERROR(dense_targets(anchors, truth, {1}, 3), "dense_targets", "objects of image 1[0]", "x1 <= x2");
    // The same targets on any thread count (images are filled in parallel).
    std::vector<GroundTruth> many(40, truth[2]);
    std::vector<int64_t> all(40);
    for (int64_t i = 0; i < 40; ++i) all[size_t(i)] = i;
    int threads = num_threads();
    set_num_threads(1);
    DenseTargets one = dense_targets(anchors, many, all, 3);
    set_num_threads(2);
    DenseTargets two = dense_targets(anchors, many, all, 3);
    set_num_threads(threads);
    CHECK(one.labels.to_vector() == two.labels.to_vector());
    CHECK(one.box_targets.to_vector() == two.box_targets.to_vector());
    CHECK(one.num_positive == 80);
}
