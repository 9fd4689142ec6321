// adam.cpp — Adam and AdamW, as torch.optim.Adam / AdamW (update rules in optimizer.h).
// The bias corrections are computed once per parameter per step in double; the
// elementwise update runs in float.
#include <cmath>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/error.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/optim/optimizer.h>

namespace focalgrad {

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
    FG_CHECK(std::isfinite(eps) && eps >= 0, name, ": invalid eps ", eps, " (expected >= 0)");
    FG_CHECK(std::isfinite(weight_decay) && weight_decay >= 0, name, ": invalid weight_decay ", weight_decay,
             " (expected >= 0)");
}

void Adam::step() {
    NoGradGuard no_grad;
    // 1 - beta in double, then rounded: 1.0f - 0.999f would be off by 1.3e-5 relative,
    // because 0.999f itself is rounded.
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

}  // namespace focalgrad
