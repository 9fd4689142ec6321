// predict.cpp — classifies new inputs with a checkpoint alone: the model is rebuilt from
// the architecture the checkpoint holds, inputs are prepared as its ModelInfo says (image
// size and channels, standardisation), and the three most likely classes are printed by
// name with their probabilities.
//   build/bin/predict --checkpoint results/mnist_mlp.ckpt my_digit.png
//   build/bin/predict --checkpoint results/train_images/best.fgc cat.jpg
//   build/bin/predict --checkpoint results/train_csv/best.fgc rows.csv     (a table model)
// Image models take image files (PNG, JPEG, BMP, GIF, TGA, PNM); table models take CSV
// files of feature rows (no label column). A checkpoint without an architecture (format
// version 1, or saved without one) is taken for one of the MNIST examples' networks,
// given by --model and --hidden. Not here: MNIST's centring of a digit by its mass, so a
// digit drawn off-centre or small is harder to read.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/data/csv.h>
#include <focalgrad/data/image.h>
#include <focalgrad/data/loader.h>
#include <focalgrad/nn/checkpoint.h>

#include "cli.h"
#include "models.h"

using namespace focalgrad;

namespace {

// What an MNIST example's checkpoint without ModelInfo is: 1 x 28 x 28 digits, standardised
// with MNIST's statistics, classes "0" to "9".
ModelInfo mnist_info(bool flat) {
    ModelInfo info;
    info.input_shape = {1, 28, 28};
    info.flatten_input = flat;
    info.input_mean = {kMnistStats.mean};
    info.input_std = {kMnistStats.std};
    for (int c = 0; c < 10; ++c) info.class_names.push_back(std::to_string(c));
    return info;
}

bool is_mnist_like(const ModelInfo& info) {
    if (info.input_shape != std::vector<int64_t>{1, 28, 28} || info.class_names.size() != 10) return false;
    for (int c = 0; c < 10; ++c)
        if (info.class_names[size_t(c)] != std::to_string(c)) return false;
    return true;
}

// x = (v - mean[c]) / std[c] over an item [C, ...] (or [D], one channel per feature).
Tensor standardise(Tensor item, const ModelInfo& info) {
    if (info.input_mean.empty()) return item;
    const int64_t C = info.input_shape[0], per = item.numel() / C;
    float* v = item.data();
    for (int64_t c = 0; c < C; ++c) {
        const size_t k = info.input_mean.size() == 1 ? 0 : size_t(c);
        for (int64_t i = c * per; i < (c + 1) * per; ++i)
            v[i] = float((double(v[i]) - info.input_mean[k]) / info.input_std[k]);
    }
    return item;
}

// "  name (p %)" for the `top` most likely classes of [1, C] logits.
std::string top_classes(const Tensor& logits, const std::vector<std::string>& names, int top) {
    Tensor p = softmax(logits, 1);
    std::vector<int> order(size_t(p.numel()));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p.data()[a] > p.data()[b]; });
    std::string out;
    for (int k = 0; k < top && k < int(order.size()); ++k) {
        const int c = order[size_t(k)];
        const double percent = 100.0 * p.data()[c];
        const std::string name = size_t(c) < names.size() ? names[size_t(c)] : std::to_string(c);
        // Two decimals, or scientific notation for what would print as 0.00.
        char buf[64];
        std::snprintf(buf, sizeof buf, percent >= 0.005 ? " (%.2f %%)" : " (%.1e %%)", percent);
        out += "  " + name + buf;
    }
    return out;
}

