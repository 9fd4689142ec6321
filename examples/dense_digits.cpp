// dense_digits.cpp — RetinaNet's recipe in miniature: where focal loss comes from.
// A small fully convolutional detector (conv backbone at stride 4, a classification head of
// A anchors x C sigmoid logits per cell, a box head of A x 4 offsets) is trained on digits on
// a canvas (detection/canvas.h), where a negative anchor x class target outnumbers a positive
// about 1,400 to 1, once per classification loss of Lin et al.'s Table 1 (BCE with and without
// the prior initialisation, α-balanced BCE, focal loss over (γ, α), OHEM), with the same
// initialisation and the same batches, and scored by COCO AP on test canvases over seeds.
// Writes the AP table (.md, .csv, .json), the COCO JSON files, Figure 4 of the paper, the
// positives' share of the loss during training and a grid of detections; --grid table1 runs
// the whole table with a learning-rate sweep chosen on a validation split.
// Not here: FPN levels, augmentation, a pretrained backbone, OHEM's NMS over examples.
//
//   build/bin/dense_digits                          # the default study (make demo-dense)
//   build/bin/dense_digits --configs bce_no_prior,bce_all_anchors --seeds 0,1
//   build/bin/dense_digits --grid table1            # Table 1 with a per-configuration lr sweep
//   build/bin/dense_digits --grid table1 --configs bce,focal_g2_a0.25   # the sweep for two rows
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/io.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/random.h>
#include <focalgrad/data/mnist.h>
#include <focalgrad/detection/detection.h>
#include <focalgrad/losses/losses.h>
#include <focalgrad/nn/init.h>
#include <focalgrad/nn/layers.h>
#include <focalgrad/optim/optimizer.h>
#include <focalgrad/optim/scheduler.h>
#include <focalgrad/report/chart.h>
#include <focalgrad/report/json.h>
#include <focalgrad/report/runs.h>
#include <focalgrad/report/table.h>

#include "cli.h"
#include "tiny_retinanet.h"

using namespace focalgrad;
using namespace focalgrad::report;
using focalgrad::examples::HeadOutput;
using focalgrad::examples::TinyRetinaNet;

