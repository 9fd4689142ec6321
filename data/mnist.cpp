// mnist.cpp — loading MNIST-layout datasets and finding their directory.
#include <cstdlib>
#include <filesystem>

#include <focalgrad/core/error.h>
#include <focalgrad/core/tensor.h>
#include <focalgrad/data/idx.h>
#include <focalgrad/data/mnist.h>

namespace focalgrad {

namespace {

namespace fs = std::filesystem;

const char* const kFashionSystemDir = "/usr/share/datasets/fashion-mnist";

// "train-images-idx3-ubyte" and the like, for one split and kind.
std::string canonical_name(Split split, const std::string& kind) {
    FG_CHECK(kind == "images" || kind == "labels",
             "find_mnist_file: kind must be \"images\" or "
             "\"labels\", got \"",
             kind, "\"");
    return std::string(split == Split::train ? "train" : "t10k") + "-" + kind +
           (kind == "images" ? "-idx3-ubyte" : "-idx1-ubyte");
}

// The four canonical file names, gzipped, as the mirrors serve them.
std::string four_file_names() {
    return canonical_name(Split::train, "images") + ".gz, " + canonical_name(Split::train, "labels") +
           ".gz, " + canonical_name(Split::test, "images") + ".gz, " + canonical_name(Split::test, "labels") +
           ".gz";
}

// The files of the four that `dir` lacks, for messages.
std::string missing_files(const std::string& dir) {
    std::string missing;
    for (Split split : {Split::train, Split::test})
        for (const char* kind : {"images", "labels"})
            if (find_mnist_file(dir, split, kind).empty())
                missing += (missing.empty() ? "" : ", ") + canonical_name(split, kind) + "[.gz]";
    return missing;
}

std::string absolute(const std::string& dir) {
    std::error_code ec;
    fs::path p = fs::absolute(dir, ec);
    return ec ? dir : p.string();
}

const char* env_or_empty(const char* var) {
    const char* v = std::getenv(var);
    return v ? v : "";
}

// A directory named explicitly (flag or environment variable) must be complete: silently
// falling back to another copy would hide the user's mistake.
std::string require_complete(const std::string& dir, const std::string& source, const std::string& dataset,
                             const std::string& how_to_get) {
    std::error_code ec;
    FG_CHECK(fs::is_directory(dir, ec), dataset, " not found: ", source, " names '", dir,
             "', which is not a directory.\n", how_to_get);
    std::string missing = missing_files(dir);
    FG_CHECK(missing.empty(), dataset, " not found: ", source, " names '", dir, "', which lacks ", missing,
             ".\n", how_to_get);
    return dir;
}

std::string mnist_how_to_get() {
    return "Put the four MNIST files (" + four_file_names() +
           ", or the same names without "
           ".gz) in datasets/mnist/ under the directory you run from, e.g. with:\n"
           "    scripts/get_mnist.sh datasets/mnist\n"
           "or point to a directory that holds them with --data DIR or MNIST_DIR=DIR.";
}

std::string fashion_how_to_get() {
    return std::string("Install the Debian package (its files go to ") + kFashionSystemDir +
           "):\n    sudo apt-get install dataset-fashion-mnist\n"
           "or put the four Fashion-MNIST files (" +
           four_file_names() +
           ", or the same names "
           "without .gz) in datasets/fashion-mnist/, or point to them with --data DIR or "
           "FASHION_MNIST_DIR=DIR.";
}

Dataset load_mnist_layout(const std::string& dir, Split split, const std::string& dataset,
                          std::vector<std::string> class_names, const std::string& how_to_get) {
    std::string images = find_mnist_file(dir, split, "images");
    std::string labels = find_mnist_file(dir, split, "labels");
    FG_CHECK(!images.empty() && !labels.empty(), "load ", dataset, ": '", dir, "' lacks the ",
             split_name(split), " split: missing ", images.empty() ? canonical_name(split, "images") : "",
             images.empty() && labels.empty() ? " and " : "",
             labels.empty() ? canonical_name(split, "labels") : "", " (with or without .gz).\n", how_to_get);
    Dataset data =
        load_idx_dataset(images, labels, dataset + " " + split_name(split), std::move(class_names));
    FG_CHECK(data.rows == 28 && data.cols == 28, "load ", dataset, ": ", images, ": images are ", data.rows,
             " x ", data.cols, ", expected 28 x 28");
    return data;
}

}  // namespace

const char* split_name(Split split) { return split == Split::train ? "train" : "test"; }

Split parse_split(const std::string& name) {
    if (name == "train") return Split::train;
    if (name == "test") return Split::test;
    throw Error(str("parse_split: unknown split '", name, "'; expected 'train' or 'test'"));
}

std::string find_mnist_file(const std::string& dir, Split split, const std::string& kind) {
    std::string name = canonical_name(split, kind);
    // "train-images-idx3-ubyte" -> "train-images.idx3-ubyte": the dash before "idx" becomes a dot.
    std::string dotted = name;
    dotted[dotted.find("-idx")] = '.';
    for (const std::string& candidate : {name, name + ".gz", dotted, dotted + ".gz"}) {
        fs::path p = fs::path(dir) / candidate;
        std::error_code ec;
        if (fs::is_regular_file(p, ec)) return p.string();
    }
    return "";
}

bool has_mnist_files(const std::string& dir) { return missing_files(dir).empty(); }

void check_dataset(const Dataset& data, const char* op) {
    FG_CHECK(data.rows >= 1 && data.cols >= 1, op, ": ", data.name,
             ": images must be at least 1 x 1 pixels, got ", data.rows, " x ", data.cols);
    const int64_t pixels =
        checked_numel({data.size(), data.rows, data.cols}, op, "the image bytes [N, rows, cols]");
    FG_CHECK(int64_t(data.images.size()) == pixels, op, ": ", data.name, " has ", data.images.size(),
             " image bytes, but ", data.size(), " labels of ", data.rows, " x ", data.cols, " images need ",
             pixels);
    FG_CHECK(data.num_classes() >= 1, op, ": ", data.name, " has no class names");
    for (size_t i = 0; i < data.labels.size(); ++i)
        FG_CHECK(data.labels[i] >= 0 && data.labels[i] < data.num_classes(), op, ": ", data.name, ": item ",
                 i, " has label ", data.labels[i], ", outside [0, ", data.num_classes(), ")");
}

Dataset load_idx_dataset(const std::string& images_path, const std::string& labels_path,
                         const std::string& name, std::vector<std::string> class_names) {
    FG_CHECK(!class_names.empty() && class_names.size() <= 256, "load_idx_dataset: ", name,
             ": expected 1 to 256 class names (labels are bytes), got ", class_names.size());
    IdxArray images = read_idx(images_path, 3);
    IdxArray labels = read_idx(labels_path, 1);
    FG_CHECK(images.dims[0] == labels.dims[0], "load_idx_dataset: ", name, ": ", images_path, " holds ",
             images.dims[0], " images but ", labels_path, " holds ", labels.dims[0],
             " labels; the two files do not belong together");

    Dataset data;
    data.name = name;
    data.rows = images.dims[1];
    data.cols = images.dims[2];
    data.class_names = std::move(class_names);
    data.images = std::move(images.data);
    const int num_classes = data.num_classes();
    data.labels.resize(labels.data.size());
    int64_t bad = 0, first_bad = -1;
    for (size_t i = 0; i < labels.data.size(); ++i) {
        data.labels[i] = labels.data[i];
        if (data.labels[i] >= num_classes) {
            if (first_bad < 0) first_bad = int64_t(i);
            ++bad;
        }
    }
    FG_CHECK(bad == 0, "load_idx_dataset: ", labels_path, ": label ", int(labels.data[size_t(first_bad)]),
             " at index ", first_bad, " is out of range [0, ", num_classes - 1, "] (", bad,
             " labels out of range in all)");
    return data;
}

Dataset load_mnist(const std::string& dir, Split split) {
    std::vector<std::string> digits;
    for (int d = 0; d < 10; ++d) digits.push_back(std::to_string(d));
    return load_mnist_layout(dir.empty() ? find_mnist_dir("") : dir, split, "MNIST", digits,
                             mnist_how_to_get());
}

Dataset load_fashion_mnist(const std::string& dir, Split split) {
    std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    return load_mnist_layout(dir.empty() ? find_fashion_mnist_dir("") : dir, split, "Fashion-MNIST", names,
                             fashion_how_to_get());
}

std::string find_mnist_dir(const std::string& cli_dir) {
    const std::string how_to_get = mnist_how_to_get();
    if (!cli_dir.empty()) return require_complete(cli_dir, "--data", "MNIST", how_to_get);
    std::string env = env_or_empty("MNIST_DIR");
    if (!env.empty()) return require_complete(env, "$MNIST_DIR", "MNIST", how_to_get);
    const std::string local = "datasets/mnist";
    FG_CHECK(has_mnist_files(local),
             "MNIST not found: no --data DIR given, $MNIST_DIR not set, "
             "and ",
             absolute(local), " does not hold the files.\n", how_to_get);
    return local;
}

std::string find_fashion_mnist_dir(const std::string& cli_dir) {
    const std::string how_to_get = fashion_how_to_get();
    if (!cli_dir.empty()) return require_complete(cli_dir, "--data", "Fashion-MNIST", how_to_get);
    std::string env = env_or_empty("FASHION_MNIST_DIR");
    if (!env.empty()) return require_complete(env, "$FASHION_MNIST_DIR", "Fashion-MNIST", how_to_get);
    for (const char* dir : {"datasets/fashion-mnist", kFashionSystemDir})
        if (has_mnist_files(dir)) return dir;
    throw Error(str(
        "Fashion-MNIST not found: no --data DIR given, $FASHION_MNIST_DIR not set, and "
        "neither ",
        absolute("datasets/fashion-mnist"), " nor ", kFashionSystemDir, " holds the files.\n", how_to_get));
}

}  // namespace focalgrad