void predict(int argc, char** argv) {
    cli::Args args(argc, argv,
                   "Classifies images (or CSV rows, for a table model) with a checkpoint, and prints the\n"
                   "three most likely classes of each with their probabilities.");
    std::string checkpoint = args.str("checkpoint", "results/mnist_mlp.ckpt", "checkpoint to load");
    std::string model_name =
        args.str("model", "mlp", "for a checkpoint without an architecture: the MNIST example's mlp or cnn");
    std::vector<int64_t> hidden = args.integers(
        "hidden", "256,128", "for a checkpoint without an architecture: the mlp's hidden sizes", 1, 1 << 16);
    std::string invert =
        args.str("invert", "",
                 "auto (if the background is light), yes or no [auto for an MNIST digit model, "
                 "no otherwise]");
    int64_t top = args.integer("top", 3, "classes printed per input", 1, 1000);
    args.finish("INPUT...");
    FG_CHECK(invert.empty() || invert == "auto" || invert == "yes" || invert == "no",
             "--invert must be auto, yes or no, got '", invert, "'");
    FG_CHECK(model_name == "mlp" || model_name == "cnn", "--model must be mlp or cnn, got '", model_name,
             "'");
    const std::vector<std::string>& inputs = args.positionals();
    FG_CHECK(!inputs.empty(),
             "no image given: pass one or more image files (or CSV files for a table model)");

    // The model from the checkpoint alone when it says what it is; else an MNIST example's.
    std::shared_ptr<Module> model;
    ModelInfo info = read_checkpoint(checkpoint).info;
    if (!info.architecture.empty()) {
        LoadedModel loaded = load_model(checkpoint);
        model = loaded.model;
        info = loaded.checkpoint.info;
    } else {
        Generator gen(0);
        bool flat = true;
        model = examples::make_model(model_name, hidden, gen, &flat);
        load(*model, checkpoint);
        const std::vector<std::string> names = info.class_names;
        info = mnist_info(flat);
        if (!names.empty()) info.class_names = names;
    }
    // NaN weights would give every input the same plausible-looking answer.
    check_finite_weights(*model, "checkpoint '" + checkpoint + "'");
    FG_CHECK(info.input_shape.size() == 1 || info.input_shape.size() == 3, "checkpoint ", checkpoint,
             ": its input shape ", Shape(info.input_shape),
             " is neither a feature vector [D] nor an image [C, H, W]: predict does not know how to feed it");
    model->eval();
    NoGradGuard no_grad;

    auto batch_of_one = [&](Tensor item) {
        std::vector<int64_t> shape = {1};
        if (info.flatten_input)
            shape.push_back(item.numel());
        else
            shape.insert(shape.end(), info.input_shape.begin(), info.input_shape.end());
        return reshape(standardise(item, info), shape);
    };

    if (info.input_shape.size() == 1) {  // a table model: each file holds rows of D features
        CsvOptions csv;
        csv.unlabelled = true;
        for (const std::string& path : inputs) {
            TensorDataset rows = load_csv(path, csv);
            FG_CHECK(rows.item_size() == info.input_shape[0], path, ": rows of ", rows.item_size(),
                     " features, but the model takes ", info.input_shape[0],
                     " (give the feature columns only, in the training order)");
            for (int64_t r = 0; r < rows.size(); ++r) {
                Tensor item = Tensor::from(std::vector<float>(rows.item(r), rows.item(r) + rows.item_size()),
                                           Shape{rows.item_size()});
                std::printf("%s: row %lld:%s\n", path.c_str(), (long long)(r + 1),
                            top_classes((*model)(batch_of_one(item)), info.class_names, int(top)).c_str());
            }
        }
        return;
    }
    ImageOptions options;
    options.channels = int(info.input_shape[0]);
    options.height = int(info.input_shape[1]);
    options.width = int(info.input_shape[2]);
    const std::string mode = invert.empty() ? (is_mnist_like(info) ? "auto" : "no") : invert;
    options.invert = mode == "yes" ? Invert::yes : mode == "no" ? Invert::no : Invert::if_light_background;
    for (const std::string& path : inputs) {
        Tensor image = load_image(path, options);  // [H, W] or [3, H, W] in [0, 1]
        std::printf("%s:%s\n", path.c_str(),
                    top_classes((*model)(batch_of_one(image)), info.class_names, int(top)).c_str());
    }
}

}  // namespace

int main(int argc, char** argv) {
    return cli::run_main("predict", [&] { predict(argc, argv); });
}
