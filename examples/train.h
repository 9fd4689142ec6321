// train.h — the training and evaluation loops the MNIST examples share: one epoch of
// minibatch SGD with a progress line and a stop on divergence, and batched prediction
// over a whole dataset. Header-only, like everything under examples/.
// Not here: early stopping, checkpoint schedules, mixed precision.
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

#include "cli.h"

namespace focalgrad::examples {

// One pass over the loader: for each batch, loss_fn(logits, labels) -> scalar loss,
// backward, step (and schedule->step() when a per-batch schedule is given). Returns the
// mean batch loss. Throws, naming the epoch and step, when a loss is NaN or infinite:
// training on would only print "nan" for the rest of the run.
template <class LossFn>
double train_epoch(Module& model, Optimizer& optimizer, const DataLoader& loader, int64_t epoch,
                   LossFn&& loss_fn, const std::string& label, bool quiet, LRScheduler* schedule = nullptr) {
    model.train();
    cli::Progress progress(label, loader.num_batches(), quiet);
    double total = 0;
    int64_t step = 0, samples = 0;
    for (const Batch& batch : loader.epoch(epoch)) {
        optimizer.zero_grad();
        Tensor loss = loss_fn(model(batch.x), batch.y);
        double value = loss.item();
        cli::check_loss_finite(value, epoch, step,
                               "try a smaller --lr (class weights make some samples' gradients large)");
        loss.backward();
        optimizer.step();
        if (schedule) schedule->step();
        total += value;
        samples += int64_t(batch.y.size());
        progress.update(step, total / double(step + 1), samples);
        ++step;
    }
    progress.done();
    return step ? total / double(step) : 0.0;
}

// The logits of every item of `data` (in order), computed in batches under NoGradGuard
// in eval mode: [N, C].
inline Tensor predict_logits(Module& model, const Dataset& data, const LoaderOptions& options) {
    NoGradGuard no_grad;
    model.eval();
    LoaderOptions in_order = options;
    in_order.shuffle = false;
    in_order.batch_size = 256;  // bounds the memory of conv activations (im2col)
    DataLoader loader(data, in_order);
    std::vector<Tensor> parts;
    for (const Batch& batch : loader.epoch(0)) parts.push_back(model(batch.x));
    return concat(parts, 0);
}

// The confusion matrix of the argmax predictions against the labels.
inline ConfusionMatrix confusion(const Tensor& logits, const Dataset& data) {
    ConfusionMatrix cm(data.num_classes());
    cm.add(data.labels, argmax_rows(logits));
    return cm;
}

}  // namespace focalgrad::examples
