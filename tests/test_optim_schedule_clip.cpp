// test_optim_schedule_clip.cpp — learning-rate schedules against their closed forms, the
// optimizer actually using the scheduled rate, and clip_grad_norm against a double
// reference (including PyTorch's 1e-6 in the clip coefficient).
#include <cmath>
#include <memory>
#include <vector>

#include <focalgrad/core/ops.h>
#include <focalgrad/optim/optimizer.h>
#include <focalgrad/optim/scheduler.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

const double kPi = 3.14159265358979323846;

// The learning rates set at construction (t = 0) and after each of `steps` step() calls.
template <class Sched>
std::vector<double> trace(Optimizer& opt, Sched& sched, int steps) {
    std::vector<double> lrs{opt.lr()};
    for (int i = 0; i < steps; ++i) {
        sched.step();
        lrs.push_back(opt.lr());
    }
    return lrs;
}

void check_trace(const std::vector<double>& got, const std::vector<double>& expected) {
    REQUIRE(got.size() == expected.size());
    for (size_t t = 0; t < got.size(); ++t) {
        CAPTURE(t);
        CHECK(got[t] == doctest::Approx(expected[t]).epsilon(1e-12));
    }
}

}  // namespace

TEST_CASE("StepLR, CosineAnnealingLR and LinearLR follow torch's closed forms") {
    Tensor w = Tensor::zeros({1}).set_requires_grad();
    {
        SGD opt({w}, 0.1);
        StepLR sched(opt, 3, 0.5);
        check_trace(trace(opt, sched, 7), {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025});
        CHECK(sched.last_step() == 7);
    }
    {
        SGD opt({w}, 0.2);
        CosineAnnealingLR sched(opt, 4, 0.02);
        std::vector<double> expected;
        for (int t = 0; t <= 4; ++t) expected.push_back(0.02 + 0.18 * (1 + std::cos(kPi * t / 4)) / 2);
        check_trace(trace(opt, sched, 4), expected);
        CHECK(opt.lr() == doctest::Approx(0.02));     // reaches eta_min at T_max
        CHECK(expected[2] == doctest::Approx(0.11));  // half way: the mean
    }
    {
        SGD opt({w}, 1.0);
        LinearLR sched(opt);  // torch's defaults: 1/3 -> 1 over 5 steps
        check_trace(trace(opt, sched, 6), {1.0 / 3, 7.0 / 15, 9.0 / 15, 11.0 / 15, 13.0 / 15, 1.0, 1.0});
    }
    SGD opt({w}, 0.1);
    CHECK_ERROR(StepLR(opt, 0), "StepLR", "step_size");
    CHECK_ERROR(CosineAnnealingLR(opt, 0), "CosineAnnealingLR", "T_max");
    CHECK_ERROR(LinearLR(opt, 0.0), "LinearLR", "start_factor");
    CHECK_ERROR(LinearWarmup(opt, 0), "LinearWarmup", "warmup_steps");
}

TEST_CASE(
    "LinearWarmup: alone it is LinearLR(start, 1); wrapping a schedule, that one's clock starts after "
    "warm-up") {
    Tensor w = Tensor::zeros({1}).set_requires_grad();
    {
        SGD opt({w}, 0.5);
        LinearWarmup sched(opt, 4, nullptr, 0.2);
        std::vector<double> expected;
        for (int t = 0; t <= 6; ++t) expected.push_back(0.5 * (0.2 + 0.8 * std::min(t, 4) / 4.0));
        check_trace(trace(opt, sched, 6), expected);
    }
    {
        SGD opt({w}, 0.1);
        LinearWarmup sched(opt, 3, std::make_unique<CosineAnnealingLR>(opt, 5), 0.0);
        std::vector<double> expected{0.0, 0.1 / 3, 0.2 / 3};  // warm-up from 0
        for (int s = 0; s <= 5; ++s) expected.push_back(0.05 * (1 + std::cos(kPi * s / 5)));
        check_trace(trace(opt, sched, 8), expected);
    }
    {
        SGD opt({w}, 0.1);
        LinearWarmup sched(opt, 2, std::make_unique<StepLR>(opt, 2, 0.1), 0.5);
        check_trace(trace(opt, sched, 6), {0.05, 0.075, 0.1, 0.1, 0.01, 0.01, 0.001});
    }
    SGD a({w}, 0.1), b({w}, 0.1);
    CHECK_ERROR(LinearWarmup(a, 2, std::make_unique<StepLR>(b, 2)), "LinearWarmup", "different optimizer");
}

