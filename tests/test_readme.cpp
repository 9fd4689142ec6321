// test_readme.cpp — the README's code, run as written, with its results checked
// against an independent computation.
#include <cmath>
#include <sstream>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/gradcheck.h>
#include <focalgrad/core/kernels.h>
#include <focalgrad/core/ops.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

// The README's "Writing a new op" example.
// y = log(1 + e^x)          dx = dy * sigmoid(x)
Tensor softplus(const Tensor& x) {
    Tensor y = map(x, [](float v) { return std::max(v, 0.0f) + std::log1p(std::exp(-std::fabs(v))); });
    record("softplus", {x}, y, [x](const Tensor& dy, const Tensor&) {
        accumulate_grad(x, zip(dy, x, [](float g, float v) { return g / (1.0f + std::exp(-v)); }));
    });
    return y;
}

}  // namespace

TEST_CASE("README: a first look") {
    Generator gen(0);
    Tensor x = Tensor::randn({8, 4}, gen);
    std::vector<int> y = {0, 1, 2, 1, 0, 2, 2, 1};
    Tensor W1 = Tensor::randn({16, 4}, gen).set_requires_grad();
    Tensor b1 = Tensor::zeros({16}).set_requires_grad();
    Tensor W2 = Tensor::randn({3, 16}, gen).set_requires_grad();
    Tensor b2 = Tensor::zeros({3}).set_requires_grad();

    Tensor h = relu(linear(x, W1, b1));
    Tensor logits = linear(h, W2, b2);
    Tensor loss = -mean(gather(log_softmax(logits, 1), y));
    loss.backward();
    std::ostringstream out;
    out << loss.item() << "\n" << W2.grad() << "\n";
    CHECK(out.str().find("shape=[3, 16]") != std::string::npos);

    // Independent: the same network in double, by loops.
    double total = 0;
    std::vector<double> db2(3, 0.0);
    for (int n = 0; n < 8; ++n) {
        double hid[16], z[3];
        for (int j = 0; j < 16; ++j) {
            double a = b1.data()[j];
            for (int k = 0; k < 4; ++k) a += double(W1.at({j, k})) * x.at({n, k});
            hid[j] = a > 0 ? a : 0;
        }
        double m = -1e300;
        for (int c = 0; c < 3; ++c) {
            z[c] = b2.data()[c];
            for (int j = 0; j < 16; ++j) z[c] += double(W2.at({c, j})) * hid[j];
            m = std::max(m, z[c]);
        }
        double s = 0;
        for (int c = 0; c < 3; ++c) s += std::exp(z[c] - m);
        total += -(z[y[size_t(n)]] - m - std::log(s));
        for (int c = 0; c < 3; ++c) db2[size_t(c)] += (std::exp(z[c] - m) / s - (c == y[size_t(n)])) / 8.0;
    }
    CHECK(loss.item() == doctest::Approx(total / 8).epsilon(1e-5));
    fgtest::check_close(b2.grad(), db2, 1e-4, 1e-6);
}

TEST_CASE("README: checking a gradient, and the softplus op") {
    GradcheckResult r = gradcheck([](const std::vector<Tensor>& in) { return tanh(matmul(in[0], in[1])); },
                                  {Tensor::randn({3, 4}), Tensor::randn({4, 2})});
    CHECK_MESSAGE(r.ok, r.message());
    CHECK(r.message().rfind("gradcheck passed: worst element is input", 0) == 0);

    Tensor x = Tensor::from({-100, -1, 0, 2, 100});
    std::vector<double> ref;
    for (float v : x.to_vector()) ref.push_back(v > 30 ? double(v) : std::log1p(std::exp(double(v))));
    fgtest::check_close(softplus(x), ref, 1e-6, 1e-30);
    fgtest::check_gradcheck([](const std::vector<Tensor>& in) { return softplus(in[0]); },
                            {Tensor::from({-3, -0.5f, 0.2f, 4})});
}
