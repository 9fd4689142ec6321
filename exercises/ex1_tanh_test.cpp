// Exercise 1 — the backward of an elementwise op: tanh.
// Its tests (tanh_backward); run them with `make exercises N=1`.
#include <cmath>

#include <focalgrad/core/gradcheck.h>
#include <focalgrad/core/kernels.h>
#include <focalgrad/core/ops.h>

#include "../tests/helpers.h"
#include "exercise.h"

using namespace focalgrad;

namespace exercises {
void tanh_backward(float* dx, const float* y, const float* dy, int64_t n);  // ex1_tanh.cpp
}

namespace {

// tanh whose backward is yours.
Tensor my_tanh(const Tensor& x) {
    Tensor y = map(x, [](float v) { return std::tanh(v); });
    record("my_tanh", {x}, y, [x](const Tensor& dy, const Tensor& y) {
        Tensor dx = exercises::grad_buffer(x);
        exercises::tanh_backward(dx.data(), y.data(), dy.data(), x.numel());
        exercises::adopt_grad(x, std::move(dx));
    });
    return y;
}

}  // namespace

TEST_CASE("exercise 1: tanh_backward adds dy (1 - y^2) to what dx already holds") {
    std::vector<float> x = {-2.0f, -0.5f, 0.0f, 0.7f, 3.0f}, y, dy = {1.0f, -2.0f, 0.5f, 3.0f, -1.0f};
    std::vector<float> dx = {0.25f, -1.0f, 2.0f, 0.0f, 4.0f};
    std::vector<double> expected;
    for (size_t i = 0; i < x.size(); ++i) {
        y.push_back(std::tanh(x[i]));
        double t = std::tanh(double(x[i]));
        expected.push_back(double(dx[i]) + double(dy[i]) * (1 - t * t));
    }
    exercises::tanh_backward(dx.data(), y.data(), dy.data(), int64_t(x.size()));
    fgtest::check_close(Tensor::from(dx, {int64_t(dx.size())}), expected, 1e-5, 1e-6);
}

TEST_CASE("exercise 1: gradcheck of a tanh built on your backward") {
    Generator gen(1);
    fgtest::check_gradcheck([](const std::vector<Tensor>& in) { return my_tanh(in[0]); },
                            {Tensor::randn({3, 4}, gen)});
}

TEST_CASE("exercise 1: x read by two ops gets both gradients: y = tanh(x) + 2 tanh(x)") {
    Tensor x = Tensor::from({0.3f, -1.2f}).set_requires_grad();
    sum(my_tanh(x) + my_tanh(x) * 2.0f).backward();
    std::vector<double> expected;
    for (double v : {0.3, -1.2}) expected.push_back(3 * (1 - std::tanh(v) * std::tanh(v)));
    fgtest::check_close(x.grad(), expected, 1e-5, 1e-6);
}

TEST_CASE("exercise 1: where tanh saturates the gradient is 0, not NaN") {
    Tensor x = Tensor::from({-50.0f, 50.0f}).set_requires_grad();
    sum(my_tanh(x)).backward();
    fgtest::check_close(x.grad(), {0.0, 0.0}, 0, 1e-7);
}
