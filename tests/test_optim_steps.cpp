// test_optim_steps.cpp — SGD, Adam and AdamW against their update formulas, written out
// in double precision below as plain loops, on a fixed tiny problem:
//   loss(p) = sum_i a_i p_i^2 + b_i p_i,   so  dloss/dp_i = 2 a_i p_i + b_i,
// whose gradient changes from step to step. Three steps are compared element by element.
// The reference is fed the gradient backward() produced (float), so that what is compared
// is the update rule alone: Adam divides by |g|, which would otherwise amplify the float
// rounding of a small gradient far beyond the rounding of the update itself.
// Also: parameters without a gradient are skipped, steps never touch the tape, and bad
// hyper-parameters are refused.
#include <cfloat>
#include <cmath>
#include <functional>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/optim/optimizer.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

// Two parameters of different shapes; one large enough that the update loop runs in
// several parallel chunks (core/parallel.h, kGrain = 32768 elements).
struct Problem {
    std::vector<Shape> shapes{{2, 3}, {70001}};
    std::vector<std::vector<double>> p0, a, b;

    Problem() {
        Generator gen(2024);
        for (const Shape& s : shapes) {
            std::vector<double> p, aa, bb;
            for (int64_t i = 0; i < s.numel(); ++i) {
                p.push_back(gen.uniform(-1.0f, 1.0f));
                aa.push_back(gen.uniform(0.1f, 1.0f));
                bb.push_back(gen.uniform(-0.5f, 0.5f));
            }
            p0.push_back(p);
            a.push_back(aa);
            b.push_back(bb);
        }
    }

    static Tensor as_tensor(const std::vector<double>& v, const Shape& s) {
        return Tensor::from(std::vector<float>(v.begin(), v.end()), s);
    }
    std::vector<Tensor> make_params() const {
        std::vector<Tensor> params;
        for (size_t k = 0; k < shapes.size(); ++k)
            params.push_back(as_tensor(p0[k], shapes[k]).set_requires_grad());
        return params;
    }
    void backward(const std::vector<Tensor>& params) const {
        Tensor loss = Tensor::scalar(0.0f);
        for (size_t k = 0; k < shapes.size(); ++k) {
            Tensor A = as_tensor(a[k], shapes[k]), B = as_tensor(b[k], shapes[k]);
            loss = loss + sum(A * params[k] * params[k] + B * params[k]);
        }
        loss.backward();
    }
};

// Runs `steps` optimizer steps and compares every parameter, after every step, with the
// double-precision reference. `ref_step(t, k, i, p, g)` updates element i of parameter k
// at step t (1-based), given its gradient g.
void compare(Optimizer& opt, const std::vector<Tensor>& params, const Problem& prob, int steps,
             const std::function<void(int, size_t, size_t, double&, double)>& ref_step) {
    std::vector<std::vector<double>> ref = prob.p0;
    for (int t = 1; t <= steps; ++t) {
        opt.zero_grad();
        prob.backward(params);
        for (size_t k = 0; k < ref.size(); ++k) {
            // The gradient was computed at the float parameters, next to the reference ones.
            const float* g = params[k].grad().data();
            for (size_t i = 0; i < ref[k].size(); ++i) {
                double expected = 2 * prob.a[k][i] * ref[k][i] + prob.b[k][i];
                REQUIRE(std::fabs(g[i] - expected) <= 1e-5);
                ref_step(t, k, i, ref[k][i], g[i]);
            }
        }
        opt.step();
        for (size_t k = 0; k < ref.size(); ++k) {
            CAPTURE(t);
            CAPTURE(k);
            // A few float roundings of terms of order 1 (ulp 1.2e-7): where p - lr d cancels
            // to a small value, the absolute error is what stays bounded.
            fgtest::check_close(params[k], ref[k], 1e-6, 5e-7);
        }
    }
}

// State of the reference implementations: one value per element of each parameter.
struct RefState {
    std::vector<std::vector<double>> buf;
    explicit RefState(const Problem& prob) {
        for (const auto& p : prob.p0) buf.emplace_back(p.size(), 0.0);
    }
};

void check_sgd(double lr, double momentum, double dampening, double wd, bool nesterov) {
    Problem prob;
    std::vector<Tensor> params = prob.make_params();
    SGD opt(params, lr, momentum, dampening, wd, nesterov);
    RefState state(prob);
    compare(opt, params, prob, 3, [&](int t, size_t k, size_t i, double& p, double g) {
        double d = g + wd * p;
        if (momentum != 0) {
            double& buf = state.buf[k][i];
            buf = t == 1 ? d : momentum * buf + (1 - dampening) * d;
            d = nesterov ? d + momentum * buf : buf;
        }
        p -= lr * d;
    });
}

