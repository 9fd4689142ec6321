// test_detection_coco.cpp — COCO AP on hand-computed cases (ties in score, a class with no
// ground truth, an image with no detections, duplicates, a detection exactly on an IoU
// threshold, the per-image cap), against a line-by-line transcription of pycocotools'
// evaluateImg + accumulate on random data, and the JSON files' schema.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <focalgrad/detection/coco.h>

#include "helpers.h"
#include "json_mini.h"

using namespace focalgrad;

namespace {

CocoDataset one_class(int images, int categories = 1) {
    CocoDataset d;
    for (int i = 0; i < images; ++i) d.images.push_back({i, "im" + std::to_string(i) + ".png", 100, 100});
    for (int c = 0; c < categories; ++c) d.categories.push_back({c + 1, "c" + std::to_string(c + 1)});
    return d;
}

void add_truth(CocoDataset& d, int64_t image, int category, Box b) {
    d.annotations.push_back({int64_t(d.annotations.size()) + 1, image, category, b});
}

// AP when the precision is p_lo on the recall thresholds above r and p_hi up to r:
// the mean over the 101 thresholds 0, 0.01, ..., 1.
double ap_steps(int up_to_r_percent, double p_hi, double p_lo) {
    return ((up_to_r_percent + 1) * p_hi + (100 - up_to_r_percent) * p_lo) / 101.0;
}

}  // namespace

TEST_CASE("evaluate_coco: a hand-computed class with a false positive between two hits") {
    CocoDataset gt = one_class(1);
    add_truth(gt, 0, 1, {0, 0, 10, 10});
    add_truth(gt, 0, 1, {50, 50, 60, 60});
    // Scores 0.9 (hit), 0.8 (miss), 0.7 (hit): recall 1/2, 1/2, 1; precision 1, 1/2, 2/3,
    // made non-increasing from the right: 1, 2/3, 2/3. Recall thresholds 0..0.50 read 1,
    // 0.51..1 read 2/3, at every IoU threshold (the hits are exact).
    std::vector<CocoDetection> dt = {
        {0, 1, {0, 0, 10, 10}, 0.9f}, {0, 1, {30, 30, 40, 40}, 0.8f}, {0, 1, {50, 50, 60, 60}, 0.7f}};
    CocoEvalResult r = evaluate_coco(gt, dt);
    double expected = ap_steps(50, 1.0, 2.0 / 3.0);  // 0.83498...
    CHECK(r.ap == doctest::Approx(expected).epsilon(1e-12));
    CHECK(r.ap50 == doctest::Approx(expected).epsilon(1e-12));
    CHECK(r.ap75 == doctest::Approx(expected).epsilon(1e-12));
    REQUIRE(r.per_class.size() == 1);
    CHECK(r.per_class[0].num_truth == 2);
    CHECK(r.per_class[0].num_detections == 3);
    REQUIRE(r.precision.size() == 10 * 101);
    CHECK(r.precision[50] == doctest::Approx(1.0));        // t = 0.50, recall 0.50
    CHECK(r.precision[51] == doctest::Approx(2.0 / 3.0));  // recall 0.51
    CHECK(r.iou_thresholds[5] == 0.75);                    // exactly, as numpy.linspace gives it
    CHECK(r.recall_thresholds[50] == 0.5);
    // The same with the duplicate of the first hit in the middle instead: a duplicate is a
    // false positive (its object is taken), so the AP is the same.
    dt[1].box = {0, 0, 10, 10};
    CHECK(evaluate_coco(gt, dt).ap == doctest::Approx(expected).epsilon(1e-12));
    // A duplicate ranked below every hit costs nothing: recall is already 1.
    dt[1].score = 0.1f;
    CHECK(evaluate_coco(gt, dt).ap == doctest::Approx(1.0).epsilon(1e-12));
}

