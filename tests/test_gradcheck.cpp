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
