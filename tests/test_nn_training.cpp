// test_nn_training.cpp — small networks learn, and learn deterministically: a 2-layer MLP
// reaches 100 % training accuracy on XOR and on two moons (generated here with a fixed
// seed); a tiny CNN separates horizontal from vertical bars; two runs with one seed give
// bit-identical losses. The loss is a softmax cross-entropy composed of core ops here,
// to keep nn/ tests independent of losses/.
#include <cmath>
#include <cstring>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/random.h>
#include <focalgrad/nn/layers.h>
#include <focalgrad/optim/optimizer.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

// mean_i -log softmax(logits_i)[y_i]
Tensor softmax_cross_entropy(const Tensor& logits, const std::vector<int>& y) {
    return -mean(gather(log_softmax(logits, 1), y));
}

double accuracy(Module& net, const Tensor& x, const std::vector<int>& y) {
    NoGradGuard no_grad;
    net.eval();
    std::vector<int> pred = argmax(net(x), 1);
    net.train();
    int right = 0;
    for (size_t i = 0; i < y.size(); ++i) right += pred[i] == y[i];
    return double(right) / double(y.size());
}

// Full-batch training; returns the loss of every step.
std::vector<float> train(Module& net, Optimizer& opt, const Tensor& x, const std::vector<int>& y, int steps) {
    std::vector<float> losses;
    for (int s = 0; s < steps; ++s) {
        opt.zero_grad();
        Tensor loss = softmax_cross_entropy(net(x), y);
        loss.backward();
        opt.step();
        losses.push_back(loss.item());
    }
    return losses;
}

// Two interleaved half circles (as sklearn's make_moons), Gaussian noise of sd `noise`.
void two_moons(int n_per_class, float noise, uint64_t seed, Tensor& x, std::vector<int>& y) {
    Generator gen(seed);
    const float pi = 3.14159265f;
    std::vector<float> v;
    y.clear();
    for (int c = 0; c < 2; ++c)
        for (int i = 0; i < n_per_class; ++i) {
            float t = pi * float(i) / float(n_per_class - 1);
            float px = c == 0 ? std::cos(t) : 1.0f - std::cos(t);
            float py = c == 0 ? std::sin(t) : 0.5f - std::sin(t);
            v.push_back(px + noise * gen.normal());
            v.push_back(py + noise * gen.normal());
            y.push_back(c);
        }
    x = Tensor::from(v, {2 * int64_t(n_per_class), 2});
}

bool bit_identical(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("Training: a 2-layer MLP learns XOR with SGD + momentum") {
    manual_seed(1);
    Sequential net(Linear(2, 8), Tanh(), Linear(8, 2));
    SGD opt(net.parameters(), 0.1, 0.9);
    Tensor x = Tensor::from({0, 0, 0, 1, 1, 0, 1, 1}, {4, 2});
    std::vector<int> y{0, 1, 1, 0};
    std::vector<float> losses = train(net, opt, x, y, 300);
    CHECK(accuracy(net, x, y) == 1.0);
    CHECK(losses.front() > 0.5f);
    CHECK(losses.back() < 0.02f);
}

TEST_CASE("Training: a 2-layer MLP reaches 100 % on two moons with Adam") {
    Tensor x;
    std::vector<int> y;
    two_moons(100, 0.1f, 7, x, y);
    manual_seed(2);
    Sequential net(Linear(2, 64), ReLU(), Linear(64, 2));
    Adam opt(net.parameters(), 0.01);
    std::vector<float> losses = train(net, opt, x, y, 1500);
    CHECK(accuracy(net, x, y) == 1.0);
    CHECK(losses.back() < 0.05f);
}

TEST_CASE("Training: two runs with the same seed give bit-identical losses (dropout included)") {
    Tensor x;
    std::vector<int> y;
    two_moons(64, 0.2f, 3, x, y);
    auto run = [&](uint64_t seed) {
        manual_seed(seed);
        Sequential net(Linear(2, 32), ReLU(), Dropout(0.2f), Linear(32, 2));
        AdamW opt(net.parameters(), 0.01);
        return train(net, opt, x, y, 60);
    };
    std::vector<float> a = run(11), b = run(11), c = run(12);
    CHECK(bit_identical(a, b));
    CHECK_FALSE(bit_identical(a, c));
}

TEST_CASE("Training: a tiny CNN tells horizontal from vertical bars") {
    // 8x8 images, one bright bar (random row or column) over noise.
    Generator gen(5);
    const int64_t N = 32;
    Tensor x = Tensor::normal({N, 1, 8, 8}, 0.0f, 0.1f, gen);
    std::vector<int> y;
    for (int64_t n = 0; n < N; ++n) {
        int label = int(n % 2);
        int64_t at = int64_t(gen.below(8));
        for (int64_t k = 0; k < 8; ++k) x.data()[n * 64 + (label ? k * 8 + at : at * 8 + k)] += 1.0f;
        y.push_back(label);
    }
    manual_seed(3);
    Sequential net(Conv2d(1, 4, 3, 1, 1), ReLU(), MaxPool2d(2), Flatten(), Linear(4 * 4 * 4, 2));
    SGD opt(net.parameters(), 0.05, 0.9);
    std::vector<float> losses = train(net, opt, x, y, 80);
    CHECK(accuracy(net, x, y) == 1.0);
    CHECK(losses.back() < 0.1f * losses.front());
}
