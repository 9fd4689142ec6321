// test_detection_canvas.cpp — the digits-on-a-canvas generator on synthetic items whose
// boxes are known exactly (crisp rectangles), its determinism, the split it draws from,
// clutter that never touches an object's box, batches, COCO ground truth, the imbalance
// count; then on real MNIST and Fashion-MNIST when this machine has them.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include <focalgrad/detection/canvas.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

// Ten 28 x 28 items, item k of class k % 10: a crisp rectangle of value `ink` over rows
// 4..23 and columns 8..19 (20 x 12 pixels). At scale 14 (a 2:1 box filter) it becomes rows
// 2..11 and columns 4..9 of the 14 x 14 patch: a 10 x 6 box, still crisp.
Dataset rectangles(uint8_t ink, const std::string& name) {
    Dataset d;
    d.name = name;
    d.rows = d.cols = 28;
    for (int c = 0; c < 10; ++c) d.class_names.push_back(std::to_string(c));
    for (int k = 0; k < 20; ++k) {
        std::vector<uint8_t> im(784, 0);
        for (int y = 4; y < 24; ++y)
            for (int x = 8; x < 20; ++x) im[size_t(y * 28 + x)] = ink;
        d.images.insert(d.images.end(), im.begin(), im.end());
        d.labels.push_back(k % 10);
    }
    return d;
}

CanvasOptions fixed_scale() {
    CanvasOptions o;
    o.min_scale = o.max_scale = 14;
    return o;
}

bool inside_some_box(const GroundTruth& gt, int64_t x, int64_t y) {
    for (const Box& b : gt.boxes)
        if (x >= b.x1 && x < b.x2 && y >= b.y1 && y < b.y2) return true;
    return false;
}

}  // namespace

TEST_CASE("make_canvases: tight boxes, labels, counts, no overlap, on crisp synthetic items") {
    Dataset items = rectangles(255, "rects train");
    CanvasOptions o = fixed_scale();
    CanvasSet set = make_canvases(items, 200, 7, o);
    REQUIRE(set.count() == 200);
    CHECK(set.size == 64);
    CHECK(set.num_classes() == 10);
    CHECK(set.name == "rects train canvases");
    int64_t objects = 0;
    std::set<size_t> counts;
    for (int64_t i = 0; i < set.count(); ++i) {
        const GroundTruth& gt = set.truth[size_t(i)];
        counts.insert(gt.boxes.size());
        REQUIRE(gt.labels.size() == gt.boxes.size());
        REQUIRE(set.items[size_t(i)].size() == gt.boxes.size());
        int64_t ink = 0;
        for (size_t j = 0; j < gt.boxes.size(); ++j) {
            const Box& b = gt.boxes[j];
            CHECK(b.width() == 6.0f);
            CHECK(b.height() == 10.0f);
            CHECK(b.x1 >= 4);  // the patch (14 wide, ink from column 4) lies inside the canvas
            CHECK(b.x2 <= 64 - 4);
            CHECK(gt.labels[j] == items.labels[size_t(set.items[size_t(i)][j])]);
            for (size_t k = 0; k < j; ++k) CHECK(box_iou(b, gt.boxes[k]) == 0.0f);
            ++objects;
        }
        // Every stroke pixel lies in a box and every box pixel is stroke: the boxes are tight.
        int64_t wrong = 0;
        for (int64_t y = 0; y < 64; ++y)
            for (int64_t x = 0; x < 64; ++x) {
                uint8_t v = set.image(i)[y * 64 + x];
                wrong += (v == 255) != inside_some_box(gt, x, y);
                ink += v == 255;
            }
        CHECK(wrong == 0);
        CHECK(ink == 60 * int64_t(gt.boxes.size()));
    }
    CHECK(counts == std::set<size_t>{1, 2, 3});
    CHECK(double(objects) / 200 == doctest::Approx(2.0).epsilon(0.1));
}

TEST_CASE("make_canvases: deterministic, canvas by canvas, and only from the items it is given") {
    Dataset items = rectangles(255, "rects");
    CanvasOptions o;
    CanvasSet a = make_canvases(items, 30, 11, o), b = make_canvases(items, 60, 11, o),
              c = make_canvases(items, 30, 12, o);
    CHECK(a.pixels ==
          std::vector<uint8_t>(b.pixels.begin(), b.pixels.begin() + 30 * 64 * 64));  // same first 30
    CHECK(a.items == std::vector<std::vector<int64_t>>(b.items.begin(), b.items.begin() + 30));
    CHECK(a.pixels != c.pixels);
    // Scales vary in [12, 24] by default: box heights vary.
    std::set<float> heights;
    for (const GroundTruth& gt : b.truth)
        for (const Box& box : gt.boxes) heights.insert(box.height());
    CHECK(heights.size() >= 5);
    // A training split and a test split with different ink: a canvas holds only its split's ink.
    Dataset train = rectangles(200, "train"), test = rectangles(100, "test");
    CanvasSet tr = make_canvases(train, 20, 1, fixed_scale()), te = make_canvases(test, 20, 1, fixed_scale());
    CHECK(std::all_of(tr.pixels.begin(), tr.pixels.end(), [](uint8_t v) { return v == 0 || v == 200; }));
    CHECK(std::all_of(te.pixels.begin(), te.pixels.end(), [](uint8_t v) { return v == 0 || v == 100; }));
    // `items` restricts which items may be drawn (a validation split of the training items).
    CanvasOptions some = o;
    some.items = {3, 5, 17};
    CanvasSet s = make_canvases(items, 50, 2, some);
    for (const auto& used : s.items)
        for (int64_t k : used) CHECK((k == 3 || k == 5 || k == 17));
}

