// trainer.h — a training loop users can rely on: epochs of train_epoch (train/loop.h), a
// validation pass after each, the history written as it goes (train/history.h: CSV, JSON,
// curve chart), early stopping on a validation metric with patience, the best model kept
// as a checkpoint, and a checkpoint after every epoch from which resume() continues
// exactly: the same parameters, bit for bit, as a run that was never interrupted.
// Not here: multiple validation sets, metrics other than loss and (balanced) accuracy,
// schedules driven by a metric (ReduceLROnPlateau).
//
//   Trainer trainer(model, optimizer, loss_fn, options);
//   trainer.set_schedule(cosine, /*per_batch=*/true);
//   if (resuming) trainer.resume(options.last_checkpoint);
//   TrainResult r = trainer.fit(train_loader, &val_loader);
//
// Exact resume needs what the run draws from to be in the checkpoint or derived from its
// flags: the model's parameters, buffers and generators (Dropout's), the optimizer's
// state, the schedule's step, and the loaders' orders, which depend only on (seed,
// epoch) — the trainer checks that the training loader's seed is the one saved.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <focalgrad/core/state.h>
#include <focalgrad/data/loader.h>
#include <focalgrad/nn/checkpoint.h>
#include <focalgrad/nn/module.h>
#include <focalgrad/optim/optimizer.h>
#include <focalgrad/optim/scheduler.h>
#include <focalgrad/train/history.h>
#include <focalgrad/train/loop.h>

namespace focalgrad {

// The validation metric early stopping and the best checkpoint follow.
enum class Monitor { val_loss, val_accuracy, val_balanced_accuracy };
const char* monitor_name(Monitor m);             // "val_loss", ...
Monitor parse_monitor(const std::string& name);  // the inverse; throws on anything else

struct TrainerOptions {
    int64_t epochs = 10;  // the run's length, counting the epochs a resumed run already had

    // Early stopping: stop when the monitored metric has not improved by more than
    // min_delta for `patience` epochs in a row. 0: never stop early. Needs validation data.
    Monitor monitor = Monitor::val_loss;
    int64_t patience = 0;
    double min_delta = 0;

    // Files, each written as training goes; an empty path is not written.
    std::string csv_path;         // one line per epoch, appended and flushed
    std::string json_path;        // rewritten atomically every epoch
    std::string chart_path;       // SVG training curves, rewritten atomically every epoch
    std::string best_checkpoint;  // the model at its best monitored epoch (weights and info)
    std::string last_checkpoint;  // after every epoch: weights, info, and what resume() needs
    bool restore_best = false;    // load best_checkpoint into the model when fit() ends
    ModelInfo info;               // written into both checkpoints
    std::string chart_title;

    bool verbose = true;  // one line per epoch on stderr
    std::function<void(const StepInfo&)> on_step;
    std::function<void(const EpochRecord&)> on_epoch;
};

struct TrainResult {
    std::vector<EpochRecord> history;
    int64_t best_epoch = 0;  // 0 without validation data
    double best_value = EpochRecord::kNone;
    bool stopped_early = false;
};

class Trainer {
public:
    Trainer(Module& model, Optimizer& optimizer, LossFn loss_fn, TrainerOptions options);

    // A learning-rate schedule stepped after every batch (per_batch) or every epoch.
    void set_schedule(LRScheduler& schedule, bool per_batch);

    // Puts the run back where `path` (a last_checkpoint) left it: the model, the
    // optimizer, the schedule, the epochs done, the history and early stopping's counters.
    // fit() then runs the remaining epochs. The model, optimizer and schedule must be built
    // as they were for the saved run; a file without training state is refused.
    void resume(const std::string& path);

    // Trains until options.epochs are done or early stopping ends the run. `val` may be
    // null: no validation, no early stopping, no best checkpoint. Output paths are checked
    // before the first step, so a bad one fails at once rather than after an epoch.
    TrainResult fit(const DataLoader& train, const DataLoader* val = nullptr);

    // What a last_checkpoint holds besides the model: "trainer.*", "optimizer.*", "scheduler.*".
    StateDict state() const;
    const std::vector<EpochRecord>& history() const { return history_; }
    int64_t epochs_done() const { return int64_t(history_.size()); }

private:
    bool improved(double value) const;
    HistorySummary summary(bool finished) const;

    Module& model_;
    Optimizer& optimizer_;
    LossFn loss_fn_;
    TrainerOptions options_;
    LRScheduler* schedule_ = nullptr;
    bool per_batch_ = false;
    std::vector<EpochRecord> history_;
    int64_t best_epoch_ = 0, bad_epochs_ = 0;
    double best_value_ = EpochRecord::kNone;
    bool stopped_early_ = false;
    int64_t loader_seed_ = -1;  // the training loader's seed (of the saved run, after resume)
    bool resumed_ = false;
};

}  // namespace focalgrad