TEST_CASE("The optimizer steps with the scheduled learning rate") {
    Tensor w = Tensor::from({1.0f}).set_requires_grad();
    SGD opt({w}, 0.1);
    StepLR sched(opt, 1, 0.5);
    double p = 1.0;
    for (int t = 0; t < 4; ++t) {
        opt.zero_grad();
        sum(w * 3.0f).backward();  // g = 3
        opt.step();
        p -= 0.1 * std::pow(0.5, t) * 3;
        sched.step();
        CHECK(w.item() == doctest::Approx(p).epsilon(1e-6));
    }
}

TEST_CASE("clip_grad_norm: returns the global norm and scales by max_norm / (norm + 1e-6) when above") {
    Tensor a = Tensor::from({3.0f, -4.0f, 1.0f}).set_requires_grad();
    Tensor b = Tensor::from({2.0f, 0.5f}, {1, 2}).set_requires_grad();
    Tensor unused = Tensor::from({100.0f}).set_requires_grad();
    auto fill_grads = [&] {
        a.zero_grad();
        b.zero_grad();
        sum(a * Tensor::from({3.0f, -4.0f, 1.0f})).backward();   // da = (3, -4, 1)
        sum(b * Tensor::from({2.0f, 0.5f}, {1, 2})).backward();  // db = (2, 0.5)
    };
    double total = std::sqrt(9.0 + 16 + 1 + 4 + 0.25);

    fill_grads();
    double norm = clip_grad_norm({a, b, unused}, 2.0);
    CHECK(norm == doctest::Approx(total).epsilon(1e-12));
    double coef = 2.0 / (total + 1e-6);
    fgtest::check_close(a.grad(), {3 * coef, -4 * coef, coef}, 1e-6, 0);
    fgtest::check_close(b.grad(), {2 * coef, 0.5 * coef}, 1e-6, 0);
    CHECK_FALSE(unused.has_grad());

    fill_grads();  // below the limit: untouched
    CHECK(clip_grad_norm({a, b}, 10.0) == doctest::Approx(total));
    CHECK(a.grad().to_vector() == std::vector<float>{3.0f, -4.0f, 1.0f});

    // All-zero gradients: the 1e-6 keeps the coefficient finite.
    a.zero_grad();
    sum(a * 0.0f).backward();
    CHECK(clip_grad_norm({a}, 1.0) == 0.0);
    CHECK(a.grad().to_vector() == std::vector<float>(3, 0.0f));

    // Non-finite gradients: an error by default, PyTorch's behaviour on request.
    a.zero_grad();
    sum(a * Tensor::from({1.0f, NAN, 2.0f})).backward();
    CHECK_ERROR(clip_grad_norm({a}, 1.0), "clip_grad_norm", "nan");
    CHECK(std::isnan(clip_grad_norm({a}, 1.0, false)));
    CHECK(std::isnan(a.grad().data()[0]));
    CHECK_ERROR(clip_grad_norm({a}, 0.0), "clip_grad_norm", "max_norm");
}

TEST_CASE("clip_grad_norm: the norm of a large gradient matches a double reference") {
    Tensor w = Tensor::randn({300, 400}).set_requires_grad();
    Tensor c = Tensor::randn({300, 400});
    sum(w * c).backward();  // dw = c
    double ref = 0;
    for (float v : c.to_vector()) ref += double(v) * v;
    ref = std::sqrt(ref);
    CHECK(clip_grad_norm({w}, 1.0) == doctest::Approx(ref).epsilon(1e-12));
    double after = 0;
    for (float v : w.grad().to_vector()) after += double(v) * v;
    CHECK(std::sqrt(after) == doctest::Approx(1.0 / (1.0 + 1e-6 / ref)).epsilon(1e-6));
}