TEST_CASE("evaluate_coco: a detection exactly on an IoU threshold counts (IoU >= t)") {
    CocoDataset gt = one_class(1);
    add_truth(gt, 0, 1, {0, 0, 100, 100});
    // IoU 7500 / 10000 = 0.75 exactly: a hit at t = 0.50, ..., 0.75 (6 of 10 thresholds).
    CocoEvalResult r = evaluate_coco(gt, {{0, 1, {0, 0, 100, 75}, 0.5f}});
    // Precision is TP / (TP + FP + 2^-52), as in pycocotools: just below 1 for a hit.
    CHECK(r.ap50 == doctest::Approx(1.0).epsilon(1e-12));
    CHECK(r.ap50 < 1.0);
    CHECK(r.ap75 == doctest::Approx(1.0).epsilon(1e-12));
    CHECK(r.ap == doctest::Approx(0.6).epsilon(1e-12));
    // Just below 0.75: five thresholds.
    CHECK(evaluate_coco(gt, {{0, 1, {0, 0, 100, 74.9f}, 0.5f}}).ap == doctest::Approx(0.5).epsilon(1e-12));
}

TEST_CASE("evaluate_coco: ties in score go in image order, then in input order") {
    // A miss on image 0 and a hit on image 1, both at score 0.5; one object, on image 1.
    CocoDataset gt = one_class(2);
    add_truth(gt, 1, 1, {0, 0, 10, 10});
    std::vector<CocoDetection> dt = {{1, 1, {0, 0, 10, 10}, 0.5f}, {0, 1, {0, 0, 10, 10}, 0.5f}};
    // Image 0 first: miss then hit: precision 0, 1/2 -> 1/2 everywhere: AP 1/2.
    CHECK(evaluate_coco(gt, dt).ap == doctest::Approx(0.5).epsilon(1e-12));
    // With the object on image 0 instead, the hit comes first: AP 1.
    gt.annotations[0].image_id = 0;
    CHECK(evaluate_coco(gt, dt).ap == doctest::Approx(1.0).epsilon(1e-12));
    // Within one image, the order of `detections` breaks the tie: a miss listed first ranks first.
    CocoDataset g1 = one_class(1);
    add_truth(g1, 0, 1, {0, 0, 10, 10});
    std::vector<CocoDetection> same = {{0, 1, {50, 50, 60, 60}, 0.5f}, {0, 1, {0, 0, 10, 10}, 0.5f}};
    CHECK(evaluate_coco(g1, same).ap == doctest::Approx(0.5).epsilon(1e-12));
    std::swap(same[0], same[1]);
    CHECK(evaluate_coco(g1, same).ap == doctest::Approx(1.0).epsilon(1e-12));
}

