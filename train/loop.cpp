// loop.cpp — train_epoch, evaluate and predict_logits.
#include <cmath>
#include <utility>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/error.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/train/loop.h>

namespace focalgrad {

namespace {

constexpr const char* kDivergenceHint =
    "try a smaller learning rate (class weights make some samples' gradients large), or gradient clipping";

// Restores a module's training mode when the scope ends, however it ends.
class ModeGuard {
public:
    ModeGuard(Module& m, bool training) : m_(m), was_(m.is_training()) { m.train(training); }
    ~ModeGuard() { m_.train(was_); }
    ModeGuard(const ModeGuard&) = delete;
    ModeGuard& operator=(const ModeGuard&) = delete;

private:
    Module& m_;
    bool was_;
};

void check_every_item_once(const DataLoader& loader, const char* op) {
    FG_CHECK(
        loader.options().sampler == Sampler::permutation, op,
        ": the loader draws with a balanced sampler, so some items would count twice and others not at all; "
        "evaluate with Sampler::permutation");
}

bool all_finite(const Tensor& t) {
    const float* p = t.data();
    for (int64_t i = 0; i < t.numel(); ++i)
        if (!std::isfinite(p[i])) return false;
    return true;
}

}  // namespace

double train_epoch(Module& model, Optimizer& optimizer, const DataLoader& loader, int64_t epoch,
                   const LossFn& loss_fn, LRScheduler* per_batch_schedule,
                   const std::function<void(const StepInfo&)>& on_step) {
    FG_CHECK(loss_fn, "train_epoch: no loss function given");
    model.train();
    StepInfo info;
    info.epoch = epoch;
    info.steps = loader.num_batches();
    double total = 0.0;
    for (const Batch& batch : loader.epoch(epoch)) {
        optimizer.zero_grad();
        Tensor logits = model(batch.x), loss;
        try {
            loss = loss_fn(logits, batch.y);
        } catch (const Error& e) {
            clear_tape();
            // A loss op refuses non-finite logits before any loss value exists to check:
            // the weights have diverged, and the user needs to know where. Any other
            // refusal (labels out of range, a shape the loss does not take) is not a
            // divergence, and is reported with where it happened.
            if (!all_finite(logits))
                throw Error(str("training diverged at epoch ", epoch, ", step ", info.step, ": ", e.what(),
                                "; ", kDivergenceHint));
            throw Error(str("train_epoch: epoch ", epoch, ", step ", info.step, ": ", e.what()));
        }
        const double value = loss.item();
        if (!std::isfinite(value)) {
            clear_tape();
            throw Error(str("training diverged: the loss became ", value, " at epoch ", epoch, ", step ",
                            info.step, "; ", kDivergenceHint));
        }
        loss.backward();
        optimizer.step();
        if (per_batch_schedule) per_batch_schedule->step();
        const int64_t n = int64_t(batch.y.size());
        total += value * double(n);
        info.samples += n;
        info.loss = value;
        info.mean_loss = total / double(info.samples);
        if (on_step) on_step(info);
        ++info.step;
    }
    return info.samples ? total / double(info.samples) : 0.0;
}

Evaluation evaluate(Module& model, const DataLoader& loader, const LossFn& loss_fn, int num_classes) {
    FG_CHECK(loss_fn, "evaluate: no loss function given");
    FG_CHECK(num_classes >= 0, "evaluate: num_classes must be >= 0 (0: the logits' width), got ",
             num_classes);
    check_every_item_once(loader, "evaluate");
    NoGradGuard no_grad;
    ModeGuard eval(model, false);
    Evaluation out;
    double total = 0.0;
    int64_t samples = 0;
    for (const Batch& batch : loader.epoch(0)) {
        Tensor logits = model(batch.x);
        FG_CHECK(logits.dim() == 2 && logits.size(1) >= 1, "evaluate: the model gives logits of shape ",
                 logits.shape(), "; expected [B, C]");
        if (samples == 0) {
            if (num_classes == 0) num_classes = int(logits.size(1));
            out.cm = ConfusionMatrix(num_classes);
        }
        FG_CHECK(logits.size(1) == num_classes, "evaluate: the model gives logits of shape ", logits.shape(),
                 "; expected [B, ", num_classes, "]");
        total += double(loss_fn(logits, batch.y).item()) * double(batch.y.size());
        samples += int64_t(batch.y.size());
        out.cm.add(batch.y, argmax_rows(logits));
    }
    out.loss = total / double(samples);
    out.metrics = compute_metrics(out.cm);
    return out;
}

Tensor predict_logits(Module& model, const DataLoader& loader) {
    check_every_item_once(loader, "predict_logits");
    NoGradGuard no_grad;
    ModeGuard eval(model, false);
    std::vector<Tensor> parts;
    for (const Batch& batch : loader.epoch(0)) parts.push_back(model(batch.x));
    return concat(parts, 0);
}

}  // namespace focalgrad
