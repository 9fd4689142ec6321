// module.h — the Module base class: a forward function plus named parameters, buffers
// and child modules, as in torch.nn.Module. Parameters and buffers get stable
// hierarchical names ("0.weight", "encoder.2.running_mean") from the order of
// registration: the names checkpoints are keyed by, and the tensors' own names
// (Tensor::name, shown in pictures of the tape).
// Not here: hooks, multi-input forward, moving to devices. Modules are not copyable (a copy would silently share parameters):
// move them, or hold them by shared_ptr.
//
//   struct MLP : Module {
//       std::shared_ptr<Linear> fc1, fc2;
//       MLP() : fc1(register_module("fc1", std::make_shared<Linear>(2, 16))),
//               fc2(register_module("fc2", std::make_shared<Linear>(16, 2))) {}
//       Tensor forward(const Tensor& x) override { return (*fc2)(relu((*fc1)(x))); }
//   };
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <focalgrad/core/random.h>
#include <focalgrad/core/tensor.h>

namespace focalgrad {

class Module {
public:
    Module() = default;
    virtual ~Module() = default;
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;
    Module(Module&&) = default;
    Module& operator=(Module&&) = default;

    virtual Tensor forward(const Tensor& x) = 0;
    // Calls forward. Always call child modules this way (not forward directly): it is
    // where summary() sees each layer's output shape.
    Tensor operator()(const Tensor& x);

    // One line naming the layer and its configuration, e.g. "Linear(784, 256)".
    virtual std::string describe() const { return "Module"; }

    // This module's parameters, then each child's, in registration order, depth first.
    std::vector<std::pair<std::string, Tensor>> named_parameters() const;
    std::vector<Tensor> parameters() const;
    // Buffers the same way: state that is saved and loaded with the parameters but is no
    // parameter — no optimizer gets it and no gradient reaches it (BatchNorm's running
    // statistics). parameters() never includes them.
    std::vector<std::pair<std::string, Tensor>> named_buffers() const;
    // The random generators the forward draws from (Dropout's masks), this module's and
    // each child's, named like parameters ("3.generator"). Checkpoints save and restore
    // them with the parameters, so a resumed run draws the masks an uninterrupted one would.
    std::vector<std::pair<std::string, Generator*>> named_generators();
    std::vector<std::pair<std::string, const Generator*>> named_generators() const;
    // Every module of the tree, this one first (named ""), depth first.
    std::vector<std::pair<std::string, const Module*>> named_modules() const;
    const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }

    // Training mode switches layers such as Dropout on; eval() switches them off. Applies
    // to the whole tree. New modules start in training mode, as in PyTorch.
    void train(bool on = true);
    void eval() { train(false); }
    bool is_training() const { return training_; }

    void zero_grad();                // releases every parameter's gradient
    int64_t num_parameters() const;  // total element count of all parameters

    // A table of every layer the forward pass calls: name, description, output shape and
    // parameter count, for an input of the given shape (batch included). It runs one
    // forward on zeros under NoGradGuard, in eval mode (so no random stream advances), and
    // restores each module's mode afterwards.
    std::string summary(const Shape& input_shape);

protected:
    // A module that owns a Generator lists it here, under its own (unprefixed) name.
    virtual std::vector<std::pair<std::string, Generator*>> own_generators() { return {}; }

    // True while summary() runs: containers then call every child through operator(), so
    // that each layer gets its row (Sequential fuses none while it is true).
    static bool summarizing();

    // Registers t as a parameter (it becomes a leaf that requires grad) and returns it.
    // Names must be non-empty, unique within the module, and free of '.'.
    Tensor register_parameter(const std::string& name, Tensor t);
    // Registers t as a buffer (a leaf that does not require grad) and returns it; the same
    // naming rules, one namespace with the parameters and children.
    Tensor register_buffer(const std::string& name, Tensor t);
    template <class M>
    std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
        add_child(name, module);
        return module;
    }

private:
    void add_child(const std::string& name, std::shared_ptr<Module> module);
    void check_new_name(const std::string& name) const;
    void collect_parameters(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out,
                            bool buffers) const;
    void collect_modules(const std::string& prefix,
                         std::vector<std::pair<std::string, const Module*>>& out) const;

    std::vector<std::pair<std::string, Tensor>> params_, buffers_;
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
    bool training_ = true;
};

// The module tree, one line per module, PyTorch style:
//   Sequential(
//     (0): Linear(2, 16)
//     (1): ReLU()
//   )
std::ostream& operator<<(std::ostream& os, const Module& m);

}  // namespace focalgrad
