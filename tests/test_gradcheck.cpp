// test_gradcheck.cpp — gradcheck itself: it must catch wrong backwards, including one
// that an all-ones upstream gradient would hide, and explain the failure.
#include <focalgrad/core/autograd.h>
#include <focalgrad/core/kernels.h>
#include <focalgrad/core/ops.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

// y = [x0 + x1, x0 - x1] with a backward that swaps the two rows of dy: with dy = [1, 1]
// the result is the same as the correct one, so only a random upstream reveals it.
Tensor buggy_mix(const Tensor& x) {
    Tensor y = Tensor::from({x.data()[0] + x.data()[1], x.data()[0] - x.data()[1]});
    record("buggy_mix", {x}, y, [x](const Tensor& dy, const Tensor&) {
        float g0 = dy.data()[1], g1 = dy.data()[0];  // wrong: rows swapped
        accumulate_grad(x, Tensor::from({g0 + g1, g0 - g1}));
    });
    return y;
}

// y = 2x with a backward off by 1 %.
Tensor slightly_wrong(const Tensor& x) {
    Tensor y = map(x, [](float v) { return 2 * v; });
    record("slightly_wrong", {x}, y, [x](const Tensor& dy, const Tensor&) {
        accumulate_grad(x, map(dy, [](float g) { return 2.02f * g; }));
    });
    return y;
}

// y = scale * x with a backward off by `error` (relative).
Tensor scaled_wrong(const Tensor& x, float scale, float error) {
    Tensor y = map(x, [scale](float v) { return scale * v; });
    record("scaled_wrong", {x}, y, [x, scale, error](const Tensor& dy, const Tensor&) {
        accumulate_grad(x, map(dy, [scale, error](float g) { return scale * (1 + error) * g; }));
    });
    return y;
}

}  // namespace

TEST_CASE("gradcheck catches a bug that an all-ones upstream gradient hides") {
    Tensor x = Tensor::from({0.3f, -0.7f});
    // The all-ones contraction: sum(y) is insensitive to the swap.
    Tensor leaf = x.clone().set_requires_grad();
    sum(buggy_mix(leaf)).backward();
    fgtest::check_close(leaf.grad(), {2, 0});  // happens to be right
    GradcheckResult r = gradcheck([](const std::vector<Tensor>& in) { return buggy_mix(in[0]); }, {x});
    CHECK_FALSE(r.ok);
    CHECK(r.input == 0);
    CHECK(r.message().find("FAILED") != std::string::npos);
}

TEST_CASE("gradcheck reports the worst element with both values") {
    GradcheckResult r = gradcheck([](const std::vector<Tensor>& in) { return slightly_wrong(in[0]); },
                                  {Tensor::from({1, 2, 3})}, {1e-3, 1e-4, 1e-3, 5});
    CHECK_FALSE(r.ok);
    CHECK(r.rel_error == doctest::Approx(0.02 / 2.02).epsilon(1e-2));
    CHECK(std::fabs(r.numeric) > 0);
    CHECK(std::fabs(r.analytic / r.numeric - 1.01) < 1e-3);
    // The same bug passes under a loose tolerance: tolerances are per call.
    CHECK(gradcheck([](const std::vector<Tensor>& in) { return slightly_wrong(in[0]); },
                    {Tensor::from({1, 2, 3})}, {1e-3, 1e-4, 5e-2, 5})
              .ok);
}

TEST_CASE("gradcheck passes a correct composite and refuses a constant output") {
    GradcheckResult r = gradcheck(
        [](const std::vector<Tensor>& in) { return tanh(matmul(in[0], in[1])) * mean(sigmoid(in[1])); },
        {Tensor::randn({2, 3}), Tensor::randn({3, 3})});
    CHECK_MESSAGE(r.ok, r.message());
    CHECK_ERROR(gradcheck([](const std::vector<Tensor>&) { return Tensor::ones({2}); }, {Tensor::ones({1})}),
                "gradcheck", "does not depend");
}

TEST_CASE("gradcheck's tolerance scales with the gradient: a 1 % error is caught at any size") {
    // An absolute tolerance would pass every gradient smaller than itself; this one is
    // atol * max|grad| + rtol * |numeric|, so the verdict is the same at every scale.
    for (float scale : {1e-6f, 1e-3f, 1.0f, 1e3f}) {
        CAPTURE(scale);
        Tensor x = Tensor::from({0.5f, -1.5f, 2.0f});
        GradcheckResult right = gradcheck(
            [scale](const std::vector<Tensor>& in) { return scaled_wrong(in[0], scale, 0.0f); }, {x});
        CHECK_MESSAGE(right.ok, right.message());
        GradcheckResult wrong = gradcheck(
            [scale](const std::vector<Tensor>& in) { return scaled_wrong(in[0], scale, 0.01f); }, {x});
        CHECK_MESSAGE(!wrong.ok, wrong.message());
        CHECK(wrong.scale == doctest::Approx(right.scale).epsilon(1e-3));
    }
}

TEST_CASE("gradcheck estimates an element near a kink again with a ten times smaller step") {
    // relu at x = 0.004: the steps h = 0.01 and 2h cross the kink at 0, so D(h) and D(2h)
    // disagree; with h / 10 both stay on the same side, and the derivative 1 is found.
    Tensor x = Tensor::from({0.004f, -0.7f, 1.3f});
    GradcheckResult r = gradcheck([](const std::vector<Tensor>& in) { return relu(in[0]); }, {x});
    CHECK_MESSAGE(r.ok, r.message());
    CHECK(r.small_steps == 1);
    CHECK(r.message().find("1 element(s) near a kink used h/10") != std::string::npos);
    // Closer to the kink than h / 5, no step can help: gradcheck says so by failing.
    CHECK_FALSE(
        gradcheck([](const std::vector<Tensor>& in) { return relu(in[0]); }, {Tensor::from({1e-4f})}).ok);
}
