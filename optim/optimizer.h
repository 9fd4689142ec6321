// optimizer.h — optimizers with the update rules of torch.optim: SGD (momentum,
// dampening, Nesterov, weight decay), Adam and AdamW. An optimizer reads each
// parameter's .grad() and writes its .data() in place; it never records on the tape.
// Parameters that received no gradient are skipped (their state does not advance), as
// in PyTorch. Hyper-parameters are checked when the optimizer is built.
// The state an update rule keeps (momentum buffers, Adam's moments and step counts) is
// exported by state_dict() and taken back by load_state_dict(), so training resumes
// exactly (nn/checkpoint.h stores it). Not here: parameter groups (one learning rate for
// all), AMSGrad, sparse gradients.
//
//   SGD opt(net.parameters(), 0.1, 0.9);        // lr 0.1, momentum 0.9
//   for (...) { opt.zero_grad(); loss = ...; loss.backward(); opt.step(); }
#pragma once

#include <cstdint>
#include <vector>

#include <focalgrad/core/state.h>
#include <focalgrad/core/tensor.h>

namespace focalgrad {

class Optimizer {
public:
    virtual ~Optimizer() = default;
    Optimizer(const Optimizer&) = delete;
    Optimizer& operator=(const Optimizer&) = delete;

    virtual void step() = 0;  // one update of every parameter that has a gradient
    void zero_grad();         // releases the gradients (PyTorch's set_to_none=True)

    double lr() const { return lr_; }
    // Any finite lr >= 0: schedules may reach 0 (cosine annealing to eta_min = 0), though
    // an optimizer must be built with lr > 0.
    void set_lr(double lr);
    const std::vector<Tensor>& params() const { return params_; }
    const char* name() const { return name_; }

    // What resuming needs: "type" (the optimizer's name, text), "lr", and per parameter k
    // (its position in params()) the tensors of the update rule, as each class documents.
    // The tensors are copies: stepping on does not change a state already taken.
    virtual StateDict state_dict() const;
    // Takes a state_dict() back, from an optimizer of the same type over parameters of the
    // same shapes. Everything is checked before anything is set: on an Error the optimizer
    // is unchanged. Hyper-parameters other than lr (momentum, betas) stay as built.
    virtual void load_state_dict(const StateDict& state);

protected:
    // Checks lr > 0 and that params is a non-empty list of distinct leaves that require grad.
    Optimizer(std::vector<Tensor> params, double lr, const char* name);
    // load_state_dict's common part: checks "type" and "lr" and returns the lr to set.
    double check_state(const StateDict& state) const;
    // A copy of state[key] after checking it holds a tensor of parameter k's shape.
    Tensor state_for_param(const StateDict& state, const std::string& key, size_t k) const;

    std::vector<Tensor> params_;
    double lr_;
    const char* name_;
};

// torch.optim.SGD. For each parameter p with gradient g, at step t:
//   d = g + weight_decay * p
//   if momentum != 0:
//       buf = d                                        at the first step (no dampening)
//       buf = momentum * buf + (1 - dampening) * d     afterwards
//       d   = d + momentum * buf     if nesterov,  else  d = buf
//   p = p - lr * d
class SGD : public Optimizer {
public:
    SGD(std::vector<Tensor> params, double lr, double momentum = 0, double dampening = 0,
        double weight_decay = 0, bool nesterov = false);
    void step() override;
    // Adds "momentum_buffer.k" for each parameter k that has one (after its first step).
    StateDict state_dict() const override;
    void load_state_dict(const StateDict& state) override;

    double momentum, dampening, weight_decay;
    bool nesterov;

private:
    std::vector<Tensor> momentum_buffer_;  // one per parameter, undefined until its first step
};

// torch.optim.Adam (Kingma & Ba, with PyTorch's placement of eps). For each p, g, at the
// parameter's own step count t (1, 2, ...):
//   g = g + weight_decay * p                    (L2 penalty folded into the gradient)
//   m = beta1 m + (1 - beta1) g,   v = beta2 v + (1 - beta2) g^2      (m, v start at 0)
//   p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
class Adam : public Optimizer {
public:
    Adam(std::vector<Tensor> params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
         double eps = 1e-8, double weight_decay = 0);
    void step() override;
    // Adds "steps" (every parameter's step count t) and, for each parameter k that has taken
    // a step, "exp_avg.k" (m) and "exp_avg_sq.k" (v).
    StateDict state_dict() const override;
    void load_state_dict(const StateDict& state) override;

    double beta1, beta2, eps, weight_decay;

protected:
    Adam(std::vector<Tensor> params, double lr, double beta1, double beta2, double eps, double weight_decay,
         bool decoupled, const char* name);

private:
    bool decoupled_;  // AdamW: decay p directly, not through the gradient
    std::vector<Tensor> exp_avg_, exp_avg_sq_;
    std::vector<int64_t> steps_;
};

// torch.optim.AdamW (Loshchilov & Hutter): weight decay decoupled from the gradient,
//   p = p * (1 - lr * weight_decay),   then the Adam update above without the L2 term.
class AdamW : public Adam {
public:
    AdamW(std::vector<Tensor> params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
          double eps = 1e-8, double weight_decay = 1e-2);
};

// Rescales the gradients of `params` so that their global L2 norm is at most max_norm,
// as torch.nn.utils.clip_grad_norm_: with total = sqrt(sum of every squared gradient
// element), each gradient is multiplied by min(1, max_norm / (total + 1e-6)). Returns
// total (before clipping). Parameters without a gradient are skipped. A NaN or infinite
// total throws when error_if_nonfinite (the default here; PyTorch's default is false,
// which scales every gradient by NaN or 0).
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, bool error_if_nonfinite = true);

}  // namespace focalgrad
