// state.h — named values that let training resume exactly where it stopped: float
// tensors (momentum buffers, Adam's moments), exact 64-bit integers (step counts, the
// epoch, generator states), exact doubles (the learning rate, the best validation loss)
// and text. Optimizers export theirs with state_dict() and take it back with
// load_state_dict(); nn/checkpoint.h stores a StateDict beside a model's tensors.
// Not here: nesting (keys are flat, "optimizer.exp_avg.3"), other element types.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include <focalgrad/core/tensor.h>

namespace focalgrad {

using StateValue = std::variant<Tensor, std::vector<int64_t>, std::vector<double>, std::string>;
using StateDict = std::map<std::string, StateValue>;

// The value under `key`, of the expected kind, or an Error naming `op`, the key and what
// was found instead ("optimizer: state 'optimizer.lr' is missing").
const Tensor& state_tensor(const StateDict& state, const std::string& key, const char* op);
const std::vector<int64_t>& state_integers(const StateDict& state, const std::string& key, const char* op);
const std::vector<double>& state_reals(const StateDict& state, const std::string& key, const char* op);
const std::string& state_text(const StateDict& state, const std::string& key, const char* op);
// One-element forms: the integer or real stored as a list of one.
int64_t state_integer(const StateDict& state, const std::string& key, const char* op);
double state_real(const StateDict& state, const std::string& key, const char* op);

// The entries whose keys start with prefix, with the prefix removed: the optimizer's own
// part of a checkpoint's state is sub_state(state, "optimizer.").
StateDict sub_state(const StateDict& state, const std::string& prefix);
// Adds every entry of `part` under prefix + key.
void merge_state(StateDict& state, const std::string& prefix, const StateDict& part);

}  // namespace focalgrad
