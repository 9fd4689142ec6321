// test_nn_layers.cpp — the layers of nn/layers.h: PyTorch's default initialisation,
// forward values against double-precision loops, gradients through each layer, and
// Dropout's statistics and seeding.
#include <cmath>
#include <memory>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/random.h>
#include <focalgrad/nn/layers.h>

#include "helpers.h"

using namespace focalgrad;

TEST_CASE("Linear: PyTorch's default init, U(-1/sqrt(in), 1/sqrt(in)) for W then b, from the generator") {
    Generator gen(42);
    Linear fc(5, 3, true, gen);
    CHECK(fc.weight.shape() == Shape{3, 5});
    CHECK(fc.bias.shape() == Shape{3});
    // The same draws, in the same order (weight in memory order, then bias).
    Generator ref(42);
    float bound = float(1.0 / std::sqrt(5.0));
    for (float w : fc.weight.to_vector()) CHECK(w == ref.uniform(-bound, bound));
    for (float b : fc.bias.to_vector()) CHECK(b == ref.uniform(-bound, bound));

    // A large layer fills the interval: all within the bound, extremes near it.
    Linear big(100, 200, true, gen);
    float b100 = 0.1f;
    float lo = 1, hi = -1;
    for (float w : big.weight.to_vector()) {
        lo = std::min(lo, w);
        hi = std::max(hi, w);
    }
    CHECK(lo >= -b100);
    CHECK(hi < b100);
    CHECK(lo < -0.99f * b100);
    CHECK(hi > 0.99f * b100);

    // manual_seed fixes the default generator, hence the layer.
    manual_seed(3);
    Linear a(4, 4);
    manual_seed(3);
    Linear b(4, 4);
    CHECK(a.weight.to_vector() == b.weight.to_vector());
    CHECK(Linear(4, 2, false).named_parameters().size() == 1);
    CHECK_ERROR(Linear(0, 3), "Linear", "in_features", ">= 1");
}

TEST_CASE("Linear: forward is x W^T + b; gradcheck through the layer for x, W and b") {
    Generator gen(1);
    Linear fc(4, 3, true, gen);
    Tensor x = Tensor::randn({6, 4}, gen);
    Tensor y = fc(x);
    std::vector<double> ref;
    for (int64_t n = 0; n < 6; ++n)
        for (int64_t o = 0; o < 3; ++o) {
            double acc = fc.bias.data()[o];
            for (int64_t i = 0; i < 4; ++i) acc += double(x.at({n, i})) * fc.weight.at({o, i});
            ref.push_back(acc);
        }
    fgtest::check_close(y, ref, 1e-6, 1e-6);

    // Point the layer at gradcheck's leaves, so every input of its forward is checked.
    fgtest::check_gradcheck(
        [&fc](const std::vector<Tensor>& in) {
            fc.weight = in[1];
            fc.bias = in[2];
            return fc(in[0]);
        },
        {x, fc.weight.detach().clone(), fc.bias.detach().clone()});
    Linear no_bias(4, 2, false, gen);
    fgtest::check_gradcheck([&no_bias](const std::vector<Tensor>& in) { return no_bias(in[0]); }, {x});
    CHECK_ERROR(fc(Tensor::zeros({2, 5})), "linear", "[2, 5]");
}

TEST_CASE("Conv2d and MaxPool2d layers call the core ops with their configuration") {
    Generator gen(9);
    Conv2d conv(2, 3, 3, 2, 1, true, gen);
    CHECK(conv.weight.shape() == Shape{3, 2, 3, 3});
    float bound = float(1.0 / std::sqrt(18.0));  // fan_in = 2 * 3 * 3
    Generator ref(9);
    for (float w : conv.weight.to_vector()) CHECK(w == ref.uniform(-bound, bound));
    for (float b : conv.bias.to_vector()) CHECK(b == ref.uniform(-bound, bound));

    Tensor x = Tensor::randn({2, 2, 7, 7}, gen);
    Tensor y = conv(x);
    CHECK(y.shape() == Shape{2, 3, 4, 4});
    CHECK(y.to_vector() == conv2d(x, conv.weight, conv.bias, 2, 1).to_vector());
    fgtest::check_gradcheck([&conv](const std::vector<Tensor>& in) { return conv(in[0]); }, {x});

    MaxPool2d pool(2);
    CHECK(pool.stride == 2);
    CHECK(pool(y).shape() == Shape{2, 3, 2, 2});
    CHECK(MaxPool2d(3, 1)(x).shape() == Shape{2, 2, 5, 5});
    CHECK(Flatten()(y).shape() == Shape{2, 48});
    CHECK(Flatten(0, 1)(y).shape() == Shape{6, 4, 4});
    CHECK_ERROR(Conv2d(1, 1, 3, 0), "Conv2d", "stride 0");
    CHECK_ERROR(MaxPool2d(0), "MaxPool2d");
}

TEST_CASE("Activation layers compute their functions") {
    Tensor x = Tensor::from({-2.0f, -0.5f, 0.0f, 0.5f, 3.0f});
    std::vector<float> v = x.to_vector();
    std::vector<double> r, l, s, t;
    for (float a : v) {
        r.push_back(a > 0 ? a : 0.0);
        l.push_back(a > 0 ? a : 0.2 * a);
        s.push_back(1.0 / (1.0 + std::exp(-double(a))));
        t.push_back(std::tanh(double(a)));
    }
    fgtest::check_close(ReLU()(x), r);
    fgtest::check_close(LeakyReLU(0.2f)(x), l);
    fgtest::check_close(Sigmoid()(x), s);
    fgtest::check_close(Tanh()(x), t);
}

