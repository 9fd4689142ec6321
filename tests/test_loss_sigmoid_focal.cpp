// test_loss_sigmoid_focal.cpp — sigmoid_focal_loss against double references of
// torchvision.ops.sigmoid_focal_loss and of segmentation_models_pytorch's
// focal_loss_with_logits (normalized, reduced_threshold), for hard and soft targets, every γ,
// α on and off, each reduction; gradcheck; γ = 0, α < 0 is BCE-with-logits; extreme inputs;
// errors; fused = composed from core ops.
#include <cmath>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/core/random.h>
#include <focalgrad/losses/balanced_cross_entropy.h>
#include <focalgrad/losses/sigmoid_focal_loss.h>

#include "helpers.h"
#include "test_loss_reference.h"

using namespace focalgrad;
using lossref::Vec;

namespace {

const Reduction kReductions[] = {Reduction::None, Reduction::Mean, Reduction::Sum};

struct Variant {
    bool normalized;
    float threshold;
};

// Targets: 0/1 (hard) or uniform in [0, 1] (soft).
Tensor random_binary_targets(Shape shape, uint64_t seed, bool soft) {
    Generator gen(seed + 300);
    Tensor y = Tensor::empty(shape);
    for (int64_t i = 0; i < y.numel(); ++i) y.data()[i] = soft ? gen.uniform() : float(gen.below(2));
    return y;
}

// Moves logits whose p_t = e^(-BCE) lies within 0.02 of the threshold, where the reduced
// focal term jumps and no derivative exists.
void keep_away_from_threshold(Tensor& x, const Tensor& y, float tau) {
    if (tau <= 0) return;
    for (int64_t i = 0; i < x.numel(); ++i)
        while (std::fabs(std::exp(-lossref::bce(x.data()[i], y.data()[i])) - tau) < 0.02) x.data()[i] += 0.1f;
}

// Reference output and gradient (5-point derivative) for upstream u. With `normalized`,
// each gradient entry is u_j A'_j / Z - f'_j K / Z, a difference of two terms that can
// nearly cancel; `floor` holds 1e-6 of their size, the accuracy float can give there.
struct Ref {
    Vec out, grad, floor;
};

Ref sigmoid_focal_reference(const Tensor& x, const Tensor& y, double alpha, double gamma, Variant v,
                            Reduction reduction, const Vec& u) {
    const int64_t n = x.numel();
    const bool smp = v.normalized || v.threshold > 0;
    auto loss = [&](double xi, int64_t i) {
        double yi = y.data()[i];
        return smp ? lossref::smp_focal(xi, yi, alpha, gamma, v.threshold)
                   : lossref::tv_focal(xi, yi, alpha, gamma);
    };
    auto term = [&](double xi, int64_t i) {
        return lossref::smp_focal_term(xi, y.data()[i], gamma, v.threshold);
    };
    double focal_sum = 0.0;
    for (int64_t i = 0; i < n; ++i) focal_sum += term(x.data()[i], i);
    auto norm = [&](double fs) { return v.normalized ? std::max(fs, 1e-6) : 1.0; };
    Ref ref;
    Vec per(static_cast<size_t>(n), 0.0);
    double total = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        per[size_t(i)] = loss(x.data()[i], i) / norm(focal_sum);
        total += per[size_t(i)];
    }
    if (reduction == Reduction::None) ref.out = per;
    if (reduction == Reduction::Sum) ref.out = {total};
    if (reduction == Reduction::Mean) ref.out = {total / double(n)};
    auto weight = [&](int64_t i) {
        if (reduction == Reduction::None) return u[size_t(i)];
        return reduction == Reduction::Mean ? u[0] / double(n) : u[0];
    };
    // L = Σ_e weight_e A_e / Z: moving x_i changes only A_i and its own focal term.
    double weighted = 0.0;
    for (int64_t i = 0; i < n; ++i) weighted += weight(i) * loss(x.data()[i], i);
    ref.grad.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) {
        double xi = x.data()[i], a0 = loss(xi, i), f0 = term(xi, i);
        auto L = [&](const Vec& z) {
            return (weighted - weight(i) * a0 + weight(i) * loss(z[0], i)) /
                   norm(focal_sum - f0 + term(z[0], i));
        };
        ref.grad[size_t(i)] = lossref::derivative(L, Vec{xi}, 0);
        if (v.normalized) {
            double dA = lossref::derivative([&](const Vec& z) { return loss(z[0], i); }, Vec{xi}, 0);
            double df = lossref::derivative([&](const Vec& z) { return term(z[0], i); }, Vec{xi}, 0);
            double Z = norm(focal_sum);
            ref.floor.push_back(1e-6 * (std::fabs(weight(i) * dA) + std::fabs(df * weighted / Z)) / Z);
        }
    }
    return ref;
}

}  // namespace

