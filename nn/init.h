// init.h — weight initialisers with PyTorch's formulas (torch.nn.init), drawing from a
// seeded Generator so that a seed fixes every initial weight. Each fills a tensor's data
// in place (outside autograd) and returns it.
// Not here: orthogonal, sparse, trunc_normal and the other rarer schemes.
//
// Fans, for a weight of shape [out, in, k...] with receptive field r = prod(k...):
//   fan_in = in * r,   fan_out = out * r     (Linear [out, in]: r = 1)
#pragma once

#include <cstdint>
#include <utility>

#include <focalgrad/core/random.h>
#include <focalgrad/core/tensor.h>

namespace focalgrad::init {

enum class Nonlinearity { linear, conv, sigmoid, tanh, relu, leaky_relu, selu };
enum class FanMode { fan_in, fan_out };

// The gain that keeps activations' variance steady through the nonlinearity:
// linear/conv/sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu sqrt(2 / (1 + a^2)), selu 3/4.
double calculate_gain(Nonlinearity nonlinearity, double negative_slope = 0.01);

// {fan_in, fan_out} of a weight with at least 2 dimensions.
std::pair<int64_t, int64_t> fans(const Tensor& w);

// U(-bound, bound) with bound = gain * sqrt(3 / fan): the uniform with std gain / sqrt(fan).
// `a` is the negative slope of leaky_relu (ignored for other nonlinearities).
Tensor& kaiming_uniform_(Tensor& w, double a = 0, FanMode mode = FanMode::fan_in,
                         Nonlinearity nonlinearity = Nonlinearity::leaky_relu,
                         Generator& gen = default_generator());
// N(0, std^2) with std = gain / sqrt(fan).
Tensor& kaiming_normal_(Tensor& w, double a = 0, FanMode mode = FanMode::fan_in,
                        Nonlinearity nonlinearity = Nonlinearity::leaky_relu,
                        Generator& gen = default_generator());
// U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).
Tensor& xavier_uniform_(Tensor& w, double gain = 1.0, Generator& gen = default_generator());
// N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor& xavier_normal_(Tensor& w, double gain = 1.0, Generator& gen = default_generator());
// U(lo, hi) and N(mean, std^2), elementwise.
Tensor& uniform_(Tensor& w, double lo, double hi, Generator& gen = default_generator());
Tensor& normal_(Tensor& w, double mean, double std, Generator& gen = default_generator());
Tensor& zeros_(Tensor& w);

}  // namespace focalgrad::init