namespace {

// ---- The classification losses of the study ----------------------------------------------

// One row of Lin et al.'s Table 1: a classification loss on the [B, A, C] logits, how the
// head's bias starts, and what the summed loss is divided by.
struct Method {
    std::string name;
    enum Kind { bce, balanced_bce, focal, ohem } kind = bce;
    float alpha = -1, gamma = 0;  // α < 0: no α weighting
    bool prior = true;            // classification bias b = -log((1 - π) / π), else 0
    bool by_all_anchors = false;  // divide by every anchor that counts, not by the positives
    float ohem_positive_fraction = 0;
    std::string describe;  // for the table
};

const std::vector<Method>& all_methods() {
    static const std::vector<Method> methods = [] {
        std::vector<Method> m;
        m.push_back({"bce", Method::bce, -1, 0, true, false, 0, "BCE, prior init"});
        m.push_back({"bce_no_prior", Method::bce, -1, 0, false, false, 0, "BCE, bias 0"});
        m.push_back({"bce_all_anchors", Method::bce, -1, 0, true, true, 0, "BCE, prior, ÷ all anchors"});
        for (const char* a : {"0.25", "0.5", "0.75", "0.9", "0.99"})
            m.push_back({std::string("abce_") + a, Method::balanced_bce, std::stof(a), 0, true, false, 0,
                         std::string("α-balanced BCE, α = ") + a});
        for (auto [g, a] : std::vector<std::pair<const char*, const char*>>{
                 {"0.5", "0.5"}, {"1", "0.25"}, {"2", "0.25"}, {"5", "0.25"}})
            m.push_back({str("focal_g", g, "_a", a), Method::focal, std::stof(a), std::stof(g), true, false,
                         0, str("focal, γ = ", g, ", α = ", a)});
        m.push_back({"ohem", Method::ohem, -1, 0, true, false, 0, "OHEM (BCE), no ratio"});
        m.push_back({"ohem_1:3", Method::ohem, -1, 0, true, false, 0.25f, "OHEM (BCE), 1:3"});
        return m;
    }();
    return methods;
}

const char* const kDefaultMethods = "bce,abce_0.75,focal_g1_a0.25,focal_g2_a0.25,ohem_1:3";

const Method& find_method(const std::string& name) {
    for (const Method& m : all_methods())
        if (m.name == name) return m;
    FG_CHECK(false, "dense_digits: unknown configuration '", name, "'");
    return all_methods()[0];
}

// ---- Flags ---------------------------------------------------------------------------------

struct Config {
    std::string command, data_dir, dataset, out;
    std::vector<std::string> methods;
    std::vector<int64_t> seeds, widths;
    int64_t train = 0, test = 0, val = 0, epochs = 0, batch = 0, warmup = 0, ohem_batch = 0;
    int64_t grid_epochs = 0, clutter = 0;
    double lr = 0, momentum = 0, weight_decay = 0, prior = 0, smooth_l1_beta = 0;
    std::vector<double> lr_factors;
    bool table1 = false, quiet = false;
    int threads = 1;
};

Config parse(int argc, char** argv) {
    cli::Args args(argc, argv,
                   "Dense detection, where focal loss comes from: a small one-stage detector (RetinaNet's\n"
                   "recipe) on digits on a canvas, trained once per classification loss of Lin et al.'s\n"
                   "Table 1 with the same initialisation and batches, scored by COCO AP over seeds.");
    Config c;
    for (int i = 0; i < argc; ++i) c.command += (i ? " " : "") + std::string(argv[i]);
    std::vector<std::string> names;
    for (const Method& m : all_methods()) names.push_back(m.name);
    c.data_dir = args.str("data", "", "MNIST directory (else $MNIST_DIR, then datasets/mnist)");
    c.dataset = args.str("dataset", "mnist", "mnist or fashion (Fashion-MNIST items on the canvases)");
    c.methods = args.names("configs", kDefaultMethods,
                           "classification losses to compare: bce, bce_no_prior, bce_all_anchors, "
                           "abce_A (A = 0.25, 0.5, 0.75, 0.9, 0.99), focal_g0.5_a0.5, focal_gG_a0.25 "
                           "(G = 1, 2, 5), ohem, ohem_1:3",
                           names);
    const bool configs_given = args.given("configs");
    std::string grid = args.str("grid", "none",
                                "none, or table1: every configuration (or those --configs names) "
                                "with an lr sweep");
    c.seeds = args.distinct_integers("seeds", "0,1", "seeds (each: initialisation and batch order)", 0,
                                     int64_t(1) << 40);
    c.train = args.integer("train", 2000, "training canvases (from MNIST training digits)", 1, 1000000);
    c.test = args.integer("test", 500, "test canvases (from MNIST test digits)", 1, 1000000);
    c.val =
        args.integer("val", 500, "--grid: validation canvases (from held-out training digits)", 1, 1000000);
    c.epochs = args.integer("epochs", 4, "training epochs per run", 1, 10000);
    c.grid_epochs = args.integer("grid-epochs", 6, "--grid: training epochs per run", 1, 10000);
    c.batch = args.integer("batch", 16, "canvases per step", 1, 4096);
    c.lr = args.real("lr", 0.01, "SGD learning rate, shared by every configuration", 1e-9, 10);
    c.lr_factors = {1.0 / 3, 1, 3};
    c.momentum = args.real("momentum", 0.9, "SGD momentum", 0, 0.999);
    c.weight_decay = args.real("weight-decay", 1e-4, "SGD weight decay", 0, 1);
    c.warmup = args.integer("warmup", 100, "linear warm-up steps from lr/10, then cosine decay", 0, 1000000);
    c.prior = args.real("prior", 0.01, "π of the prior initialisation", 1e-6, 0.5);
    c.smooth_l1_beta = args.real("beta", 1.0 / 9, "smooth L1 β of the box loss", 0, 10);
    c.ohem_batch = args.integer("ohem-batch", 64, "OHEM: anchors kept per canvas", 1, 1000000);
    c.widths = args.integers("widths", "16,32,64",
                             "backbone channels: the first two convs are each "
                             "followed by a 2x2 max-pool (stride 4)",
                             1, 1024);
    c.clutter = args.integer("clutter", 0, "fragments of other digits per canvas (hard negatives)", 0, 50);
    c.out = args.str("out", "results/dense_digits", "directory for the tables, JSON and SVG outputs");
    c.quiet = args.flag("quiet", "no progress lines");
    bool locate = args.flag("locate-data", "print the dataset directory that would be used, and exit");
    int64_t threads = args.threads();
    args.finish();
    FG_CHECK(c.dataset == "mnist" || c.dataset == "fashion", "--dataset must be mnist or fashion, got '",
             c.dataset, "'");
    FG_CHECK(grid == "none" || grid == "table1", "--grid must be none or table1, got '", grid, "'");
    FG_CHECK(c.widths.size() >= 2, "--widths needs at least two convolutions (each of the first two is ",
             "followed by a 2x2 max-pool, for stride 4), got ", c.widths.size());
    FG_CHECK(c.batch <= c.train, "--batch ", c.batch, " is more than the ", c.train,
             " training canvases: no step would run");
    if (locate) {
        std::printf(
            "%s\n",
            (c.dataset == "mnist" ? find_mnist_dir(c.data_dir) : find_fashion_mnist_dir(c.data_dir)).c_str());
        std::exit(0);
    }
    c.table1 = grid == "table1";
    if (c.table1 && !configs_given) c.methods = names;
    c.threads = cli::start_threads(threads);
    return c;
}

// ---- Losses ----------------------------------------------------------------------------

// The classification loss of `m` summed over the anchors that count (weight 0 at ignored
// anchors) and divided by the number of positive anchors (clamped to >= 1), or by the number
// of anchors that count for bce_all_anchors. OHEM keeps, per canvas, the ohem_batch anchors
// with the highest BCE (summed over classes; 1:3 takes the positives first, up to a quarter)
// and divides their sum by the positives, like the others.
Tensor classification_loss(const Method& m, const Config& c, const Tensor& logits, const DenseTargets& t) {
    double positives = double(std::max<int64_t>(1, t.num_positive));
    double normalizer = m.by_all_anchors ? double(t.num_positive + t.num_negative) : positives;
    if (m.kind == Method::balanced_bce) {
        BalancedBCEOptions o;
        o.alpha = m.alpha;
        o.weight = t.label_weights;
        o.normalizer = normalizer;
        return balanced_binary_cross_entropy(logits, t.labels, o);
    }
    SigmoidFocalLossOptions o;
    o.alpha = m.alpha;
    o.gamma = m.gamma;
    o.weight = t.label_weights;
    if (m.kind != Method::ohem) {
        o.normalizer = normalizer;
        return sigmoid_focal_loss(logits, t.labels, o);
    }
    o.reduction = Reduction::None;
    Tensor per_anchor = sum(sigmoid_focal_loss(logits, t.labels, o), 2);  // [B, A]
    OhemOptions mo;
    mo.batch_size = c.ohem_batch;
    mo.positive_fraction = m.ohem_positive_fraction;
    mo.reduction = Reduction::Sum;
    return div(ohem(per_anchor, t.state, mo).loss, float(normalizer));
}

// The share of the classification loss carried by the positive targets, Σ_pos ℓ / Σ ℓ over
// every target that counts, the quantity of the write-ups' worked example (0.0058 for CE and
// 0.41 for focal loss there). For OHEM: the share under its BCE, before mining.
double positive_share(const Method& m, const Tensor& logits, const DenseTargets& t) {
    NoGradGuard no_grad;
    SigmoidFocalLossOptions o;
    o.alpha = m.alpha;
    o.gamma = m.gamma;
    o.weight = t.label_weights;
    o.reduction = Reduction::None;
    Tensor per = sigmoid_focal_loss(logits.detach(), t.labels, o);
    const float* l = per.data();
    const float* y = t.labels.data();
    double positive = 0, total = 0;
    for (int64_t i = 0; i < per.numel(); ++i) {
        total += l[i];
        positive += y[i] * l[i];
    }
    return total > 0 ? positive / total : 0;
}

bool all_finite(const Tensor& x) {
    const float* p = x.data();
    for (int64_t i = 0; i < x.numel(); ++i)
        if (!std::isfinite(p[i])) return false;
    return true;
}

// ---- Data ------------------------------------------------------------------------------

struct Data {
    std::string label;  // "MNIST" or "Fashion-MNIST"
    CanvasSet train, val, test;
    AnchorGrid grid;
    Tensor anchors;  // [A, 4]
    PixelStats stats;
    TargetImbalance imbalance;
};

// Pixel mean and std of the training canvases (mostly background: mean ~0.05).
PixelStats canvas_stats(const CanvasSet& set) {
    double s = 0, s2 = 0;
    for (uint8_t v : set.pixels) {
        double x = v / 255.0;
        s += x, s2 += x * x;
    }
    double n = double(set.pixels.size()), mean = s / n;
    return {mean, std::sqrt(std::max(1e-12, s2 / n - mean * mean))};
}

Data make_data(const Config& c) {
    bool fashion = c.dataset == "fashion";
    std::string dir = fashion ? find_fashion_mnist_dir(c.data_dir) : find_mnist_dir(c.data_dir);
    Dataset train = fashion ? load_fashion_mnist(dir, Split::train) : load_mnist(dir, Split::train);
    Dataset test = fashion ? load_fashion_mnist(dir, Split::test) : load_mnist(dir, Split::test);
    Data d;
    d.label = fashion ? "Fashion-MNIST" : "MNIST";
    CanvasOptions o;
    o.clutter = int(c.clutter);
    CanvasOptions train_options = o, val_options = o;
    if (c.table1) {
        // The validation canvases are made of training digits no training canvas uses.
        int64_t held_out = train.size() / 6;
        for (int64_t i = 0; i < train.size(); ++i)
            (i < train.size() - held_out ? train_options : val_options).items.push_back(i);
        d.val = make_canvases(train, c.val, 3, val_options);
    }
    d.train = make_canvases(train, c.train, 1, train_options);
    d.test = make_canvases(test, c.test, 2, o);
    d.grid = canvas_anchor_grid(d.train, 4);
    d.anchors = make_anchors(d.grid);
    d.stats = canvas_stats(d.train);
    d.imbalance = target_imbalance(d.train, d.anchors);
    std::printf("%s from %s: %lld training, %lld test%s canvases of 64 x 64, 1-3 digits, clutter %lld\n",
                d.label.c_str(), dir.c_str(), (long long)c.train, (long long)c.test,
                c.table1 ? str(", ", c.val, " validation").c_str() : "", (long long)c.clutter);
    std::printf("anchors: %lld x %lld cells (stride 4), sizes %.1f %.1f %.1f, aspect ratios 0.5 1 2\n",
                (long long)d.grid.height, (long long)d.grid.width, double(d.grid.sizes[0]),
                double(d.grid.sizes[1]), double(d.grid.sizes[2]));
    std::printf("%s", format_imbalance(d.imbalance).c_str());
    return d;
}

// ---- One run -------------------------------------------------------------------------------

struct RunResult {
    CocoEvalResult test, val;
    double agnostic_ap50 = 0;                // test AP50 with the classes ignored (class_agnostic_ap50)
    std::vector<CocoDetection> detections;   // on the test canvases
    std::vector<Detections> shown;           // the first test canvases' detections, for the grid
    std::vector<double> share_steps, share;  // positives' share of the loss during training
    double seconds = 0, last_cls_loss = 0, last_share = 0;
    int64_t steps = 0, diverged_at = -1;  // the step whose logits were not finite, or -1
    std::shared_ptr<TinyRetinaNet> net;
};

// Where the digits are, whatever their class: every object and detection relabelled as one
// class, the duplicates a per-class NMS leaves (one box under several digits) merged by a
// class-agnostic NMS at IoU 0.5, then AP50. Next to AP50 it separates finding the digits
// from naming them.
double class_agnostic_ap50(CocoDataset truth, const std::vector<CocoDetection>& detections) {
    truth.categories = {{0, "digit"}};
    for (CocoAnnotation& a : truth.annotations) a.category_id = 0;
    std::vector<std::vector<CocoDetection>> per_image(truth.images.size());
    for (const CocoDetection& det : detections) per_image[size_t(det.image_id)].push_back(det);
    std::vector<CocoDetection> merged;
    for (const std::vector<CocoDetection>& dets : per_image) {
        if (dets.empty()) continue;
        std::vector<focalgrad::Box> boxes;
        std::vector<float> scores;
        for (const CocoDetection& det : dets) boxes.push_back(det.box), scores.push_back(det.score);
        for (int64_t k :
             nms(boxes_to_tensor(boxes), Tensor::from(scores, Shape{int64_t(scores.size())}), 0.5f)) {
            merged.push_back(dets[size_t(k)]);
            merged.back().category_id = 0;
        }
    }
    return std::max(0.0, evaluate_coco(truth, merged).ap50);
}

CocoEvalResult evaluate(TinyRetinaNet& net, const Data& d, const CanvasSet& set,
                        std::vector<CocoDetection>* detections, std::vector<Detections>* shown) {
    NoGradGuard no_grad;
    std::vector<CocoDetection> results;
    DetectOptions o;  // score > 0.05, top 1,000, per-class NMS at 0.5, 100 per canvas
    o.image_width = o.image_height = float(set.size);
    for (int64_t b0 = 0; b0 < set.count(); b0 += 50) {
        std::vector<int64_t> idx;
        for (int64_t i = b0; i < std::min(set.count(), b0 + 50); ++i) idx.push_back(i);
        HeadOutput out = net.heads(canvas_batch(set, idx, d.stats));
        if (!all_finite(out.logits) || !all_finite(out.offsets))
            return evaluate_coco(canvas_coco_truth(set), {});
        std::vector<Detections> dets = detect_batch(out.logits, out.offsets, d.anchors, o);
        for (size_t i = 0; i < dets.size(); ++i) {
            add_coco_detections(results, idx[i], dets[i]);
            if (shown && idx[i] < 8) shown->push_back(dets[i]);
        }
    }
    CocoEvalResult r = evaluate_coco(canvas_coco_truth(set), results);
    if (detections) *detections = std::move(results);
    return r;
}

RunResult train_run(const Method& m, const Config& c, const Data& d, int64_t seed, double lr, int64_t epochs,
                    bool keep_net) {
    RunResult r;
    Generator init(uint64_t(seed) * 7919 + 17);  // the same weights for every configuration of a seed
    auto net = std::make_shared<TinyRetinaNet>(c.widths, d.grid.per_cell(), d.train.num_classes(), init);
    net->set_prior(m.prior ? c.prior : 0);
    SGD opt(net->parameters(), lr, c.momentum, 0, c.weight_decay);
    const int64_t steps_per_epoch = c.train / c.batch, total = steps_per_epoch * epochs;
    const int64_t warm = std::min(c.warmup, total / 4);
    std::unique_ptr<LRScheduler> schedule =
        std::make_unique<CosineAnnealingLR>(opt, std::max<int64_t>(1, total - warm));
    if (warm > 0) schedule = std::make_unique<LinearWarmup>(opt, warm, std::move(schedule), 0.1);
    auto start = std::chrono::steady_clock::now();
    for (int64_t e = 0; e < epochs && r.diverged_at < 0; ++e) {
        std::vector<int64_t> order(size_t(c.train));
        for (int64_t i = 0; i < c.train; ++i) order[size_t(i)] = i;
        Generator shuffler(uint64_t(seed), uint64_t(e) + 1);  // the same batches for every configuration
        shuffle(order, shuffler);
        cli::Progress progress(str(m.name, " seed ", seed, " lr ", lr, " epoch ", e + 1, "/", epochs),
                               steps_per_epoch, c.quiet);
        for (int64_t s = 0; s < steps_per_epoch; ++s, ++r.steps) {
            std::vector<int64_t> idx(order.begin() + s * c.batch, order.begin() + (s + 1) * c.batch);
            Tensor x = canvas_batch(d.train, idx, d.stats);
            DenseTargets t = dense_targets(d.anchors, d.train.truth, idx, d.train.num_classes());
            HeadOutput out = net->heads(x);
            if (!all_finite(out.logits) || !all_finite(out.offsets)) {
                r.diverged_at = r.steps;
                break;
            }
            Tensor cls_loss = classification_loss(m, c, out.logits, t);
            RegressionLossOptions ro;
            ro.weight = t.box_weights;
            ro.normalizer = double(std::max<int64_t>(1, t.num_positive));
            Tensor loss = cls_loss + smooth_l1_loss(out.offsets, t.box_targets, float(c.smooth_l1_beta), ro);
            if (r.steps % 5 == 0) {
                r.share_steps.push_back(double(r.steps));
                r.share.push_back(positive_share(m, out.logits, t));
            }
            opt.zero_grad();
            loss.backward();
            opt.step();
            schedule->step();
            r.last_cls_loss = cls_loss.item();
            progress.update(s, loss.item(), (s + 1) * c.batch);
        }
        progress.done();
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.last_share = r.share.empty() ? 0 : r.share.back();
    net->eval();
    r.test = evaluate(*net, d, d.test, &r.detections, &r.shown);
    r.agnostic_ap50 = class_agnostic_ap50(canvas_coco_truth(d.test), r.detections);
    if (c.table1) r.val = evaluate(*net, d, d.val, nullptr, nullptr);
    if (keep_net) r.net = net;
    if (!c.quiet)
        std::fprintf(stderr, "%-16s seed %lld lr %g: AP %.3f AP50 %.3f%s, %.1f s\n", m.name.c_str(),
                     (long long)seed, lr, r.test.ap, r.test.ap50,
                     r.diverged_at >= 0 ? str(" (diverged at step ", r.diverged_at, ")").c_str() : "",
                     r.seconds);
    return r;
}

std::vector<Metric> metrics(const RunResult& r, double lr) {
    return {Metric::number("ap", std::max(0.0, r.test.ap)),
            Metric::number("ap50", std::max(0.0, r.test.ap50)),
            Metric::number("ap75", std::max(0.0, r.test.ap75)),
            Metric::number("class_agnostic_ap50", r.agnostic_ap50),
            Metric::number("lr", lr),
            Metric::number("positive_share", r.last_share),
            Metric::number("cls_loss", r.last_cls_loss),
            Metric::number("diverged_at_step", double(r.diverged_at)),
            Metric::number("train_seconds", r.seconds)};
}

// ---- Figures -------------------------------------------------------------------------------

// Lin et al.'s Figure 4: the converged γ = 2 model's logits on the test canvases, and for each
// γ the focal loss of every positive (and every negative) target, normalised to sum to 1,
// sorted from lowest to highest: the cumulative share of the loss held by the easiest x of
// the targets.
Svg figure4(TinyRetinaNet& net, const Data& d, const std::string& subtitle) {
    NoGradGuard no_grad;
    std::vector<float> logit[2], target[2];  // [0] negatives, [1] positives
    for (int64_t b0 = 0; b0 < d.test.count(); b0 += 50) {
        std::vector<int64_t> idx;
        for (int64_t i = b0; i < std::min(d.test.count(), b0 + 50); ++i) idx.push_back(i);
        Tensor z = net.heads(canvas_batch(d.test, idx, d.stats)).logits;
        DenseTargets t = dense_targets(d.anchors, d.test.truth, idx, d.test.num_classes());
        for (int64_t i = 0; i < z.numel(); ++i) {
            if (t.label_weights.data()[i] == 0) continue;
            int k = t.labels.data()[i] > 0.5f ? 1 : 0;
            logit[k].push_back(z.data()[i]);
            target[k].push_back(float(k));
        }
    }
    Svg svg(1200, 460);
    const char* titles[2] = {"negatives", "positives"};
    for (int k = 0; k < 2; ++k) {
        Plot p;
        p.title = str("Cumulative normalised loss, ", titles[k], " (", logit[k].size(), " targets)");
        p.subtitle = subtitle;
        p.x.title = str("fraction of ", titles[k], " (sorted by loss)");
        p.y.title = "cumulative normalised loss";
        p.x.min = 0, p.x.max = 1, p.y.min = 0, p.y.max = 1;
        p.legend = LegendPosition::top;
        int64_t n = int64_t(logit[k].size());
        Tensor z = Tensor::from(logit[k], Shape{n}), y = Tensor::from(target[k], Shape{n});
        for (float gamma : {0.0f, 0.5f, 1.0f, 2.0f}) {
            SigmoidFocalLossOptions o;
            o.alpha = -1, o.gamma = gamma, o.reduction = Reduction::None;
            Tensor l = sigmoid_focal_loss(z, y, o);
            std::vector<double> v(l.data(), l.data() + n);
            std::sort(v.begin(), v.end());
            double total = 0;
            for (double x : v) total += x;
            Series s(str("γ = ", gamma), {0}, {0});
            double cumulative = 0;
            for (int64_t i = 0, next = 0; i < n; ++i) {
                cumulative += v[size_t(i)];
                if (i + 1 == n || i >= next) {
                    s.x.push_back(double(i + 1) / double(n));
                    s.y.push_back(total > 0 ? cumulative / total : 0);
                    next = i + std::max<int64_t>(1, n / 400);
                }
            }
            p.series.push_back(std::move(s));
        }
        draw(svg, p, 600.0 * k, 0, 600, 460);
    }
    return svg;
}

// A configuration's COCO detections file; ':' (of "ohem_1:3") is '-' in file names.
std::string coco_path(const Config& c, std::string name, int64_t seed) {
    std::replace(name.begin(), name.end(), ':', '-');
    return str(c.out, "/coco/", name, "_seed", seed, ".json");
}

// ---- The study -------------------------------------------------------------------------------

struct Study {
    Config config;
    Data data;
    Runs runs;
    // Of the first seed, for the figures: the loss-share curves, the grid's detections.
    std::vector<std::pair<std::string, RunResult>> first_seed;
    // --grid: each configuration's chosen lr and the validation AP of every lr tried.
    std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>> sweeps;
    double seconds = 0;
};

std::string budget(const Config& c, int64_t epochs) {
    return str(c.train, " canvases x ", epochs, " epochs = ", c.train / c.batch * epochs, " steps of ",
               c.batch, " canvases");
}

std::string header(const Study& s) {
    const Config& c = s.config;
    const TargetImbalance& im = s.data.imbalance;
    std::ostringstream os;
    os << "Dense detection on " << s.data.label << " digits on a canvas: " << c.train << " training and "
       << c.test << " test canvases of 64 x 64, 1-3 digits" << (c.clutter ? str(", clutter ", c.clutter) : "")
       << "\n";
    os << "Anchors: " << im.anchors << " per canvas (16 x 16 cells x 9), " << im.classes << " classes; "
       << fixed(im.positive_anchors, 1) << " positive anchors per canvas, "
       << fixed(im.negatives_per_positive, 0) << " negative anchor x class targets per positive\n";
    os << "Network: conv";
    for (size_t i = 0; i < c.widths.size(); ++i) os << (i ? "-" : " ") << c.widths[i];
    os << " (3x3, max-pool after the first two), 1x1 heads; SGD momentum " << c.momentum << ", weight decay "
       << c.weight_decay << ", warm-up " << c.warmup << " steps then cosine; prior π = " << c.prior
       << "; box loss smooth L1 (β = " << fixed(c.smooth_l1_beta, 3) << ") on positives\n";
    os << "Budget: " << budget(c, c.table1 ? c.grid_epochs : c.epochs) << (c.table1 ? "" : str(", lr ", c.lr))
       << "; inference: score > 0.05, top 1000, NMS 0.5, 100 per canvas; COCO AP (0.50:0.95) and AP50\n";
    std::vector<std::string> seeds;
    for (int64_t seed : c.seeds) seeds.push_back(std::to_string(seed));
    std::string joined;
    for (size_t i = 0; i < seeds.size(); ++i) joined += (i ? "," : "") + seeds[i];
    os << (seeds.size() > 1 ? "Mean ± std over seeds " + joined + " (sample std)\n"
                            : "One seed (" + joined + "): single runs, no standard deviation\n");
    return os.str();
}

std::string lr_text(double lr) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", lr);
    return buf;
}

// --grid: the validation AP of every lr tried, per configuration.
Table sweep_table(const Study& s) {
    Table t({"configuration", "lr tried: validation AP", "chosen lr"});
    for (auto& [name, tried] : s.sweeps) {
        std::string cells;
        for (auto [lr, ap] : tried) cells += (cells.empty() ? "" : ", ") + lr_text(lr) + ": " + fixed(ap, 3);
        t.add({name, cells, lr_text(s.runs.summary(name + "@best", "lr").mean)});
    }
    return t;
}

Table summary(const Study& s) {
    Table t({"configuration", "loss", "AP", "AP50", "AP75", "AP50, classes ignored", "lr",
             "positives' share of the loss (last step)", "train s"});
    for (const std::string& name : s.runs.methods()) {
        std::string base = name.substr(0, name.find('@'));
        bool best = name.size() != base.size();
        t.add({name, find_method(base).describe + (best ? ", its best lr" : ""),
               mean_std(s.runs.summary(name, "ap")), mean_std(s.runs.summary(name, "ap50")),
               mean_std(s.runs.summary(name, "ap75")), mean_std(s.runs.summary(name, "class_agnostic_ap50")),
               lr_text(s.runs.summary(name, "lr").mean), mean_std(s.runs.summary(name, "positive_share"), 4),
               fixed(s.runs.summary(name, "train_seconds").mean, 1)});
    }
    return t;
}

std::string to_json(const Study& s) {
    const Config& c = s.config;
    const TargetImbalance& im = s.data.imbalance;
    JsonWriter w;
    w.begin_object(JsonWriter::Layout::lines);
    w.key("dataset").value(s.data.label).key("command").value(c.command);
    w.key("grid").value(c.table1 ? "table1" : "none");
    w.key("budget").begin_object().key("train_canvases").value(c.train).key("test_canvases").value(c.test);
    if (c.table1) w.key("val_canvases").value(c.val);
    w.key("epochs").value(c.table1 ? c.grid_epochs : c.epochs).key("batch").value(c.batch);
    w.key("steps").value(c.train / c.batch * (c.table1 ? c.grid_epochs : c.epochs)).end_object();
    w.key("config").begin_object().key("lr").value(c.lr).key("momentum").value(c.momentum);
    w.key("weight_decay").value(c.weight_decay).key("warmup").value(c.warmup).key("prior").value(c.prior);
    w.key("widths").array(c.widths).key("ohem_batch").value(c.ohem_batch).key("clutter").value(c.clutter);
    w.key("seeds").array(c.seeds).key("threads").value(c.threads).end_object();
    w.key("imbalance")
        .begin_object()
        .key("anchors_per_canvas")
        .value(im.anchors)
        .key("classes")
        .value(im.classes);
    w.key("positive_anchors_per_canvas").value(im.positive_anchors);
    w.key("negatives_per_positive").value(im.negatives_per_positive).end_object();
    if (c.table1) {
        w.key("sweeps").begin_object(JsonWriter::Layout::lines);
        for (auto& [name, tried] : s.sweeps) {
            w.key(name).begin_array();
            for (auto [lr, ap] : tried)
                w.begin_object().key("lr").value(lr).key("val_ap").value(ap).end_object();
            w.end_array();
        }
        w.end_object();
    }
    s.runs.write_runs(w.key("runs"), "configuration");
    s.runs.write_summary(w.key("summary"));
    w.key("seconds").value(s.seconds);
    w.end_object();
    return w.str();
}

// The positives' share of the classification loss during training, one line per
// configuration (first seed): the worked example, live.
Plot share_chart(const Study& s) {
    Plot p;
    p.title = "Positives' share of the classification loss during training";
    p.subtitle = str("seed ", s.config.seeds[0], ", every 5th step; ", budget(s.config, s.config.epochs));
    p.x.title = "training step";
    p.y.title = "Σ loss(positive targets) / Σ loss(all targets)";
    p.y.min = 0, p.y.max = 1;
    p.legend = LegendPosition::right;
    p.width = 900, p.height = 450;
    for (auto& [name, r] : s.first_seed) p.series.push_back(Series(name, r.share_steps, r.share));
    return p;
}

// Test canvases with their detections scoring >= 0.25 (ground truth dashed), one row per
// configuration (BCE above focal loss).
Svg canvas_grid(const Study& s, const std::vector<std::string>& rows) {
    const int64_t columns = 4;
    const double cell = 250;
    Svg svg(cell * columns, cell * double(rows.size()));
    for (size_t r = 0; r < rows.size(); ++r)
        for (auto& [name, run] : s.first_seed) {
            if (name != rows[r]) continue;
            for (int64_t i = 0; i < columns && i < int64_t(run.shown.size()); ++i) {
                Plot p = canvas_plot(s.data.test, i, run.shown[size_t(i)], 0.25f);
                p.title = str(name, " · canvas ", i);
                draw(svg, p, cell * double(i), cell * double(r), cell, cell);
            }
        }
    return svg;
}

// Table 1's shape: AP against α for α-balanced BCE and against γ for focal loss (γ = 0 is
// α-balanced BCE at α = 0.75), at the shared lr and at each configuration's best lr.
Svg table1_chart(const Study& s) {
    Svg svg(1200, 460);
    struct Panel {
        const char* title;
        const char* axis;
        std::vector<std::pair<double, std::string>> points;
    };
    std::vector<Panel> panels = {{"α-balanced BCE (Table 1a)",
                                  "α",
                                  {{0.25, "abce_0.25"},
                                   {0.5, "abce_0.5"},
                                   {0.75, "abce_0.75"},
                                   {0.9, "abce_0.9"},
                                   {0.99, "abce_0.99"}}},
                                 {"focal loss (Table 1b; γ = 0 is α-balanced BCE, α = .75)",
                                  "γ",
                                  {{0, "abce_0.75"},
                                   {0.5, "focal_g0.5_a0.5"},
                                   {1, "focal_g1_a0.25"},
                                   {2, "focal_g2_a0.25"},
                                   {5, "focal_g5_a0.25"}}}};
    for (size_t k = 0; k < panels.size(); ++k) {
        Plot p;
        p.title = str("COCO AP, ", panels[k].title);
        p.subtitle = str(budget(s.config, s.config.grid_epochs), ", mean over seeds");
        p.x.title = panels[k].axis;
        p.y.title = "AP (0.50:0.95)";
        p.y.min = 0;
        p.legend = LegendPosition::top;
        for (const char* suffix : {"", "@best"}) {
            Series line(*suffix ? "each its best lr (validation)" : str("shared lr ", s.config.lr), {}, {});
            line.markers = true;
            for (auto& [x, name] : panels[k].points) {
                Summary sm = s.runs.summary(name + suffix, "ap");
                if (sm.n == 0) continue;
                line.x.push_back(x);
                line.y.push_back(sm.mean);
            }
            p.series.push_back(std::move(line));
        }
        draw(svg, p, 600.0 * double(k), 0, 600, 460);
    }
    return svg;
}

void study(int argc, char** argv) {
    Study s;
    s.config = parse(argc, argv);
    const Config& c = s.config;
    auto start = std::chrono::steady_clock::now();
    // Every output path is checked before minutes of training.
    make_directories(c.out + "/coco", "dense_digits: --out");
    const std::string base = c.out + (c.table1 ? "/table1" : "/dense_digits");
    for (const char* ext : {".md", ".csv", ".json"}) check_output_path(base + ext, "--out");
    s.data = make_data(c);
    write_coco_truth(c.out + "/coco/truth_test.json", canvas_coco_truth(s.data.test));

    std::shared_ptr<TinyRetinaNet> focal2;  // Figure 4's model
    for (const std::string& name : c.methods) {
        const Method& m = find_method(name);
        double best = c.lr;  // --grid: this configuration's own lr, chosen on the validation canvases
        for (size_t k = 0; k < c.seeds.size(); ++k) {
            const int64_t seed = c.seeds[k];
            const bool keep = k == 0 && name == "focal_g2_a0.25";
            RunResult shared;
            std::vector<Metric> at_best;  // --grid: the run at this configuration's own lr
            if (c.table1 && k == 0) {
                // The sweep, on the first seed; its middle value is the shared lr's run.
                std::vector<std::pair<double, double>> tried;
                std::vector<RunResult> sweep;
                for (double f : c.lr_factors) {
                    sweep.push_back(train_run(m, c, s.data, seed, c.lr * f, c.grid_epochs, keep && f == 1));
                    tried.push_back({c.lr * f, sweep.back().val.ap});
                }
                // A tie keeps the shared lr.
                size_t middle =
                    size_t(std::find(c.lr_factors.begin(), c.lr_factors.end(), 1.0) - c.lr_factors.begin());
                size_t chosen = middle;
                for (size_t i = 0; i < sweep.size(); ++i)
                    if (sweep[i].val.ap > sweep[chosen].val.ap) chosen = i;
                best = c.lr * c.lr_factors[chosen];
                at_best = metrics(sweep[chosen], best);
                s.sweeps.push_back({name, tried});
                shared = std::move(sweep[middle]);
            } else {
                shared = train_run(m, c, s.data, seed, c.lr, c.table1 ? c.grid_epochs : c.epochs, keep);
                if (c.table1)
                    at_best = metrics(
                        best == c.lr ? shared : train_run(m, c, s.data, seed, best, c.grid_epochs, false),
                        best);
            }
            write_coco_detections(coco_path(c, name, seed), shared.detections);
            s.runs.add(name, seed, metrics(shared, c.lr));
            if (c.table1) s.runs.add(name + "@best", seed, at_best);
            if (keep) focal2 = shared.net;
            if (k == 0) s.first_seed.push_back({name, std::move(shared)});
        }
    }
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    std::string report = header(s) + "\n" + to_markdown(summary(s));
    if (c.table1)
        report += str("\nThe lr sweep (seed ", c.seeds[0], ", ", c.val,
                      " validation canvases of held-out training digits):\n\n") +
                  to_markdown(sweep_table(s));
    std::printf("\n%s", report.c_str());
    AtomicFileSet outputs("dense_digits");
    outputs.add(base + ".md", "# " + report +
                                  str("\nWall time ", fixed(s.seconds, 0), " s on ", c.threads,
                                      " thread(s). Produced by:\n\n    ", c.command, "\n"));
    outputs.add(base + ".csv", to_csv(s.runs.runs_table("configuration")));
    outputs.add(base + ".json", to_json(s));
    if (c.table1) outputs.add(c.out + "/table1.svg", table1_chart(s).str());
    outputs.add(c.out + "/loss_share.svg", to_svg(share_chart(s)).str());
    std::vector<std::string> rows;
    for (const char* name : {"bce", "focal_g2_a0.25"})
        if (std::find(c.methods.begin(), c.methods.end(), name) != c.methods.end()) rows.push_back(name);
    if (!rows.empty()) outputs.add(c.out + "/canvases.svg", canvas_grid(s, rows).str());
    if (focal2)
        outputs.add(c.out + "/figure4.svg", figure4(*focal2, s.data,
                                                    str("the converged focal γ = 2, α = .25 model (seed ",
                                                        c.seeds[0], ") on the ", c.test, " test canvases"))
                                                .str());
    outputs.commit();
    std::printf("\nwrote %s.md, .csv, .json, the figures and coco/ under %s (%.0f s)\n", base.c_str(),
                c.out.c_str(), s.seconds);
}

}  // namespace

int main(int argc, char** argv) {
    return cli::run_main("dense_digits", [&] { study(argc, argv); });
}
