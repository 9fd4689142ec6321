// adam.cpp — Adam and AdamW, as torch.optim.Adam / AdamW (update rules in optimizer.h).
// The bias corrections are computed once per parameter per step in double; the
// elementwise update runs in float.
#include <cmath>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/error.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/optim/optimizer.h>

namespace focalgrad {

namespace {

// eps keeps m / (sqrt(v) + eps) finite where a gradient has always been 0 (v = 0): with
// eps = 0, or one that rounds to 0 as a float, that is 0 / 0 = NaN.
void check_eps(double eps, const char* name) {
    FG_CHECK(
        std::isfinite(eps) && float(eps) > 0, name, ": invalid eps ", eps,
        " (expected a finite number > 0 as a float, such as 1e-8: with 0, a parameter whose gradient is 0 "
        "becomes NaN)");
}

}  // namespace

Adam::Adam(std::vector<Tensor> params, double lr, double beta1, double beta2, double eps, double weight_decay)
    : Adam(std::move(params), lr, beta1, beta2, eps, weight_decay, false, "Adam") {}

AdamW::AdamW(std::vector<Tensor> params, double lr, double beta1, double beta2, double eps,
             double weight_decay)
    : Adam(std::move(params), lr, beta1, beta2, eps, weight_decay, true, "AdamW") {}

Adam::Adam(std::vector<Tensor> params, double lr, double beta1, double beta2, double eps, double weight_decay,
           bool decoupled, const char* name)
    : Optimizer(std::move(params), lr, name),
      beta1(beta1),
      beta2(beta2),
      eps(eps),
      weight_decay(weight_decay),
      decoupled_(decoupled),
      exp_avg_(params_.size()),
      exp_avg_sq_(params_.size()),
      steps_(params_.size(), 0) {
    FG_CHECK(beta1 >= 0 && beta1 < 1, name, ": invalid beta1 ", beta1, " (expected 0 <= beta1 < 1)");
    FG_CHECK(beta2 >= 0 && beta2 < 1, name, ": invalid beta2 ", beta2, " (expected 0 <= beta2 < 1)");
    check_eps(eps, name);
    FG_CHECK(std::isfinite(weight_decay) && weight_decay >= 0, name, ": invalid weight_decay ", weight_decay,
             " (expected >= 0)");
}

void Adam::step() {
    NoGradGuard no_grad;
    // 1 - beta in double, then rounded: 1.0f - 0.999f would be off by 1.3e-5 relative,
    // because 0.999f itself is rounded.
    check_eps(eps, name_);  // a public member: it may have changed since construction
    const float b1 = float(beta1), b2 = float(beta2), e = float(eps);
    const float c1 = float(1.0 - beta1), c2 = float(1.0 - beta2);
    const float l2 = decoupled_ ? 0.0f : float(weight_decay);
    const float shrink = decoupled_ ? float(1.0 - lr_ * weight_decay) : 1.0f;
    for (size_t k = 0; k < params_.size(); ++k) {
        Tensor& p = params_[k];
        if (!p.has_grad()) continue;
        if (!exp_avg_[k].defined()) {
            exp_avg_[k] = Tensor::zeros(p.shape());
            exp_avg_sq_[k] = Tensor::zeros(p.shape());
        }
        int64_t t = ++steps_[k];
        const float step_size = float(lr_ / (1.0 - std::pow(beta1, double(t))));
        const float sqrt_bc2 = float(std::sqrt(1.0 - std::pow(beta2, double(t))));
        float* w = p.data();
        const float* g = p.grad().data();
        float* m = exp_avg_[k].data();
        float* v = exp_avg_sq_[k].data();
        parallel_for(p.numel(), kGrain, [=](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                float gi = g[i] + l2 * w[i];
                m[i] = b1 * m[i] + c1 * gi;
                v[i] = b2 * v[i] + c2 * gi * gi;
                w[i] = shrink * w[i] - step_size * m[i] / (std::sqrt(v[i]) / sqrt_bc2 + e);
            }
        });
    }
}

StateDict Adam::state_dict() const {
    StateDict state = Optimizer::state_dict();
    state["steps"] = steps_;
    for (size_t k = 0; k < params_.size(); ++k)
        if (exp_avg_[k].defined()) {
            state["exp_avg." + std::to_string(k)] = exp_avg_[k].clone();
            state["exp_avg_sq." + std::to_string(k)] = exp_avg_sq_[k].clone();
        }
    return state;
}

void Adam::load_state_dict(const StateDict& state) {
    const double lr = check_state(state);
    const std::vector<int64_t>& steps = state_integers(state, "steps", name_);
    FG_CHECK(steps.size() == params_.size(), name_, ": the state has step counts for ", steps.size(),
             " parameters, this optimizer has ", params_.size());
    std::vector<Tensor> m(params_.size()), v(params_.size());
    size_t found = 0;
    for (size_t k = 0; k < params_.size(); ++k) {
        FG_CHECK(steps[k] >= 0, name_, ": parameter ", k, " has a negative step count ", steps[k]);
        if (steps[k] == 0) continue;  // no step yet: the moments start at 0 when it takes one
        m[k] = state_for_param(state, "exp_avg." + std::to_string(k), k);
        v[k] = state_for_param(state, "exp_avg_sq." + std::to_string(k), k);
        found += 2;
    }
    FG_CHECK(state.size() == 3 + found, name_, ": the state has ", state.size() - 3 - found,
             " entries this optimizer does not know (moments of a parameter with no steps?)");
    exp_avg_ = std::move(m);
    exp_avg_sq_ = std::move(v);
    steps_ = steps;
    set_lr(lr);
}

}  // namespace focalgrad
