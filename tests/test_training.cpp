// test_training.cpp — whole training runs: the MNIST integration test, bit-identical
// results across runs and thread counts, bounded memory over 1,000 steps, and two models
// trained at once on two threads.
#include <cstdio>
#include <cstring>
#include <thread>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/memory.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/data/loader.h>
#include <focalgrad/data/metrics.h>
#include <focalgrad/data/mnist.h>
#include <focalgrad/losses/losses.h>
#include <focalgrad/nn/checkpoint.h>
#include <focalgrad/nn/layers.h>
#include <focalgrad/optim/optimizer.h>
#include <focalgrad/train/memory.h>

#include "../examples/models.h"
#include "helpers.h"

using namespace focalgrad;

namespace {

// A random dataset with learnable structure: each class has its own bright pixels.
Dataset synthetic(int64_t n, uint64_t seed) {
    Dataset d;
    d.name = "synthetic";
    d.rows = d.cols = 28;
    for (int c = 0; c < 10; ++c) d.class_names.push_back(std::to_string(c));
    Generator g(seed);
    d.images.resize(size_t(n) * 784);
    for (int64_t i = 0; i < n; ++i) {
        int label = int(g.below(10));
        d.labels.push_back(label);
        uint8_t* img = d.images.data() + i * 784;
        for (int p = 0; p < 784; ++p) img[p] = uint8_t(g.below(64) + ((p % 10) == label ? 160 : 0));
    }
    return d;
}

std::shared_ptr<Sequential> mlp(uint64_t seed, int64_t hidden = 64) {
    Generator g(seed);
    return std::make_shared<Sequential>(Linear(784, hidden, true, g), ReLU(), Linear(hidden, 10, true, g));
}

struct TrainResult {
    std::vector<float> losses;
    std::vector<float> params;
};

// `steps` SGD steps (momentum, weight decay) with focal loss on shuffled batches.
TrainResult train(const Dataset& data, int steps, uint64_t seed) {
    auto model = mlp(seed);
    SGD opt(model->parameters(), 0.05, 0.9, 0, 1e-4);
    LoaderOptions lo;
    lo.batch_size = 64;
    lo.seed = seed;
    lo.normalize = {0.3, 0.3};
    DataLoader loader(data, lo);
    TrainResult r;
    FocalLossOptions fo;
    fo.gamma = 2;
    for (int64_t epoch = 0; int(r.losses.size()) < steps; ++epoch)
        for (const Batch& b : loader.epoch(epoch)) {
            if (int(r.losses.size()) == steps) break;
            opt.zero_grad();
            Tensor loss = focal_loss((*model)(b.x), b.y, fo);
            loss.backward();
            opt.step();
            r.losses.push_back(loss.item());
        }
    for (const Tensor& p : model->parameters())
        for (float v : p.to_vector()) r.params.push_back(v);
    return r;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

int64_t resident_kb() {
    FILE* f = std::fopen("/proc/self/statm", "r");
    long pages_total = 0, pages_resident = 0;
    if (f) {
        if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
        std::fclose(f);
    }
    return int64_t(pages_resident) * 4;
}

}  // namespace

TEST_CASE("integration: 5,000 MNIST images, one epoch, >= 85 % test accuracy") {
    std::string dir;
    try {
        dir = find_mnist_dir("");
    } catch (const Error& e) {
        MESSAGE("skipped: MNIST not found (set MNIST_DIR, e.g. MNIST_DIR=../shared/data/mnist): ",
                std::string(e.what()));
        return;
    }
    Dataset train_set = load_mnist(dir, Split::train), test_set = load_mnist(dir, Split::test);
    std::vector<int64_t> first(5000);
    for (int64_t i = 0; i < 5000; ++i) first[size_t(i)] = i;
    LoaderOptions lo;
    lo.batch_size = 64;
    lo.normalize = kMnistStats;
    DataLoader loader(train_set, first, lo);
    auto model = mlp(0, 128);
    SGD opt(model->parameters(), 0.05, 0.9);
    for (const Batch& b : loader.epoch(0)) {
        opt.zero_grad();
        Tensor loss = cross_entropy((*model)(b.x), b.y);
        loss.backward();
        opt.step();
    }
    NoGradGuard no_grad;
    lo.batch_size = 1000;
    ConfusionMatrix cm(10);
    DataLoader test_loader(test_set, lo);
    for (const Batch& b : test_loader.epoch(0)) cm.add(b.y, argmax_rows((*model)(b.x)));
    double accuracy = compute_metrics(cm).accuracy;
    MESSAGE("test accuracy after one epoch on 5,000 images: ", accuracy);
    CHECK(accuracy >= 0.85);
}

TEST_CASE("determinism: 200 steps give identical bits across runs and on 1 and 2 threads") {
    Dataset data = synthetic(3000, 5);
    int saved = num_threads();
    set_num_threads(1);
    TrainResult a = train(data, 200, 3), b = train(data, 200, 3);
    set_num_threads(2);
    TrainResult c = train(data, 200, 3), d = train(data, 200, 3);
    set_num_threads(saved);
    CHECK(same_bits(a.losses, b.losses));
    CHECK(same_bits(a.params, b.params));
    CHECK(same_bits(c.losses, d.losses));
    CHECK(same_bits(c.params, d.params));
    CHECK(same_bits(a.losses, c.losses));  // the thread count changes nothing
    CHECK(same_bits(a.params, c.params));
    CHECK(a.losses.back() < 0.5f * a.losses.front());  // and it did learn
    TrainResult other = train(data, 200, 4);
    CHECK_FALSE(same_bits(a.params, other.params));
}

TEST_CASE("memory: 1,000 steps hold no more buffers and no more resident memory than the first") {
    Dataset data = synthetic(2000, 6);
    auto model = mlp(1, 128);
    SGD opt(model->parameters(), 0.01, 0.9);
    LoaderOptions lo;
    lo.batch_size = 32;
    DataLoader loader(data, lo);
    int64_t buffers_after_first = -1, rss_after_first = 0, max_buffers = 0;
    int step = 0;
    for (int64_t epoch = 0; step < 1000; ++epoch)
        for (const Batch& b : loader.epoch(epoch)) {
            if (step == 1000) break;
            opt.zero_grad();
            Tensor loss = cross_entropy((*model)(b.x), b.y);
            loss.backward();
            opt.step();
            CHECK(tape_size() == 0);
            if (step == 0) {
                buffers_after_first = live_buffer_count();
                rss_after_first = resident_kb();
            }
            max_buffers = std::max(max_buffers, live_buffer_count());
            ++step;
        }
    MESSAGE("live buffers after step 1: ", buffers_after_first, ", at most ", max_buffers,
            "; resident memory ", rss_after_first, " kB after step 1, ", resident_kb(), " kB after 1,000");
    CHECK(max_buffers <= buffers_after_first + 2);  // the batch being built, the loss
#if defined(__SANITIZE_ADDRESS__)
    // AddressSanitizer keeps freed memory in quarantine (256 MB by default) instead of
    // reusing it, so resident memory grows by design; the buffer count above still holds.
#else
    CHECK(resident_kb() <= rss_after_first + 1024);
#endif
}

TEST_CASE("two threads training two models at once match each model trained alone") {
    Dataset data = synthetic(1500, 7);
    TrainResult alone_a = train(data, 60, 11), alone_b = train(data, 60, 12);
    TrainResult together_a, together_b;
    std::thread ta([&] { together_a = train(data, 60, 11); });
    std::thread tb([&] { together_b = train(data, 60, 12); });
    ta.join();
    tb.join();
    CHECK(same_bits(alone_a.params, together_a.params));
    CHECK(same_bits(alone_b.params, together_b.params));
    CHECK(same_bits(alone_a.losses, together_a.losses));
}

TEST_CASE("estimate_step_memory: the estimate is the peak of a real step, for any batch") {
    Generator gen(4);
    auto cnn = examples::cnn(gen);
    auto loss_fn = [](const Tensor& z, const std::vector<int>& y) { return cross_entropy(z, y); };
    StepMemory m = estimate_step_memory(*cnn, Shape{1, 28, 28}, loss_fn);
    double param_bytes = 0;
    for (const Tensor& p : cnn->parameters()) param_bytes += 4.0 * double(p.numel());
    CHECK(cnn->is_training());  // left as it was
    for (const Tensor& p : cnn->parameters()) CHECK(!p.has_grad());
    // From 8 images per thread on, every thread runs conv2d chunks with scratch of its own,
    // as in the dry steps; a smaller batch uses less, and the estimate is an upper bound.
    const int64_t from = 8 * int64_t(num_threads());
    for (int64_t batch : {int64_t(1), from, from + 3, 100 + from}) {
        CAPTURE(batch);
        const int64_t before = live_bytes();
        reset_peak_live_bytes();
        {
            Tensor x = Tensor::randn({batch, 1, 28, 28}, gen);
            std::vector<int> y(size_t(batch), 3);
            loss_fn((*cnn)(x), y).backward();
        }
        const double real = double(peak_live_bytes() - before);
        for (Tensor p : cnn->parameters()) p.zero_grad();
        // The estimate adds two copies of the parameters for the optimizer's state.
        if (batch >= from)
            CHECK(std::abs(m.at(batch) - 2 * param_bytes - real) <= 0.02 * real);
        else
            CHECK(m.at(batch) - 2 * param_bytes >= real);
    }
    // About 64 kB per image: the input, the pooled activations of 16 + 32 channels at
    // 14 x 14 and 7 x 7 with their gradients and argmax indices, the conv gradients' inputs.
    // conv2d's full-size activations and im2col buffers live per chunk of images, in the
    // fixed part.
    CHECK(m.per_sample > 40e3);
    CHECK(m.per_sample < 100e3);
}
