// Exercise 6 — a loss of your own choice, as one op with a hand-written backward.
// Its tests (your loss); run them with `make exercises N=6`.
#include <cmath>

#include <focalgrad/core/gradcheck.h>

#include "../tests/helpers.h"
#include "exercise.h"

using namespace focalgrad;

namespace exercises {
Tensor my_loss(const Tensor& logits, const std::vector<int>& targets);  // ex6_your_loss.cpp
bool my_loss_invariant(const Tensor& logits, const std::vector<int>& targets);
}  // namespace exercises

namespace {

struct Case {
    int64_t N, C;
    float sigma;
};
constexpr Case kCases[] = {{3, 4, 1.0f}, {5, 3, 2.0f}, {2, 7, 3.0f}};

std::vector<int> targets_for(const Case& c) {
    std::vector<int> t(size_t(c.N));
    for (int64_t i = 0; i < c.N; ++i) t[size_t(i)] = int((3 * i + 1) % c.C);
    return t;
}

}  // namespace

TEST_CASE("exercise 6: your loss is a finite scalar that backward reaches") {
    Generator gen(10);
    for (const Case& c : kCases) {
        Tensor z = Tensor::normal({c.N, c.C}, 0.0f, c.sigma, gen).set_requires_grad();
        Tensor L = exercises::my_loss(z, targets_for(c));
        REQUIRE(L.numel() == 1);
        CHECK(std::isfinite(L.item()));
        REQUIRE_MESSAGE(L.requires_grad(),
                        "my_loss must record its backward (see record() in core/autograd.h)");
        L.backward();
        CHECK(z.has_grad());
    }
}

TEST_CASE("exercise 6: gradcheck of your loss on random logits") {
    Generator gen(11);
    for (const Case& c : kCases) {
        CAPTURE(c.N);
        CAPTURE(c.C);
        std::vector<int> t = targets_for(c);
        fgtest::check_gradcheck([&t](const std::vector<Tensor>& in) { return exercises::my_loss(in[0], t); },
                                {Tensor::normal({c.N, c.C}, 0.0f, c.sigma, gen)});
    }
}

TEST_CASE("exercise 6: your invariant holds") {
    Generator gen(12);
    for (const Case& c : kCases) {
        CAPTURE(c.N);
        CAPTURE(c.C);
        CHECK(exercises::my_loss_invariant(Tensor::normal({c.N, c.C}, 0.0f, c.sigma, gen), targets_for(c)));
    }
}
