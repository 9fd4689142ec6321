// init.cpp — the initialisers. Values are drawn one by one, in memory order, from the
// generator: the same seed gives the same weights on any machine and thread count.
#include <algorithm>
#include <cmath>

#include <focalgrad/core/error.h>
#include <focalgrad/nn/init.h>

namespace focalgrad::init {

double calculate_gain(Nonlinearity nonlinearity, double negative_slope) {
    switch (nonlinearity) {
        case Nonlinearity::linear:
        case Nonlinearity::conv:
        case Nonlinearity::sigmoid: return 1.0;
        case Nonlinearity::tanh: return 5.0 / 3.0;
        case Nonlinearity::relu: return std::sqrt(2.0);
        case Nonlinearity::leaky_relu: return std::sqrt(2.0 / (1.0 + negative_slope * negative_slope));
        case Nonlinearity::selu: return 3.0 / 4.0;
    }
    return 1.0;
}

std::pair<int64_t, int64_t> fans(const Tensor& w) {
    FG_CHECK(w.dim() >= 2, "init: fan_in and fan_out need a weight with at least 2 dimensions, got ",
             w.shape(), " (initialise a bias with uniform_ or zeros_)");
    int64_t receptive = 1;
    for (int d = 2; d < w.dim(); ++d) receptive *= w.shape()[d];
    return {w.shape()[1] * receptive, w.shape()[0] * receptive};
}

namespace {

double kaiming_std(const Tensor& w, double a, FanMode mode, Nonlinearity nonlinearity, const char* op) {
    auto [fan_in, fan_out] = fans(w);
    int64_t fan = mode == FanMode::fan_in ? fan_in : fan_out;
    FG_CHECK(fan > 0, op, ": the weight ", w.shape(), " has a zero fan; nothing to initialise");
    return calculate_gain(nonlinearity, a) / std::sqrt(double(fan));
}

double xavier_std(const Tensor& w, double gain, const char* op) {
    auto [fan_in, fan_out] = fans(w);
    FG_CHECK(fan_in + fan_out > 0, op, ": the weight ", w.shape(), " has zero fans");
    return gain * std::sqrt(2.0 / double(fan_in + fan_out));
}

}  // namespace

Tensor& uniform_(Tensor& w, double lo, double hi, Generator& gen) {
    FG_CHECK(lo <= hi, "uniform_: lo must be <= hi, got ", lo, " and ", hi);
    float* p = w.data();
    for (int64_t i = 0; i < w.numel(); ++i) p[i] = gen.uniform(float(lo), float(hi));
    return w;
}

Tensor& normal_(Tensor& w, double mean, double std, Generator& gen) {
    FG_CHECK(std >= 0, "normal_: std must be >= 0, got ", std);
    float* p = w.data();
    for (int64_t i = 0; i < w.numel(); ++i) p[i] = float(mean + std * double(gen.normal()));
    return w;
}

Tensor& zeros_(Tensor& w) {
    std::fill_n(w.data(), w.numel(), 0.0f);
    return w;
}

Tensor& kaiming_uniform_(Tensor& w, double a, FanMode mode, Nonlinearity nonlinearity, Generator& gen) {
    double bound = std::sqrt(3.0) * kaiming_std(w, a, mode, nonlinearity, "kaiming_uniform_");
    return uniform_(w, -bound, bound, gen);
}

Tensor& kaiming_normal_(Tensor& w, double a, FanMode mode, Nonlinearity nonlinearity, Generator& gen) {
    return normal_(w, 0.0, kaiming_std(w, a, mode, nonlinearity, "kaiming_normal_"), gen);
}

Tensor& xavier_uniform_(Tensor& w, double gain, Generator& gen) {
    double bound = std::sqrt(3.0) * xavier_std(w, gain, "xavier_uniform_");
    return uniform_(w, -bound, bound, gen);
}

Tensor& xavier_normal_(Tensor& w, double gain, Generator& gen) {
    return normal_(w, 0.0, xavier_std(w, gain, "xavier_normal_"), gen);
}

}  // namespace focalgrad::init
