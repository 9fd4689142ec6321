// train_csv.cpp — a toy classifier on your own table: trains an MLP on a CSV file of
// numeric features and a label column, or on generated two moons or three spirals (no
// download), with the loss of your choice; prints the metrics and the confusion matrix;
// draws the decision boundary (the predicted class over the plane, the training points
// on top) for 2-D data.
//   build/bin/train_csv                                     # three spirals
//   build/bin/train_csv --generate moons --imbalance 10 --loss balanced_focal
//   build/bin/train_csv --data my.csv --label-column y
// Not here: categorical features, missing values (see data/csv.h), feature engineering.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/data/csv.h>
#include <focalgrad/data/synthetic.h>
#include <focalgrad/nn/architecture.h>
#include <focalgrad/nn/layers.h>
#include <focalgrad/report/chart.h>

#include "classify.h"
#include "cli.h"

using namespace focalgrad;

namespace {

// D -> hidden[0] -> ... -> C, ReLU between layers.
std::shared_ptr<Sequential> mlp(int64_t in, const std::vector<int64_t>& hidden, int64_t classes,
                                Generator& gen) {
    auto net = std::make_shared<Sequential>();
    for (int64_t h : hidden) {
        net->add(Linear(in, h, true, gen));
        net->add(ReLU());
        in = h;
    }
    net->add(Linear(in, classes, true, gen));
    return net;
}

// The predicted class over a grid covering the data (with a margin), as light tints of
// the class colours, and the training points on top in the full colours.
void save_decision_boundary(const std::string& path, Module& model, const TensorDataset& data,
                            const examples::TrainedClassifier& t, const std::string& title) {
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (int64_t i = 0; i < data.size(); ++i)
        for (int d = 0; d < 2; ++d) {
            lo[d] = std::min(lo[d], double(data.item(i)[d]));
            hi[d] = std::max(hi[d], double(data.item(i)[d]));
        }
    for (int d = 0; d < 2; ++d) {
        const double margin = 0.08 * std::max(hi[d] - lo[d], 1e-6);
        lo[d] -= margin;
        hi[d] += margin;
    }
    // Pixel (x, y) of the map is the point at its centre; row 0 is the top (the largest y).
    const int W = 240, H = int(std::clamp(240.0 * (hi[1] - lo[1]) / (hi[0] - lo[0]), 60.0, 480.0));
    TensorDataset grid;
    grid.name = "grid";
    grid.item_shape = Shape{2};
    grid.class_names = data.class_names;
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
            grid.values.push_back(float(lo[0] + (x + 0.5) * (hi[0] - lo[0]) / W));
            grid.values.push_back(float(hi[1] - (y + 0.5) * (hi[1] - lo[1]) / H));
            grid.labels.push_back(0);
        }
    LoaderOptions in_order = t.loader;
    in_order.shuffle = false;
    in_order.batch_size = 4096;
    std::vector<int> predicted = argmax_rows(predict_logits(model, DataLoader(grid, in_order)));

    report::Plot p;
    p.title = title;
    p.subtitle = "background: the predicted class; points: the training items";
    p.x.title = "x1";
    p.y.title = "x2";
    p.x.min = lo[0];
    p.x.max = hi[0];
    p.y.min = lo[1];
    p.y.max = hi[1];
    p.equal_aspect = true;
    report::ImageLayer map;
    map.image = report::Raster(W, H);
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x)
            map.image.set(x, y,
                          report::blend(report::category_colour(size_t(predicted[size_t(y * W + x)])),
                                        report::kWhite, 0.65));
    map.x_min = lo[0];
    map.x_max = hi[0];
    map.y_min = lo[1];
    map.y_max = hi[1];
    p.images.push_back(map);
    for (int c = 0; c < data.num_classes(); ++c) {
        report::Series s;
        s.label = data.class_names[size_t(c)];
        for (int64_t i : t.split.train)
            if (data.labels[size_t(i)] == c) {
                s.x.push_back(data.item(i)[0]);
                s.y.push_back(data.item(i)[1]);
            }
        s.line = false;
        s.markers = true;
        s.marker_radius = 2.5;
        s.colour = report::category_colour(size_t(c));
        p.series.push_back(s);
    }
    report::save_svg(path, p);
}

