// layers.h — the standard layers, each a composition of core ops with no backward code
// of its own (gradients come from the ops: linear, conv2d, max_pool2d, relu, mul, ...).
// Initialisation follows PyTorch's defaults and draws from a Generator (default: the
// thread's default generator, so manual_seed fixes every weight).
// Not here: recurrent layers, padding modes other than zeros, group/instance norm.
//
// Shapes: Linear [N, D_in] -> [N, D_out] (any leading dims); Conv2d and MaxPool2d take
// images [N, C, H, W]; activations and Dropout keep the shape; Flatten merges dims 1..-1.
// Parameters are public (fc.weight) for reading and for writing values in place
// (fc.weight.data()); assigning a new tensor to fc.weight changes what forward uses but
// not what named_parameters() (and so optimizers and checkpoints) see.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <focalgrad/core/random.h>
#include <focalgrad/nn/module.h>

namespace focalgrad {

// y = x W^T + b, W [out, in], b [out]; both start U(-1/sqrt(in), 1/sqrt(in)) as in PyTorch.
class Linear : public Module {
public:
    Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator& gen = default_generator());
    Tensor forward(const Tensor& x) override;
    std::string describe() const override;

    int64_t in_features, out_features;
    Tensor weight;  // [out_features, in_features]
    Tensor bias;    // [out_features], or undefined without bias
};

// y = conv2d(x, W, b) with W [out, in, k, k]; W and b start U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
// fan_in = in k k, as in PyTorch.
class Conv2d : public Module {
public:
    Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1,
           int64_t padding = 0, bool bias = true, Generator& gen = default_generator());
    Tensor forward(const Tensor& x) override;
    std::string describe() const override;

    int64_t in_channels, out_channels, kernel_size, stride, padding;
    Tensor weight;  // [out_channels, in_channels, kernel_size, kernel_size]
    Tensor bias;    // [out_channels], or undefined without bias
};

// The maximum of each kernel x kernel window; the stride defaults to the kernel size
// (non-overlapping windows), as in PyTorch.
class MaxPool2d : public Module {
public:
    explicit MaxPool2d(int64_t kernel_size) : MaxPool2d(kernel_size, kernel_size) {}
    MaxPool2d(int64_t kernel_size, int64_t stride);
    Tensor forward(const Tensor& x) override;
    std::string describe() const override;

    int64_t kernel_size, stride;
};

class ReLU : public Module {
public:
    Tensor forward(const Tensor& x) override;
    std::string describe() const override { return "ReLU()"; }
};

class LeakyReLU : public Module {
public:
    explicit LeakyReLU(float negative_slope = 0.01f);
    Tensor forward(const Tensor& x) override;
    std::string describe() const override;

    float negative_slope;
};

class Sigmoid : public Module {
public:
    Tensor forward(const Tensor& x) override;
    std::string describe() const override { return "Sigmoid()"; }
};

class Tanh : public Module {
public:
    Tensor forward(const Tensor& x) override;
    std::string describe() const override { return "Tanh()"; }
};

// Inverted dropout: in training mode each element is zeroed with probability p and the
// survivors are scaled by 1 / (1 - p), so the expected output equals the input and eval
// mode is the identity. The mask comes from the layer's own Generator: by default seeded
// from the default generator when the layer is built (so manual_seed fixes it, and two
// Dropout layers draw different masks), or from an explicit seed.
class Dropout : public Module {
public:
    explicit Dropout(float p = 0.5f);
    Dropout(float p, uint64_t seed);
    Tensor forward(const Tensor& x) override;
    std::string describe() const override;

    float p;

protected:
    std::vector<std::pair<std::string, Generator*>> own_generators() override {
        return {{"generator", &gen_}};
    }

private:
    Generator gen_;
};

// Batch normalisation (Ioffe & Szegedy 2015), the core op batch_norm: in training mode each
// channel is standardised with the batch's statistics, which also move the running
// statistics (buffers, saved in checkpoints): running = (1 - momentum) running + momentum
// batch; in eval mode the running statistics are used, so one item's output does not
// depend on the others. weight (gamma) starts at 1, bias (beta) at 0, running_mean at 0,
// running_var at 1, as in PyTorch. BatchNorm1d takes [N, C] or [N, C, L]; BatchNorm2d
// takes [N, C, H, W].
class BatchNorm : public Module {
public:
    Tensor forward(const Tensor& x) override;
    std::string describe() const override;

