// test_ops_elementwise.cpp — forward values against double-precision formulas and
// gradchecks (random upstream gradient) for every elementwise op, broadcasting included.
#include <cmath>
#include <functional>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/nn/layers.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

// Values in [lo, hi], kept at least `gap` away from each kink (derivative jumps there).
Tensor sample(const Shape& shape, float lo, float hi, uint64_t seed, std::vector<float> kinks = {},
              float gap = 0.05f) {
    Generator g(seed);
    Tensor t = Tensor::uniform(shape, lo, hi, g);
    for (int64_t i = 0; i < t.numel(); ++i)
        for (float k : kinks)
            if (std::fabs(t.data()[i] - k) < gap) t.data()[i] = k + (t.data()[i] < k ? -gap : gap);
    return t;
}

void check_unary(const std::function<Tensor(const Tensor&)>& op, const std::function<double(double)>& ref,
                 Tensor x, double rtol = 2e-6) {
    Tensor y = op(x);
    std::vector<double> expected;
    for (float v : x.to_vector()) expected.push_back(ref(v));
    fgtest::check_close(y, expected, rtol, 1e-7);
    fgtest::check_gradcheck([&](const std::vector<Tensor>& in) { return op(in[0]); }, {x});
}

double sigmoid_ref(double v) { return 1.0 / (1.0 + std::exp(-v)); }

}  // namespace

TEST_CASE("unary ops: forward against double formulas, and gradcheck") {
    Shape s{3, 5};
    SUBCASE("neg") {
        check_unary([](const Tensor& x) { return neg(x); }, [](double v) { return -v; }, sample(s, -3, 3, 1));
    }
    SUBCASE("exp") {
        check_unary([](const Tensor& x) { return exp(x); }, [](double v) { return std::exp(v); },
                    sample(s, -4, 4, 2));
    }
    SUBCASE("log") {
        check_unary([](const Tensor& x) { return log(x); }, [](double v) { return std::log(v); },
                    sample(s, 0.2f, 5, 3));
    }
    SUBCASE("sqrt") {
        check_unary([](const Tensor& x) { return sqrt(x); }, [](double v) { return std::sqrt(v); },
                    sample(s, 0.2f, 5, 4));
    }
    SUBCASE("pow 3") {
        check_unary([](const Tensor& x) { return pow(x, 3.0f); }, [](double v) { return v * v * v; },
                    sample(s, -2, 2, 5));
    }
    SUBCASE("pow 0.5") {
        check_unary([](const Tensor& x) { return pow(x, 0.5f); }, [](double v) { return std::sqrt(v); },
                    sample(s, 0.2f, 4, 6));
    }
    SUBCASE("pow -1.5") {
        check_unary([](const Tensor& x) { return pow(x, -1.5f); }, [](double v) { return std::pow(v, -1.5); },
                    sample(s, 0.5f, 4, 7));
    }
    SUBCASE("pow 0") {
        check_unary([](const Tensor& x) { return pow(x, 0.0f); }, [](double) { return 1.0; },
                    sample(s, -2, 2, 8));
    }
    SUBCASE("abs") {
        check_unary([](const Tensor& x) { return abs(x); }, [](double v) { return std::fabs(v); },
                    sample(s, -3, 3, 9, {0}));
    }
    SUBCASE("clamp") {
        check_unary([](const Tensor& x) { return clamp(x, -1, 0.5f); },
                    [](double v) { return std::min(std::max(v, -1.0), 0.5); },
                    sample(s, -3, 3, 10, {-1, 0.5f}));
    }
    SUBCASE("relu") {
        check_unary([](const Tensor& x) { return relu(x); }, [](double v) { return v > 0 ? v : 0.0; },
                    sample(s, -3, 3, 11, {0}));
    }
    SUBCASE("leaky_relu") {
        check_unary([](const Tensor& x) { return leaky_relu(x, 0.1f); },
                    [](double v) { return v > 0 ? v : 0.1 * v; }, sample(s, -3, 3, 12, {0}));
    }
    SUBCASE("sigmoid") {
        check_unary([](const Tensor& x) { return sigmoid(x); }, sigmoid_ref, sample(s, -6, 6, 13));
    }
    SUBCASE("tanh") {
        check_unary([](const Tensor& x) { return tanh(x); }, [](double v) { return std::tanh(v); },
                    sample(s, -3, 3, 14));
    }
}