TEST_CASE("sigmoid_focal_loss matches torchvision / SMP double references for every option combination") {
    const Shape shape{64, 10};
    const Variant variants[] = {{false, 0.0f}, {true, 0.0f}, {false, 0.5f}, {true, 0.3f}};
    for (uint64_t seed : {1u, 2u, 3u})
        for (bool soft : {false, true})
            for (float alpha : {-1.0f, 0.25f, 0.75f})
                for (float gamma : {0.0f, 0.5f, 1.0f, 2.0f, 5.0f})
                    for (Variant v : variants)
                        for (Reduction reduction : kReductions) {
                            CAPTURE(seed);
                            CAPTURE(soft);
                            CAPTURE(alpha);
                            CAPTURE(gamma);
                            CAPTURE(v.normalized);
                            CAPTURE(v.threshold);
                            CAPTURE(reduction);
                            Tensor x = lossref::random_logits(shape[0], shape[1], seed);
                            Tensor y = random_binary_targets(shape, seed, soft);
                            keep_away_from_threshold(x, y, v.threshold);
                            SigmoidFocalLossOptions o;
                            o.alpha = alpha;
                            o.gamma = gamma;
                            o.normalized = v.normalized;
                            o.reduced_threshold = v.threshold;
                            o.reduction = reduction;
                            lossref::Run r = lossref::run(
                                [&](const Tensor& in) { return sigmoid_focal_loss(in, y, o); }, x, seed);
                            Ref ref = sigmoid_focal_reference(x, y, alpha, gamma, v, reduction, r.upstream);
                            lossref::check_rel(r.out, ref.out, 1e-5, "loss");
                            lossref::check_rel(r.grad, ref.grad, 1e-5, "gradient", ref.floor);
                        }
}

TEST_CASE("sigmoid_focal_loss: for 0/1 targets torchvision's and SMP's p_t agree") {
    Tensor x = lossref::random_logits(16, 8, 4);
    Tensor y = random_binary_targets({16, 8}, 4, false);
    SigmoidFocalLossOptions o;
    o.reduction = Reduction::None;
    std::vector<float> out = sigmoid_focal_loss(x, y, o).to_vector();
    for (int64_t i = 0; i < x.numel(); ++i) {
        double smp = lossref::smp_focal(x.data()[i], y.data()[i], 0.25, 2.0, 0.0);
        CHECK(out[size_t(i)] == lossref::rel(smp, 1e-5));
    }
}

TEST_CASE("sigmoid_focal_loss passes gradcheck for each reduction and variant") {
    Tensor x = lossref::random_logits(3, 4, 71, 1.0f);
    for (bool soft : {false, true}) {
        Tensor y = random_binary_targets({3, 4}, 71, soft);
        for (Variant v : {Variant{false, 0.0f}, Variant{true, 0.0f}, Variant{false, 0.5f}}) {
            Tensor xv = x.clone();
            keep_away_from_threshold(xv, y, v.threshold);
            for (Reduction reduction : kReductions) {
                CAPTURE(soft);
                CAPTURE(v.normalized);
                CAPTURE(v.threshold);
                CAPTURE(reduction);
                SigmoidFocalLossOptions o;
                o.gamma = 1.5f;
                o.normalized = v.normalized;
                o.reduced_threshold = v.threshold;
                o.reduction = reduction;
                fgtest::check_gradcheck(
                    [&](const std::vector<Tensor>& in) { return sigmoid_focal_loss(in[0], y, o); }, {xv});
            }
        }
    }
}

