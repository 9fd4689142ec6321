// test_data_idx.cpp — the IDX reader and the MNIST loaders on small IDX files written by
// the test (raw and gzip): exact round trips, every kind of corruption, where data is
// looked for; and the real MNIST / Fashion-MNIST when they are on this machine.
#include <cstdlib>
#include <doctest/doctest.h>
#include <numeric>

#include <focalgrad/data/idx.h>
#include <focalgrad/data/imbalance.h>
#include <focalgrad/data/mnist.h>

#include "helpers.h"
#include "test_data_helpers.h"

using namespace focalgrad;
using fgtest::Bytes;
using fgtest::TempDir;

namespace {

struct SmallSplit {
    Bytes images;  // n x 28 x 28
    std::vector<int> labels;
};

SmallSplit small_split(uint32_t n, uint32_t seed) {
    SmallSplit s;
    s.images = fgtest::pattern_bytes(size_t(n) * 784, seed);
    for (uint32_t i = 0; i < n; ++i) s.labels.push_back(int((i * 7 + seed) % 10));
    return s;
}

Bytes label_bytes(const std::vector<int>& labels) { return Bytes(labels.begin(), labels.end()); }

// Writes a split's two files under `prefix` ("train" or "t10k") with the given name style.
void write_split(const TempDir& dir, const std::string& prefix, const SmallSplit& s, bool gz,
                 bool dotted = false) {
    std::string images = prefix + (dotted ? "-images.idx3-ubyte" : "-images-idx3-ubyte");
    std::string labels = prefix + (dotted ? "-labels.idx1-ubyte" : "-labels-idx1-ubyte");
    Bytes img = fgtest::idx_bytes({uint32_t(s.labels.size()), 28, 28}, s.images);
    Bytes lab = fgtest::idx_bytes({uint32_t(s.labels.size())}, label_bytes(s.labels));
    fgtest::write_file(dir / (images + (gz ? ".gz" : "")), gz ? fgtest::gzip_bytes(img) : img);
    fgtest::write_file(dir / (labels + (gz ? ".gz" : "")), gz ? fgtest::gzip_bytes(lab) : lab);
}

// Writes `raw` to dir/name, gzipped when gz (the name gets ".gz"), and returns the path.
std::string put(const TempDir& dir, const std::string& name, const Bytes& raw, bool gz) {
    std::string path = dir / (name + (gz ? ".gz" : ""));
    fgtest::write_file(path, gz ? fgtest::gzip_bytes(raw) : raw);
    return path;
}

}  // namespace

TEST_CASE("read_idx reads raw and gzip files byte for byte") {
    TempDir dir;
    Bytes data = fgtest::pattern_bytes(5 * 3 * 7, 1);
    Bytes raw = fgtest::idx_bytes({5, 3, 7}, data);
    for (bool gz : {false, true}) {
        CAPTURE(gz);
        IdxArray a = read_idx(put(dir, "a", raw, gz), 3);
        CHECK(a.dims == std::vector<int64_t>{5, 3, 7});
        CHECK(a.data == data);
    }
    // Sizes that span many read and inflate chunks, and a label file.
    Bytes big = fgtest::pattern_bytes(3000 * 784, 2);
    IdxArray b = read_idx(put(dir, "big", fgtest::idx_bytes({3000, 28, 28}, big), true), 3);
    CHECK(b.data == big);
    IdxArray l = read_idx(put(dir, "l", fgtest::idx_bytes({4}, {9, 0, 3, 3}), false), 1);
    CHECK(l.dims == std::vector<int64_t>{4});
    CHECK(l.data == Bytes{9, 0, 3, 3});
}

TEST_CASE("read_idx accepts a gzip file of several members, as gunzip does") {
    TempDir dir;
    Bytes raw = fgtest::idx_bytes({6, 2, 2}, fgtest::pattern_bytes(24, 3));
    Bytes first(raw.begin(), raw.begin() + 10), second(raw.begin() + 10, raw.end());
    Bytes gz = fgtest::gzip_bytes(first), gz2 = fgtest::gzip_bytes(second);
    gz.insert(gz.end(), gz2.begin(), gz2.end());
    fgtest::write_file(dir / "m.gz", gz);
    IdxArray a = read_idx(dir / "m.gz", 3);
    CHECK(a.data == Bytes(raw.begin() + 16, raw.end()));
}