TEST_CASE("hand-checked values at the edges") {
    // sigmoid stays exact in both tails instead of overflowing e^-x.
    Tensor s = sigmoid(Tensor::from({-100.0f, 0.0f, 100.0f, -1000.0f}));
    CHECK(s.data()[0] == doctest::Approx(3.720076e-44).epsilon(1e-3));
    CHECK(s.data()[1] == 0.5f);
    CHECK(s.data()[2] == 1.0f);
    CHECK(s.data()[3] == 0.0f);
    // Subgradient conventions at the kinks, as in PyTorch.
    Tensor x = Tensor::from({0.0f, 0.0f, 0.0f}).set_requires_grad();
    sum(relu(x) + abs(x) + clamp(x, 0.0f, 1.0f)).backward();
    fgtest::check_close(x.grad(), {1, 1, 1});  // relu' = 0, abs' = 0, clamp' = 1 at its bound
    Tensor p = Tensor::from({0.0f}).set_requires_grad();
    sum(pow(p, 0.0f)).backward();
    CHECK(p.grad().item() == 0.0f);
}

TEST_CASE("binary ops with tensors of the same shape") {
    Tensor a = sample({4, 3}, -2, 2, 20), b = sample({4, 3}, 0.5f, 2, 21);
    using Op = std::function<Tensor(const Tensor&, const Tensor&)>;
    using Ref = std::function<double(double, double)>;
    std::vector<std::pair<Op, Ref>> cases = {
        {[](const Tensor& u, const Tensor& v) { return u + v; }, [](double u, double v) { return u + v; }},
        {[](const Tensor& u, const Tensor& v) { return u - v; }, [](double u, double v) { return u - v; }},
        {[](const Tensor& u, const Tensor& v) { return u * v; }, [](double u, double v) { return u * v; }},
        {[](const Tensor& u, const Tensor& v) { return u / v; }, [](double u, double v) { return u / v; }},
    };
    for (auto& [op, ref] : cases) {
        std::vector<double> expected;
        for (int64_t i = 0; i < a.numel(); ++i) expected.push_back(ref(a.data()[i], b.data()[i]));
        fgtest::check_close(op(a, b), expected, 1e-6);
        fgtest::check_gradcheck([&](const std::vector<Tensor>& in) { return op(in[0], in[1]); }, {a, b});
    }
}

TEST_CASE("binary ops broadcast like NumPy, and their gradients reduce back") {
    // [4, 1, 3] with [5, 3] -> [4, 5, 3]
    Tensor a = sample({4, 1, 3}, -2, 2, 30), b = sample({5, 3}, 0.5f, 2, 31);
    Tensor z = a * b;
    REQUIRE(z.shape() == Shape{4, 5, 3});
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 5; ++j)
            for (int k = 0; k < 3; ++k) CHECK(z.at({i, j, k}) == a.at({i, 0, k}) * b.at({j, k}));
    auto ops = std::vector<std::function<Tensor(const Tensor&, const Tensor&)>>{
        [](const Tensor& u, const Tensor& v) { return add(u, v); },
        [](const Tensor& u, const Tensor& v) { return sub(u, v); },
        [](const Tensor& u, const Tensor& v) { return mul(u, v); },
        [](const Tensor& u, const Tensor& v) { return div(u, v); },
    };
    for (auto& op : ops) {
        fgtest::check_gradcheck([&](const std::vector<Tensor>& in) { return op(in[0], in[1]); }, {a, b});
        fgtest::check_gradcheck([&](const std::vector<Tensor>& in) { return op(in[1], in[0]); }, {a, b});
        // row vector, column vector, scalar tensor, 0-d
        fgtest::check_gradcheck([&](const std::vector<Tensor>& in) { return op(in[0], in[1]); },
                                {sample({3, 4}, 0.5f, 2, 32), sample({4}, 0.5f, 2, 33)});
        fgtest::check_gradcheck([&](const std::vector<Tensor>& in) { return op(in[0], in[1]); },
                                {sample({3, 1}, 0.5f, 2, 34), sample({1, 4}, 0.5f, 2, 35)});
        fgtest::check_gradcheck([&](const std::vector<Tensor>& in) { return op(in[0], in[1]); },
                                {sample({2, 3}, 0.5f, 2, 36), sample({}, 0.5f, 2, 37)});
    }
    // The reduced gradient is the sum over the stretched dims: d/db sum(a + b) = 4 (rows of a).
    Tensor bb = Tensor::zeros({5, 3}).set_requires_grad();
    sum(a + bb).backward();
    fgtest::check_close(bb.grad(), std::vector<double>(15, 4.0));
}

TEST_CASE("scalar forms: x + s, s - x, x * s, x / s, s / x") {
    Tensor x = sample({2, 3}, 0.5f, 2, 40);
    using Op = std::function<Tensor(const Tensor&)>;
    using Ref = std::function<double(double)>;
    std::vector<std::pair<Op, Ref>> cases = {
        {[](const Tensor& t) { return t + 1.5f; }, [](double v) { return v + 1.5; }},
        {[](const Tensor& t) { return 1.5f + t; }, [](double v) { return v + 1.5; }},
        {[](const Tensor& t) { return t - 1.5f; }, [](double v) { return v - 1.5; }},
        {[](const Tensor& t) { return 1.5f - t; }, [](double v) { return 1.5 - v; }},
        {[](const Tensor& t) { return t * -2.0f; }, [](double v) { return -2 * v; }},
        {[](const Tensor& t) { return t / 4.0f; }, [](double v) { return v / 4; }},
        {[](const Tensor& t) { return 3.0f / t; }, [](double v) { return 3 / v; }},
        {[](const Tensor& t) { return -t; }, [](double v) { return -v; }},
    };
    for (auto& [op, ref] : cases) check_unary(op, ref, x);
}

