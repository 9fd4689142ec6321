// test_loss_poly1.cpp — the tutorial's loss (examples/poly1_loss.h), tested the way
// docs/extending.md says a loss of your own should be: gradcheck with a random upstream
// gradient for each reduction and layout; ε = 0 equals cross_entropy; a double-precision
// reference from the formula with a numeric derivative; the toolkit's semantics
// (ignore_index, a mean over nothing); readable errors.
#include <cmath>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/losses/cross_entropy.h>

#include "../examples/poly1_loss.h"
#include "helpers.h"
#include "test_loss_reference.h"

using namespace focalgrad;
using examples::poly1_loss;
using examples::Poly1Options;

namespace {

const Reduction kReductions[] = {Reduction::None, Reduction::Mean, Reduction::Sum};

// ℓ = -log p_t + ε (1 - p_t), from the oracle's log-softmax.
double poly1_row(const lossref::Vec& z, int t, double epsilon) {
    lossref::Vec lp = lossref::log_softmax(z);
    return -lp[size_t(t)] + epsilon * (1.0 - std::exp(lp[size_t(t)]));
}

}  // namespace

TEST_CASE("poly1_loss matches a double-precision reference for each reduction, with ignored rows") {
    const int64_t N = 40, C = 7;
    for (float epsilon : {0.0f, 1.0f, -0.5f, 4.0f})
        for (bool with_ignored : {false, true})
            for (Reduction reduction : kReductions) {
                CAPTURE(epsilon);
                CAPTURE(with_ignored);
                CAPTURE(reduction);
                Tensor logits = lossref::random_logits(N, C, 3);
                std::vector<int> t = lossref::random_targets(N, C, 3, with_ignored ? 0.25 : 0.0);
                Poly1Options o;
                o.epsilon = epsilon;
                o.reduction = reduction;
                lossref::Run r =
                    lossref::run([&](const Tensor& x) { return poly1_loss(x, t, o); }, logits, 9);
                auto valid = [&](int64_t i) { return t[size_t(i)] != o.ignore_index; };
                lossref::Ref ref = lossref::reduce_reference(
                    logits,
                    [&](const lossref::Vec& z, int64_t i) {
                        return valid(i) ? poly1_row(z, t[size_t(i)], epsilon) : 0.0;
                    },
                    [&](int64_t i) { return valid(i) ? 1.0 : 0.0; }, reduction, r.upstream);
                lossref::check_rel(r.out, ref.out, 1e-5, "loss");
                lossref::check_rel(r.grad, ref.grad, 1e-5, "gradient");
            }
}

TEST_CASE("poly1_loss passes gradcheck for each reduction, on [N, C] and [N, C, d1, d2] logits") {
    Generator gen(5);
    const Tensor flat = Tensor::randn({6, 4}, gen);
    const Tensor pixels = Tensor::randn({2, 4, 3, 2}, gen);  // 2 x 3 x 2 = 12 rows of 4 classes
    const std::vector<int> flat_targets = {0, 3, -100, 1, 2, 0};
    const std::vector<int> pixel_targets = {0, 1, 2, 3, -100, 1, 2, 2, 0, 3, 1, -100};
    for (Reduction reduction : kReductions) {
        CAPTURE(reduction);
        Poly1Options o;
        o.epsilon = 2.0f;
        o.reduction = reduction;
        fgtest::check_gradcheck(
            [&](const std::vector<Tensor>& in) { return poly1_loss(in[0], flat_targets, o); }, {flat});
        fgtest::check_gradcheck(
            [&](const std::vector<Tensor>& in) { return poly1_loss(in[0], pixel_targets, o); }, {pixels});
    }
}

TEST_CASE("poly1_loss with epsilon 0 is cross_entropy: loss and gradient, every reduction and layout") {
    Generator gen(6);
    for (const Shape& shape : {Shape{30, 10}, Shape{4, 5, 3, 3}}) {
        Tensor logits = Tensor::normal(shape, 0.0f, 3.0f, gen);
        const int64_t rows = logits.numel() / shape[1];
        std::vector<int> t = lossref::random_targets(rows, shape[1], 6, 0.2);
        for (Reduction reduction : kReductions) {
            CAPTURE(shape);
            CAPTURE(reduction);
            Poly1Options o;
            o.epsilon = 0.0f;
            o.reduction = reduction;
            CrossEntropyOptions ce;
            ce.reduction = reduction;
            lossref::Run poly = lossref::run([&](const Tensor& x) { return poly1_loss(x, t, o); }, logits, 4);
            lossref::Run cross =
                lossref::run([&](const Tensor& x) { return cross_entropy(x, t, ce); }, logits, 4);
            lossref::check_rel(poly.out, lossref::Vec(cross.out.begin(), cross.out.end()), 1e-5, "loss");
            lossref::check_rel(poly.grad, lossref::Vec(cross.grad.begin(), cross.grad.end()), 1e-5,
                               "gradient");
        }
    }
}

TEST_CASE("poly1_loss: its gradient is cross-entropy's scaled by 1 + epsilon p_t, row by row") {
    Tensor logits = lossref::random_logits(8, 5, 8);
    std::vector<int> t = lossref::random_targets(8, 5, 8);
    Poly1Options o;
    o.epsilon = 3.0f;
    o.reduction = Reduction::Sum;
    CrossEntropyOptions ce;
    ce.reduction = Reduction::Sum;
    lossref::Run poly = lossref::run([&](const Tensor& x) { return poly1_loss(x, t, o); }, logits, 1);
    lossref::Run cross = lossref::run([&](const Tensor& x) { return cross_entropy(x, t, ce); }, logits, 1);
    for (int64_t i = 0; i < 8; ++i) {
        const double pt = std::exp(lossref::log_softmax(lossref::row_of(logits, i))[size_t(t[size_t(i)])]);
        for (int64_t j = 0; j < 5; ++j)
            CHECK(poly.grad[size_t(i * 5 + j)] ==
                  lossref::rel((1.0 + 3.0 * pt) * cross.grad[size_t(i * 5 + j)], 1e-5));
    }
}

TEST_CASE("poly1_loss: a mean over no row is 0 with a zero gradient; one op on the tape") {
    Tensor x = lossref::random_logits(3, 4, 2).set_requires_grad(true);
    Tensor loss = poly1_loss(x, {-100, -100, -100});
    CHECK(tape_size() == 1);
    CHECK(loss.item() == 0.0f);
    loss.backward();
    for (float g : x.grad().to_vector()) CHECK(g == 0.0f);
}

TEST_CASE("poly1_loss rejects bad arguments with the toolkit's messages") {
    Tensor logits = lossref::random_logits(3, 4, 1);
    CHECK_ERROR(poly1_loss(logits, {0, 1}), "poly1_loss", "2 targets", "3 rows");
    CHECK_ERROR(poly1_loss(logits, {0, 1, 4}), "poly1_loss", "target 4", "out of range for 4 classes");
    CHECK_ERROR(poly1_loss(Tensor::zeros({4}), {0}), "poly1_loss", "[N, C]");
    logits.data()[2] = INFINITY;
    CHECK_ERROR(poly1_loss(logits, {0, 1, 2}), "poly1_loss", "inf", "[0, 2]");
}
