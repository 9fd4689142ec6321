// test_data_image_folder.cpp — load_image_folder on trees this test writes: classes from
// sorted folder names, files sorted, grey and RGB values exact, resizing, skipped files;
// every failure (no classes, an empty class, unreadable images) reported by path. And
// load_image's RGB form, which the folder loader uses.
#include <sys/stat.h>

#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <stb/stb_image_write.h>

#include <focalgrad/data/image.h>
#include <focalgrad/data/image_folder.h>
#include <focalgrad/data/loader.h>

#include "helpers.h"

using namespace focalgrad;
using fgtest::TempDir;
namespace fs = std::filesystem;

namespace {

// A w x h image of `channels` channels whose every byte is value + k (k = byte index).
void write_png(const std::string& path, int w, int h, int channels, int value) {
    fs::create_directories(fs::path(path).parent_path());
    std::vector<uint8_t> px(size_t(w * h * channels));
    for (size_t k = 0; k < px.size(); ++k) px[k] = uint8_t(value + int(k));
    REQUIRE(stbi_write_png(path.c_str(), w, h, channels, px.data(), w * channels));
}

void write_text(const std::string& path, const std::string& text) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << text;
}

}  // namespace

TEST_CASE("load_image with channels = 3: [3, H, W] planes, exact without resizing, alpha over white") {
    TempDir dir;
    // 2 x 1 RGBA: a red pixel, and a half-transparent blue one.
    std::vector<uint8_t> px = {255, 0, 0, 255, 0, 0, 255, 128};
    std::string path = dir / "rgba.png";
    REQUIRE(stbi_write_png(path.c_str(), 2, 1, 4, px.data(), 8));
    ImageOptions opt;
    opt.width = 2;
    opt.height = 1;
    opt.channels = 3;
    Tensor t = load_image(path, opt);
    REQUIRE(t.shape() == Shape{3, 1, 2});
    // v = (v alpha + 255 (255 - alpha)) / 255^2
    auto over_white = [](float v, float a) { return (v * a + 255.0f * (255.0f - a)) / (255.0f * 255.0f); };
    std::vector<float> expected = {1.0f, over_white(0, 128),  0.0f, over_white(0, 128),
                                   0.0f, over_white(255, 128)};
    CHECK(t.to_vector() == expected);
    // A grey file gives three equal planes; resizing keeps a constant image constant.
    std::string grey = dir / "grey.png";
    std::vector<uint8_t> g(16, 51);
    REQUIRE(stbi_write_png(grey.c_str(), 4, 4, 1, g.data(), 4));
    opt.width = opt.height = 3;
    Tensor r = load_image(grey, opt);
    REQUIRE(r.shape() == Shape{3, 3, 3});
    for (float v : r.to_vector()) CHECK(v == doctest::Approx(0.2f).epsilon(1e-6));
    opt.channels = 2;
    CHECK_ERROR(load_image(grey, opt), "channels must be 1 (grey) or 3 (RGB), got 2");
}

