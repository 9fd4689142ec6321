// layers.cpp — construction (shape checks, PyTorch's default initialisation) and the
// forward of each layer: one or two calls to core ops.
#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <typeinfo>
#include <utility>

#include <focalgrad/core/error.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/nn/init.h>
#include <focalgrad/nn/layers.h>

namespace focalgrad {

namespace {
// The shortest decimal that reads back as the same float (1e-05, 0.1), so that a layer's
// description rebuilds it exactly.
std::string shortest(float v) {
    for (int digits = 6; digits < 9; ++digits) {
        std::string s = str(std::setprecision(digits), v);
        if (std::strtof(s.c_str(), nullptr) == v) return s;
    }
    return str(std::setprecision(9), v);
}
}  // namespace

// ---- Linear -----------------------------------------------------------------------

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias, Generator& gen)
    : in_features(in_features), out_features(out_features) {
    FG_CHECK(in_features >= 1 && out_features >= 1, "Linear: in_features and out_features must be >= 1, got ",
             in_features, " and ", out_features);
    // PyTorch: kaiming_uniform_(a = sqrt(5)) for W, which is U(+-1/sqrt(fan_in)), and the same
    // bound for b. Writing the bound directly avoids sqrt(3) * sqrt(1/3) != 1 in floating point.
    double bound = 1.0 / std::sqrt(double(in_features));
    weight = Tensor::empty({out_features, in_features});
    init::uniform_(weight, -bound, bound, gen);
    register_parameter("weight", weight);
    if (with_bias) {
        bias = Tensor::empty({out_features});
        init::uniform_(bias, -bound, bound, gen);
        register_parameter("bias", bias);
    }
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

std::string Linear::describe() const {
    return str("Linear(", in_features, ", ", out_features, bias.defined() ? ")" : ", bias=false)");
}

// ---- Conv2d -----------------------------------------------------------------------

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride,
               int64_t padding, bool with_bias, Generator& gen)
    : in_channels(in_channels),
      out_channels(out_channels),
      kernel_size(kernel_size),
      stride(stride),
      padding(padding) {
    FG_CHECK(in_channels >= 1 && out_channels >= 1 && kernel_size >= 1 && stride >= 1 && padding >= 0,
             "Conv2d: channels, kernel_size and stride must be >= 1 and padding >= 0, got in_channels ",
             in_channels, ", out_channels ", out_channels, ", kernel_size ", kernel_size, ", stride ", stride,
             ", padding ", padding);
    double bound = 1.0 / std::sqrt(double(in_channels * kernel_size * kernel_size));  // 1/sqrt(fan_in)
    weight = Tensor::empty({out_channels, in_channels, kernel_size, kernel_size});
    init::uniform_(weight, -bound, bound, gen);
    register_parameter("weight", weight);
    if (with_bias) {
        bias = Tensor::empty({out_channels});
        init::uniform_(bias, -bound, bound, gen);
        register_parameter("bias", bias);
    }
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, stride, padding); }

std::string Conv2d::describe() const {
    return str("Conv2d(", in_channels, ", ", out_channels, ", kernel=", kernel_size, ", stride=", stride,
               ", padding=", padding, bias.defined() ? ")" : ", bias=false)");
}

// ---- MaxPool2d --------------------------------------------------------------------

MaxPool2d::MaxPool2d(int64_t kernel_size, int64_t stride) : kernel_size(kernel_size), stride(stride) {
    FG_CHECK(kernel_size >= 1 && stride >= 1, "MaxPool2d: kernel_size and stride must be >= 1, got ",
             kernel_size, " and ", stride);
}

Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, kernel_size, stride); }

std::string MaxPool2d::describe() const {
    return str("MaxPool2d(kernel=", kernel_size, ", stride=", stride, ")");
}

// ---- Activations ------------------------------------------------------------------

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor LeakyReLU::forward(const Tensor& x) { return leaky_relu(x, negative_slope); }
LeakyReLU::LeakyReLU(float negative_slope) : negative_slope(negative_slope) {
    FG_CHECK(std::isfinite(negative_slope), "LeakyReLU: negative_slope must be finite, got ", negative_slope);
}

std::string LeakyReLU::describe() const { return str("LeakyReLU(", shortest(negative_slope), ")"); }
Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(x); }
Tensor Tanh::forward(const Tensor& x) { return tanh(x); }

// ---- Dropout ----------------------------------------------------------------------

Dropout::Dropout(float p) : Dropout(p, default_generator().next_u32()) {}

Dropout::Dropout(float p, uint64_t seed) : p(p), gen_(seed) {
    FG_CHECK(p >= 0.0f && p <= 1.0f, "Dropout: p must be in [0, 1], got ", p);
}

// y = x * m,  m_i = 1[u_i >= p] / (1 - p),  u_i ~ U[0, 1)        dx = dy * m (from mul)
Tensor Dropout::forward(const Tensor& x) {
    if (!is_training() || p == 0.0f) return x;
    Tensor mask = Tensor::empty(x.shape());                  // same shape as x: one draw per element
    float keep_scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;  // p = 1 drops everything
    float* m = mask.data();
    for (int64_t i = 0; i < mask.numel(); ++i) m[i] = gen_.uniform() >= p ? keep_scale : 0.0f;
    return mul(x, mask);
}

std::string Dropout::describe() const { return str("Dropout(p=", shortest(p), ")"); }

// ---- Normalisation ----------------------------------------------------------------