void check_adam(bool decoupled, double lr, double b1, double b2, double eps, double wd) {
    Problem prob;
    std::vector<Tensor> params = prob.make_params();
    RefState m(prob), v(prob);
    auto ref = [&](int t, size_t k, size_t i, double& p, double g) {
        if (decoupled)
            p *= 1 - lr * wd;
        else
            g += wd * p;
        double& mi = m.buf[k][i];
        double& vi = v.buf[k][i];
        mi = b1 * mi + (1 - b1) * g;
        vi = b2 * vi + (1 - b2) * g * g;
        double bc1 = 1 - std::pow(b1, t), bc2 = 1 - std::pow(b2, t);
        p -= lr / bc1 * mi / (std::sqrt(vi) / std::sqrt(bc2) + eps);
    };
    if (decoupled) {
        AdamW opt(params, lr, b1, b2, eps, wd);
        compare(opt, params, prob, 3, ref);
    } else {
        Adam opt(params, lr, b1, b2, eps, wd);
        compare(opt, params, prob, 3, ref);
    }
}

}  // namespace

TEST_CASE("SGD: three steps equal torch.optim.SGD's rule computed in double") {
    SUBCASE("plain") { check_sgd(0.1, 0, 0, 0, false); }
    SUBCASE("momentum") { check_sgd(0.1, 0.9, 0, 0, false); }
    SUBCASE("nesterov") { check_sgd(0.1, 0.9, 0, 0, true); }
    SUBCASE("weight decay") { check_sgd(0.1, 0, 0, 0.05, false); }
    SUBCASE("momentum + weight decay") { check_sgd(0.05, 0.8, 0, 0.01, false); }
    SUBCASE("dampening") { check_sgd(0.1, 0.9, 0.5, 0, false); }
    SUBCASE("nesterov + weight decay") { check_sgd(0.03, 0.7, 0, 0.1, true); }
}

TEST_CASE("Adam and AdamW: three steps equal torch's rules computed in double") {
    SUBCASE("Adam, defaults") { check_adam(false, 1e-3, 0.9, 0.999, 1e-8, 0); }
    SUBCASE("Adam, large lr") { check_adam(false, 0.1, 0.9, 0.999, 1e-8, 0); }
    // eps of the order of sqrt(v): its placement (outside the sqrt, after the bias
    // correction) shows in the result.
    SUBCASE("Adam, eps that matters") { check_adam(false, 0.1, 0.8, 0.99, 0.3, 0); }
    SUBCASE("Adam, L2 weight decay") { check_adam(false, 0.05, 0.9, 0.999, 1e-8, 0.1); }
    SUBCASE("AdamW, defaults") { check_adam(true, 1e-3, 0.9, 0.999, 1e-8, 1e-2); }
    SUBCASE("AdamW, strong decay") { check_adam(true, 0.1, 0.5, 0.9, 1e-6, 0.5); }
}

TEST_CASE("Optimizers skip parameters without a gradient; their state starts at their own first step") {
    Tensor used = Tensor::from({1.0f, -2.0f}).set_requires_grad();
    Tensor idle = Tensor::from({3.0f, 4.0f}).set_requires_grad();
    SGD sgd({used, idle}, 0.1, 0.9);
    Adam adam({used, idle}, 0.1);
    for (Optimizer* opt : std::vector<Optimizer*>{&sgd, &adam}) {
        opt->zero_grad();
        sum(used * used).backward();
        opt->step();
        CHECK(idle.to_vector() == std::vector<float>{3.0f, 4.0f});
    }
    // idle's first gradient arrives now: SGD's buffer starts at d (no momentum history),
    // Adam's bias correction uses t = 1 for it.
    idle.zero_grad();
    sum(idle).backward();  // g = 1
    sgd.step();
    CHECK(idle.to_vector() == std::vector<float>{3.0f - 0.1f, 4.0f - 0.1f});
    float before = idle.data()[0];
    adam.step();  // first Adam step: p -= lr * g / (|g| + eps) = lr
    CHECK(idle.data()[0] == doctest::Approx(double(before) - 0.1).epsilon(1e-6));
}

TEST_CASE("Optimizer steps record nothing and leave parameters as leaves") {
    Tensor w = Tensor::randn({4, 4}).set_requires_grad();
    Adam opt({w}, 0.01);
    sum(w * w).backward();
    size_t tape_before = tape_size();
    opt.step();
    CHECK(tape_size() == tape_before);
    CHECK(w.is_leaf());
    CHECK(w.requires_grad());
    CHECK(w.has_grad());
    opt.zero_grad();
    CHECK_FALSE(w.has_grad());
}

