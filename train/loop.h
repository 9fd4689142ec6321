// loop.h — the pieces every classifier's training loop is made of: one epoch of
// minibatch steps, an evaluation pass (mean loss and confusion matrix), and batched
// prediction. A divergence stops training with the epoch and step where it happened.
// train/trainer.h builds the whole loop (validation, history, early stopping, resume)
// from these. Not here: gradient accumulation, mixed precision, distributed training.
// Shapes: B batch, C classes.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <focalgrad/core/tensor.h>
#include <focalgrad/data/loader.h>
#include <focalgrad/data/metrics.h>
#include <focalgrad/nn/module.h>
#include <focalgrad/optim/optimizer.h>
#include <focalgrad/optim/scheduler.h>

namespace focalgrad {

// logits [B, C], labels [B] -> a scalar loss (cross_entropy, focal_loss, ... bound to
// their options with a lambda).
using LossFn = std::function<Tensor(const Tensor& logits, const std::vector<int>& labels)>;

// What a step reports to an on_step callback (a progress line, say).
struct StepInfo {
    int64_t epoch = 0, step = 0, steps = 0;  // step of steps in this epoch, from 0
    double loss = 0;                         // this step's loss
    double mean_loss = 0;                    // per item so far in this epoch
    int64_t samples = 0;                     // items so far in this epoch
};

// One pass over loader.epoch(epoch) in training mode: for each batch, the loss of
// model(x), backward, optimizer.step(), then per_batch_schedule->step() if one is given.
// Returns the mean loss per item (batch losses weighted by batch size). When a loss is
// NaN or infinite, or the loss op refuses its input (non-finite logits), throws an Error
// naming the epoch and the step: every step after it would be wasted.
double train_epoch(Module& model, Optimizer& optimizer, const DataLoader& loader, int64_t epoch,
                   const LossFn& loss_fn, LRScheduler* per_batch_schedule = nullptr,
                   const std::function<void(const StepInfo&)>& on_step = nullptr);

struct Evaluation {
    double loss = 0;        // mean per item (batch losses weighted by batch size)
    ConfusionMatrix cm{1};  // true class x predicted class (argmax of the logits)
    Metrics metrics;        // compute_metrics(cm)
};

// Every item of the loader once (its epoch-0 order; a balanced sampler is refused), in
// eval mode without the tape; the model's training mode is restored afterwards. The
// loader's batch size bounds the memory used. num_classes 0: the logits' width.
Evaluation evaluate(Module& model, const DataLoader& loader, const LossFn& loss_fn, int num_classes = 0);

// The logits of the loader's items in its epoch-0 order (give it shuffle = false to keep
// the dataset's order), [N, C], in eval mode without the tape.
Tensor predict_logits(Module& model, const DataLoader& loader);

}  // namespace focalgrad