TEST_CASE("evaluate_coco: a class without ground truth, an image without detections, the cap") {
    CocoDataset gt = one_class(2, 3);
    add_truth(gt, 0, 1, {0, 0, 10, 10});
    add_truth(gt, 1, 1, {0, 0, 10, 10});  // image 1 gets no detection: recall stops at 1/2
    add_truth(gt, 0, 3, {20, 20, 40, 40});
    std::vector<CocoDetection> dt = {{0, 1, {0, 0, 10, 10}, 0.9f},
                                     {0, 2, {0, 0, 10, 10}, 0.9f},  // class 2 has no objects
                                     {0, 3, {20, 20, 40, 40}, 0.3f}};
    CocoEvalResult r = evaluate_coco(gt, dt);
    REQUIRE(r.per_class.size() == 3);
    CHECK(r.per_class[0].ap == doctest::Approx(ap_steps(50, 1.0, 0.0)).epsilon(1e-12));  // 51 / 101
    CHECK(r.per_class[1].ap == -1.0);
    CHECK(r.per_class[1].ap50 == -1.0);
    CHECK(r.per_class[1].num_truth == 0);
    CHECK(r.per_class[1].num_detections == 1);
    CHECK(r.per_class[2].ap == doctest::Approx(1.0).epsilon(1e-12));
    CHECK(r.ap == doctest::Approx((51.0 / 101.0 + 1.0) / 2).epsilon(1e-12));  // class 2 is left out
    CHECK(r.precision[1] == -1.0);                                            // [t = 0, r = 0, k = 1]
    std::string table = format_coco_eval(r);
    fgtest::check_contains(table, {"2 c2", "     -", "mean", "0.752"});
    // A class with objects and no detections at all scores 0.
    CHECK(evaluate_coco(gt, {}).ap == 0.0);
    // No objects at all: the means are -1.
    CHECK(evaluate_coco(one_class(1), {}).ap == -1.0);

    // Per image and class, only the max_detections highest scores count.
    CocoDataset g1 = one_class(1);
    add_truth(g1, 0, 1, {0, 0, 10, 10});
    std::vector<CocoDetection> three = {
        {0, 1, {30, 0, 40, 10}, 0.9f}, {0, 1, {0, 0, 10, 10}, 0.1f}, {0, 1, {50, 0, 60, 10}, 0.8f}};
    CocoEvalOptions cap;
    cap.max_detections = 2;
    CocoEvalResult capped = evaluate_coco(g1, three, cap);
    CHECK(capped.ap == 0.0);  // the hit is the third
    CHECK(capped.per_class[0].num_detections == 2);
    CHECK(evaluate_coco(g1, three).ap == doctest::Approx(1.0 / 3.0).epsilon(1e-12));
}

TEST_CASE("evaluate_coco: bad input") {
    CocoDataset gt = one_class(1);
    add_truth(gt, 0, 1, {0, 0, 10, 10});
    CHECK_ERROR(evaluate_coco(gt, {{5, 1, {0, 0, 1, 1}, 0.5f}}), "detections[0]", "image 5");
    CHECK_ERROR(evaluate_coco(gt, {{0, 9, {0, 0, 1, 1}, 0.5f}}), "detections[0]", "category 9");
    CHECK_ERROR(evaluate_coco(gt, {{0, 1, {0, 0, 1, 1}, std::nanf("")}}), "detections[0]", "score");
    CHECK_ERROR(evaluate_coco(gt, {{0, 1, {3, 0, 1, 1}, 0.5f}}), "detections[0]", "x1 <= x2");
    gt.annotations[0].id = 0;
    CHECK_ERROR(evaluate_coco(gt, {}), "annotations[0]", "id 0", ">= 1");
    gt.annotations[0].id = 1;
    gt.annotations.push_back(gt.annotations[0]);
    CHECK_ERROR(evaluate_coco(gt, {}), "repeats annotation id 1");
    gt.annotations.pop_back();
    gt.images.push_back(gt.images[0]);
    CHECK_ERROR(evaluate_coco(gt, {}), "repeats image id 0");
}

