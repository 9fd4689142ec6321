// memory.h — will a training step fit in memory? The memory of one step grows with the
// batch, bytes(B) = fixed + per_sample B, and both terms are measured, not guessed: two
// dry steps (forward, loss, backward on zeros) at batches 8 T and 16 T (T threads, so
// that every thread has work, as in training), counted by the buffer pool's peak of live
// bytes (core/memory.h); for smaller batches the estimate is an upper bound. A program checks its batch against
// what the process may use before it trains, instead of being ended by the kernel's OOM
// killer minutes later with no message.
// Not here: memory outside tensor buffers (the dataset, the process itself): the check
// leaves 10 % of the budget for it.
#pragma once

#include <cstdint>
#include <string>

#include <focalgrad/core/tensor.h>
#include <focalgrad/nn/module.h>
#include <focalgrad/train/loop.h>

namespace focalgrad {

struct StepMemory {
    double fixed = 0;       // bytes: gradients, and two copies of the parameters for an optimizer's state
    double per_sample = 0;  // bytes per item of the batch: activations, their gradients, im2col buffers
    double at(int64_t batch) const { return fixed + per_sample * double(batch); }
};

// The memory of one training step of `model` on items of `sample_shape` ({784}, or
// {1, 28, 28}) with `loss_fn`. The dry steps run in eval mode, so that no layer's state
// changes (dropout's draws, batch norm's running statistics), and the gradients they
// leave are dropped; the model's training mode is restored. Call it before training.
StepMemory estimate_step_memory(Module& model, const Shape& sample_shape, const LossFn& loss_fn);

// Throws an Error unless a step at `batch` fits in 90 % of available_memory() (the
// smallest of MemAvailable, the room under `ulimit -v` and under a cgroup limit). The
// message gives the estimate and the largest batch that fits, as "`flag` N":
//   --batch 100000 needs about 6.4 GB of memory for one training step (64.2 kB per
//   sample + 998.3 kB), more than the 3.3 GB it may use (90 % of the 3.7 GB available:
//   ulimit -v); the largest batch that fits is --batch 51720
void check_batch_fits(const StepMemory& memory, int64_t batch, const std::string& flag = "--batch");

}  // namespace focalgrad
