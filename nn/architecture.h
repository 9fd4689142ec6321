// architecture.h — a model's architecture as text, and the model rebuilt from that text.
// The text is the module tree as operator<< prints it (PyTorch's repr):
//   Sequential(
//     (0): Linear(2, 64)
//     (1): ReLU()
//     (2): Linear(64, 3)
//   )
// Checkpoints store it (nn/checkpoint.h), so a program can load a model it has no code
// for: examples/predict rebuilds any classifier the examples train.
// Rebuildable: Sequential trees of the built-in layers of nn/layers.h, whose describe()
// lines are exact recipes (floats printed to round-trip). Not here: custom Module
// subclasses (their describe() is no recipe), shared submodules, other layer registries.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <focalgrad/nn/module.h>

namespace focalgrad {

// The printed tree, checked to be rebuildable: an Error names the first module that is
// not (a custom Module subclass, say), so a checkpoint never stores a recipe that fails
// only when someone tries to use it.
std::string architecture(const Module& model);

// The model the text describes, with freshly initialised parameters (load a checkpoint
// into it). Layers are checked as when built in code; before any is built, the parameter
// count the text implies is checked against max_parameters (a corrupt or hostile text
// cannot make it allocate more). An Error names the line and what is wrong.
std::shared_ptr<Module> build_module(const std::string& text, int64_t max_parameters = int64_t(1) << 30);

}  // namespace focalgrad
