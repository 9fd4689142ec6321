// canvas.cpp — the digits-on-a-canvas generator, its batches, its COCO ground truth, and
// the count of positive and negative classification targets it gives a detector.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <focalgrad/core/error.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/core/random.h>
#include <focalgrad/detection/canvas.h>

namespace focalgrad {

namespace {

constexpr int kAttempts = 100;     // placements tried per object or fragment
constexpr int kFragmentInk = 8;    // stroke pixels a fragment must hold
constexpr int64_t kItemSide = 28;  // MNIST and Fashion-MNIST items

// The weights w[d * n + i] by which n source pixels make d target pixels along one axis.
// Shrinking (d <= n): each target pixel averages the source span it covers, [d n / d, (d + 1)
// n / d), each source pixel weighted by its overlap (a box filter: strokes keep their ink,
// none are skipped). Enlarging: linear interpolation between the two nearest source
// pixel centres, with background beyond the edges.
std::vector<double> resample_weights(int64_t n, int64_t d) {
    std::vector<double> w(static_cast<size_t>(d * n), 0.0);
    const double k = double(n) / double(d);  // source pixels per target pixel
    for (int64_t t = 0; t < d; ++t) {
        double* row = w.data() + t * n;
        if (d <= n) {
            double lo = double(t) * k, hi = double(t + 1) * k;
            for (int64_t i = int64_t(lo); i < n && double(i) < hi; ++i)
                row[i] = (std::min(hi, double(i + 1)) - std::max(lo, double(i))) / k;
        } else {
            double x = (double(t) + 0.5) * k - 0.5;
            int64_t i0 = int64_t(std::floor(x));
            double f = x - double(i0);
            if (i0 >= 0) row[i0] = 1 - f;
            if (i0 + 1 < n) row[i0 + 1] = f;
        }
    }
    return w;
}

// An item resized to s x s, separably: out = W src W^T with the weights above.
std::vector<uint8_t> resize_item(const uint8_t* src, int64_t s) {
    const int64_t n = kItemSide;
    std::vector<double> w = resample_weights(n, s), rows(static_cast<size_t>(s * n), 0.0);
    for (int64_t y = 0; y < s; ++y)  // rows[y, j] = sum_i w[y, i] src[i, j]
        for (int64_t i = 0; i < n; ++i)
            if (double wy = w[size_t(y * n + i)]; wy != 0)
                for (int64_t j = 0; j < n; ++j) rows[size_t(y * n + j)] += wy * src[i * n + j];
    std::vector<uint8_t> out(static_cast<size_t>(s * s));
    for (int64_t y = 0; y < s; ++y)
        for (int64_t x = 0; x < s; ++x) {
            double v = 0;
            for (int64_t j = 0; j < n; ++j) v += rows[size_t(y * n + j)] * w[size_t(x * n + j)];
            out[size_t(y * s + x)] = uint8_t(std::lround(std::clamp(v, 0.0, 255.0)));
        }
    return out;
}

// The box, in the patch's own coordinates, of the pixels >= threshold inside the window
// [x0, x0 + w) x [y0, y0 + h) of an s-wide patch; `ink` counts them (0: no box).
Box ink_box(const std::vector<uint8_t>& patch, int64_t s, int64_t x0, int64_t y0, int64_t w, int64_t h,
            int threshold, int64_t& ink) {
    int64_t c0 = w, c1 = -1, r0 = h, r1 = -1;
    ink = 0;
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
            if (patch[size_t((y0 + y) * s + x0 + x)] >= threshold) {
                ++ink;
                c0 = std::min(c0, x), c1 = std::max(c1, x), r0 = std::min(r0, y), r1 = std::max(r1, y);
            }
    return {float(c0), float(r0), float(c1 + 1), float(r1 + 1)};
}

bool intersects(const Box& a, const Box& b) {
    return std::min(a.x2, b.x2) > std::max(a.x1, b.x1) && std::min(a.y2, b.y2) > std::max(a.y1, b.y1);
}

Box shifted(const Box& b, int64_t dx, int64_t dy) {
    return {b.x1 + float(dx), b.y1 + float(dy), b.x2 + float(dx), b.y2 + float(dy)};
}

// Pastes window [wx, wx + w) x [wy, wy + h) of an s-wide patch at (x, y): pixelwise max.
void paste(uint8_t* canvas, int64_t size, const std::vector<uint8_t>& patch, int64_t s, int64_t wx,
           int64_t wy, int64_t w, int64_t h, int64_t x, int64_t y) {
    for (int64_t r = 0; r < h; ++r)
        for (int64_t c = 0; c < w; ++c) {
            uint8_t& dst = canvas[(y + r) * size + x + c];
            dst = std::max(dst, patch[size_t((wy + r) * s + wx + c)]);
        }
}

void check_options(const Dataset& source, const CanvasOptions& o) {
    FG_CHECK(source.rows == kItemSide && source.cols == kItemSide && source.size() > 0,
             "make_canvases: the source must hold 28 x 28 items (MNIST, Fashion-MNIST), got ", source.size(),
             " items of ", source.rows, " x ", source.cols);
    FG_CHECK(o.min_objects >= 0 && o.min_objects <= o.max_objects,
             "make_canvases: expected 0 <= min_objects <= max_objects, got ", o.min_objects, " and ",
             o.max_objects);
    FG_CHECK(o.min_scale >= 8 && o.min_scale <= o.max_scale && o.max_scale <= o.size,
             "make_canvases: expected 8 <= min_scale <= max_scale <= size, got min_scale ", o.min_scale,
             ", max_scale ", o.max_scale, ", size ", o.size);
    FG_CHECK(o.max_overlap >= 0 && o.max_overlap <= 1, "make_canvases: max_overlap must be in [0, 1], got ",
             o.max_overlap);
    FG_CHECK(o.clutter >= 0, "make_canvases: clutter must be >= 0, got ", o.clutter);
    FG_CHECK(o.ink_threshold >= 1 && o.ink_threshold <= 255,
             "make_canvases: ink_threshold must be in [1, 255], got ", o.ink_threshold);
    for (size_t i = 0; i < o.items.size(); ++i)
        FG_CHECK(o.items[i] >= 0 && o.items[i] < source.size(), "make_canvases: items[", i,
                 "] = ", o.items[i], " is out of range for ", source.name, " (", source.size(), " items)");
}

}  // namespace

CanvasSet make_canvases(const Dataset& source, int64_t count, uint64_t seed, const CanvasOptions& o) {
    check_options(source, o);
    FG_CHECK(count >= 0, "make_canvases: count must be >= 0, got ", count);
    const int64_t S = o.size;
    CanvasSet set;
    set.name = source.name + " canvases";
    set.size = S;
    set.class_names = source.class_names;
    set.pixels.assign(size_t(count * S * S), 0);
    set.truth.resize(size_t(count));
    set.items.resize(size_t(count));
    const int64_t pool = o.items.empty() ? source.size() : int64_t(o.items.size());
    parallel_for(count, 16, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) {
            Generator gen(seed, uint64_t(i));
            auto draw_item = [&] {
                int64_t k = int64_t(gen.below(uint32_t(pool)));
                return o.items.empty() ? k : o.items[size_t(k)];
            };
            auto draw_scale = [&] {
                return o.min_scale + int64_t(gen.below(uint32_t(o.max_scale - o.min_scale + 1)));
            };
            uint8_t* canvas = set.pixels.data() + i * S * S;
            GroundTruth& gt = set.truth[size_t(i)];
            std::vector<int64_t>& used = set.items[size_t(i)];
            int n = o.min_objects + int(gen.below(uint32_t(o.max_objects - o.min_objects + 1)));
            for (int obj = 0; obj < n; ++obj) {
                int64_t item = draw_item(), s = draw_scale();
                std::vector<uint8_t> patch = resize_item(source.image(item), s);
                int64_t ink = 0;
                Box local = ink_box(patch, s, 0, 0, s, s, o.ink_threshold, ink);
                if (ink == 0) continue;  // a blank item has no box to find
                for (int attempt = 0; attempt < kAttempts; ++attempt) {
                    int64_t x = int64_t(gen.below(uint32_t(S - s + 1))),
                            y = int64_t(gen.below(uint32_t(S - s + 1)));
                    Box box = shifted(local, x, y);
                    bool fits = std::all_of(gt.boxes.begin(), gt.boxes.end(),
                                            [&](const Box& b) { return box_iou(b, box) <= o.max_overlap; });
                    if (!fits) continue;
                    paste(canvas, S, patch, s, 0, 0, s, s, x, y);
                    gt.boxes.push_back(box);
                    gt.labels.push_back(source.labels[size_t(item)]);
                    used.push_back(item);
                    break;
                }
            }
            for (int f = 0; f < o.clutter; ++f) {
                int64_t item = draw_item(), s = draw_scale();
                std::vector<uint8_t> patch = resize_item(source.image(item), s);
                int64_t item_ink = 0;
                const Box strokes_of_item = ink_box(patch, s, 0, 0, s, s, o.ink_threshold, item_ink);
                if (item_ink == 0) continue;
                // A window of 30-50 % of the item's stroke box in each direction, inside it:
                // at most a quarter of the item, never a whole digit.
                const int64_t ix = int64_t(strokes_of_item.x1), iy = int64_t(strokes_of_item.y1);
                const int64_t iw = int64_t(strokes_of_item.width()), ih = int64_t(strokes_of_item.height());
                auto side = [&](int64_t extent) {
                    int64_t lo = std::max<int64_t>(1, (3 * extent + 9) / 10), hi = std::max(lo, extent / 2);
                    return lo + int64_t(gen.below(uint32_t(hi - lo + 1)));
                };
                for (int attempt = 0; attempt < kAttempts; ++attempt) {
                    int64_t w = side(iw), h = side(ih);
                    int64_t wx = ix + int64_t(gen.below(uint32_t(iw - w + 1)));
                    int64_t wy = iy + int64_t(gen.below(uint32_t(ih - h + 1)));
                    int64_t x = int64_t(gen.below(uint32_t(S - w + 1))),
                            y = int64_t(gen.below(uint32_t(S - h + 1)));
                    int64_t ink = 0;
                    Box strokes = shifted(ink_box(patch, s, wx, wy, w, h, o.ink_threshold, ink), x, y);
                    if (ink < kFragmentInk) continue;
                    if (std::any_of(gt.boxes.begin(), gt.boxes.end(),
                                    [&](const Box& b) { return intersects(b, strokes); }))
                        continue;
                    paste(canvas, S, patch, s, wx, wy, w, h, x, y);
                    break;
                }
            }
        }
    });
    return set;
}

