// predict.cpp — classifies image files (PNG, JPEG, BMP, ...) with a checkpoint saved by
// mnist_mlp or mnist_cnn, and prints the three most likely digits with probabilities.
//   build/bin/predict --checkpoint results/mnist_mlp.ckpt my_digit.png
// Images are turned grey, resized to 28 x 28 and, by default, inverted when their
// background is light (MNIST digits are white on black). Not here: MNIST's centring of
// the digit by its mass, so a digit drawn off-centre or small is harder to read.
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/data/image.h>
#include <focalgrad/data/loader.h>
#include <focalgrad/nn/checkpoint.h>

#include "cli.h"
#include "models.h"

using namespace focalgrad;

namespace {

void predict(int argc, char** argv) {
    cli::Args args(argc, argv, "Classifies images with a checkpoint from mnist_mlp or mnist_cnn.");
    std::string checkpoint = args.str("checkpoint", "results/mnist_mlp.ckpt", "checkpoint to load");
    std::string model_name = args.str("model", "mlp", "architecture of the checkpoint: mlp or cnn");
    std::vector<int64_t> hidden = args.integers("hidden", "256,128", "hidden layer sizes (mlp)", 1, 1 << 16);
    std::string invert = args.str("invert", "auto", "auto (if the background is light), yes or no");
    args.finish("IMAGE...");
    FG_CHECK(invert == "auto" || invert == "yes" || invert == "no", "--invert must be auto, yes or no, got '",
             invert, "'");
    const std::vector<std::string>& images = args.positionals();
    FG_CHECK(!images.empty(), "no image given: pass one or more image files");

    Generator gen(0);
    bool flat = true;
    auto model = examples::make_model(model_name, hidden, gen, &flat);
    load(*model, checkpoint);
    // NaN weights would give every image the same plausible-looking answer.
    check_finite_weights(*model, "checkpoint '" + checkpoint + "'");
    model->eval();

    ImageOptions options;
    options.invert = invert == "yes"  ? Invert::yes
                     : invert == "no" ? Invert::no
                                      : Invert::if_light_background;
    NoGradGuard no_grad;
    for (const std::string& path : images) {
        Tensor image = load_image(path, options);  // [28, 28] in [0, 1]
        Tensor x = (image - float(kMnistStats.mean)) / float(kMnistStats.std);
        x = reshape(x, flat ? std::vector<int64_t>{1, 784} : std::vector<int64_t>{1, 1, 28, 28});
        Tensor p = softmax((*model)(x), 1);  // [1, 10]
        std::vector<int> order(10);
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p.data()[a] > p.data()[b]; });
        std::printf("%s:", path.c_str());
        for (int k = 0; k < 3; ++k) {
            double percent = 100.0 * p.data()[order[size_t(k)]];
            // Two decimals, or scientific notation for what would print as 0.00.
            std::printf(percent >= 0.005 ? "  %d (%.2f %%)" : "  %d (%.1e %%)", order[size_t(k)], percent);
        }
        std::printf("\n");
    }
}

}  // namespace

int main(int argc, char** argv) {
    return cli::run_main("predict", [&] { predict(argc, argv); });
}