TEST_CASE("make_canvases: clutter adds strokes outside every box and leaves the objects alone") {
    Dataset items = rectangles(255, "rects");
    CanvasOptions plain = fixed_scale(), cluttered = fixed_scale();
    cluttered.clutter = 3;
    CanvasSet p = make_canvases(items, 100, 3, plain), q = make_canvases(items, 100, 3, cluttered);
    int64_t outside = 0, changed_inside = 0;
    for (int64_t i = 0; i < 100; ++i) {
        REQUIRE(p.truth[size_t(i)].boxes == q.truth[size_t(i)].boxes);  // the same objects
        for (int64_t y = 0; y < 64; ++y)
            for (int64_t x = 0; x < 64; ++x) {
                uint8_t v = q.image(i)[y * 64 + x];
                if (inside_some_box(q.truth[size_t(i)], x, y))
                    changed_inside += v != p.image(i)[y * 64 + x];
                else
                    outside += v == 255;
            }
    }
    CHECK(changed_inside == 0);        // no fragment reaches into a box
    CHECK(outside > 100 * 3 * 8 / 2);  // most fragments found a place, each >= 8 stroke pixels
}

TEST_CASE("canvas_batch, canvas_coco_truth, canvas_anchor_grid, target_imbalance") {
    Dataset items = rectangles(255, "rects");
    CanvasSet set = make_canvases(items, 40, 5, fixed_scale());
    Tensor x = canvas_batch(set, {3, 0});
    REQUIRE(x.shape() == Shape{2, 1, 64, 64});
    int64_t wrong = 0;
    for (int64_t p = 0; p < 64 * 64; ++p) {
        wrong += x.data()[p] != float(set.image(3)[p]) / 255.0f;
        wrong += x.data()[64 * 64 + p] != float(set.image(0)[p]) / 255.0f;
    }
    CHECK(wrong == 0);
    Tensor z = canvas_batch(set, {1}, PixelStats{0.5, 0.25});
    CHECK(z.data()[0] == -2.0f);
    CHECK_ERROR(canvas_batch(set, {40}), "canvas_batch", "images[0] = 40", "40 canvases");

    CocoDataset coco = canvas_coco_truth(set);
    CHECK(coco.images.size() == 40);
    CHECK(coco.images[7].id == 7);
    CHECK(coco.images[7].file_name == "canvas_000007.png");
    CHECK(coco.categories.size() == 10);
    CHECK(coco.categories[3].id == 3);
    CHECK(coco.categories[3].name == "3");
    size_t n = 0;
    for (const GroundTruth& gt : set.truth) n += gt.boxes.size();
    REQUIRE(coco.annotations.size() == n);
    CHECK(coco.annotations[0].id == 1);
    CHECK(coco.annotations.back().id == int64_t(n));
    check_coco(coco, {});
    // Detections in the same ids: a perfect detector scores AP 1 (to pycocotools' 2^-52).
    std::vector<CocoDetection> results;
    for (int64_t i = 0; i < set.count(); ++i) {
        Detections d;
        d.boxes = set.truth[size_t(i)].boxes;
        d.labels = set.truth[size_t(i)].labels;
        d.scores.assign(d.boxes.size(), 0.9f);
        add_coco_detections(results, i, d);
    }
    CHECK(results.size() == n);
    CHECK(evaluate_coco(coco, results).ap == doctest::Approx(1.0).epsilon(1e-12));
    // canvas_plot: the pixels, the truth dashed, the detections above the score solid.
    Detections one;
    one.boxes = {{1, 2, 10, 12}, {20, 20, 30, 30}};
    one.scores = {0.95f, 0.1f};
    one.labels = {3, 4};
    report::Plot p = canvas_plot(set, 0, one);
    CHECK(p.images.size() == 1);
    CHECK(p.images[0].image.width == 64);
    REQUIRE(p.boxes.size() == set.truth[0].boxes.size() + 1);  // 0.1 < 0.3: not drawn
    CHECK(p.boxes.back().label == "3 0.95");
    CHECK(!p.boxes.back().dashed);
    CHECK(p.boxes.front().dashed);
    CHECK_ERROR(canvas_plot(set, 40), "canvas_plot", "index 40");

    // Every box is 10 x 6: three sizes around sqrt(60), ratios RetinaNet's 0.5, 1, 2.
    AnchorGrid g = canvas_anchor_grid(set);
    CHECK(g.height == 16);
    CHECK(g.stride == 4.0f);
    CHECK(g.sizes[1] == doctest::Approx(std::sqrt(60.0f)));
    CHECK(g.sizes[2] / g.sizes[1] == doctest::Approx(std::cbrt(2.0)));
    CHECK(g.aspect_ratios == std::vector<float>{0.5f, 1.0f, 2.0f});
    CHECK_ERROR(canvas_anchor_grid(set, 5), "stride must divide");

    Tensor anchors = make_anchors(g);
    TargetImbalance t = target_imbalance(set, anchors);
    int64_t pos = 0, ignored = 0, objects = 0;
    for (const GroundTruth& gt : set.truth) {
        Assignment a = assign_anchors(anchors, gt.boxes);
        pos += a.num_positive, ignored += a.num_ignored, objects += int64_t(gt.boxes.size());
    }
    CHECK(t.canvases == 40);
    CHECK(t.anchors == 16 * 16 * 9);
    CHECK(t.positive_anchors == doctest::Approx(double(pos) / 40));
    CHECK(t.objects == doctest::Approx(double(objects) / 40));
    double negatives = double(16 * 16 * 9 * 40 - ignored) * 10 - double(pos);
    CHECK(t.negatives_per_positive == doctest::Approx(negatives / double(pos)));
    CHECK(t.objects_without_positive == 0);
    fgtest::check_contains(format_imbalance(t),
                           {"40 canvases", "2304 anchors x 10 classes", "negatives per positive"});
}

