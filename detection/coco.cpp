// coco.cpp — COCO box AP (pycocotools' evaluate + accumulate, area "all"), a plain-text
// table of it, and the ground-truth and results JSON files (report/json.h writes them).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <focalgrad/core/error.h>
#include <focalgrad/core/io.h>
#include <focalgrad/detection/coco.h>
#include <focalgrad/report/json.h>

namespace focalgrad {

namespace {

bool valid_box(const Box& b) {
    return std::isfinite(b.x1) && std::isfinite(b.y1) && std::isfinite(b.x2) && std::isfinite(b.y2) &&
           b.x1 <= b.x2 && b.y1 <= b.y2;
}

std::string box_text(const Box& b) { return str("(", b.x1, ", ", b.y1, ", ", b.x2, ", ", b.y2, ")"); }

// A box as COCO stores it, [x, y, w, h], in double: w = x2 - x1 is exact for the boxes
// of any image (two floats whose exponents differ by less than 29).
struct Xywh {
    double x, y, w, h;
};
Xywh xywh(const Box& b) { return {b.x1, b.y1, double(b.x2) - double(b.x1), double(b.y2) - double(b.y1)}; }

// pycocotools' bbIou (maskApi.c) for a non-crowd object, operation for operation.
double iou_xywh(const Xywh& d, const Xywh& g) {
    double w = std::fmin(d.w + d.x, g.w + g.x) - std::fmax(d.x, g.x);
    if (w <= 0) return 0.0;
    double h = std::fmin(d.h + d.y, g.h + g.y) - std::fmax(d.y, g.y);
    if (h <= 0) return 0.0;
    double inter = w * h;
    return inter / (d.w * d.h + g.w * g.h - inter);
}

// numpy.linspace(start, stop, num): start + i * ((stop - start) / (num - 1)), and stop last.
std::vector<double> linspace(double start, double stop, int num) {
    std::vector<double> v(static_cast<size_t>(num));
    double step = (stop - start) / double(num - 1);
    for (int i = 0; i < num; ++i) v[size_t(i)] = double(i) * step + start;
    v.back() = stop;
    return v;
}

}  // namespace

void check_coco(const CocoDataset& truth, const std::vector<CocoDetection>& detections) {
    std::unordered_set<int64_t> images, annotations;
    std::unordered_set<int> categories;
    for (size_t i = 0; i < truth.images.size(); ++i) {
        const CocoImage& im = truth.images[i];
        FG_CHECK(images.insert(im.id).second, "coco: images[", i, "] repeats image id ", im.id);
        FG_CHECK(im.width >= 0 && im.height >= 0, "coco: image ", im.id, " has size ", im.width, " x ",
                 im.height, "; expected >= 0");
    }
    for (size_t i = 0; i < truth.categories.size(); ++i)
        FG_CHECK(categories.insert(truth.categories[i].id).second, "coco: categories[", i,
                 "] repeats category id ", truth.categories[i].id);
    for (size_t i = 0; i < truth.annotations.size(); ++i) {
        const CocoAnnotation& a = truth.annotations[i];
        FG_CHECK(a.id >= 1, "coco: annotations[", i, "] has id ", a.id,
                 "; ids must be >= 1 (pycocotools reads 0 as \"unmatched\")");
        FG_CHECK(annotations.insert(a.id).second, "coco: annotations[", i, "] repeats annotation id ", a.id);
        FG_CHECK(images.count(a.image_id), "coco: annotation ", a.id, " is on image ", a.image_id,
                 ", which is not among the images");
        FG_CHECK(categories.count(a.category_id), "coco: annotation ", a.id, " has category ", a.category_id,
                 ", which is not among the categories");
        FG_CHECK(valid_box(a.box), "coco: annotation ", a.id, " has box ", box_text(a.box),
                 "; expected finite coordinates with x1 <= x2 and y1 <= y2");
    }
    for (size_t i = 0; i < detections.size(); ++i) {
        const CocoDetection& d = detections[i];
        FG_CHECK(images.count(d.image_id), "coco: detections[", i, "] is on image ", d.image_id,
                 ", which is not among the ground truth's images");
        FG_CHECK(categories.count(d.category_id), "coco: detections[", i, "] has category ", d.category_id,
                 ", which is not among the ground truth's categories");
        FG_CHECK(valid_box(d.box), "coco: detections[", i, "] has box ", box_text(d.box),
                 "; expected finite coordinates with x1 <= x2 and y1 <= y2");
        FG_CHECK(std::isfinite(d.score), "coco: detections[", i, "] has score ", d.score,
                 "; expected a finite one");
    }
}

CocoEvalResult evaluate_coco(const CocoDataset& truth, const std::vector<CocoDetection>& detections,
                             const CocoEvalOptions& options) {
    check_coco(truth, detections);
    FG_CHECK(options.max_detections >= 1, "evaluate_coco: max_detections must be >= 1, got ",
             options.max_detections);
    CocoEvalResult r;
    r.iou_thresholds = linspace(0.5, 0.95, 10);
    r.recall_thresholds = linspace(0.0, 1.0, 101);
    const int T = 10, R = 101;

    // Images and categories in increasing id; (category k, image i) -> its objects and detections.
    std::vector<int64_t> image_ids;
    for (const CocoImage& im : truth.images) image_ids.push_back(im.id);
    std::sort(image_ids.begin(), image_ids.end());
    std::vector<CocoCategory> cats = truth.categories;
    std::sort(cats.begin(), cats.end(),
              [](const CocoCategory& a, const CocoCategory& b) { return a.id < b.id; });
    const int64_t I = int64_t(image_ids.size()), K = int64_t(cats.size());
    std::unordered_map<int64_t, int64_t> image_at;
    std::unordered_map<int, int64_t> cat_at;
    for (int64_t i = 0; i < I; ++i) image_at[image_ids[size_t(i)]] = i;
    for (int64_t k = 0; k < K; ++k) cat_at[cats[size_t(k)].id] = k;
    std::vector<std::vector<Xywh>> objects(static_cast<size_t>(K * I));
    std::vector<std::vector<size_t>> found(static_cast<size_t>(K * I));
    for (const CocoAnnotation& a : truth.annotations)
        objects[size_t(cat_at[a.category_id] * I + image_at[a.image_id])].push_back(xywh(a.box));
    for (size_t j = 0; j < detections.size(); ++j) {
        const CocoDetection& d = detections[j];
        found[size_t(cat_at[d.category_id] * I + image_at[d.image_id])].push_back(j);
    }

    r.precision.assign(size_t(T * R * K), -1.0);
    double sum_ap = 0, sum_ap50 = 0, sum_ap75 = 0;
    int64_t scored = 0;
    for (int64_t k = 0; k < K; ++k) {
        CocoClassResult cr;
        cr.category_id = cats[size_t(k)].id;
        cr.name = cats[size_t(k)].name;
        // The class's detections over all images, in image order, each image's by score:
        // score and whether it matched an object at each threshold.
        std::vector<float> scores;
        std::vector<std::vector<char>> matched(static_cast<size_t>(T));
        for (int64_t i = 0; i < I; ++i) {
            const std::vector<Xywh>& gts = objects[size_t(k * I + i)];
            std::vector<size_t> dts = found[size_t(k * I + i)];
            std::stable_sort(dts.begin(), dts.end(),
                             [&](size_t a, size_t b) { return detections[a].score > detections[b].score; });
            if (int64_t(dts.size()) > options.max_detections) dts.resize(size_t(options.max_detections));
            cr.num_truth += int64_t(gts.size());
            const size_t G = gts.size(), D = dts.size();
            std::vector<double> iou(D * G);
            for (size_t d = 0; d < D; ++d)
                for (size_t g = 0; g < G; ++g)
                    iou[d * G + g] = iou_xywh(xywh(detections[dts[d]].box), gts[g]);
            for (int t = 0; t < T; ++t) {
                std::vector<char> taken(G, 0);
                for (size_t d = 0; d < D; ++d) {
                    double best = std::min(r.iou_thresholds[size_t(t)], 1 - 1e-10);
                    int64_t m = -1;
                    for (size_t g = 0; g < G; ++g) {
                        if (taken[g] || iou[d * G + g] < best) continue;
                        best = iou[d * G + g];
                        m = int64_t(g);
                    }
                    if (m >= 0) taken[size_t(m)] = 1;
                    matched[size_t(t)].push_back(m >= 0);
                }
            }
            for (size_t d : dts) scores.push_back(detections[d].score);
        }
        cr.num_detections = int64_t(scores.size());
        if (cr.num_truth > 0) {
            const size_t nd = scores.size();
            std::vector<size_t> order(nd);
            for (size_t i = 0; i < nd; ++i) order[i] = i;
            std::stable_sort(order.begin(), order.end(),
                             [&](size_t a, size_t b) { return scores[a] > scores[b]; });
            const double npig = double(cr.num_truth);
            std::vector<double> recall(nd), precision(nd);
            double ap_sum = 0;
            for (int t = 0; t < T; ++t) {
                double tp = 0, fp = 0;
                for (size_t i = 0; i < nd; ++i) {
                    (matched[size_t(t)][order[i]] ? tp : fp) += 1;
                    recall[i] = tp / npig;
                    precision[i] = tp / (fp + tp + 2.220446049250313e-16);  // + np.spacing(1)
                }
                for (size_t i = nd; i-- > 1;) precision[i - 1] = std::max(precision[i - 1], precision[i]);
                double q_sum = 0;
                for (int ri = 0; ri < R; ++ri) {
                    size_t at = size_t(
                        std::lower_bound(recall.begin(), recall.end(), r.recall_thresholds[size_t(ri)]) -
                        recall.begin());
                    double q = at < nd ? precision[at] : 0.0;
                    r.precision[size_t((t * R + ri) * K + k)] = q;
                    q_sum += q;
                }
                double ap_t = q_sum / R;
                ap_sum += ap_t;
                if (t == 0) cr.ap50 = ap_t;
                if (t == 5) cr.ap75 = ap_t;
            }
            cr.ap = ap_sum / T;
            sum_ap += cr.ap;
            sum_ap50 += cr.ap50;
            sum_ap75 += cr.ap75;
            ++scored;
        }
        r.per_class.push_back(cr);
    }
    if (scored > 0) {
        r.ap = sum_ap / double(scored);
        r.ap50 = sum_ap50 / double(scored);
        r.ap75 = sum_ap75 / double(scored);
    }
    return r;
}

std::string format_coco_eval(const CocoEvalResult& r) {
    auto value = [](double v) {  // -1 (no ground truth) shows as "-"
        if (v < 0) return std::string("     -");
        char buf[32];
        std::snprintf(buf, sizeof buf, "%6.3f", v);
        return std::string(buf);
    };
    std::string out = "category        objects  detections      AP    AP50    AP75\n";
    char line[160];
    for (const CocoClassResult& c : r.per_class) {
        std::string label = str(c.category_id, " ", c.name).substr(0, 14);
        std::snprintf(line, sizeof line, "%-14s %8lld %11lld  %s  %s  %s\n", label.c_str(),
                      (long long)c.num_truth, (long long)c.num_detections, value(c.ap).c_str(),
                      value(c.ap50).c_str(), value(c.ap75).c_str());
        out += line;
    }
    std::snprintf(line, sizeof line, "%-14s %8s %11s  %s  %s  %s\n", "mean", "", "", value(r.ap).c_str(),
                  value(r.ap50).c_str(), value(r.ap75).c_str());
    out += line;
    return out;
}

// ---- JSON -----------------------------------------------------------------------------

namespace {

// [x, y, w, h] in the doubles evaluate_coco uses; 17 significant digits read back exactly.
void write_bbox(report::JsonWriter& json, const Box& b) {
    Xywh v = xywh(b);
    json.array(std::vector<double>{v.x, v.y, v.w, v.h});
}

}  // namespace

std::string coco_truth_json(const CocoDataset& truth) {
    check_coco(truth, {});
    using Layout = report::JsonWriter::Layout;
    report::JsonWriter json(17);
    json.begin_object(Layout::lines);
    json.key("images").begin_array(Layout::lines);
    for (const CocoImage& im : truth.images) {
        json.begin_object();
        json.key("id").value(im.id).key("file_name").value(im.file_name);
        json.key("width").value(im.width).key("height").value(im.height);
        json.end_object();
    }
    json.end_array();
    json.key("annotations").begin_array(Layout::lines);
    for (const CocoAnnotation& a : truth.annotations) {
        Xywh v = xywh(a.box);
        json.begin_object();
        json.key("id").value(a.id).key("image_id").value(a.image_id).key("category_id").value(a.category_id);
        json.key("bbox");
        write_bbox(json, a.box);
        json.key("area").value(v.w * v.h).key("iscrowd").value(0);
        json.end_object();
    }
    json.end_array();
    json.key("categories").begin_array(Layout::lines);
    for (const CocoCategory& c : truth.categories)
        json.begin_object().key("id").value(c.id).key("name").value(c.name).end_object();
    json.end_array();
    json.end_object();
    return json.str();
}

std::string coco_detections_json(const std::vector<CocoDetection>& detections) {
    report::JsonWriter json(17);
    json.begin_array(report::JsonWriter::Layout::lines);
    for (size_t i = 0; i < detections.size(); ++i) {
        const CocoDetection& d = detections[i];
        FG_CHECK(valid_box(d.box) && std::isfinite(d.score), "coco_detections_json: detections[", i,
                 "] has box ", box_text(d.box), " and score ", d.score,
                 "; expected finite coordinates with x1 <= x2, y1 <= y2 and a finite score");
        json.begin_object();
        json.key("image_id").value(d.image_id).key("category_id").value(d.category_id).key("bbox");
        write_bbox(json, d.box);
        json.key("score").value(double(d.score));
        json.end_object();
    }
    json.end_array();
    return json.str();
}

void write_coco_truth(const std::string& path, const CocoDataset& truth) {
    write_file_atomic(path, coco_truth_json(truth), "write_coco_truth");
}

void write_coco_detections(const std::string& path, const std::vector<CocoDetection>& detections) {
    write_file_atomic(path, coco_detections_json(detections), "write_coco_detections");
}

}  // namespace focalgrad
