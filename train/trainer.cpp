// trainer.cpp — Trainer: the epoch loop, early stopping, the files, and the state that
// resume() reads back.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <utility>

#include <focalgrad/core/error.h>
#include <focalgrad/core/io.h>
#include <focalgrad/train/trainer.h>

namespace focalgrad {

namespace {

double monitored(const EpochRecord& r, Monitor m) {
    return m == Monitor::val_loss       ? r.val_loss
           : m == Monitor::val_accuracy ? r.val_accuracy
                                        : r.val_balanced_accuracy;
}

std::string percent(double v) { return std::isfinite(v) ? str(std::round(v * 10000) / 100, " %") : "-"; }

}  // namespace

const char* monitor_name(Monitor m) {
    return m == Monitor::val_loss       ? "val_loss"
           : m == Monitor::val_accuracy ? "val_accuracy"
                                        : "val_balanced_accuracy";
}

Monitor parse_monitor(const std::string& name) {
    for (Monitor m : {Monitor::val_loss, Monitor::val_accuracy, Monitor::val_balanced_accuracy})
        if (name == monitor_name(m)) return m;
    throw Error(
        str("parse_monitor: unknown metric '", name, "' (val_loss, val_accuracy or val_balanced_accuracy)"));
}

Trainer::Trainer(Module& model, Optimizer& optimizer, LossFn loss_fn, TrainerOptions options)
    : model_(model), optimizer_(optimizer), loss_fn_(std::move(loss_fn)), options_(std::move(options)) {
    FG_CHECK(loss_fn_, "Trainer: no loss function given");
    FG_CHECK(options_.epochs >= 1, "Trainer: epochs must be >= 1, got ", options_.epochs);
    FG_CHECK(options_.patience >= 0, "Trainer: patience must be >= 0, got ", options_.patience);
    FG_CHECK(std::isfinite(options_.min_delta) && options_.min_delta >= 0,
             "Trainer: min_delta must be finite and >= 0, got ", options_.min_delta);
    FG_CHECK(!options_.restore_best || !options_.best_checkpoint.empty(),
             "Trainer: restore_best needs a best_checkpoint path to keep the best model in");
}

void Trainer::set_schedule(LRScheduler& schedule, bool per_batch) {
    FG_CHECK(&schedule.optimizer() == &optimizer_,
             "Trainer::set_schedule: the schedule drives another optimizer");
    schedule_ = &schedule;
    per_batch_ = per_batch;
}

bool Trainer::improved(double value) const {
    if (!std::isfinite(value)) return false;
    if (!std::isfinite(best_value_)) return true;
    return options_.monitor == Monitor::val_loss ? value < best_value_ - options_.min_delta
                                                 : value > best_value_ + options_.min_delta;
}

HistorySummary Trainer::summary(bool finished) const {
    HistorySummary s;
    if (options_.patience > 0 || !options_.best_checkpoint.empty())
        s.monitor = monitor_name(options_.monitor);
    s.best_epoch = best_epoch_;
    s.best_value = best_value_;
    s.stopped_early = stopped_early_;
    s.finished = finished;
    return s;
}

StateDict Trainer::state() const {
    StateDict s;
    merge_state(s, "optimizer.", optimizer_.state_dict());
    if (schedule_) {
        s["scheduler.step"] = std::vector<int64_t>{schedule_->last_step()};
        s["scheduler.per_batch"] = std::vector<int64_t>{per_batch_};
    }
    s["trainer.epochs_done"] = std::vector<int64_t>{epochs_done()};
    s["trainer.monitor"] = std::string(monitor_name(options_.monitor));
    s["trainer.best_epoch"] = std::vector<int64_t>{best_epoch_};
    s["trainer.best_value"] = std::vector<double>{best_value_};
    s["trainer.bad_epochs"] = std::vector<int64_t>{bad_epochs_};
    s["trainer.stopped_early"] = std::vector<int64_t>{stopped_early_};
    s["trainer.loader_seed"] = std::vector<int64_t>{loader_seed_};
    put_history(s, "trainer.history.", history_);
    return s;
}

void Trainer::resume(const std::string& path) {
    const char* op = "Trainer::resume";
    Checkpoint c = load(model_, path);
    FG_CHECK(c.state.count("trainer.epochs_done"), op, ": '", path, "' holds no training state (",
             c.version == 1 ? "a version-1 file holds weights only"
                            : "it is a best checkpoint, or was saved without one",
             "): it can initialise a model with load(), but a run resumes from its last_checkpoint");
    const std::string& monitor = state_text(c.state, "trainer.monitor", op);
    FG_CHECK(monitor == monitor_name(options_.monitor), op, ": the saved run monitored ", monitor,
             ", this one ", monitor_name(options_.monitor));
    const bool had_schedule = c.state.count("scheduler.step") > 0;
    FG_CHECK(had_schedule == (schedule_ != nullptr), op, ": the saved run ", had_schedule ? "had" : "had no",
             " learning-rate schedule, this one ", schedule_ ? "has one" : "has none",
             had_schedule ? " (call set_schedule before resume)" : "");
    std::vector<EpochRecord> history = get_history(c.state, "trainer.history.");
    const int64_t done = state_integer(c.state, "trainer.epochs_done", op);
    FG_CHECK(done == int64_t(history.size()), op, ": '", path, "' says ", done, " epochs are done but holds ",
             history.size(), " history records");
    if (had_schedule)
        FG_CHECK(state_integer(c.state, "scheduler.per_batch", op) == int64_t(per_batch_), op,
                 ": the saved run stepped its schedule per ",
                 state_integer(c.state, "scheduler.per_batch", op) ? "batch" : "epoch", ", this one per ",
                 per_batch_ ? "batch" : "epoch");
    optimizer_.load_state_dict(sub_state(c.state, "optimizer."));
    if (had_schedule) schedule_->set_step(state_integer(c.state, "scheduler.step", op));
    history_ = std::move(history);
    best_epoch_ = state_integer(c.state, "trainer.best_epoch", op);
    best_value_ = state_real(c.state, "trainer.best_value", op);
    bad_epochs_ = state_integer(c.state, "trainer.bad_epochs", op);
    stopped_early_ = state_integer(c.state, "trainer.stopped_early", op) != 0;
    loader_seed_ = state_integer(c.state, "trainer.loader_seed", op);
    resumed_ = true;
}

TrainResult Trainer::fit(const DataLoader& train, const DataLoader* val) {
    const char* op = "Trainer::fit";
    for (const std::string* p : {&options_.csv_path, &options_.json_path, &options_.chart_path,
                                 &options_.best_checkpoint, &options_.last_checkpoint})
        if (!p->empty()) check_output_path(*p, op);
    FG_CHECK(val || (options_.patience == 0 && options_.best_checkpoint.empty()), op,
             ": early stopping and the best checkpoint follow a validation metric; give validation data");
    const int64_t seed = int64_t(train.options().seed);
    FG_CHECK(!resumed_ || loader_seed_ == seed, op, ": the resumed run shuffled with seed ", loader_seed_,
             ", this loader with seed ", seed, "; resuming exactly needs the same batches");
    loader_seed_ = seed;

    CsvLog csv;
    if (!options_.csv_path.empty()) csv.open(options_.csv_path, history_);
    const bool monitoring = val != nullptr;
    for (int64_t e = epochs_done(); e < options_.epochs && !stopped_early_; ++e) {
        const auto start = std::chrono::steady_clock::now();
        EpochRecord r;
        r.epoch = e + 1;
        r.lr = optimizer_.lr();
        r.train_loss = train_epoch(model_, optimizer_, train, e, loss_fn_, per_batch_ ? schedule_ : nullptr,
                                   options_.on_step);
        if (schedule_ && !per_batch_) schedule_->step();
        if (val) {
            Evaluation ev = evaluate(model_, *val, loss_fn_);
            r.val_loss = ev.loss;
            r.val_accuracy = ev.metrics.accuracy;
            r.val_balanced_accuracy = ev.metrics.balanced_accuracy;
        }
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        history_.push_back(r);

        bool best = false;
        if (monitoring) {
            const double value = monitored(r, options_.monitor);
            best = improved(value);
            if (best) {
                best_epoch_ = r.epoch;
                best_value_ = value;
                bad_epochs_ = 0;
                if (!options_.best_checkpoint.empty()) save(model_, options_.best_checkpoint, options_.info);
            } else {
                ++bad_epochs_;
                stopped_early_ = options_.patience > 0 && bad_epochs_ >= options_.patience;
            }
        }
        // The checkpoint first: a run killed after it resumes from this epoch and rewrites
        // the logs from the history it holds.
        if (!options_.last_checkpoint.empty()) save(model_, options_.last_checkpoint, options_.info, state());
        if (csv.is_open()) csv.append(r);
        if (!options_.json_path.empty()) write_history_json(options_.json_path, history_, summary(false));
        if (!options_.chart_path.empty())
            save_training_curves(options_.chart_path, history_, summary(false), options_.chart_title);
        if (options_.verbose) {
            std::fprintf(stderr, "epoch %lld/%lld  train loss %.4f", (long long)r.epoch,
                         (long long)options_.epochs, r.train_loss);
            if (val)
                std::fprintf(stderr, "  val loss %.4f  acc %s  balanced %s", r.val_loss,
                             percent(r.val_accuracy).c_str(), percent(r.val_balanced_accuracy).c_str());
            std::fprintf(stderr, "  lr %.3g  %.2f s%s\n", r.lr, r.seconds, best ? "  (best)" : "");
            if (stopped_early_)
                std::fprintf(stderr,
                             "early stop: %s has not improved for %lld epochs; the best was epoch %lld\n",
                             monitor_name(options_.monitor), (long long)bad_epochs_, (long long)best_epoch_);
        }
        if (options_.on_epoch) options_.on_epoch(r);
    }
    if (options_.restore_best && best_epoch_ > 0) load(model_, options_.best_checkpoint);
    if (!options_.json_path.empty()) write_history_json(options_.json_path, history_, summary(true));

    TrainResult result;
    result.history = history_;
    result.best_epoch = best_epoch_;
    result.best_value = best_value_;
    result.stopped_early = stopped_early_;
    return result;
}

}  // namespace focalgrad