// ---- pycocotools, transcribed ------------------------------------------------------------
// evaluateImg and accumulate of cocoeval.py for iouType "bbox", area "all", one maxDet, with
// no crowd and no ignored objects, statement by statement (names as in the Python). Kept
// apart from detection/coco.cpp on purpose: a different structure over the same algorithm.
namespace {

struct PyEval {
    std::vector<std::vector<int64_t>> dtm;  // [T][D] matched gt id or 0
    std::vector<double> dt_scores;
    int64_t G = 0;
    bool none = true;
};

struct PyResult {
    std::vector<double> precision;  // [T, R, K]
};

double py_bb_iou(const CocoDetection& d, const CocoAnnotation& g) {
    double D[4] = {d.box.x1, d.box.y1, double(d.box.x2) - double(d.box.x1),
                   double(d.box.y2) - double(d.box.y1)};
    double Gb[4] = {g.box.x1, g.box.y1, double(g.box.x2) - double(g.box.x1),
                    double(g.box.y2) - double(g.box.y1)};
    double ga = Gb[2] * Gb[3], da = D[2] * D[3];
    double w = std::fmin(D[2] + D[0], Gb[2] + Gb[0]) - std::fmax(D[0], Gb[0]);
    if (w <= 0) return 0;
    double h = std::fmin(D[3] + D[1], Gb[3] + Gb[1]) - std::fmax(D[1], Gb[1]);
    if (h <= 0) return 0;
    double i = w * h;
    return i / (da + ga - i);
}

PyResult pycocotools(const CocoDataset& gt_set, const std::vector<CocoDetection>& dts, int max_det) {
    std::vector<double> iou_thrs(10), rec_thrs(101);
    double step_t = (0.95 - 0.5) / 9, step_r = 1.0 / 100;
    for (int i = 0; i < 10; ++i) iou_thrs[size_t(i)] = i * step_t + 0.5;
    iou_thrs[9] = 0.95;
    for (int i = 0; i < 101; ++i) rec_thrs[size_t(i)] = i * step_r + 0.0;
    rec_thrs[100] = 1.0;
    std::vector<int64_t> img_ids;
    for (auto& im : gt_set.images) img_ids.push_back(im.id);
    std::sort(img_ids.begin(), img_ids.end());
    std::vector<int> cat_ids;
    for (auto& c : gt_set.categories) cat_ids.push_back(c.id);
    std::sort(cat_ids.begin(), cat_ids.end());
    const int T = 10, R = 101, K = int(cat_ids.size());
    PyResult out;
    out.precision.assign(size_t(T * R * K), -1.0);
    for (int k = 0; k < K; ++k) {
        std::vector<PyEval> E;
        for (int64_t img : img_ids) {
            std::vector<CocoAnnotation> gt;
            std::vector<CocoDetection> dt;
            for (auto& a : gt_set.annotations)
                if (a.image_id == img && a.category_id == cat_ids[size_t(k)]) gt.push_back(a);
            for (auto& d : dts)
                if (d.image_id == img && d.category_id == cat_ids[size_t(k)]) dt.push_back(d);
            PyEval e;
            if (gt.empty() && dt.empty()) {
                E.push_back(e);
                continue;
            }
            e.none = false;
            std::stable_sort(dt.begin(), dt.end(), [](const CocoDetection& a, const CocoDetection& b) {
                return -a.score < -b.score;
            });
            if (int(dt.size()) > max_det) dt.resize(size_t(max_det));
            e.G = int64_t(gt.size());
            std::vector<std::vector<int64_t>> gtm(T, std::vector<int64_t>(gt.size(), 0));
            e.dtm.assign(T, std::vector<int64_t>(dt.size(), 0));
            for (int tind = 0; tind < T; ++tind)
                for (size_t dind = 0; dind < dt.size(); ++dind) {
                    double iou = std::min(iou_thrs[size_t(tind)], 1 - 1e-10);
                    int64_t m = -1;
                    for (size_t gind = 0; gind < gt.size(); ++gind) {
                        if (gtm[size_t(tind)][gind] > 0) continue;
                        double v = py_bb_iou(dt[dind], gt[gind]);
                        if (v < iou) continue;
                        iou = v;
                        m = int64_t(gind);
                    }
                    if (m == -1) continue;
                    e.dtm[size_t(tind)][dind] = gt[size_t(m)].id;
                    gtm[size_t(tind)][size_t(m)] = int64_t(dind) + 1;  // any non-zero id
                }
            for (auto& d : dt) e.dt_scores.push_back(d.score);
            E.push_back(e);
        }
        std::vector<double> dt_scores;
        std::vector<std::vector<int64_t>> dtm(T);
        int64_t npig = 0;
        for (auto& e : E) {
            if (e.none) continue;
            dt_scores.insert(dt_scores.end(), e.dt_scores.begin(), e.dt_scores.end());
            for (int t = 0; t < T; ++t)
                dtm[size_t(t)].insert(dtm[size_t(t)].end(), e.dtm[size_t(t)].begin(), e.dtm[size_t(t)].end());
            npig += e.G;
        }
        if (npig == 0) continue;
        std::vector<size_t> inds(dt_scores.size());
        for (size_t i = 0; i < inds.size(); ++i) inds[i] = i;
        std::stable_sort(inds.begin(), inds.end(),
                         [&](size_t a, size_t b) { return -dt_scores[a] < -dt_scores[b]; });
        for (int t = 0; t < T; ++t) {
            size_t nd = inds.size();
            std::vector<double> tp(nd), fp(nd), rc(nd), pr(nd);
            double tps = 0, fps = 0;
            for (size_t i = 0; i < nd; ++i) {
                bool hit = dtm[size_t(t)][inds[i]] != 0;
                tps += hit;
                fps += !hit;
                rc[i] = tps / double(npig);
                pr[i] = tps / (fps + tps + 2.220446049250313e-16);
            }
            for (size_t i = nd - 1; nd > 0 && i > 0; --i)
                if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
            std::vector<double> q(R, 0.0);
            for (int ri = 0; ri < R; ++ri) {  // searchsorted(rc, recThrs, side="left"), then the try/except
                size_t pi = 0;
                while (pi < nd && rc[pi] < rec_thrs[size_t(ri)]) ++pi;
                if (pi >= nd) break;
                q[size_t(ri)] = pr[pi];
            }
            for (int ri = 0; ri < R; ++ri) out.precision[size_t((t * R + ri) * K + k)] = q[size_t(ri)];
        }
    }
    return out;
}

}  // namespace

