// test_optim_state.cpp — state_dict / load_state_dict of SGD, Adam and AdamW, and
// LRScheduler::set_step: an optimizer restored from a state taken after k steps, over a
// copy of the parameters at that point, takes the very steps the original takes (same
// bits); a state that does not fit is refused and changes nothing.
#include <cstring>
#include <memory>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/optim/optimizer.h>
#include <focalgrad/optim/scheduler.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

std::vector<Tensor> make_params(uint64_t seed) {
    Generator gen(seed);
    return {Tensor::uniform({3, 4}, -1, 1, gen).set_requires_grad(true),
            Tensor::uniform({5}, -1, 1, gen).set_requires_grad(true),
            Tensor::uniform({2}, -1, 1, gen).set_requires_grad(true)};
}

std::vector<Tensor> copies(const std::vector<Tensor>& params) {
    std::vector<Tensor> out;
    for (const Tensor& p : params) out.push_back(p.clone().set_requires_grad(true));
    return out;
}

// loss = sum_k sum(c_k p_k^2 + p_k^3 / 3) with step-dependent c, so gradients vary; the
// last parameter gets no gradient on even steps (its state must then not advance).
void step(Optimizer& opt, const std::vector<Tensor>& params, int t) {
    opt.zero_grad();
    Tensor loss = Tensor::scalar(0.0f);
    for (size_t k = 0; k < params.size(); ++k) {
        if (k == 2 && t % 2 == 0) continue;
        const Tensor& p = params[k];
        loss = loss + sum(p * p * (0.5f + 0.1f * float(t)) + p * p * p / 3.0f);
    }
    loss.backward();
    opt.step();
}

std::vector<uint32_t> bits(const std::vector<Tensor>& params) {
    std::vector<uint32_t> out;
    for (const Tensor& p : params) {
        std::vector<uint32_t> b(size_t(p.numel()));
        std::memcpy(b.data(), p.data(), b.size() * 4);
        out.insert(out.end(), b.begin(), b.end());
    }
    return out;
}

template <class Make>
void check_resume(Make make) {
    std::vector<Tensor> a = make_params(1);
    std::unique_ptr<Optimizer> opt = make(a);
    for (int t = 0; t < 3; ++t) step(*opt, a, t);
    StateDict state = opt->state_dict();
    std::vector<Tensor> b = copies(a);
    std::unique_ptr<Optimizer> restored = make(b);
    restored->set_lr(123.0);  // the state's lr wins
    restored->load_state_dict(state);
    CHECK(restored->lr() == opt->lr());
    for (int t = 3; t < 7; ++t) {
        step(*opt, a, t);
        step(*restored, b, t);
    }
    CHECK(bits(a) == bits(b));
    // The state is a copy: stepping on did not change what was taken.
    std::vector<Tensor> c = copies(b);
    std::unique_ptr<Optimizer> again = make(c);
    again->load_state_dict(state);
    CHECK(again->state_dict().size() == state.size());
}

}  // namespace

TEST_CASE("optimizer state: SGD, Adam and AdamW resume with the same bits") {
    check_resume([](std::vector<Tensor> p) { return std::make_unique<SGD>(p, 0.05, 0.9, 0.1, 0.01); });
    check_resume([](std::vector<Tensor> p) { return std::make_unique<SGD>(p, 0.05, 0.9, 0.0, 0.0, true); });
    check_resume(
        [](std::vector<Tensor> p) { return std::make_unique<Adam>(p, 0.01, 0.8, 0.99, 1e-8, 0.01); });
    check_resume([](std::vector<Tensor> p) { return std::make_unique<AdamW>(p, 0.01); });

    // What Adam's state holds: every parameter's step count, moments for those that stepped.
    std::vector<Tensor> p = make_params(2);
    Adam adam(p, 0.01);
    step(adam, p, 0);  // parameter 2 gets no gradient on even steps
    StateDict s = adam.state_dict();
    CHECK(state_text(s, "type", "test") == "Adam");
    CHECK(state_integers(s, "steps", "test") == std::vector<int64_t>{1, 1, 0});
    CHECK(s.count("exp_avg.0") == 1);
    CHECK(s.count("exp_avg_sq.1") == 1);
    CHECK(s.count("exp_avg.2") == 0);
    SGD sgd(p, 0.1, 0.9);
    step(sgd, p, 0);
    CHECK(sgd.state_dict().count("momentum_buffer.1") == 1);
    CHECK(sgd.state_dict().count("momentum_buffer.2") == 0);
}

TEST_CASE("optimizer state: a state that does not fit is refused and changes nothing") {
    std::vector<Tensor> p = make_params(3);
    Adam adam(p, 0.01);
    step(adam, p, 1);
    StateDict good = adam.state_dict();
    SGD sgd(p, 0.1, 0.9);
    CHECK_ERROR(sgd.load_state_dict(good), "SGD: the state is a Adam's; it cannot be loaded into a SGD");
    AdamW adamw(p, 0.01);
    CHECK_ERROR(adamw.load_state_dict(good), "AdamW: the state is a Adam's");

    std::vector<Tensor> q = copies(p);
    Adam other(q, 0.5);
    StateDict bad = good;
    bad["exp_avg.1"] = Tensor::zeros({4});
    CHECK_ERROR(other.load_state_dict(bad),
                "Adam: state 'exp_avg.1' has shape [4] but parameter 1 has shape [5]");
    bad = good;
    bad["steps"] = std::vector<int64_t>{1, 1};
    CHECK_ERROR(other.load_state_dict(bad),
                "the state has step counts for 2 parameters, this optimizer has 3");
    bad = good;
    bad.erase("exp_avg_sq.0");
    CHECK_ERROR(other.load_state_dict(bad), "Adam: state 'exp_avg_sq.0' is missing");
    bad = good;
    bad["lr"] = std::vector<double>{-1.0};
    CHECK_ERROR(other.load_state_dict(bad), "the state's learning rate is -1");
    CHECK(other.lr() == 0.5);
    CHECK(state_integers(other.state_dict(), "steps", "test") == std::vector<int64_t>{0, 0, 0});

    SGD fresh(q, 0.1, 0.9);
    StateDict sgd_state = SGD(p, 0.2, 0.9).state_dict();
    sgd_state["momentum_buffer.7"] = Tensor::zeros({1});
    CHECK_ERROR(fresh.load_state_dict(sgd_state),
                "SGD: the state has 1 entries this optimizer does not know");
    CHECK(fresh.lr() == 0.1);
}

TEST_CASE("LRScheduler::set_step jumps to a step and sets its rate, as stepping there would") {
    std::vector<Tensor> p = make_params(4);
    SGD a(p, 0.1), b(p, 0.1);
    auto cos_a = std::make_unique<CosineAnnealingLR>(a, 20);
    auto cos_b = std::make_unique<CosineAnnealingLR>(b, 20);
    LinearWarmup warm_a(a, 5, std::move(cos_a)), warm_b(b, 5, std::move(cos_b));
    for (int t = 0; t < 9; ++t) warm_a.step();
    warm_b.set_step(9);
    CHECK(warm_b.last_step() == 9);
    CHECK(b.lr() == a.lr());
    warm_a.step();
    warm_b.step();
    CHECK(b.lr() == a.lr());
    CHECK_ERROR(warm_b.set_step(-1), "the step must be >= 0");
}