TEST_CASE("Dropout: identity in eval (gradcheck), no-op at p = 0, zeros at p = 1") {
    Dropout drop(0.4f, 1);
    drop.eval();
    Tensor x = Tensor::randn({3, 7});
    CHECK(drop(x).to_vector() == x.to_vector());
    fgtest::check_gradcheck([&drop](const std::vector<Tensor>& in) { return drop(in[0]); }, {x});
    Dropout none(0.0f, 1);
    CHECK(none(x).to_vector() == x.to_vector());
    Dropout all(1.0f, 1);
    CHECK(all(x).to_vector() == std::vector<float>(21, 0.0f));
    CHECK_ERROR(Dropout(1.5f), "Dropout", "p must be in [0, 1]", "1.5");
    CHECK_ERROR(Dropout(-0.1f, 3), "Dropout", "p must be in [0, 1]");
}

TEST_CASE("Dropout: in training, zeroes a fraction p and scales survivors by 1/(1-p); dx = dy * mask") {
    const float p = 0.3f;
    const int64_t n = 100000;
    Dropout drop(p, 123);
    Tensor x = Tensor::uniform({n}, 0.5f, 1.5f).set_requires_grad();
    Tensor y = drop(x);
    const float scale = 1.0f / (1.0f - p);
    int64_t zeros = 0;
    for (int64_t i = 0; i < n; ++i) {
        float yi = y.data()[i];
        if (yi == 0.0f)
            ++zeros;
        else
            CHECK(yi == x.data()[i] * scale);
    }
    // Binomial: sd of the zero fraction is sqrt(p (1 - p) / n) = 0.0014; allow 5 sd.
    CHECK(std::fabs(double(zeros) / n - p) < 0.0075);

    Tensor dy = Tensor::randn({n});
    y.backward(dy);
    for (int64_t i = 0; i < n; i += 97) {
        float expected = y.data()[i] == 0.0f ? 0.0f : dy.data()[i] * scale;
        CHECK(x.grad().data()[i] == expected);
    }
}

TEST_CASE("Dropout: masks come from the layer's own seeded stream") {
    Tensor x = Tensor::ones({1000});
    Dropout a(0.5f, 77), b(0.5f, 77);
    std::vector<float> a1 = a(x).to_vector(), a2 = a(x).to_vector();
    CHECK(a1 == b(x).to_vector());  // same seed, same masks
    CHECK(a2 == b(x).to_vector());
    CHECK(a1 != a2);  // the stream moves on between calls

    manual_seed(5);
    Dropout c(0.5f), d(0.5f);
    std::vector<float> c1 = c(x).to_vector();
    CHECK(c1 != d(x).to_vector());  // two layers built in a row draw different seeds
    manual_seed(5);
    Dropout c_again(0.5f);
    CHECK(c_again(x).to_vector() == c1);
}

TEST_CASE("Sequential: chains layers; an empty one is the identity") {
    Generator gen(4);
    auto fc1 = std::make_shared<Linear>(3, 5, true, gen);
    auto fc2 = std::make_shared<Linear>(5, 2, true, gen);
    Sequential net(fc1, Tanh(), fc2);
    Tensor x = Tensor::randn({4, 3}, gen);
    CHECK(net(x).to_vector() == (*fc2)(tanh((*fc1)(x))).to_vector());
    Sequential empty;
    CHECK(empty(x).same(x));
    std::vector<std::shared_ptr<Module>> list{fc1, std::make_shared<ReLU>()};
    Sequential from_list(list);
    CHECK(from_list.size() == 2);
    CHECK(from_list(x).to_vector() == relu((*fc1)(x)).to_vector());
}

TEST_CASE("Sequential: a Linear or Conv2d followed by ReLU runs fused, with the unfused bits and summary") {
    Generator gen(5);
    Sequential cnn(Conv2d(2, 3, 3, 1, 1, true, gen), ReLU(), MaxPool2d(2), Conv2d(3, 3, 3, 1, 1, true, gen),
                   ReLU(), Flatten(), Linear(3 * 3 * 3, 4, true, gen), ReLU(), Linear(4, 2, true, gen));
    Tensor x = Tensor::randn({2, 2, 7, 6}, gen);
    Tensor y = cnn(x);
    sum(y * y).backward();
    // The same layers called one by one, each through its own op.
    std::vector<Tensor> params = cnn.parameters();
    std::vector<Tensor> copies;
    for (const Tensor& p : params) copies.push_back(p.clone().set_requires_grad());
    Tensor h = max_pool2d(relu(conv2d(x, copies[0], copies[1], 1, 1)), 2, 2);
    h = relu(conv2d(h, copies[2], copies[3], 1, 1));
    h = relu(linear(flatten(h, 1), copies[4], copies[5]));
    Tensor y_ref = linear(h, copies[6], copies[7]);
    sum(y_ref * y_ref).backward();
    CHECK(y.to_vector() == y_ref.to_vector());
    for (size_t i = 0; i < params.size(); ++i) {
        CAPTURE(i);
        CHECK(params[i].grad().to_vector() == copies[i].grad().to_vector());
    }
    // summary() still sees every layer, the ReLUs included.
    std::string table = cnn.summary(Shape{2, 2, 7, 6});
    size_t relus = 0;
    for (size_t at = table.find("ReLU()"); at != std::string::npos; at = table.find("ReLU()", at + 1))
        ++relus;
    CHECK(relus == 3);
    CHECK(table.find("MaxPool2d") != std::string::npos);
}
