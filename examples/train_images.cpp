// train_images.cpp — a classifier on your own folder of images, one sub-folder per class
// (torchvision's ImageFolder layout): grey or RGB, resized to one size, standardised per
// channel with the training images' statistics; an MLP or a small CNN (optionally with
// BatchNorm), the loss of your choice; the metrics, the confusion matrix, and checkpoints
// that predict classifies new images with.
//   build/bin/train_images --images photos/ --size 32 --channels 3 --model cnn --batchnorm
//   build/bin/predict --checkpoint results/train_images/best.fgc new.jpg
// Not here: augmentation, pretrained backbones, images too many to hold in memory.
#include <cstdio>
#include <string>
#include <vector>

#include <focalgrad/data/image_folder.h>
#include <focalgrad/nn/architecture.h>
#include <focalgrad/nn/layers.h>

#include "classify.h"
#include "cli.h"

using namespace focalgrad;

namespace {

// [N, C, S, S] -> (conv 3x3 [-> BatchNorm] -> ReLU -> max-pool 2) x 2 -> linear:
//   [N, C, S, S] -> [N, 16, S/2, S/2] -> [N, 32, S/4, S/4] -> [N, 32 S^2 / 16] -> [N, classes]
std::shared_ptr<Sequential> cnn(int64_t channels, int64_t size, int64_t classes, bool batchnorm,
                                Generator& gen) {
    auto net = std::make_shared<Sequential>();
    int64_t in = channels;
    for (int64_t out : {16, 32}) {
        net->add(Conv2d(in, out, 3, 1, 1, !batchnorm, gen));  // BatchNorm's shift replaces the bias
        if (batchnorm) net->add(BatchNorm2d(out));
        net->add(ReLU());
        net->add(MaxPool2d(2));
        in = out;
    }
    net->add(Flatten());
    net->add(Linear(32 * (size / 4) * (size / 4), classes, true, gen));
    return net;
}

// [N, D] -> hidden [-> BatchNorm] -> ReLU -> ... -> [N, classes]
std::shared_ptr<Sequential> mlp(int64_t in, const std::vector<int64_t>& hidden, int64_t classes,
                                bool batchnorm, Generator& gen) {
    auto net = std::make_shared<Sequential>();
    for (int64_t h : hidden) {
        net->add(Linear(in, h, !batchnorm, gen));
        if (batchnorm) net->add(BatchNorm1d(h));
        net->add(ReLU());
        in = h;
    }
    net->add(Linear(in, classes, true, gen));
    return net;
}

void run(int argc, char** argv) {
    cli::Args args(
        argc, argv,
        "Trains a classifier on a folder of images with one sub-folder per class (root/cat/1.png,\n"
        "root/dog/2.jpg, ...), prints metrics and a confusion matrix. Writes OUT/history.csv,\n"
        "history.json, curves.svg, confusion.svg, best.fgc and last.fgc (for predict and --resume).");
    std::string root = args.str("images", "", "the folder of class folders (required)");
    int64_t size = args.integer("size", 28, "images are resized to SIZE x SIZE", 4, 512);
    int64_t channels = args.integer("channels", 1, "1 (grey) or 3 (RGB)", 1, 3);
    std::string model_name = args.str("model", "cnn", "cnn or mlp");
    bool batchnorm = args.flag("batchnorm", "BatchNorm after every convolution or hidden layer");
    std::vector<int64_t> hidden = args.integers("hidden", "128", "hidden layer sizes (mlp)", 1, 1 << 16);
    examples::TrainFlags f = examples::training_flags(args, 20, 0.003, 32, "results/train_images");
    int64_t threads = args.threads();
    args.finish();
    cli::start_threads(threads);
    examples::check_training_flags(f);
    FG_CHECK(!root.empty(), "--images is required: the folder that holds one sub-folder of images per class");
    FG_CHECK(channels == 1 || channels == 3, "--channels must be 1 or 3, got ", channels);
    FG_CHECK(model_name == "cnn" || model_name == "mlp", "--model must be cnn or mlp, got '", model_name,
             "'");
    FG_CHECK(model_name == "mlp" || size % 4 == 0,
             "--size must be a multiple of 4 for the cnn (two 2x2 poolings), got ", size);

    ImageFolderOptions io;
    io.width = io.height = int(size);
    io.channels = int(channels);
    TensorDataset data = load_image_folder(root, io);
    std::vector<int64_t> counts = class_counts(data.labels, data.num_classes());
    std::printf("%s: %lld images, %d classes (", root.c_str(), (long long)data.size(), data.num_classes());
    for (int c = 0; c < data.num_classes(); ++c)
        std::printf("%s%s: %lld", c ? ", " : "", data.class_names[size_t(c)].c_str(),
                    (long long)counts[size_t(c)]);
    std::printf("), %lld x %lld, %s\n", (long long)size, (long long)size, channels == 1 ? "grey" : "RGB");

    Generator gen(uint64_t(f.seed));
    const bool flat = model_name == "mlp";
    auto model = flat ? mlp(data.item_size(), hidden, data.num_classes(), batchnorm, gen)
                      : cnn(channels, size, data.num_classes(), batchnorm, gen);
    std::printf("%s",
                model->summary(flat ? Shape{1, data.item_size()} : Shape{1, channels, size, size}).c_str());
    std::vector<int64_t> all(size_t(data.size()));
    for (size_t i = 0; i < all.size(); ++i) all[i] = int64_t(i);
    ModelInfo info;
    info.architecture = architecture(*model);
    examples::TrainedClassifier t = examples::train_classifier(*model, data, all, flat, f, info);
    examples::report_classifier(*model, data, t, f);
    std::printf("checkpoints: %s/%s (predict --checkpoint it IMAGE...), %s/last.fgc (--resume)\n",
                f.out.c_str(), t.split.val.empty() ? "last.fgc" : "best.fgc", f.out.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    return cli::run_main("train_images", [&] { run(argc, argv); });
}