TEST_CASE("evaluate_coco equals the pycocotools transcription on random detections") {
    for (uint64_t seed : {1, 2, 3}) {
        Generator g(seed);
        CocoDataset gt = one_class(12, 4);
        gt.images[3].id = 100;  // ids need not be dense or in order
        std::swap(gt.images[0], gt.images[5]);
        std::vector<CocoDetection> dt;
        for (const CocoImage& im : gt.images) {
            int n = int(g.below(5));  // some images have no objects
            for (int j = 0; j < n; ++j) {
                float x = g.uniform(0, 80), y = g.uniform(0, 80), w = g.uniform(4, 20), h = g.uniform(4, 20);
                int cat = 1 + int(g.below(3));  // category 4 never has objects
                add_truth(gt, im.id, cat, {x, y, x + w, y + h});
                int copies = int(g.below(4));  // 0 to 3 detections near it, duplicates included
                for (int c = 0; c < copies; ++c) {
                    float dx = g.uniform(-3, 3), dy = g.uniform(-3, 3);
                    float score = float(g.below(20)) / 20.0f;  // many ties
                    dt.push_back({im.id, c == 2 ? 4 : cat, {x + dx, y + dy, x + w + dx, y + h + dy}, score});
                }
            }
            for (int j = int(g.below(3)); j > 0; --j) {  // false positives anywhere
                float x = g.uniform(0, 90), y = g.uniform(0, 90);
                dt.push_back({im.id, 1 + int(g.below(4)), {x, y, x + 8, y + 8}, g.uniform()});
            }
        }
        for (int max_det : {100, 2}) {
            CocoEvalOptions o;
            o.max_detections = max_det;
            CocoEvalResult r = evaluate_coco(gt, dt, o);
            PyResult py = pycocotools(gt, dt, max_det);
            REQUIRE(r.precision.size() == py.precision.size());
            int differ = 0;
            for (size_t i = 0; i < py.precision.size(); ++i) differ += r.precision[i] != py.precision[i];
            CHECK_MESSAGE(differ == 0, differ, " precision entries differ (seed ", seed, ")");
            // The mean over valid entries, as COCOeval.summarize computes AP.
            double sum = 0;
            int valid = 0;
            for (double p : py.precision)
                if (p > -1) sum += p, ++valid;
            CHECK(r.ap == doctest::Approx(sum / valid).epsilon(1e-12));
            CHECK(r.ap > 0.05);
            CHECK(r.ap < 0.95);
        }
    }
}

// ---- JSON --------------------------------------------------------------------------------