BatchNorm::BatchNorm(const char* name, int min_dim, int max_dim, int64_t num_features, float eps,
                     float momentum, bool affine)
    : num_features(num_features),
      eps(eps),
      momentum(momentum),
      name_(name),
      min_dim_(min_dim),
      max_dim_(max_dim) {
    FG_CHECK(num_features >= 1, name, ": num_features must be >= 1, got ", num_features);
    FG_CHECK(std::isfinite(eps) && eps > 0.0f, name, ": eps must be finite and > 0, got ", eps);
    FG_CHECK(momentum >= 0.0f && momentum <= 1.0f, name, ": momentum must be in [0, 1], got ", momentum);
    if (affine) {
        weight = register_parameter("weight", Tensor::ones({num_features}));
        bias = register_parameter("bias", Tensor::zeros({num_features}));
    }
    running_mean = register_buffer("running_mean", Tensor::zeros({num_features}));
    running_var = register_buffer("running_var", Tensor::ones({num_features}));
}

Tensor BatchNorm::forward(const Tensor& x) {
    FG_CHECK(x.dim() >= min_dim_ && x.dim() <= max_dim_ && x.size(1) == num_features, describe(),
             ": expected input ",
             min_dim_ == 4 ? str("[N, ", num_features, ", H, W]")
                           : str("[N, ", num_features, "] or [N, ", num_features, ", L]"),
             ", got ", x.shape());
    return batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps);
}

std::string BatchNorm::describe() const {
    return str(name_, "(", num_features, ", eps=", shortest(eps), ", momentum=", shortest(momentum),
               weight.defined() ? ")" : ", affine=false)");
}

LayerNorm::LayerNorm(std::vector<int64_t> shape, float eps, bool affine)
    : normalized_shape(std::move(shape)), eps(eps) {
    FG_CHECK(!normalized_shape.empty() && normalized_shape.size() <= size_t(kMaxDims),
             "LayerNorm: normalized_shape must have 1 to ", kMaxDims, " sizes");
    for (int64_t s : normalized_shape)
        FG_CHECK(s >= 1, "LayerNorm: normalized_shape sizes must be >= 1, got ", Shape(normalized_shape));
    FG_CHECK(std::isfinite(eps) && eps > 0.0f, "LayerNorm: eps must be finite and > 0, got ", eps);
    if (affine) {
        weight = register_parameter("weight", Tensor::ones(Shape(normalized_shape)));
        bias = register_parameter("bias", Tensor::zeros(Shape(normalized_shape)));
    }
}

Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, normalized_shape, weight, bias, eps); }

std::string LayerNorm::describe() const {
    return str("LayerNorm(", Shape(normalized_shape), ", eps=", shortest(eps),
               weight.defined() ? ")" : ", affine=false)");
}

// ---- Flatten ----------------------------------------------------------------------

Tensor Flatten::forward(const Tensor& x) { return flatten(x, start_dim, end_dim); }
std::string Flatten::describe() const { return str("Flatten(", start_dim, ", ", end_dim, ")"); }

// ---- Sequential -------------------------------------------------------------------

Sequential::Sequential(const std::vector<std::shared_ptr<Module>>& modules) {
    for (const auto& m : modules) add_shared(m);
}

Sequential& Sequential::add_shared(std::shared_ptr<Module> module) {
    register_module(std::to_string(children().size()), std::move(module));
    return *this;
}

// A Linear or Conv2d directly followed by a ReLU runs as one op with the activation fused
// in (linear / conv2d with Activation::relu), and a Conv2d, ReLU, MaxPool2d(2) as one
// conv2d with the pooling fused too: the same values and gradients, bit for bit, without
// passes over the full-size activations forward and backward. Only these exact types, so
// a subclass with a forward of its own is always called. Not while summary() watches.
Tensor Sequential::forward(const Tensor& x) {
    const auto& layers = children();
    auto is = [&](size_t i, const std::type_info& type) {
        return i < layers.size() && typeid(*layers[i].second) == type;
    };
    const bool fuse = !summarizing();
    Tensor y = x;
    for (size_t i = 0; i < layers.size(); ++i) {
        Module& m = *layers[i].second;
        if (fuse && is(i, typeid(Linear)) && is(i + 1, typeid(ReLU))) {
            auto& fc = static_cast<Linear&>(m);
            y = linear(y, fc.weight, fc.bias, Activation::relu);
            i += 1;
        } else if (fuse && is(i, typeid(Conv2d)) && is(i + 1, typeid(ReLU))) {
            auto& conv = static_cast<Conv2d&>(m);
            const auto* pool =
                is(i + 2, typeid(MaxPool2d)) ? static_cast<MaxPool2d*>(layers[i + 2].second.get()) : nullptr;
            const bool pooled = pool && pool->kernel_size == 2 && pool->stride == 2 && y.dim() == 4 &&
                                (y.size(2) + 2 * conv.padding - conv.kernel_size) / conv.stride + 1 >= 2 &&
                                (y.size(3) + 2 * conv.padding - conv.kernel_size) / conv.stride + 1 >= 2;
            y = conv2d(y, conv.weight, conv.bias, conv.stride, conv.padding, Activation::relu,
                       pooled ? 2 : 1);
            i += pooled ? 2 : 1;
        } else {
            y = m(y);
        }
    }
    return y;
}

Module& Sequential::operator[](size_t i) const {
    FG_CHECK(i < children().size(), "Sequential: index ", i, " is out of range for ", children().size(),
             " layers");
    return *children()[i].second;
}

}  // namespace focalgrad
