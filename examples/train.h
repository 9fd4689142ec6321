// train.h — what the MNIST examples add to the library's training loop (train/loop.h):
// a progress line per epoch, and prediction and confusion over a whole uint8 Dataset.
// Header-only, like everything under examples/.
// Not here: the loop itself, early stopping, checkpoint schedules (train/trainer.h).
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/data/loader.h>
#include <focalgrad/data/metrics.h>
#include <focalgrad/nn/module.h>
#include <focalgrad/optim/optimizer.h>
#include <focalgrad/optim/scheduler.h>
#include <focalgrad/train/loop.h>

#include "cli.h"

namespace focalgrad::examples {

// One pass over the loader (focalgrad::train_epoch: loss, backward, step, and
// schedule->step() per batch when given) with a progress line labelled `label`. Returns
// the mean loss per item. A divergence throws an Error naming the epoch and the step.
template <class LossFn>
double train_epoch(Module& model, Optimizer& optimizer, const DataLoader& loader, int64_t epoch,
                   LossFn&& loss_fn, const std::string& label, bool quiet, LRScheduler* schedule = nullptr) {
    cli::Progress progress(label, loader.num_batches(), quiet);
    double loss =
        focalgrad::train_epoch(model, optimizer, loader, epoch, focalgrad::LossFn(loss_fn), schedule,
                               [&](const StepInfo& s) { progress.update(s.step, s.mean_loss, s.samples); });
    progress.done();
    return loss;
}

// The logits of every item of `data` (in order), computed in batches of 256 (bounding the
// memory of conv activations) in eval mode without the tape: [N, C].
inline Tensor predict_logits(Module& model, const Dataset& data, const LoaderOptions& options) {
    LoaderOptions in_order = options;
    in_order.shuffle = false;
    in_order.sampler = Sampler::permutation;
    in_order.batch_size = 256;
    DataLoader loader(data, in_order);
    return focalgrad::predict_logits(model, loader);
}

// The confusion matrix of the argmax predictions against the labels.
inline ConfusionMatrix confusion(const Tensor& logits, const Dataset& data) {
    ConfusionMatrix cm(data.num_classes());
    cm.add(data.labels, argmax_rows(logits));
    return cm;
}

}  // namespace focalgrad::examples