TEST_CASE("read_idx: every corruption is a clear error naming the file") {
    TempDir dir;
    Bytes data = fgtest::pattern_bytes(4 * 28 * 28, 4);
    for (bool gz : {false, true}) {
        CAPTURE(gz);
        std::string p;

        p = put(dir, "empty", {}, gz);
        CHECK_ERROR(read_idx(p, 3), "read_idx: ", p, "the file is empty");

        p = put(dir, "short", {0, 0}, gz);
        CHECK_ERROR(read_idx(p, 3), p, "only 2 bytes", "too short");

        Bytes bad = fgtest::idx_bytes({4, 28, 28}, data);
        bad[1] = 0x01;
        p = put(dir, "magic", bad, gz);
        CHECK_ERROR(read_idx(p, 3), p, "not an IDX file", "00 01 08 03", "expected 00 00 08 03");
        p = put(dir, "html", {'<', 'h', 't', 'm', 'l', '>'}, gz);
        CHECK_ERROR(read_idx(p, 3), p, "3c 68 74 6d", "looks like a web page");

        p = put(dir, "type", fgtest::idx_bytes({4, 28, 28}, Bytes(4 * 28 * 28 * 4), 0x0D), gz);
        CHECK_ERROR(read_idx(p, 3), p, "element type 0x0d (float32)", "expected 0x08");

        // Wrong dims: a label file read as images (the swapped-files mistake), and back.
        p = put(dir, "labels", fgtest::idx_bytes({4}, {1, 2, 3, 4}), gz);
        CHECK_ERROR(read_idx(p, 3), p, "announces 1 dims, expected 3", "swapped");
        p = put(dir, "images", fgtest::idx_bytes({4, 28, 28}, data), gz);
        CHECK_ERROR(read_idx(p, 1), p, "announces 3 dims, expected 1");

        p = put(dir, "zero", fgtest::idx_bytes({4, 0, 28}, {}), gz);
        CHECK_ERROR(read_idx(p, 3), p, "dim 1 has size 0");

        p = put(dir, "hdr", {0, 0, 8, 3, 0, 0, 0, 4, 0, 0}, gz);
        CHECK_ERROR(read_idx(p, 3), p, "truncated header", "dim 1");

        p = put(dir, "huge", fgtest::idx_bytes({0xffffffffu, 0xffffffffu, 0xffffffffu}, {}), gz);
        CHECK_ERROR(read_idx(p, 3), p, "impossibly large");

        Bytes cut = fgtest::idx_bytes({4, 28, 28}, data);
        cut.pop_back();
        p = put(dir, "trunc", cut, gz);
        CHECK_ERROR(read_idx(p, 3), p, "truncated", "4 x 28 x 28 = 3136 bytes", "only 3135");

        Bytes extra = fgtest::idx_bytes({4, 28, 28}, data);
        extra.push_back(7);
        extra.push_back(7);
        p = put(dir, "extra", extra, gz);
        CHECK_ERROR(read_idx(p, 3), p, "2 bytes of trailing data", "3136 bytes (4 x 28 x 28)");
    }
    CHECK_ERROR(read_idx(dir / "absent", 3), dir / "absent", "no such file");
    CHECK_ERROR(read_idx(dir.path(), 3), dir.path(), "not a regular file");
    CHECK_ERROR(read_idx(dir / "x", 4), "expected_ndim must be 1, 2 or 3");
}

TEST_CASE("read_idx: damaged gzip files are errors, never short or wrong data") {
    TempDir dir;
    Bytes raw = fgtest::idx_bytes({50, 28, 28}, fgtest::pattern_bytes(50 * 784, 5));
    Bytes gz = fgtest::gzip_bytes(raw);
    std::string p = dir / "d.gz";

    // Cut anywhere: inside the deflate data, or inside the 8-byte CRC/size trailer.
    for (size_t keep : {size_t(12), gz.size() / 2, gz.size() - 5, gz.size() - 1}) {
        CAPTURE(keep);
        fgtest::write_file(p, Bytes(gz.begin(), gz.begin() + long(keep)));
        CHECK_ERROR(read_idx(p, 3), p, "truncated gzip file");
    }
    // A flipped bit in the stored CRC-32: the data inflates fine but fails its check.
    Bytes crc = gz;
    crc[crc.size() - 8] ^= 0x01;
    fgtest::write_file(p, crc);
    CHECK_ERROR(read_idx(p, 3), p, "corrupt gzip data", "incorrect data check");
    // Bytes after the gzip stream that do not start another member.
    for (Bytes tail : {Bytes{0}, Bytes{0, 0, 0, 0}, Bytes{'a', 'b', 'c'}}) {
        Bytes g = gz;
        g.insert(g.end(), tail.begin(), tail.end());
        fgtest::write_file(p, g);
        CHECK_ERROR(read_idx(p, 3), p, "garbage after the end of the gzip data");
    }
    // A gzip file whose header promises more than it holds.
    Bytes liar = fgtest::idx_bytes({3, 28, 28}, fgtest::pattern_bytes(784, 6));
    fgtest::write_file(p, fgtest::gzip_bytes(liar));
    CHECK_ERROR(read_idx(p, 3), p, "truncated", "2352 bytes", "only 784", "after decompression");
    // ... or more than its compressed size can hold at all: refused before reading on.
    Bytes bigger_liar = fgtest::idx_bytes({60000, 28, 28}, fgtest::pattern_bytes(784, 6));
    Bytes gz_liar = fgtest::gzip_bytes(bigger_liar);
    fgtest::write_file(p, gz_liar);
    CHECK_ERROR(read_idx(p, 3), p, "truncated", "60000 x 28 x 28 = 47040000 bytes",
                "more than the " + std::to_string(gz_liar.size()) + " bytes of gzip data",
                "at most " + std::to_string(1032 * gz_liar.size()));
}