TEST_CASE("shape mismatches name the op and both shapes") {
    Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({4, 3});
    CHECK_ERROR(add(a, b), "add", "[2, 3]", "[4, 3]");
    CHECK_ERROR(sub(a, b), "sub", "[2, 3]", "[4, 3]");
    CHECK_ERROR(mul(a, b), "mul", "[2, 3]", "[4, 3]");
    CHECK_ERROR(div(a, b), "div", "[2, 3]", "[4, 3]");
    CHECK_ERROR(clamp(a, 1.0f, 0.0f), "clamp", "lo");
}

TEST_CASE("NaN propagates through every activation and pooling op, and their layers") {
    const float nan = std::nanf("");
    // Elementwise: NaN in, NaN out at the same place, and the other values as without it.
    Tensor x = Tensor::from({-2.0f, nan, 0.0f, 3.0f, -INFINITY, INFINITY});
    const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> elementwise = {
        {"relu", [](const Tensor& t) { return relu(t); }},  // relu(NaN) was 0
        {"leaky_relu", [](const Tensor& t) { return leaky_relu(t, 0.1f); }},
        {"sigmoid", [](const Tensor& t) { return sigmoid(t); }},
        {"tanh", [](const Tensor& t) { return tanh(t); }},
        {"clamp", [](const Tensor& t) { return clamp(t, -1.0f, 1.0f); }},
        {"ReLU", [](const Tensor& t) { return ReLU()(t); }},
        {"LeakyReLU", [](const Tensor& t) { return LeakyReLU(0.2f)(t); }},
        {"Sigmoid", [](const Tensor& t) { return Sigmoid()(t); }},
        {"Tanh", [](const Tensor& t) { return Tanh()(t); }},
    };
    Tensor finite = Tensor::from({-2.0f, 1.0f, 0.0f, 3.0f, -INFINITY, INFINITY});
    for (const auto& [name, op] : elementwise) {
        CAPTURE(name);
        Tensor y = op(x), reference = op(finite);
        CHECK(std::isnan(y.data()[1]));
        for (int i : {0, 2, 3, 4, 5}) CHECK(y.data()[i] == reference.data()[i]);
    }
    CHECK(relu(finite).to_vector() == std::vector<float>{0, 1, 0, 3, 0, INFINITY});

    // Along a dim: a NaN makes its whole row NaN (the normaliser is NaN), and no other row.
    Tensor rows = Tensor::from({1.0f, nan, 2.0f, 1.0f, 2.0f, 3.0f}, {2, 3});
    for (const auto& [name, y] : std::vector<std::pair<const char*, Tensor>>{
             {"softmax", softmax(rows, 1)}, {"log_softmax", log_softmax(rows, 1)}}) {
        CAPTURE(name);
        for (int i = 0; i < 3; ++i) CHECK(std::isnan(y.data()[i]));
        for (int i = 3; i < 6; ++i) CHECK(std::isfinite(y.data()[i]));
    }
    Tensor m = max(rows, 1);
    CHECK(std::isnan(m.data()[0]));
    CHECK(m.data()[1] == 3.0f);
    CHECK(std::isnan(max(rows).item()));
    for (const Tensor& first : {Tensor::from({nan, 1.0f}), Tensor::from({1.0f, nan})})
        CHECK(std::isnan(max(first).item()));  // wherever the NaN is

    // Pooling: a NaN in a window makes that window's output NaN, and no other.
    Tensor image = Tensor::zeros({1, 1, 4, 4});
    image.data()[5] = nan;  // row 1, column 1: in the top-left 2 x 2 window
    for (const auto& [name, y] : std::vector<std::pair<const char*, Tensor>>{
             {"max_pool2d", max_pool2d(image, 2, 2)}, {"MaxPool2d", MaxPool2d(2)(image)}}) {
        CAPTURE(name);
        CHECK(std::isnan(y.data()[0]));
        for (int i = 1; i < 4; ++i) CHECK(y.data()[i] == 0.0f);
    }
}

TEST_CASE("relu passes the gradient of a NaN input, as PyTorch does") {
    Tensor x = Tensor::from({-1.0f, std::nanf(""), 2.0f}).set_requires_grad(true);
    relu(x).backward(Tensor::from({5.0f, 6.0f, 7.0f}));
    CHECK(x.grad().to_vector() == std::vector<float>{0, 6, 7});
}
