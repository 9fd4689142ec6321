// Exercise 4 — the fused softmax cross-entropy backward.
// Its tests (softmax_cross_entropy_backward); run them with `make exercises N=4`.
#include <cmath>

#include <focalgrad/core/gradcheck.h>
#include <focalgrad/losses/cross_entropy.h>

#include "../tests/helpers.h"
#include "exercise.h"

using namespace focalgrad;

namespace exercises {
void softmax_cross_entropy_backward(float* dz, const float* z, const int* targets, float dL, int64_t N,
                                    int64_t C);  // ex4_softmax_cross_entropy.cpp
}

namespace {

// Cross-entropy (mean over rows) whose backward is yours; the forward is the library's.
Tensor my_cross_entropy(const Tensor& z, const std::vector<int>& t) {
    Tensor L;
    {
        NoGradGuard no_grad;
        L = cross_entropy(z, t);
    }
    record("my_cross_entropy", {z}, L, [z, t](const Tensor& dL, const Tensor&) {
        Tensor dz = exercises::grad_buffer(z);
        exercises::softmax_cross_entropy_backward(dz.data(), z.data(), t.data(), dL.item(), z.size(0),
                                                  z.size(1));
        exercises::adopt_grad(z, std::move(dz));
    });
    return L;
}

// dL/dz in double, from the fused formula.
std::vector<double> expected_gradient(const Tensor& z, const std::vector<int>& t, double dL) {
    const int64_t N = z.size(0), C = z.size(1);
    std::vector<double> dz(size_t(N * C));
    for (int64_t i = 0; i < N; ++i) {
        double m = -INFINITY, sum = 0;
        for (int64_t j = 0; j < C; ++j) m = std::max(m, double(z.data()[i * C + j]));
        for (int64_t j = 0; j < C; ++j) sum += std::exp(z.data()[i * C + j] - m);
        for (int64_t j = 0; j < C; ++j)
            dz[size_t(i * C + j)] = dL / N * (std::exp(z.data()[i * C + j] - m) / sum - (j == t[size_t(i)]));
    }
    return dz;
}

}  // namespace

TEST_CASE("exercise 4: the gradient on random logits, against the formula in double") {
    Generator gen(5);
    Tensor z = Tensor::normal({5, 4}, 0.0f, 2.0f, gen);
    std::vector<int> t = {0, 3, 1, 1, 2};
    Tensor dz = Tensor::full({5, 4}, 0.125f);  // an earlier gradient, kept
    exercises::softmax_cross_entropy_backward(dz.data(), z.data(), t.data(), 0.75f, 5, 4);
    std::vector<double> expected = expected_gradient(z, t, 0.75);
    for (double& v : expected) v += 0.125;
    fgtest::check_close(dz, expected, 1e-5, 1e-7);
}

TEST_CASE("exercise 4: gradcheck of cross-entropy built on your backward") {
    Generator gen(6);
    std::vector<int> t = {2, 0, 1};
    fgtest::check_gradcheck([&t](const std::vector<Tensor>& in) { return my_cross_entropy(in[0], t); },
                            {Tensor::normal({3, 3}, 0.0f, 1.5f, gen)});
}

TEST_CASE("exercise 4: logits 120 apart: p of the target underflows to 0, the gradient stays finite") {
    // Row 0: the target's logit is 120 below the largest (p_t = e^-120 is 0 in float); row 1:
    // the target wins by 120. Exact gradient: [1, -1, 0] / N and [0, 0, 0] (to float).
    Tensor z = Tensor::from({60.0f, -60.0f, 0.0f, -60.0f, 60.0f, 0.0f}, {2, 3}).set_requires_grad();
    my_cross_entropy(z, {1, 1}).backward();
    for (float g : z.grad().to_vector()) CHECK(std::isfinite(g));
    fgtest::check_close(z.grad(), expected_gradient(z, {1, 1}, 1.0), 1e-5, 1e-7);
}
