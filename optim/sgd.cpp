// sgd.cpp — stochastic gradient descent with momentum, dampening, Nesterov momentum and
// weight decay, as torch.optim.SGD (the update rule is in optimizer.h), except that a
// momentum value below the smallest normal float is stored as 0 (see SGD::step).
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/error.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/optim/optimizer.h>

namespace focalgrad {

SGD::SGD(std::vector<Tensor> params, double lr, double momentum, double dampening, double weight_decay,
         bool nesterov)
    : Optimizer(std::move(params), lr, "SGD"),
      momentum(momentum),
      dampening(dampening),
      weight_decay(weight_decay),
      nesterov(nesterov),
      momentum_buffer_(params_.size()) {
    FG_CHECK(std::isfinite(momentum) && momentum >= 0, "SGD: invalid momentum ", momentum,
             " (expected >= 0)");
    FG_CHECK(std::isfinite(dampening), "SGD: invalid dampening ", dampening);
    FG_CHECK(std::isfinite(weight_decay) && weight_decay >= 0, "SGD: invalid weight_decay ", weight_decay,
             " (expected >= 0)");
    FG_CHECK(!nesterov || (momentum > 0 && dampening == 0),
             "SGD: Nesterov momentum requires a momentum > 0 and zero dampening, got momentum ", momentum,
             ", dampening ", dampening);
}

void SGD::step() {
    NoGradGuard no_grad;
    const float lr = float(lr_), mu = float(momentum), wd = float(weight_decay);
    const float keep = float(1.0 - dampening);  // weight of the new gradient in the buffer
    const bool nest = nesterov;
    // The parameters that have a gradient, laid end to end as one range [0, total): one
    // parallel loop over all of them, whose chunks may span several tensors, instead of one
    // loop per tensor, in which every tensor under the grain (a bias, a small layer's
    // weight) ran alone on the calling thread.
    struct Part {
        float* w;
        const float* g;
        float* buf;  // null without momentum
        bool first;  // the buffer's first step: it starts at d
        int64_t begin, end;
    };
    std::vector<Part> parts;
    int64_t total = 0;
    for (size_t k = 0; k < params_.size(); ++k) {
        Tensor& p = params_[k];
        if (!p.has_grad()) continue;
        const bool first = mu != 0.0f && !momentum_buffer_[k].defined();
        if (first) momentum_buffer_[k] = Tensor::empty(p.shape());
        float* buf = mu != 0.0f ? momentum_buffer_[k].data() : nullptr;
        parts.push_back({p.data(), p.grad().data(), buf, first, total, total + p.numel()});
        total += p.numel();
    }
    // A weight whose gradient is exactly 0 (the weights of a ReLU unit that is dead on
    // every sample of the batch) has its momentum shrink by mu per step, down through the
    // subnormal floats, below 1.2e-38: ~150 steps at mu = 0.9 before it reaches 0. On x86
    // every vector instruction that reads or makes a subnormal takes a microcode assist of
    // ~100 cycles, which made this update 2-4x slower in the MLP 784-32-10
    // (docs/performance.md). So b is stored as 0 once |b| < FLT_MIN. The weights do not
    // change: lr * b < lr * 2^-126 is below half an ulp of any weight of size above
    // lr * 2^-102, and b that small added to a later momentum is below half its ulp too.
    auto update = [=](const Part& part, int64_t i0, int64_t i1) {
        float* w = part.w;
        const float* g = part.g;
        float* buf = part.buf;
        if (!buf) {
            for (int64_t i = i0; i < i1; ++i) w[i] -= lr * (g[i] + wd * w[i]);
            return;
        }
        const bool first = part.first;
        for (int64_t i = i0; i < i1; ++i) {
            float d = g[i] + wd * w[i];
            float b = first ? d : mu * buf[i] + keep * d;
            b = std::fabs(b) < FLT_MIN ? 0.0f : b;
            buf[i] = b;
            w[i] -= lr * (nest ? d + mu * b : b);
        }
    };
    parallel_for(total, kGrain, [&](int64_t begin, int64_t end) {
        // The first part that ends after `begin`, then every part that starts before `end`.
        auto it = std::upper_bound(parts.begin(), parts.end(), begin,
                                   [](int64_t v, const Part& part) { return v < part.end; });
        for (; it != parts.end() && it->begin < end; ++it)
            update(*it, std::max(begin, it->begin) - it->begin, std::min(end, it->end) - it->begin);
    });
}

StateDict SGD::state_dict() const {
    StateDict state = Optimizer::state_dict();
    for (size_t k = 0; k < params_.size(); ++k)
        if (momentum_buffer_[k].defined())
            state["momentum_buffer." + std::to_string(k)] = momentum_buffer_[k].clone();
    return state;
}

void SGD::load_state_dict(const StateDict& state) {
    const double lr = check_state(state);
    std::vector<Tensor> buffers(params_.size());
    size_t found = 0;
    for (size_t k = 0; k < params_.size(); ++k) {
        const std::string key = "momentum_buffer." + std::to_string(k);
        if (!state.count(key)) continue;
        buffers[k] = state_for_param(state, key, k);
        ++found;
    }
    // Every other entry would be a buffer of a parameter this optimizer does not have.
    FG_CHECK(state.size() == 2 + found, "SGD: the state has ", state.size() - 2 - found,
             " entries this optimizer does not know (saved with more parameters?)");
    momentum_buffer_ = std::move(buffers);
    set_lr(lr);
}

}  // namespace focalgrad