TEST_CASE("sigmoid_focal_loss with gamma = 0 and alpha < 0 is BCE-with-logits") {
    Tensor x = lossref::random_logits(20, 5, 81, 4.0f);
    Tensor y = random_binary_targets({20, 5}, 81, true);
    SigmoidFocalLossOptions o;
    o.alpha = -1.0f;
    o.gamma = 0.0f;
    o.reduction = Reduction::None;
    std::vector<float> focal = sigmoid_focal_loss(x, y, o).to_vector();
    // BCE = 2 * (α-balanced BCE with α = 1/2), and the double formula.
    std::vector<float> half = balanced_binary_cross_entropy(x, y, 0.5f, Reduction::None).to_vector();
    for (int64_t i = 0; i < x.numel(); ++i) {
        CHECK(focal[size_t(i)] == lossref::rel(lossref::bce(x.data()[i], y.data()[i]), 1e-6));
        CHECK(focal[size_t(i)] == lossref::rel(2.0 * half[size_t(i)], 1e-6));
    }
}

TEST_CASE("sigmoid_focal_loss: extreme logits give finite losses and gradients; perfect elements give 0") {
    Tensor x = Tensor::from({1e4f, -1e4f, 1e4f, -1e4f, 0.0f, 30.0f}, {1, 6});
    Tensor y = Tensor::from({1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f}, {1, 6});
    for (float gamma : {0.0f, 0.25f, 0.5f, 1.0f, 2.0f})
        for (Variant v : {Variant{false, 0.0f}, Variant{true, 0.0f}, Variant{false, 0.5f}}) {
            CAPTURE(gamma);
            CAPTURE(v.normalized);
            CAPTURE(v.threshold);
            SigmoidFocalLossOptions o;
            o.gamma = gamma;
            o.normalized = v.normalized;
            o.reduced_threshold = v.threshold;
            o.reduction = Reduction::None;
            lossref::Run r =
                lossref::run([&](const Tensor& in) { return sigmoid_focal_loss(in, y, o); }, x, 5);
            for (float l : r.out) CHECK(std::isfinite(l));
            for (float g : r.grad) CHECK(std::isfinite(g));
            // Elements 0 and 1 are perfect (p_t = 1 in float): loss and gradient 0.
            CHECK(r.out[0] == 0.0f);
            CHECK(r.out[1] == 0.0f);
            CHECK(r.grad[0] == 0.0f);
            CHECK(r.grad[1] == 0.0f);
            // Elements 2 and 3 are maximally wrong: ℓ = α_y 1e4 / Z.
            CHECK(r.out[2] > 0.0f);
            CHECK(r.out[3] > 0.0f);
        }
    // Normalized with every element perfect: Σ f = 0, clamped to 1e-6: loss 0, no NaN.
    SigmoidFocalLossOptions o;
    o.normalized = true;
    Tensor xp = Tensor::from({1e4f, -1e4f}, {2});
    Tensor yp = Tensor::from({1.0f, 0.0f}, {2});
    lossref::Run r = lossref::run([&](const Tensor& in) { return sigmoid_focal_loss(in, yp, o); }, xp, 6);
    CHECK(r.out[0] == 0.0f);
    CHECK(r.grad[0] == 0.0f);
    CHECK(r.grad[1] == 0.0f);
}

TEST_CASE("sigmoid_focal_loss equals the same loss composed from core ops") {
    // sigmoid -> log -> BCE -> p_t -> pow -> mul -> mean, through the tape.
    Tensor x0 = lossref::random_logits(24, 6, 91, 1.0f);
    Tensor y = random_binary_targets({24, 6}, 91, true);
    const float alpha = 0.25f;
    for (float gamma : {0.5f, 2.0f}) {
        CAPTURE(gamma);
        Tensor x1 = x0.clone().set_requires_grad(true);
        SigmoidFocalLossOptions o;
        o.alpha = alpha;
        o.gamma = gamma;
        Tensor fused = sigmoid_focal_loss(x1, y, o);
        fused.backward();

        Tensor x2 = x0.clone().set_requires_grad(true);
        Tensor p = sigmoid(x2);
        Tensor ce = neg(y * log(p) + (1.0f - y) * log(1.0f - p));
        Tensor pt = p * y + (1.0f - p) * (1.0f - y);
        Tensor alpha_t = y * alpha + (1.0f - y) * (1.0f - alpha);
        Tensor composed = mean(alpha_t * ce * pow(1.0f - pt, gamma));
        composed.backward();

        CHECK(fused.item() == lossref::rel(composed.item(), 1e-5));
        std::vector<double> g2;
        for (float v : x2.grad().to_vector()) g2.push_back(v);
        fgtest::check_close(x1.grad(), g2, 1e-5, 1e-8);
    }
}