    int64_t num_features;
    float eps, momentum;
    Tensor weight, bias;               // [C] parameters, undefined without affine
    Tensor running_mean, running_var;  // [C] buffers

protected:
    BatchNorm(const char* name, int min_dim, int max_dim, int64_t num_features, float eps, float momentum,
              bool affine);

private:
    const char* name_;
    int min_dim_, max_dim_;
};

class BatchNorm1d : public BatchNorm {
public:
    explicit BatchNorm1d(int64_t num_features, float eps = 1e-5f, float momentum = 0.1f, bool affine = true)
        : BatchNorm("BatchNorm1d", 2, 3, num_features, eps, momentum, affine) {}
};

class BatchNorm2d : public BatchNorm {
public:
    explicit BatchNorm2d(int64_t num_features, float eps = 1e-5f, float momentum = 0.1f, bool affine = true)
        : BatchNorm("BatchNorm2d", 4, 4, num_features, eps, momentum, affine) {}
};

// Layer normalisation (Ba et al. 2016), the core op layer_norm: each item is standardised
// over its trailing dims normalized_shape with its own statistics, the same in training
// and eval; weight starts at 1 and bias at 0, both of shape normalized_shape.
class LayerNorm : public Module {
public:
    explicit LayerNorm(std::vector<int64_t> normalized_shape, float eps = 1e-5f, bool affine = true);
    explicit LayerNorm(int64_t features, float eps = 1e-5f, bool affine = true)
        : LayerNorm(std::vector<int64_t>{features}, eps, affine) {}
    Tensor forward(const Tensor& x) override;
    std::string describe() const override;

    std::vector<int64_t> normalized_shape;
    float eps;
    Tensor weight, bias;  // normalized_shape, undefined without affine
};

// Merges dims start_dim..end_dim: [N, C, H, W] -> [N, C H W] with the defaults.
class Flatten : public Module {
public:
    explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim(start_dim), end_dim(end_dim) {}
    Tensor forward(const Tensor& x) override;
    std::string describe() const override;

    int64_t start_dim, end_dim;
};

// Calls its children in order, each on the previous one's output. Children are named
// "0", "1", ... by position, so parameters are "0.weight", "2.bias", ...
// A Linear or Conv2d followed by a ReLU (and a Conv2d, ReLU, MaxPool2d(2)) runs as one
// fused op: the same values and gradients, bit for bit, with fewer passes over memory.
//
//   Sequential net(Linear(784, 128), ReLU(), Linear(128, 10));
//   auto head = std::make_shared<Linear>(10, 2);   // keep a handle to a layer
//   net.add(head);
//
// Modules are moved in (or shared, when passed as shared_ptr); never copied.
class Sequential : public Module {
    // A module value, or a shared_ptr to one.
    template <class M>
    static constexpr bool is_module_arg = std::is_base_of_v<Module, std::decay_t<M>> ||
                                          std::is_convertible_v<std::decay_t<M>, std::shared_ptr<Module>>;

public:
    Sequential() = default;
    template <class... Ms, class = std::enable_if_t<(is_module_arg<Ms> && ...)>>
    explicit Sequential(Ms&&... modules) {
        (add(std::forward<Ms>(modules)), ...);
    }
    explicit Sequential(const std::vector<std::shared_ptr<Module>>& modules);

    template <class M>
    Sequential& add(M&& module) {
        using T = std::decay_t<M>;
        if constexpr (std::is_convertible_v<T, std::shared_ptr<Module>>) {
            return add_shared(std::shared_ptr<Module>(std::forward<M>(module)));
        } else {
            static_assert(std::is_base_of_v<Module, T>, "Sequential::add: not a Module");
            static_assert(!std::is_lvalue_reference_v<M>,
                          "Sequential::add: modules are not copied; pass a temporary, "
                          "std::move(layer), or a std::shared_ptr to share it");
            return add_shared(std::make_shared<T>(std::forward<M>(module)));
        }
    }

    Tensor forward(const Tensor& x) override;
    std::string describe() const override { return "Sequential"; }
    size_t size() const { return children().size(); }
    Module& operator[](size_t i) const;

private:
    Sequential& add_shared(std::shared_ptr<Module> module);
};

}  // namespace focalgrad