TEST_CASE("load_image_folder: classes from sorted folders, files sorted, values exact") {
    TempDir dir;
    const std::string root = dir / "pets";
    write_png(root + "/dog/b.png", 2, 2, 1, 40);
    write_png(root + "/dog/a.png", 2, 2, 1, 30);
    write_png(root + "/cat/x.PNG", 2, 2, 1, 10);
    write_png(root + "/cat/deeper/y.png", 2, 2, 1, 20);   // sub-folders of a class count
    write_text(root + "/cat/notes.txt", "not an image");  // skipped: not an image's name
    write_png(root + "/cat/.hidden.png", 2, 2, 1, 0);     // skipped: hidden
    write_png(root + "/.git/z.png", 2, 2, 1, 0);          // skipped: a hidden folder is no class
    write_png(root + "/stray.png", 2, 2, 1, 0);           // skipped: not in a class folder
    ImageFolderOptions opt;
    opt.width = opt.height = 2;
    TensorDataset d = load_image_folder(root, opt);
    CHECK(d.class_names == std::vector<std::string>{"cat", "dog"});
    CHECK(d.item_shape == Shape{1, 2, 2});
    CHECK(d.labels == std::vector<int>{0, 0, 1, 1});
    // cat/deeper/y.png sorts before cat/x.PNG ('d' < 'x'), dog/a before dog/b.
    const int firsts[] = {20, 10, 30, 40};
    for (int i = 0; i < 4; ++i)
        for (int k = 0; k < 4; ++k) CHECK(d.item(i)[k] == float(firsts[i] + k) / 255.0f);

    // RGB and resized: 4 x 2 images shrink to 2 x 1 by 2 x 2 box averages.
    write_png(root + "/dog/a.png", 4, 2, 3, 0);
    opt.channels = 3;
    opt.width = 2;
    opt.height = 1;
    TensorDataset rgb = load_image_folder(root, opt);
    CHECK(rgb.item_shape == Shape{3, 1, 2});
    // dog/a.png is item 2; byte (y, x, c) = 12 y + 3 x + c, so channel c of output pixel X
    // averages bytes at x = 2X, 2X + 1 and y = 0, 1: 3 (2X) + 7.5 + c.
    for (int c = 0; c < 3; ++c)
        for (int X = 0; X < 2; ++X)
            CHECK(rgb.item(2)[c * 2 + X] == doctest::Approx((6.0 * X + 7.5 + c) / 255.0).epsilon(1e-5));

    // The loader takes it as it takes MNIST.
    LoaderOptions lo;
    lo.batch_size = 3;
    lo.flatten = false;
    lo.per_channel = channel_stats(rgb);
    DataLoader loader(rgb, lo);
    CHECK(loader.epoch(0).batch(0).x.shape() == Shape{3, 3, 1, 2});
}

TEST_CASE("load_image_folder: every failure is reported, unreadable files by path") {
    TempDir dir;
    CHECK_ERROR(load_image_folder(dir / "none"), "load_image_folder: ", "none: no such directory");
    write_text(dir / "file", "x");
    CHECK_ERROR(load_image_folder(dir / "file"), "file: not a directory");
    const std::string root = dir / "tree";
    fs::create_directories(root);
    write_png(root + "/loose.png", 2, 2, 1, 0);
    CHECK_ERROR(load_image_folder(root), "tree: no class folders in it");
    write_png(root + "/a/1.png", 2, 2, 1, 0);
    write_text(root + "/b/readme.txt", "no images here");
    CHECK_ERROR(load_image_folder(root), "the class folder 'b' holds no images");
    write_text(root + "/b/broken.png", "this is not a PNG");
    write_png(root + "/b/ok.png", 2, 2, 1, 0);
    std::string pipe = root + "/b/pipe.png";
    REQUIRE(::mkfifo(pipe.c_str(), 0600) == 0);  // refused, never opened (no hang)
    std::string message = fgtest::error_of([&] { load_image_folder(root); });
    fgtest::check_contains(message, {"load_image_folder: " + root + ": 2 of 4 images cannot be read",
                                     "load_image: " + root + "/b/broken.png: cannot read it as an image",
                                     "load_image: " + root + "/b/pipe.png: not a regular file"});
    ImageFolderOptions opt;
    opt.channels = 4;
    CHECK_ERROR(load_image_folder(root, opt), "channels must be 1 (grey) or 3 (RGB), got 4");
    opt.channels = 1;
    opt.max_images = 2;
    fs::remove(pipe);
    fs::remove(root + "/b/broken.png");
    write_png(root + "/b/ok2.png", 2, 2, 1, 0);
    CHECK_ERROR(load_image_folder(root, opt), "more than 2 images (ImageFolderOptions::max_images)");
    opt.width = 0;
    CHECK_ERROR(load_image_folder(root, opt), "the size must be between 1 x 1 and 4096 x 4096, got 0 x 28");
}