Tensor canvas_batch(const CanvasSet& set, const std::vector<int64_t>& images, const PixelStats& normalize) {
    FG_CHECK(normalize.std > 0, "canvas_batch: normalize.std must be > 0, got ", normalize.std);
    const int64_t B = int64_t(images.size()), S = set.size, P = S * S;
    Tensor x = Tensor::empty({B, 1, S, S});
    // One table for the 256 byte values, computed in double as data/loader.h does.
    float table[256];
    for (int v = 0; v < 256; ++v) table[v] = float((double(v) / 255.0 - normalize.mean) / normalize.std);
    for (int64_t b = 0; b < B; ++b) {
        int64_t i = images[size_t(b)];
        FG_CHECK(i >= 0 && i < set.count(), "canvas_batch: images[", b, "] = ", i, " is out of range for ",
                 set.name, " (", set.count(), " canvases)");
        const uint8_t* src = set.image(i);
        float* dst = x.data() + b * P;
        for (int64_t p = 0; p < P; ++p) dst[p] = table[src[p]];
    }
    return x;
}

CocoDataset canvas_coco_truth(const CanvasSet& set) {
    CocoDataset coco;
    for (int c = 0; c < set.num_classes(); ++c) coco.categories.push_back({c, set.class_names[size_t(c)]});
    int64_t next_id = 1;
    for (int64_t i = 0; i < set.count(); ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "canvas_%06lld.png", (long long)i);
        coco.images.push_back({i, name, set.size, set.size});
        const GroundTruth& gt = set.truth[size_t(i)];
        for (size_t j = 0; j < gt.boxes.size(); ++j)
            coco.annotations.push_back({next_id++, i, gt.labels[j], gt.boxes[j]});
    }
    return coco;
}

