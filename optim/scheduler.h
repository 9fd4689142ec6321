// scheduler.h — learning-rate schedules with the formulas of torch.optim.lr_scheduler:
// StepLR, CosineAnnealingLR, LinearLR, and LinearWarmup, which ramps the rate up
// linearly and can then hand over to another schedule. Each is a closed-form function of
// the step count t, lr_at(t), anchored at base_lr = the optimizer's lr when the schedule
// is built; building a schedule sets lr_at(0), and step() advances t and sets lr_at(t).
// Call step() after optimizer.step(), once per epoch or once per batch: t counts
// whichever you choose, and sizes (step_size, T_max, warmup_steps) are in that unit.
// Not here: ReduceLROnPlateau (it needs a metric), one-cycle and cyclic schedules.
//
// Composition: a warm-up wraps the schedule that follows it, whose clock starts when the
// warm-up ends:
//   auto cosine = std::make_unique<CosineAnnealingLR>(opt, 90);
//   LinearWarmup sched(opt, 10, std::move(cosine), 0.1);
//   lr(t) = base * (0.1 + 0.9 t / 10)      for t < 10
//   lr(t) = cosine.lr_at(t - 10)           for t >= 10
// Only the wrapper's step() is called; it owns the wrapped schedule.
#pragma once

#include <cstdint>
#include <memory>

#include <focalgrad/optim/optimizer.h>

namespace focalgrad {

class LRScheduler {
public:
    virtual ~LRScheduler() = default;
    LRScheduler(const LRScheduler&) = delete;
    LRScheduler& operator=(const LRScheduler&) = delete;

    void step();  // t += 1; optimizer.set_lr(lr_at(t))
    virtual double lr_at(int64_t t) const = 0;
    int64_t last_step() const { return t_; }
    // Jumps to step t (>= 0) and sets lr_at(t): how a resumed run puts its schedule back.
    void set_step(int64_t t);
    double base_lr() const { return base_lr_; }
    const Optimizer& optimizer() const { return opt_; }

protected:
    LRScheduler(Optimizer& opt, double base_lr) : opt_(opt), base_lr_(base_lr) {}
    explicit LRScheduler(Optimizer& opt) : LRScheduler(opt, opt.lr()) {}
    void apply() { opt_.set_lr(lr_at(t_)); }  // every constructor ends with this

private:
    Optimizer& opt_;
    double base_lr_;
    int64_t t_ = 0;
};

// lr(t) = base * gamma^floor(t / step_size)
class StepLR : public LRScheduler {
public:
    StepLR(Optimizer& opt, int64_t step_size, double gamma = 0.1);
    double lr_at(int64_t t) const override;
    int64_t step_size;
    double gamma;
};

// lr(t) = eta_min + (base - eta_min) (1 + cos(pi t / T_max)) / 2: from base down to
// eta_min at t = T_max (and, as in PyTorch's closed form, back up after it).
class CosineAnnealingLR : public LRScheduler {
public:
    CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min = 0);
    double lr_at(int64_t t) const override;
    int64_t T_max;
    double eta_min;
};

// lr(t) = base * (start + (end - start) min(t, total_iters) / total_iters)
class LinearLR : public LRScheduler {
public:
    LinearLR(Optimizer& opt, double start_factor = 1.0 / 3.0, double end_factor = 1.0,
             int64_t total_iters = 5);
    double lr_at(int64_t t) const override;
    double start_factor, end_factor;
    int64_t total_iters;
};

// lr(t) = base * (start + (1 - start) t / warmup_steps) for t < warmup_steps; afterwards
// base (alone, the same as LinearLR(start, 1, warmup_steps)) or then.lr_at(t - warmup_steps).
// With `then`, base is then's base_lr.
class LinearWarmup : public LRScheduler {
public:
    LinearWarmup(Optimizer& opt, int64_t warmup_steps, std::unique_ptr<LRScheduler> then = nullptr,
                 double start_factor = 0.1);
    double lr_at(int64_t t) const override;
    int64_t warmup_steps;
    double start_factor;

private:
    std::unique_ptr<LRScheduler> then_;
};

}  // namespace focalgrad
