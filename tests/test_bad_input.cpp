// test_bad_input.cpp — issue #6's list of bad inputs, one test each, at the library level
// (the examples' flags are covered by test_examples_cli.cpp): each gets a focalgrad::Error
// whose message says what was wrong, never a crash or a silent default.
#include <cmath>

#include <focalgrad/core/ops.h>
#include <focalgrad/data/imbalance.h>
#include <focalgrad/data/loader.h>
#include <focalgrad/losses/losses.h>
#include <focalgrad/nn/checkpoint.h>
#include <focalgrad/nn/layers.h>
#include <focalgrad/optim/optimizer.h>

#include "helpers.h"
#include "test_data_helpers.h"

using namespace focalgrad;

namespace {
Dataset two_images() {
    Dataset d;
    d.name = "tiny";
    d.rows = d.cols = 28;
    d.class_names = {"0", "1"};
    d.images.assign(784 * 2, 0);
    d.labels = {0, 1};
    return d;
}
}  // namespace

TEST_CASE("bad input: negative or zero sizes") {
    CHECK_ERROR(Tensor::zeros({2, -1}), "Shape", "-1");
    CHECK_ERROR(Linear(0, 4), "Linear", ">= 1", "got 0 and 4");
    CHECK_ERROR(Linear(4, -1), "Linear", "got 4 and -1");
    CHECK_ERROR(Conv2d(1, 4, 0), "Conv2d", "kernel_size 0");
    CHECK_ERROR(MaxPool2d(0), "MaxPool2d", ">= 1");
    Dataset d = two_images();
    LoaderOptions o;
    o.batch_size = 0;
    CHECK_ERROR(DataLoader(d, o), "DataLoader", "batch_size must be >= 1, got 0");
    CHECK_ERROR(reshape(Tensor::ones({4}), {-2, 2}), "reshape", "-2");
}

TEST_CASE("bad input: a label >= C") {
    Tensor logits = Tensor::zeros({2, 10});
    CHECK_ERROR(cross_entropy(logits, {3, 10}), "cross_entropy", "10");
    CHECK_ERROR(focal_loss(logits, {3, 12}), "focal_loss", "12");
    CHECK_ERROR(balanced_cross_entropy(logits, {3, 10}, std::vector<int64_t>(10, 5)), "10");
}

TEST_CASE("bad input: an empty dataset") {
    Dataset d = two_images();
    d.images.clear();
    d.labels.clear();
    CHECK_ERROR(DataLoader(d, LoaderOptions{}), "DataLoader", "no items");
    CHECK_ERROR(make_step_imbalance({}, {1}, 10, 0), "make_step_imbalance", "empty");
    CHECK_ERROR(make_long_tail({}, 10, 0), "make_long_tail", "empty");
}

TEST_CASE("bad input: a learning rate that is NaN or <= 0") {
    Linear layer(2, 2);
    CHECK_ERROR(SGD(layer.parameters(), std::nan("")), "SGD", "learning rate nan");
    CHECK_ERROR(SGD(layer.parameters(), 0.0), "SGD", "learning rate 0");
    CHECK_ERROR(SGD(layer.parameters(), -0.1), "SGD", "learning rate -0.1");
    CHECK_ERROR(Adam(layer.parameters(), std::nan("")), "Adam", "learning rate nan");
    CHECK_ERROR(AdamW(layer.parameters(), 0.0), "AdamW", "learning rate 0");
    SGD ok(layer.parameters(), 0.1);
    CHECK_ERROR(ok.set_lr(std::nan("")), "learning rate nan");
}

TEST_CASE("bad input: an imbalance ratio < 1 and a minority class that does not exist") {
    std::vector<int> labels = {0, 1, 1, 2};
    CHECK_ERROR(make_step_imbalance(labels, {1}, 0.5, 0), "make_step_imbalance", "ratio", "0.5");
    CHECK_ERROR(make_step_imbalance(labels, {7}, 10, 0), "make_step_imbalance", "minority class 7");
    CHECK_ERROR(make_long_tail(labels, 0.9, 0), "make_long_tail", "0.9");
}

TEST_CASE("bad input: a checkpoint that belongs to another architecture") {
    fgtest::TempDir dir;
    std::string path = dir / "mlp.ckpt";
    Sequential mlp(Linear(784, 32), ReLU(), Linear(32, 10));
    save(mlp, path);
    Sequential wider(Linear(784, 64), ReLU(), Linear(64, 10));
    CHECK_ERROR(load(wider, path), "load", "0.weight", "[32, 784]", "[64, 784]");
    Sequential cnn(Conv2d(1, 4, 3), ReLU(), Flatten(), Linear(4 * 26 * 26, 10));
    CHECK_ERROR(load(cnn, path), "load", "0.weight");
    Sequential deeper(Linear(784, 32), ReLU(), Linear(32, 10), ReLU(), Linear(10, 10));
    CHECK_ERROR(load(deeper, path), "load", "4.weight");
}

TEST_CASE(
    "parameters that would produce NaN are refused: Adam's eps, clamp's bounds, leaky_relu's slope, arange's "
    "count") {
    Tensor p = Tensor::zeros({3}).set_requires_grad(true);
    // With eps = 0, a parameter whose gradient is 0 became 0 / 0 = NaN at the first step.
    CHECK_ERROR(Adam({p}, 1e-3, 0.9, 0.999, 0.0), "Adam: invalid eps 0", "finite number > 0");
    CHECK_ERROR(Adam({p}, 1e-3, 0.9, 0.999, 1e-60), "Adam: invalid eps 1e-60");  // 0 as a float
    CHECK_ERROR(AdamW({p}, 1e-3, 0.9, 0.999, std::nan("")), "AdamW: invalid eps nan");
    Adam adam({p}, 1e-3);
    adam.eps = 0;  // a public member, checked again when used
    p.impl().grad = Tensor::zeros({3}).impl_ptr();
    CHECK_ERROR(adam.step(), "Adam: invalid eps 0");
    CHECK(p.to_vector() == std::vector<float>{0, 0, 0});

    Tensor x = Tensor::from({-1.0f, 0.5f, 2.0f});
    CHECK_ERROR(clamp(x, NAN, 1.0f), "clamp: lo and hi must not be NaN, got lo=nan hi=1", "-INFINITY");
    CHECK_ERROR(clamp(x, 0.0f, NAN), "clamp: lo and hi must not be NaN");
    fgtest::check_close(clamp(x, -INFINITY, 1.0f), {-1, 0.5, 1});  // an open side is fine
    CHECK_ERROR(leaky_relu(x, NAN), "leaky_relu: negative_slope must be finite, got nan");
    CHECK_ERROR(leaky_relu(x, INFINITY), "leaky_relu: negative_slope must be finite, got inf");
    CHECK_ERROR(LeakyReLU(NAN), "LeakyReLU: negative_slope must be finite");
    // 1e30 elements: the count's conversion to an integer was undefined behaviour.
    CHECK_ERROR(Tensor::arange(0.0f, 1e30f, 1.0f),
                "arange: [0, 1e+30) in steps of 1 has 1e+30 elements, more than kMaxNumel");
    CHECK_ERROR(Tensor::arange(0.0f, 1.0f, 1e-30f), "more than kMaxNumel");
    CHECK(Tensor::arange(0.0f, 1e6f, 1.0f).numel() == 1000000);
}
