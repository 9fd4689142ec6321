// test_nn_init.cpp — the initialisers of nn/init.h: gains and fans as in torch.nn.init,
// the spread of the drawn weights against the formulas, seeding.
#include <cmath>
#include <vector>

#include <focalgrad/core/random.h>
#include <focalgrad/nn/init.h>

#include "helpers.h"

using namespace focalgrad;
using namespace focalgrad::init;

namespace {

struct Moments {
    double mean, std, max_abs;
};

Moments moments(const Tensor& t) {
    double s = 0, s2 = 0, m = 0;
    for (float v : t.to_vector()) {
        s += v;
        s2 += double(v) * v;
        m = std::max(m, std::fabs(double(v)));
    }
    double n = double(t.numel());
    return {s / n, std::sqrt(s2 / n - (s / n) * (s / n)), m};
}

}  // namespace

TEST_CASE("init: gains and fans follow torch.nn.init") {
    CHECK(calculate_gain(Nonlinearity::linear) == 1.0);
    CHECK(calculate_gain(Nonlinearity::sigmoid) == 1.0);
    CHECK(calculate_gain(Nonlinearity::tanh) == 5.0 / 3.0);
    CHECK(calculate_gain(Nonlinearity::relu) == std::sqrt(2.0));
    CHECK(calculate_gain(Nonlinearity::leaky_relu, 0.2) == std::sqrt(2.0 / 1.04));
    CHECK(calculate_gain(Nonlinearity::leaky_relu, std::sqrt(5.0)) == doctest::Approx(std::sqrt(1.0 / 3.0)));
    CHECK(calculate_gain(Nonlinearity::selu) == 0.75);
    CHECK(fans(Tensor::zeros({3, 5})) == std::pair<int64_t, int64_t>{5, 3});
    CHECK(fans(Tensor::zeros({8, 4, 3, 2})) == std::pair<int64_t, int64_t>{24, 48});
    Tensor bias = Tensor::zeros({4});
    CHECK_ERROR(fans(bias), "at least 2 dimensions", "[4]");
    CHECK_ERROR(kaiming_uniform_(bias), "at least 2 dimensions");
}

TEST_CASE("init: kaiming_uniform_ draws U(-b, b) with b = gain sqrt(3 / fan)") {
    Generator gen(1);
    Tensor w = Tensor::empty({256, 128});
    kaiming_uniform_(w, 0, FanMode::fan_in, Nonlinearity::relu, gen);
    double bound = std::sqrt(2.0) * std::sqrt(3.0 / 128);
    Moments m = moments(w);
    CHECK(m.max_abs <= bound);
    CHECK(m.max_abs > 0.999 * bound);
    CHECK(m.std == doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.02));
    CHECK(std::fabs(m.mean) < 0.01 * bound);

    Tensor w2 = Tensor::empty({64, 16, 3, 3});  // fan_out = 64 * 9 = 576
    kaiming_uniform_(w2, 0.1, FanMode::fan_out, Nonlinearity::leaky_relu, gen);
    double bound2 = std::sqrt(2.0 / 1.01) * std::sqrt(3.0 / 576);
    CHECK(moments(w2).max_abs <= bound2);
    CHECK(moments(w2).max_abs > 0.999 * bound2);
}

TEST_CASE("init: kaiming_normal_, xavier_uniform_, xavier_normal_ have the formulas' spread") {
    Generator gen(2);
    Tensor w = Tensor::empty({200, 300});
    kaiming_normal_(w, 0, FanMode::fan_in, Nonlinearity::relu, gen);
    CHECK(moments(w).std == doctest::Approx(std::sqrt(2.0 / 300)).epsilon(0.02));
    kaiming_normal_(w, 0, FanMode::fan_out, Nonlinearity::tanh, gen);
    CHECK(moments(w).std == doctest::Approx(5.0 / 3.0 / std::sqrt(200.0)).epsilon(0.02));

    xavier_uniform_(w, 2.0, gen);
    double a = 2.0 * std::sqrt(6.0 / 500);
    CHECK(moments(w).max_abs <= a);
    CHECK(moments(w).max_abs > 0.999 * a);
    CHECK(moments(w).std == doctest::Approx(a / std::sqrt(3.0)).epsilon(0.02));

    xavier_normal_(w, 1.0, gen);
    CHECK(moments(w).std == doctest::Approx(std::sqrt(2.0 / 500)).epsilon(0.02));
    CHECK(std::fabs(moments(w).mean) < 0.002);

    zeros_(w);
    CHECK(moments(w).max_abs == 0.0);
}

TEST_CASE("init: the same seed gives the same weights") {
    Tensor a = Tensor::empty({10, 10}), b = Tensor::empty({10, 10});
    Generator g1(9), g2(9);
    kaiming_normal_(a, 0, FanMode::fan_in, Nonlinearity::relu, g1);
    kaiming_normal_(b, 0, FanMode::fan_in, Nonlinearity::relu, g2);
    CHECK(a.to_vector() == b.to_vector());
    xavier_uniform_(a, 1.0, g1);
    CHECK(a.to_vector() != b.to_vector());
}