TEST_CASE("COCO JSON: the ground-truth and detection files have pycocotools' schema") {
    CocoDataset gt = one_class(2, 2);
    gt.categories[1].name = "quote \" backslash \\ end";
    add_truth(gt, 0, 1, {1.5f, 2.25f, 11.5f, 22.25f});
    add_truth(gt, 1, 2, {0.1f, 0.2f, 3.3f, 4.7f});
    std::vector<CocoDetection> dt = {{0, 1, {1.5f, 2.25f, 11.5f, 22.25f}, 0.9f},
                                     {1, 2, {0.1f, 0.2f, 3.3f, 4.7f}, 0.1f}};
    fgtest::TempDir dir;
    write_coco_truth(dir / "truth.json", gt);
    write_coco_detections(dir / "detections.json", dt);
    CHECK(dir.entries() == std::vector<std::string>{"detections.json", "truth.json"});  // no temporaries left
    auto read = [&](const std::string& name) {
        std::ifstream in(dir / name);
        std::stringstream ss;
        ss << in.rdbuf();
        return fgtest::JsonParser(ss.str()).parse();
    };
    using Kind = fgtest::Json::Kind;
    fgtest::Json t = read("truth.json");
    REQUIRE(t.kind == Kind::Object);
    CHECK(t.fields.size() == 3);
    REQUIRE(t["images"].items.size() == 2);
    for (const fgtest::Json& im : t["images"].items) {
        CHECK(im.fields.size() == 4);
        CHECK(im["id"].kind == Kind::Number);
        CHECK(im["file_name"].kind == Kind::String);
        CHECK(im["width"].number == 100);
        CHECK(im["height"].number == 100);
    }
    CHECK(t["images"].items[1]["file_name"].text == "im1.png");
    REQUIRE(t["annotations"].items.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
        const fgtest::Json& a = t["annotations"].items[i];
        const Box& b = gt.annotations[i].box;
        CHECK(a.fields.size() == 6);
        CHECK(a["id"].number == double(i + 1));
        CHECK(a["image_id"].number == double(gt.annotations[i].image_id));
        CHECK(a["category_id"].number == gt.annotations[i].category_id);
        CHECK(a["iscrowd"].number == 0);
        REQUIRE(a["bbox"].items.size() == 4);
        // [x, y, w, h], read back as exactly the doubles the evaluator uses.
        CHECK(a["bbox"].items[0].number == double(b.x1));
        CHECK(a["bbox"].items[1].number == double(b.y1));
        CHECK(a["bbox"].items[2].number == double(b.x2) - double(b.x1));
        CHECK(a["bbox"].items[3].number == double(b.y2) - double(b.y1));
        CHECK(a["area"].number == (double(b.x2) - double(b.x1)) * (double(b.y2) - double(b.y1)));
    }
    CHECK(t["annotations"].items[0]["bbox"].items[2].number == 10.0);
    REQUIRE(t["categories"].items.size() == 2);
    CHECK(t["categories"].items[0]["id"].number == 1);
    CHECK(t["categories"].items[0]["name"].text == "c1");
    CHECK(t["categories"].items[1]["name"].text == gt.categories[1].name);

    fgtest::Json d = read("detections.json");
    REQUIRE(d.kind == Kind::Array);
    REQUIRE(d.items.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
        const fgtest::Json& e = d.items[i];
        CHECK(e.fields.size() == 4);
        CHECK(e["image_id"].number == double(dt[i].image_id));
        CHECK(e["category_id"].number == dt[i].category_id);
        CHECK(e["bbox"].items.size() == 4);
        CHECK(e["score"].number == double(dt[i].score));  // exactly
    }
    CHECK(coco_detections_json({}) == "[]\n");
    CHECK_ERROR(write_coco_truth(dir / "bad.json", CocoDataset{{}, {}, {{0, 0, 0, {}}}}), "id 0");
    CHECK(!std::ifstream(dir / "bad.json").good());
}