TEST_CASE("load_mnist reads both splits, raw or gz, under either naming") {
    TempDir dir;
    SmallSplit train = small_split(12, 1), test = small_split(5, 2);
    write_split(dir, "train", train, /*gz=*/true);
    write_split(dir, "t10k", test, /*gz=*/false, /*dotted=*/true);
    CHECK(has_mnist_files(dir.path()));

    Dataset a = load_mnist(dir.path(), Split::train);
    CHECK(a.name == "MNIST train");
    CHECK(a.size() == 12);
    CHECK(a.rows == 28);
    CHECK(a.cols == 28);
    CHECK(a.num_classes() == 10);
    CHECK(a.class_names[7] == "7");
    CHECK(a.images == train.images);
    CHECK(a.labels == train.labels);
    CHECK(std::equal(a.image(3), a.image(3) + 784, train.images.begin() + 3 * 784));

    Dataset b = load_mnist(dir.path(), Split::test);
    CHECK(b.size() == 5);
    CHECK(b.images == test.images);
    CHECK(b.labels == test.labels);

    Dataset f = load_fashion_mnist(dir.path(), Split::test);
    CHECK(f.name == "Fashion-MNIST test");
    CHECK(f.class_names[0] == "T-shirt/top");
    CHECK(f.class_names[9] == "Ankle boot");
    CHECK(f.labels == test.labels);

    CHECK(parse_split("train") == Split::train);
    CHECK(parse_split("test") == Split::test);
    CHECK_ERROR(parse_split("valid"), "unknown split 'valid'");
}

TEST_CASE("load_mnist: files that do not belong together are clear errors") {
    SmallSplit s = small_split(6, 3);
    Bytes img = fgtest::idx_bytes({6, 28, 28}, s.images);
    for (bool gz : {false, true}) {
        CAPTURE(gz);
        {  // image/label count mismatch
            TempDir dir;
            put(dir, "train-images-idx3-ubyte", img, gz);
            std::vector<int> five(s.labels.begin(), s.labels.begin() + 5);
            put(dir, "train-labels-idx1-ubyte", fgtest::idx_bytes({5}, label_bytes(five)), gz);
            CHECK_ERROR(load_mnist(dir.path(), Split::train), "holds 6 images but", "holds 5 labels",
                        "do not belong together");
        }
        {  // a label above 9
            TempDir dir;
            put(dir, "train-images-idx3-ubyte", img, gz);
            std::vector<int> labels = s.labels;
            labels[4] = 12;
            labels[5] = 200;
            std::string p =
                put(dir, "train-labels-idx1-ubyte", fgtest::idx_bytes({6}, label_bytes(labels)), gz);
            CHECK_ERROR(load_mnist(dir.path(), Split::train), p, "label 12 at index 4", "out of range [0, 9]",
                        "2 labels out of range");
        }
        {  // images of the wrong size
            TempDir dir;
            std::string p =
                put(dir, "train-images-idx3-ubyte", fgtest::idx_bytes({6, 27, 28}, Bytes(6 * 27 * 28)), gz);
            put(dir, "train-labels-idx1-ubyte", fgtest::idx_bytes({6}, label_bytes(s.labels)), gz);
            CHECK_ERROR(load_mnist(dir.path(), Split::train), p, "images are 27 x 28", "expected 28 x 28");
        }
        {  // image and label files swapped
            TempDir dir;
            put(dir, "train-labels-idx1-ubyte", img, gz);
            put(dir, "train-images-idx3-ubyte", fgtest::idx_bytes({6}, label_bytes(s.labels)), gz);
            CHECK_ERROR(load_mnist(dir.path(), Split::train), "announces 1 dims, expected 3", "swapped");
        }
        {  // a missing file
            TempDir dir;
            put(dir, "train-images-idx3-ubyte", img, gz);
            CHECK_ERROR(load_mnist(dir.path(), Split::train), dir.path(), "lacks the train split",
                        "missing train-labels-idx1-ubyte", "scripts/get_mnist.sh");
            CHECK_ERROR(load_fashion_mnist(dir.path(), Split::train), "lacks the train split",
                        "apt-get install dataset-fashion-mnist");
        }
    }
}