void add_coco_detections(std::vector<CocoDetection>& results, int64_t canvas, const Detections& detections) {
    FG_CHECK(detections.boxes.size() == detections.scores.size() &&
                 detections.labels.size() == detections.scores.size(),
             "add_coco_detections: detections hold ", detections.boxes.size(), " boxes, ",
             detections.scores.size(), " scores and ", detections.labels.size(),
             " labels; expected as many of each");
    for (size_t j = 0; j < detections.boxes.size(); ++j)
        results.push_back({canvas, detections.labels[j], detections.boxes[j], detections.scores[j]});
}

report::Plot canvas_plot(const CanvasSet& set, int64_t index, const Detections& detections, float min_score) {
    FG_CHECK(index >= 0 && index < set.count(), "canvas_plot: index ", index, " is out of range for ",
             set.name, " (", set.count(), " canvases)");
    FG_CHECK(detections.boxes.size() == detections.scores.size() &&
                 detections.labels.size() == detections.scores.size(),
             "canvas_plot: detections hold ", detections.boxes.size(), " boxes, ", detections.scores.size(),
             " scores and ", detections.labels.size(), " labels; expected as many of each");
    const int S = int(set.size);
    report::Plot p;
    p.axes = false;
    p.y_down = true;
    p.equal_aspect = true;
    p.legend = report::LegendPosition::none;
    p.width = p.height = 240;
    report::ImageLayer layer;
    layer.image = report::Raster(S, S);
    for (int y = 0; y < S; ++y)
        for (int x = 0; x < S; ++x) {
            uint8_t v = set.image(index)[y * S + x];
            layer.image.set(x, y, report::Colour{v, v, v});
        }
    layer.x_max = layer.y_max = double(S);
    p.images.push_back(layer);
    auto name = [&](int label) {
        return label >= 0 && label < set.num_classes() ? set.class_names[size_t(label)]
                                                       : std::to_string(label);
    };
    const GroundTruth& gt = set.truth[size_t(index)];
    for (size_t j = 0; j < gt.boxes.size(); ++j) {
        const Box& b = gt.boxes[j];
        p.boxes.push_back({b.x1, b.x2, b.y1, b.y2, report::kAxis, name(gt.labels[j]), 1, true});
    }
    for (size_t j = 0; j < detections.boxes.size(); ++j) {
        if (detections.scores[j] < min_score) continue;
        const Box& b = detections.boxes[j];
        char tag[64];
        std::snprintf(tag, sizeof tag, "%s %.2f", name(detections.labels[j]).c_str(),
                      double(detections.scores[j]));
        p.boxes.push_back({b.x1, b.x2, b.y1, b.y2, report::category_colour(size_t(detections.labels[j]) + 1),
                           tag, 1.5, false});
    }
    return p;
}