TEST_CASE("make_canvases: bad options") {
    Dataset items = rectangles(255, "rects");
    CanvasOptions o;
    o.max_scale = 80;
    CHECK_ERROR(make_canvases(items, 1, 0, o), "make_canvases", "max_scale <= size");
    o = CanvasOptions{};
    o.min_objects = 4;
    CHECK_ERROR(make_canvases(items, 1, 0, o), "make_canvases", "min_objects <= max_objects");
    o = CanvasOptions{};
    o.items = {20};
    CHECK_ERROR(make_canvases(items, 1, 0, o), "make_canvases", "items[0] = 20", "20 items");
    Dataset small = items;
    small.rows = small.cols = 14;
    CHECK_ERROR(make_canvases(small, 1, 0, CanvasOptions{}), "make_canvases", "28 x 28");
}

// The real data, when this machine has it (CI sets MNIST_DIR to the shared copy).
TEST_CASE("make_canvases on MNIST and Fashion-MNIST: tight boxes and >= 1,000 negatives per positive") {
    std::vector<std::pair<std::string, Split>> sources;
    const char* mnist = std::getenv("MNIST_DIR");
    for (const std::string& which : {std::string("mnist"), std::string("fashion")}) {
        Dataset train, test;
        try {
            if (which == "mnist") {
                if (!mnist) continue;
                train = load_mnist(mnist, Split::train);
                test = load_mnist(mnist, Split::test);
            } else {
                train = load_fashion_mnist("", Split::train);
                test = load_fashion_mnist("", Split::test);
            }
        } catch (const Error&) {
            MESSAGE("skipped: ", which, " not found");
            continue;
        }
        CanvasOptions o;
        CanvasSet tr = make_canvases(train, 300, 1, o), te = make_canvases(test, 300, 1, o);
        for (const CanvasSet* set : {&tr, &te}) {
            for (int64_t i = 0; i < set->count(); ++i)
                for (const Box& b : set->truth[size_t(i)].boxes) {
                    // Each edge row and column of a box holds a stroke pixel: the box is tight.
                    auto ink = [&](int64_t x, int64_t y) {
                        return set->image(i)[y * 64 + x] >= o.ink_threshold;
                    };
                    bool top = false, bottom = false, left = false, right = false;
                    for (int64_t x = int64_t(b.x1); x < int64_t(b.x2); ++x)
                        top |= ink(x, int64_t(b.y1)), bottom |= ink(x, int64_t(b.y2) - 1);
                    for (int64_t y = int64_t(b.y1); y < int64_t(b.y2); ++y)
                        left |= ink(int64_t(b.x1), y), right |= ink(int64_t(b.x2) - 1, y);
                    CHECK((top && bottom && left && right));
                }
            // Items come from the split given: every source index is below its size.
            for (const auto& used : set->items)
                for (int64_t k : used) CHECK(k < (set == &tr ? train.size() : test.size()));
        }
        TargetImbalance t = target_imbalance(tr, make_anchors(canvas_anchor_grid(tr)));
        MESSAGE(tr.name, ": ", format_imbalance(t));
        CHECK(t.negatives_per_positive >= 1000);
        CHECK(t.objects == doctest::Approx(2.0).epsilon(0.1));
    }
}