TEST_CASE("sigmoid_focal_loss rejects bad arguments with clear messages") {
    Tensor x = lossref::random_logits(2, 3, 1);
    Tensor y = Tensor::zeros({2, 3});
    CHECK_ERROR(sigmoid_focal_loss(x, Tensor::zeros({3, 2})), "sigmoid_focal_loss", "[2, 3]", "[3, 2]");
    Tensor y_bad = y.clone();
    y_bad.data()[4] = 1.5f;
    CHECK_ERROR(sigmoid_focal_loss(x, y_bad), "targets", "[0, 1]", "1.5");
    y_bad.data()[4] = NAN;
    CHECK_ERROR(sigmoid_focal_loss(x, y_bad), "targets", "[0, 1]", "nan");
    SigmoidFocalLossOptions o;
    o.gamma = -0.5f;
    CHECK_ERROR(sigmoid_focal_loss(x, y, o), "gamma", "-0.5");
    o = {};
    o.alpha = 1.5f;
    CHECK_ERROR(sigmoid_focal_loss(x, y, o), "alpha", "1.5");
    o.alpha = NAN;
    CHECK_ERROR(sigmoid_focal_loss(x, y, o), "alpha");
    o = {};
    o.reduced_threshold = 1.0f;
    CHECK_ERROR(sigmoid_focal_loss(x, y, o), "reduced_threshold", "[0, 1)");
    Tensor xn = x.clone();
    xn.data()[5] = -INFINITY;
    CHECK_ERROR(sigmoid_focal_loss(xn, y), "sigmoid_focal_loss", "logits", "-inf", "[1, 2]");
}

// The fast form checks the targets' and weights' values inside its own pass (a bad entry
// makes its loss NaN, and the full check then names it), so every mode of that pass must
// catch one, wherever it lies: past the first block and the first thread's chunk, under a
// weight of 0, with extreme logits beside it.
TEST_CASE("sigmoid_focal_loss names a bad target or weight anywhere, in every mode of its pass") {
    Generator gen(11);
    const int64_t n = 3 * kGrain + 77;
    Tensor x = Tensor::normal({n}, 0.0f, 3.0f, gen);
    x.data()[n - 2] = 3e38f;  // beside the bad entry: the overflow path must not hide it
    const int64_t at = n - 1;
    for (int mode = 0; mode < 6; ++mode) {
        SigmoidFocalLossOptions o;
        o.reduction = mode % 3 == 0 ? Reduction::Mean : mode % 3 == 1 ? Reduction::Sum : Reduction::None;
        o.normalized = mode >= 3;
        o.gamma = mode == 4 ? 1.5f : 2.0f;
        Tensor y = Tensor::zeros({n});
        y.data()[at] = mode % 2 ? NAN : -0.25f;
        Tensor xg = x.detach().set_requires_grad(mode % 2 == 0);
        CHECK_ERROR(sigmoid_focal_loss(xg, y, o), "sigmoid_focal_loss", "targets", "[0, 1]",
                    str("flat index ", at));
        o.weight = Tensor::ones({n});
        o.weight.data()[at] = 0.0f;  // a weight of 0 does not excuse a bad target
        CHECK_ERROR(sigmoid_focal_loss(xg, y, o), "targets", str("flat index ", at));
        y.data()[at] = 1.0f;
        o.weight.data()[at] = mode % 2 ? -2.0f : INFINITY;
        CHECK_ERROR(sigmoid_focal_loss(xg, y, o), "element weights", "finite and >= 0",
                    str("flat index ", at));
    }
}