AnchorGrid canvas_anchor_grid(const CanvasSet& set, int64_t stride) {
    FG_CHECK(stride >= 1 && set.size % stride == 0, "canvas_anchor_grid: stride must divide the canvas size ",
             set.size, ", got ", stride);
    std::vector<float> sizes;
    for (const GroundTruth& gt : set.truth)
        for (const Box& b : gt.boxes) sizes.push_back(std::sqrt(b.area()));
    FG_CHECK(!sizes.empty(), "canvas_anchor_grid: ", set.name, " has no objects to fit anchors to");
    auto mid = sizes.begin() + long(sizes.size() / 2);
    std::nth_element(sizes.begin(), mid, sizes.end());
    const float m = *mid, octave = std::cbrt(2.0f);
    AnchorGrid g;
    g.height = g.width = set.size / stride;
    g.stride = float(stride);
    g.sizes = {m / octave, m, m * octave};
    g.aspect_ratios = {0.5f, 1.0f, 2.0f};
    return g;
}

TargetImbalance target_imbalance(const CanvasSet& set, const Tensor& anchors, const AssignOptions& assign) {
    TargetImbalance t;
    t.canvases = set.count();
    t.anchors = anchors.shape()[0];
    t.classes = set.num_classes();
    double objects = 0, pos = 0, ignored = 0;
    for (int64_t i = 0; i < set.count(); ++i) {
        const GroundTruth& gt = set.truth[size_t(i)];
        Assignment a = assign_anchors(anchors, gt.boxes, assign);
        objects += double(gt.boxes.size());
        pos += double(a.num_positive);
        ignored += double(a.num_ignored);
        std::vector<char> covered(gt.boxes.size(), 0);
        for (int m : a.matched)
            if (m >= 0) covered[size_t(m)] = 1;
        t.objects_without_positive += int64_t(std::count(covered.begin(), covered.end(), 0));
    }
    const double n = std::max<double>(1, double(t.canvases));
    t.objects = objects / n;
    t.positive_anchors = pos / n;
    t.ignored_anchors = ignored / n;
    t.positive_targets = t.positive_anchors;
    t.negative_targets = (double(t.anchors) - t.ignored_anchors) * double(t.classes) - t.positive_targets;
    t.negatives_per_positive = pos > 0 ? t.negative_targets / t.positive_targets : 0.0;
    return t;
}

std::string format_imbalance(const TargetImbalance& t) {
    char buf[512];
    std::snprintf(
        buf, sizeof buf,
        "%lld canvases, %.2f objects each; %lld anchors x %lld classes = %lld targets per canvas:\n"
        "  %.2f positive anchors (%.2f ignored) per canvas: %.2f positive and %.0f negative targets,\n"
        "  %.0f negatives per positive; %lld objects without a positive anchor\n",
        (long long)t.canvases, t.objects, (long long)t.anchors, (long long)t.classes,
        (long long)(t.anchors * t.classes), t.positive_anchors, t.ignored_anchors, t.positive_targets,
        t.negative_targets, t.negatives_per_positive, (long long)t.objects_without_positive);
    return buf;
}

}  // namespace focalgrad
