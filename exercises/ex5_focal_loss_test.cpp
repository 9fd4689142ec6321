// Exercise 5 — focal loss (Lin et al. 2017), forward and factored backward.
// Its tests (focal_loss_forward, focal_loss_backward); run them with `make exercises N=5`.
#include <cmath>

#include <focalgrad/core/gradcheck.h>
#include <focalgrad/losses/focal_loss.h>

#include "../tests/helpers.h"
#include "exercise.h"

using namespace focalgrad;

namespace exercises {
float focal_loss_forward(const float* z, const int* targets, int64_t N, int64_t C, float gamma);
void focal_loss_backward(float* dz, const float* z, const int* targets, float dL, int64_t N, int64_t C,
                         float gamma);  // ex5_focal_loss.cpp
}  // namespace exercises

namespace {

// Focal loss (mean over rows), forward and backward yours.
Tensor my_focal_loss(const Tensor& z, const std::vector<int>& t, float gamma) {
    Tensor L = Tensor::scalar(exercises::focal_loss_forward(z.data(), t.data(), z.size(0), z.size(1), gamma));
    record("my_focal_loss", {z}, L, [z, t, gamma](const Tensor& dL, const Tensor&) {
        Tensor dz = exercises::grad_buffer(z);
        exercises::focal_loss_backward(dz.data(), z.data(), t.data(), dL.item(), z.size(0), z.size(1), gamma);
        exercises::adopt_grad(z, std::move(dz));
    });
    return L;
}

// The library's fused focal loss: its gradient is the reference for yours.
Tensor library_gradient(const Tensor& z, const std::vector<int>& t, float gamma) {
    Tensor leaf = z.clone().set_requires_grad();
    FocalLossOptions options;
    options.gamma = gamma;
    focal_loss(leaf, t, options).backward();
    return leaf.grad();
}

std::vector<double> as_doubles(const Tensor& x) {
    std::vector<float> v = x.to_vector();
    return {v.begin(), v.end()};
}

}  // namespace

TEST_CASE("exercise 5: focal_loss_forward against the formula in double, γ = 0, 0.5, 2") {
    Generator gen(7);
    Tensor z = Tensor::normal({6, 4}, 0.0f, 2.0f, gen);
    std::vector<int> t = {0, 1, 2, 3, 1, 0};
    for (float gamma : {0.0f, 0.5f, 2.0f}) {
        CAPTURE(gamma);
        double total = 0;
        for (int64_t i = 0; i < 6; ++i) {
            double sum = 0;
            for (int64_t j = 0; j < 4; ++j) sum += std::exp(double(z.data()[i * 4 + j]));
            double p_t = std::exp(double(z.data()[i * 4 + t[size_t(i)]])) / sum;
            total += -std::pow(1 - p_t, double(gamma)) * std::log(p_t);
        }
        CHECK(exercises::focal_loss_forward(z.data(), t.data(), 6, 4, gamma) ==
              doctest::Approx(total / 6).epsilon(1e-5));
    }
}

TEST_CASE("exercise 5: focal_loss_backward equals the library's focal_loss gradient, γ = 0.5 and 2") {
    Generator gen(8);
    Tensor z = Tensor::normal({5, 3}, 0.0f, 3.0f, gen);
    std::vector<int> t = {0, 2, 1, 1, 0};
    for (float gamma : {0.5f, 2.0f}) {
        CAPTURE(gamma);
        Tensor dz = Tensor::full({5, 3}, 0.5f);  // an earlier gradient, kept
        exercises::focal_loss_backward(dz.data(), z.data(), t.data(), 1.0f, 5, 3, gamma);
        std::vector<double> expected = as_doubles(library_gradient(z, t, gamma));
        for (double& v : expected) v += 0.5;
        fgtest::check_close(dz, expected, 1e-4, 1e-6);
    }
}

TEST_CASE("exercise 5: gradcheck of focal loss built on your forward and backward") {
    Generator gen(9);
    std::vector<int> t = {1, 0, 3, 2};
    for (float gamma : {0.5f, 2.0f}) {
        CAPTURE(gamma);
        fgtest::check_gradcheck([&](const std::vector<Tensor>& in) { return my_focal_loss(in[0], t, gamma); },
                                {Tensor::normal({4, 4}, 0.0f, 1.5f, gen)});
    }
}

TEST_CASE("exercise 5: γ = 0.5 and p_t -> 1: the gradient is finite, not (1 - p_t)^(γ-1) = inf times 0") {
    // Row 0 is classified with a margin of 40: p_t = 1 - 2e^-40 rounds to 1 in float.
    // Row 1 is ordinary. The true gradient of row 0 is about 1e-26: zero to float.
    Tensor z = Tensor::from({40.0f, 0.0f, 0.0f, 0.5f, -0.3f, 1.2f}, {2, 3}).set_requires_grad();
    std::vector<int> t = {0, 2};
    Tensor L = my_focal_loss(z, t, 0.5f);
    CHECK(std::isfinite(L.item()));
    L.backward();
    for (float g : z.grad().to_vector()) CHECK(std::isfinite(g));
    fgtest::check_close(z.grad(), as_doubles(library_gradient(z.detach(), t, 0.5f)), 1e-4, 1e-7);
}