TEST_CASE("find_mnist_dir: --data, then $MNIST_DIR, then datasets/mnist, else instructions") {
    TempDir good, other, empty;
    write_split(good, "train", small_split(3, 1), true);
    write_split(good, "t10k", small_split(2, 2), false);
    write_split(other, "train", small_split(3, 1), false, true);
    write_split(other, "t10k", small_split(2, 2), true, true);

    {
        fgtest::EnvGuard env("MNIST_DIR", other.path().c_str());
        CHECK(find_mnist_dir(good.path()) == good.path());  // the flag wins
        CHECK(find_mnist_dir("") == other.path());          // then the variable
        CHECK_ERROR(find_mnist_dir(empty.path()), "MNIST not found", "--data", empty.path(),
                    "train-images-idx3-ubyte[.gz]", "t10k-labels-idx1-ubyte[.gz]",
                    "scripts/get_mnist.sh datasets/mnist");
        CHECK_ERROR(find_mnist_dir(empty / "nope"), "not a directory");
    }
    {
        fgtest::EnvGuard env("MNIST_DIR", empty.path().c_str());
        CHECK_ERROR(find_mnist_dir(""), "$MNIST_DIR", empty.path(), "lacks");
    }
    {
        fgtest::EnvGuard env("MNIST_DIR", nullptr);
        fgtest::CwdGuard cwd(empty.path());
        CHECK_ERROR(find_mnist_dir(""), "MNIST not found", "$MNIST_DIR not set", empty / "datasets/mnist",
                    "train-images-idx3-ubyte.gz", "scripts/get_mnist.sh datasets/mnist",
                    "--data DIR or MNIST_DIR=DIR");
        std::filesystem::create_directories("datasets");
        std::filesystem::create_symlink(good.path(), "datasets/mnist");
        CHECK(find_mnist_dir("") == "datasets/mnist");
        CHECK(load_mnist("", Split::test).size() == 2);
    }
    {
        fgtest::EnvGuard env("FASHION_MNIST_DIR", empty.path().c_str());
        CHECK_ERROR(find_fashion_mnist_dir(""), "Fashion-MNIST not found", "$FASHION_MNIST_DIR",
                    "sudo apt-get install dataset-fashion-mnist", "/usr/share/datasets/fashion-mnist");
        CHECK_ERROR(load_fashion_mnist(empty / "nope", Split::test), "lacks the test split",
                    "dataset-fashion-mnist");
    }
}

// The real data, when this machine has it. CI sets MNIST_DIR to the shared copy.
TEST_CASE("load_mnist on the real MNIST (needs $MNIST_DIR)") {
    const char* dir = std::getenv("MNIST_DIR");
    if (!dir || !*dir) {
        MESSAGE(
            "skipped: MNIST_DIR is not set; run with MNIST_DIR=/path/to/mnist to check the "
            "real files (e.g. MNIST_DIR=../shared/data/mnist)");
        return;
    }
    Dataset train = load_mnist(find_mnist_dir(""), Split::train);
    Dataset test = load_mnist(dir, Split::test);
    CHECK(train.size() == 60000);
    CHECK(test.size() == 10000);
    CHECK(train.images.size() == size_t(60000) * 784);
    CHECK(class_counts(train.labels, 10) ==
          std::vector<int64_t>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949});
    CHECK(class_counts(test.labels, 10) ==
          std::vector<int64_t>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009});
    CHECK(train.labels[0] == 5);  // the famous first training digit
    CHECK(test.labels[0] == 7);
}

TEST_CASE("load_fashion_mnist on the Debian package's files (when installed)") {
    std::string dir;
    try {
        dir = find_fashion_mnist_dir("");
    } catch (const Error& e) {
        MESSAGE("skipped: Fashion-MNIST is not installed (", e.what(), ")");
        return;
    }
    Dataset test = load_fashion_mnist(dir, Split::test);
    CHECK(test.size() == 10000);
    CHECK(class_counts(test.labels, 10) == std::vector<int64_t>(10, 1000));
    CHECK(test.class_names[9] == "Ankle boot");
}