void run(int argc, char** argv) {
    cli::Args args(argc, argv,
                   "Trains an MLP classifier on a CSV table (numeric features and a label column) or on\n"
                   "generated 2-D data, prints metrics and a confusion matrix, and draws the decision\n"
                   "boundary for 2-D data. Writes OUT/history.csv, history.json, curves.svg, confusion.svg,\n"
                   "decision_boundary.svg, best.fgc and last.fgc (for predict and --resume).");
    std::string data_path =
        args.str("data", "", "a CSV file to train on (default: generated data, --generate)");
    std::string label_column =
        args.str("label-column", "", "the label column: a header name, or a column number from 1 [last]");
    std::string header =
        args.str("header", "auto", "auto (detect), yes or no: whether the first line is a header");
    std::string delimiter = args.str("delimiter", ",", "the cell delimiter, one character");
    std::string generate =
        args.str("generate", "spirals", "spirals (3 classes) or moons (2), when --data is not given");
    int64_t points = args.integer("points", 200, "generated points per class", 2, 1 << 20);
    double noise =
        args.real("noise", 0.2, "generated data: noise (spirals: of the angle; moons: of x and y)", 0, 10);
    double imbalance =
        args.real("imbalance", 1, "make class --rare-class keep 1/X of its items (1 = off)", 1, 1e6);
    int64_t rare = args.integer("rare-class", 0, "the class --imbalance thins out", 0, 1 << 20);
    std::vector<int64_t> hidden = args.integers("hidden", "64,64", "hidden layer sizes", 1, 1 << 16);
    examples::TrainFlags f = examples::training_flags(args, 100, 0.01, 32, "results/train_csv");
    int64_t threads = args.threads();
    args.finish();
    cli::start_threads(threads);
    examples::check_training_flags(f);
    check_output_path(f.out + "/decision_boundary.svg", "--out");
    FG_CHECK(header == "auto" || header == "yes" || header == "no", "--header must be auto, yes or no, got '",
             header, "'");
    FG_CHECK(delimiter.size() == 1, "--delimiter must be one character, got '", delimiter, "'");
    FG_CHECK(generate == "spirals" || generate == "moons", "--generate must be spirals or moons, got '",
             generate, "'");
    FG_CHECK(!data_path.empty() || label_column.empty(),
             "--label-column needs --data (generated data has its labels)");

    TensorDataset data;
    if (!data_path.empty()) {
        CsvOptions csv;
        csv.label_column = label_column;
        csv.header = header == "yes" ? CsvHeader::yes : header == "no" ? CsvHeader::no : CsvHeader::detect;
        csv.delimiter = delimiter[0];
        data = load_csv(data_path, csv);
    } else if (generate == "spirals") {
        data = make_spirals(points, 3, noise, uint64_t(f.seed));
    } else {
        data = make_moons(2 * points, noise, uint64_t(f.seed));
    }
    std::vector<int64_t> items = examples::with_rare_class(data, int(rare), imbalance, uint64_t(f.seed));
    std::vector<int64_t> counts = class_counts(data.labels, items, data.num_classes());
    std::printf("%s: %lld items of %lld features, %d classes (", data.name.c_str(), (long long)items.size(),
                (long long)data.item_size(), data.num_classes());
    for (int c = 0; c < data.num_classes(); ++c)
        std::printf("%s%s: %lld", c ? ", " : "", data.class_names[size_t(c)].c_str(),
                    (long long)counts[size_t(c)]);
    std::printf(")\n");

    Generator gen(uint64_t(f.seed));
    auto model = mlp(data.item_size(), hidden, data.num_classes(), gen);
    std::printf("%s", model->summary(Shape{1, data.item_size()}).c_str());
    ModelInfo info;
    info.architecture = architecture(*model);
    examples::TrainedClassifier t = examples::train_classifier(*model, data, items, true, f, info);
    examples::report_classifier(*model, data, t, f);
    if (data.item_size() == 2) {
        save_decision_boundary(f.out + "/decision_boundary.svg", *model, data, t,
                               str("Decision boundary: ", data.name, ", ", f.loss));
        std::printf("decision boundary: %s/decision_boundary.svg\n", f.out.c_str());
    } else {
        std::printf("no decision-boundary picture: the data has %lld features, not 2\n",
                    (long long)data.item_size());
    }
    std::printf("checkpoints: %s/%s (predict --checkpoint it ROWS.csv), %s/last.fgc (--resume)\n",
                f.out.c_str(), t.split.val.empty() ? "last.fgc" : "best.fgc", f.out.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    return cli::run_main("train_csv", [&] { run(argc, argv); });
}