TEST_CASE("Optimizers refuse bad hyper-parameters and parameter lists with clear errors") {
    Tensor w = Tensor::zeros({2}).set_requires_grad();
    CHECK_ERROR(SGD({w}, 0.0), "SGD", "invalid learning rate 0");
    CHECK_ERROR(SGD({w}, -0.1), "SGD", "invalid learning rate -0.1");
    CHECK_ERROR(SGD({w}, NAN), "SGD", "invalid learning rate nan");
    CHECK_ERROR(SGD({w}, 0.1, -0.5), "SGD", "invalid momentum -0.5");
    CHECK_ERROR(SGD({w}, 0.1, 0, 0, -1), "SGD", "invalid weight_decay -1");
    CHECK_ERROR(SGD({w}, 0.1, 0, 0, 0, true), "SGD", "Nesterov", "momentum 0");
    CHECK_ERROR(SGD({w}, 0.1, 0.9, 0.1, 0, true), "SGD", "Nesterov", "zero dampening", "dampening 0.1");
    CHECK_ERROR(Adam({w}, -1e-3), "Adam", "invalid learning rate");
    CHECK_ERROR(Adam({w}, 1e-3, 1.0), "Adam", "invalid beta1 1");
    CHECK_ERROR(Adam({w}, 1e-3, 0.9, -0.1), "Adam", "invalid beta2 -0.1");
    CHECK_ERROR(Adam({w}, 1e-3, 0.9, 0.999, -1e-8), "Adam", "invalid eps");
    CHECK_ERROR(AdamW({w}, 1e-3, 0.9, 0.999, 1e-8, -0.01), "AdamW", "invalid weight_decay");
    CHECK_ERROR(SGD({}, 0.1), "SGD", "empty parameter list");
    CHECK_ERROR(SGD({w, w}, 0.1), "SGD", "appears more than once");
    CHECK_ERROR(SGD({Tensor::zeros({2})}, 0.1), "SGD", "requires grad");
    SGD opt({w}, 0.1);
    CHECK_ERROR(opt.set_lr(-1), "SGD", "invalid learning rate -1");
    CHECK_ERROR(opt.set_lr(INFINITY), "SGD", "invalid learning rate inf");
    opt.set_lr(0.0);  // a schedule may end at 0
    CHECK(opt.lr() == 0.0);
}

TEST_CASE(
    "SGD: momentum below the smallest normal float is stored as 0; the weights stay those of the rule") {
    // Gradients from 1e-36 to 1e-2 once, then exactly 0 (a dead ReLU unit's weights): the
    // momentum shrinks by 0.9 per step and passes below FLT_MIN (1.2e-38) for the smallest.
    const int64_t n = 35;
    Tensor p = Tensor::empty({n}).set_requires_grad();
    std::vector<double> w(static_cast<size_t>(n)), g(static_cast<size_t>(n)), buf(static_cast<size_t>(n));
    Generator gen(7);
    for (int64_t i = 0; i < n; ++i) {
        p.data()[i] = gen.uniform(-1.0f, 1.0f);
        w[size_t(i)] = p.data()[i];
        g[size_t(i)] = std::pow(10.0, -36.0 + double(i));
    }
    const double lr = 0.1, mu = 0.9;
    SGD opt({p}, lr, mu);
    for (int t = 1; t <= 60; ++t) {
        opt.zero_grad();
        Tensor coef = Tensor::empty({n});  // loss = sum(coef * p): its gradient is coef
        for (int64_t i = 0; i < n; ++i) coef.data()[i] = t == 1 ? float(g[size_t(i)]) : 0.0f;
        sum(coef * p).backward();
        opt.step();
        Tensor momentum = state_tensor(opt.state_dict(), "momentum_buffer.0", "test");
        for (int64_t i = 0; i < n; ++i) {
            const double d = t == 1 ? double(float(g[size_t(i)])) : 0.0;
            buf[size_t(i)] = t == 1 ? d : mu * buf[size_t(i)];
            w[size_t(i)] -= lr * buf[size_t(i)];
            CAPTURE(t);
            CAPTURE(i);
            REQUIRE(std::fabs(p.data()[i] - w[size_t(i)]) <= 1e-6 * std::fabs(w[size_t(i)]) + 5e-7);
            const float m = momentum.data()[i];
            if (std::fabs(buf[size_t(i)]) < FLT_MIN * 0.99)
                REQUIRE(m == 0.0f);
            else if (std::fabs(buf[size_t(i)]) >= FLT_MIN * 1.01)
                REQUIRE(std::fabs(m - buf[size_t(i)]) <= 1e-5 * std::fabs(buf[size_t(i)]));
        }
    }
}
