// optimizer.cpp — what all optimizers share: argument checks, zero_grad, the learning
// rate; and clip_grad_norm.
#include <cmath>
#include <unordered_set>

#include <focalgrad/core/error.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/optim/optimizer.h>

namespace focalgrad {

Optimizer::Optimizer(std::vector<Tensor> params, double lr, const char* name)
    : params_(std::move(params)), lr_(lr), name_(name) {
    FG_CHECK(std::isfinite(lr) && lr > 0, name, ": invalid learning rate ", lr,
             " (expected a finite lr > 0)");
    FG_CHECK(!params_.empty(), name, ": got an empty parameter list (pass module.parameters())");
    std::unordered_set<const TensorImpl*> seen;
    for (size_t i = 0; i < params_.size(); ++i) {
        const Tensor& p = params_[i];
        FG_CHECK(p.defined() && p.is_leaf() && p.requires_grad(), name, ": parameter ", i,
                 " must be a leaf tensor that requires grad (got ",
                 !p.defined()   ? "an undefined tensor"
                 : !p.is_leaf() ? "a computed tensor"
                                : "one without requires_grad",
                 ")");
        FG_CHECK(seen.insert(&p.impl()).second, name, ": parameter ", i, " of shape ", p.shape(),
                 " appears more than once; it would be updated twice per step");
    }
}

StateDict Optimizer::state_dict() const {
    return {{"type", std::string(name_)}, {"lr", std::vector<double>{lr_}}};
}

void Optimizer::load_state_dict(const StateDict& state) { set_lr(check_state(state)); }

double Optimizer::check_state(const StateDict& state) const {
    const std::string& type = state_text(state, "type", name_);
    FG_CHECK(type == name_, name_, ": the state is a ", type, "'s; it cannot be loaded into a ", name_);
    const double lr = state_real(state, "lr", name_);
    FG_CHECK(std::isfinite(lr) && lr >= 0, name_, ": the state's learning rate is ", lr);
    return lr;
}

Tensor Optimizer::state_for_param(const StateDict& state, const std::string& key, size_t k) const {
    const Tensor& t = state_tensor(state, key, name_);
    FG_CHECK(t.shape() == params_[k].shape(), name_, ": state '", key, "' has shape ", t.shape(),
             " but parameter ", k, " has shape ", params_[k].shape());
    return t.clone();
}

void Optimizer::zero_grad() {
    for (Tensor& p : params_) p.zero_grad();
}

void Optimizer::set_lr(double lr) {
    FG_CHECK(std::isfinite(lr) && lr >= 0, name_, ": invalid learning rate ", lr,
             " (expected a finite lr >= 0)");
    lr_ = lr;
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, bool error_if_nonfinite) {
    FG_CHECK(std::isfinite(max_norm) && max_norm > 0, "clip_grad_norm: max_norm must be finite and > 0, got ",
             max_norm);
    // Sum of squares in double, in fixed chunks: the same total on any thread count.
    double sum_sq = 0.0;
    for (const Tensor& p : params) {
        if (!p.defined() || !p.has_grad()) continue;
        const float* g = p.grad().data();
        sum_sq += parallel_sum(p.numel(), kGrain, [g](int64_t begin, int64_t end) {
            double s = 0.0;
            for (int64_t i = begin; i < end; ++i) s += double(g[i]) * double(g[i]);
            return s;
        });
    }
    double total = std::sqrt(sum_sq);
    FG_CHECK(std::isfinite(total) || !error_if_nonfinite, "clip_grad_norm: the total gradient norm is ",
             total,
             "; some gradient holds NaN or inf (find it with set_detect_anomaly(true), or pass "
             "error_if_nonfinite = false to scale anyway, as PyTorch does)");
    // The 1e-6 keeps the coefficient finite when every gradient is zero.
    double coef = max_norm / (total + 1e-6);
    if (coef < 1.0 || std::isnan(coef)) {
        float c = float(coef);
        for (const Tensor& p : params) {
            if (!p.defined() || !p.has_grad()) continue;
            float* g = p.grad().data();
            parallel_for(p.numel(), kGrain, [g, c](int64_t begin, int64_t end) {
                for (int64_t i = begin; i < end; ++i) g[i] *= c;
            });
        }
    }
    return total;
}

}  // namespace focalgrad
