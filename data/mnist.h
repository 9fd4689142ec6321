// mnist.h — MNIST and Fashion-MNIST as in-memory datasets, and where their files are found.
// Images stay uint8 (60,000 x 784 bytes = 47 MB); data/loader.h converts them to float one
// batch at a time. A directory is validated structurally (headers, sizes, counts, label
// range) and never against checksums: a user's copy may be re-encoded yet perfectly good.
// Not here: downloading (scripts/get_mnist.sh does that), augmentation, other datasets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace focalgrad {

struct Dataset {
    std::string name;                      // "MNIST train", used in messages
    int64_t rows = 0, cols = 0;            // image height and width
    std::vector<std::string> class_names;  // class_names[label]
    std::vector<uint8_t> images;           // [N, rows * cols], 0 = background
    std::vector<int> labels;               // [N], each in [0, num_classes)

    int64_t size() const { return int64_t(labels.size()); }
    int64_t image_size() const { return rows * cols; }
    int num_classes() const { return int(class_names.size()); }
    const uint8_t* image(int64_t i) const { return images.data() + i * image_size(); }
};

// Throws an Error naming `op` and the dataset unless it is consistent: images of at least
// 1 x 1 pixels, images.size() == N * rows * cols, at least one class and every label in
// [0, num_classes). Every reader of a Dataset (DataLoader, make_batch, pixel_stats)
// checks it first, so a hand-built Dataset cannot make them read past its bytes.
void check_dataset(const Dataset& data, const char* op);

enum class Split { train, test };
const char* split_name(Split split);         // "train", "test"
Split parse_split(const std::string& name);  // the inverse; throws on anything else

// Reads an image file (3 dims) and a label file (1 dim) and checks that they belong
// together: same item count, every label below class_names.size().
Dataset load_idx_dataset(const std::string& images_path, const std::string& labels_path,
                         const std::string& name, std::vector<std::string> class_names);

// The split's two files in `dir`, each looked up under four names, first match wins:
//   train-images-idx3-ubyte, train-images-idx3-ubyte.gz,   (the canonical names)
//   train-images.idx3-ubyte, train-images.idx3-ubyte.gz    (a common re-packaging)
// and t10k-... for the test split. Images must be 28 x 28, labels in [0, 9].
// An empty `dir` means find_mnist_dir("") / find_fashion_mnist_dir("").
Dataset load_mnist(const std::string& dir, Split split);
Dataset load_fashion_mnist(const std::string& dir, Split split);

// Where MNIST is: `cli_dir` (from --data) if not empty, else $MNIST_DIR if set, else
// datasets/mnist relative to the working directory. The first of these that is given
// must hold all four files; if none does, the Error says where to put the files and how
// to run scripts/get_mnist.sh.
std::string find_mnist_dir(const std::string& cli_dir);

// Where Fashion-MNIST is: `cli_dir`, else $FASHION_MNIST_DIR, else datasets/fashion-mnist,
// else /usr/share/datasets/fashion-mnist (the Debian package dataset-fashion-mnist).
std::string find_fashion_mnist_dir(const std::string& cli_dir);

// Whether `dir` holds all four files of a dataset in the MNIST layout (not validated).
bool has_mnist_files(const std::string& dir);

// The path of one file of a split ("images" or "labels") in `dir`, or "" if absent.
std::string find_mnist_file(const std::string& dir, Split split, const std::string& kind);

}  // namespace focalgrad
