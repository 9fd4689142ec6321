// coco.h — detection results scored the way COCO scores them, and written the way COCO
// reads them: box AP by pycocotools' algorithm (COCOeval with iouType "bbox": IoU
// thresholds 0.50:0.05:0.95, 101-point interpolated precision, at most 100 detections
// per image and class), and the ground-truth and results JSON files pycocotools loads.
// Not here: crowd annotations, area ranges other than "all", average recall, reading JSON.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <focalgrad/detection/box.h>

namespace focalgrad {

struct CocoImage {
    int64_t id = 0;
    std::string file_name;
    int64_t width = 0, height = 0;
};
struct CocoCategory {
    int id = 0;
    std::string name;
};
// One ground-truth object; id >= 1 (pycocotools uses 0 for "unmatched").
struct CocoAnnotation {
    int64_t id = 0, image_id = 0;
    int category_id = 0;
    Box box;
};
struct CocoDataset {
    std::vector<CocoImage> images;
    std::vector<CocoCategory> categories;
    std::vector<CocoAnnotation> annotations;
};
struct CocoDetection {
    int64_t image_id = 0;
    int category_id = 0;
    Box box;
    float score = 0;
};

// Checks what pycocotools relies on: unique image, category and annotation ids,
// annotation ids >= 1, every annotation's and detection's image and category known,
// boxes finite with x1 <= x2 and y1 <= y2, scores finite. Throws naming the first problem.
void check_coco(const CocoDataset& truth, const std::vector<CocoDetection>& detections);

struct CocoEvalOptions {
    int64_t max_detections = 100;  // per image and class, the highest scores (pycocotools' maxDets[-1])
};

struct CocoClassResult {
    int category_id = 0;
    std::string name;
    int64_t num_truth = 0, num_detections = 0;  // detections after the max_detections cut
    double ap = -1, ap50 = -1, ap75 = -1;       // -1 for a class without ground truth
};

struct CocoEvalResult {
    double ap = -1, ap50 = -1, ap75 = -1;    // means over the classes with ground truth (-1 if none)
    std::vector<CocoClassResult> per_class;  // in increasing category id
    std::vector<double> iou_thresholds;      // [T] = 0.50, 0.55, ..., 0.95
    std::vector<double> recall_thresholds;   // [R] = 0.00, 0.01, ..., 1.00
    std::vector<double> precision;           // [T, R, K] interpolated precision, -1 for classes without truth
};

// pycocotools' evaluate() + accumulate(), for area "all" and one max_detections, step by step:
//  1. per (image, class): the detections sorted by score (stable: equal scores keep their
//     order in `detections`), cut to max_detections; IoU with the ground truth in double,
//     from (x, y, w, h) as pycocotools' bbIou computes it;
//  2. per IoU threshold t: each detection in turn takes the unmatched object with the
//     highest IoU >= t (the last such object on a tie, as pycocotools' loop does);
//  3. per class: all its detections over the images (images in increasing id) sorted by
//     score (stable), cumulative TP and FP; recall = TP / #objects, precision = TP / (TP +
//     FP); precision made non-increasing from the right; at each recall threshold r the
//     precision at the first detection reaching recall >= r (0 beyond the last recall);
//     AP = the mean over the 101 thresholds (and over T for AP), AP50 and AP75 at one t.
// A class with no ground truth has AP -1 and is left out of the means, as in pycocotools.
// The thresholds are computed as numpy.linspace computes them (start + i * step), so a
// recall or IoU exactly on a threshold falls on the same side as in pycocotools.
CocoEvalResult evaluate_coco(const CocoDataset& truth, const std::vector<CocoDetection>& detections,
                             const CocoEvalOptions& options = {});

// A table: one row per class (id, name, objects, detections, AP, AP50, AP75), then the means.
std::string format_coco_eval(const CocoEvalResult& result);

// ---- JSON -----------------------------------------------------------------------------
// Ground truth: {"images": [{id, file_name, width, height}], "annotations": [{id, image_id,
// category_id, bbox: [x, y, w, h], area: w h, iscrowd: 0}], "categories": [{id, name}]}.
// Detections: [{image_id, category_id, bbox: [x, y, w, h], score}] (pycocotools' loadRes
// refuses an empty list: write at least one detection for it). Numbers are written with
// 17 significant digits, so they read back as exactly the doubles evaluate_coco computes
// with (x = x1, w = x2 - x1 in double): pycocotools sees the same boxes, bit for bit, and
// the same scores. Files are written atomically.
std::string coco_truth_json(const CocoDataset& truth);
std::string coco_detections_json(const std::vector<CocoDetection>& detections);
void write_coco_truth(const std::string& path, const CocoDataset& truth);
void write_coco_detections(const std::string& path, const std::vector<CocoDetection>& detections);

}  // namespace focalgrad
