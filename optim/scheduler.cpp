// scheduler.cpp — the closed-form schedules of scheduler.h. Each constructor checks its
// arguments and ends with apply(), so the optimizer holds lr_at(0) from the start.
#include <algorithm>
#include <cmath>

#include <focalgrad/core/error.h>
#include <focalgrad/optim/scheduler.h>

namespace focalgrad {

void LRScheduler::step() {
    ++t_;
    apply();
}

void LRScheduler::set_step(int64_t t) {
    FG_CHECK(t >= 0, "LRScheduler::set_step: the step must be >= 0, got ", t);
    t_ = t;
    apply();
}

StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma)
    : LRScheduler(opt), step_size(step_size), gamma(gamma) {
    FG_CHECK(step_size >= 1, "StepLR: step_size must be >= 1, got ", step_size);
    FG_CHECK(std::isfinite(gamma) && gamma > 0, "StepLR: gamma must be finite and > 0, got ", gamma);
    apply();
}

double StepLR::lr_at(int64_t t) const { return base_lr() * std::pow(gamma, double(t / step_size)); }

CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min)
    : LRScheduler(opt), T_max(T_max), eta_min(eta_min) {
    FG_CHECK(T_max >= 1, "CosineAnnealingLR: T_max must be >= 1, got ", T_max);
    FG_CHECK(std::isfinite(eta_min) && eta_min >= 0,
             "CosineAnnealingLR: eta_min must be finite and >= 0, got ", eta_min);
    apply();
}

double CosineAnnealingLR::lr_at(int64_t t) const {
    const double pi = 3.14159265358979323846;
    return eta_min + (base_lr() - eta_min) * (1.0 + std::cos(pi * double(t) / double(T_max))) / 2.0;
}

LinearLR::LinearLR(Optimizer& opt, double start_factor, double end_factor, int64_t total_iters)
    : LRScheduler(opt), start_factor(start_factor), end_factor(end_factor), total_iters(total_iters) {
    FG_CHECK(start_factor > 0 && start_factor <= 1, "LinearLR: start_factor must be in (0, 1], got ",
             start_factor);
    FG_CHECK(end_factor >= 0 && end_factor <= 1, "LinearLR: end_factor must be in [0, 1], got ", end_factor);
    FG_CHECK(total_iters >= 1, "LinearLR: total_iters must be >= 1, got ", total_iters);
    apply();
}

double LinearLR::lr_at(int64_t t) const {
    double progress = double(std::min(t, total_iters)) / double(total_iters);
    return base_lr() * (start_factor + (end_factor - start_factor) * progress);
}

LinearWarmup::LinearWarmup(Optimizer& opt, int64_t warmup_steps, std::unique_ptr<LRScheduler> then,
                           double start_factor)
    : LRScheduler(opt, then ? then->base_lr() : opt.lr()),
      warmup_steps(warmup_steps),
      start_factor(start_factor),
      then_(std::move(then)) {
    FG_CHECK(warmup_steps >= 1, "LinearWarmup: warmup_steps must be >= 1, got ", warmup_steps);
    FG_CHECK(start_factor >= 0 && start_factor <= 1, "LinearWarmup: start_factor must be in [0, 1], got ",
             start_factor);
    FG_CHECK(!then_ || &then_->optimizer() == &opt,
             "LinearWarmup: the schedule to continue with drives a different optimizer");
    apply();
}

double LinearWarmup::lr_at(int64_t t) const {
    if (t < warmup_steps)
        return base_lr() * (start_factor + (1.0 - start_factor) * double(t) / double(warmup_steps));
    return then_ ? then_->lr_at(t - warmup_steps) : base_lr();
}

}  // namespace focalgrad
