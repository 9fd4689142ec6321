// test_loss_focal.cpp — the softmax focal loss: values and gradients against the double
// reference for α none / scalar / vector, every γ in {0, 0.5, 1, 2, 5}, ignored samples,
// each reduction and normalize_by_alpha; gradcheck per reduction; invariants (γ = 0 is CE);
// the scalar-α convention; 0 < γ < 1 as p_t -> 1; extreme inputs; errors; fused = composed.
#include <cmath>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/losses/cross_entropy.h>
#include <focalgrad/losses/focal_loss.h>

#include "helpers.h"
#include "test_loss_reference.h"

using namespace focalgrad;
using lossref::Ref;
using lossref::Vec;

namespace {

const Reduction kReductions[] = {Reduction::None, Reduction::Mean, Reduction::Sum};

enum class AlphaKind { None, Scalar, Vector };

// α_t per class for the reference: empty (none), the kornia/MONAI scalar convention, or a
// random vector.
Vec alpha_per_class(AlphaKind kind, int64_t C, uint64_t seed, float scalar, int background) {
    if (kind == AlphaKind::None) return {};
    if (kind == AlphaKind::Scalar) {
        Vec a(static_cast<size_t>(C), scalar);
        a[size_t(background)] = 1.0 - scalar;
        return a;
    }
    return lossref::random_weights(C, seed + 7);
}

std::vector<float> grad_of(const std::function<Tensor(const Tensor&)>& f, const Tensor& logits) {
    Tensor x = logits.clone().set_requires_grad(true);
    Tensor y = f(x);
    y.backward(Tensor::ones(y.shape()));
    return x.grad().to_vector();
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        ab += double(a[i]) * b[i];
        aa += double(a[i]) * a[i];
        bb += double(b[i]) * b[i];
    }
    return ab / std::sqrt(aa * bb);
}

}  // namespace

TEST_CASE("focal_loss matches the double reference for every option combination") {
    const int64_t N = 64, C = 10;
    const float kScalarAlpha = 0.25f;
    for (uint64_t seed : {1u, 2u, 3u})
        for (AlphaKind kind : {AlphaKind::None, AlphaKind::Scalar, AlphaKind::Vector})
            for (float gamma : {0.0f, 0.5f, 1.0f, 2.0f, 5.0f})
                for (bool with_ignored : {false, true})
                    for (bool by_alpha : {false, true})
                        for (Reduction reduction : kReductions) {
                            CAPTURE(seed);
                            CAPTURE(int(kind));
                            CAPTURE(gamma);
                            CAPTURE(with_ignored);
                            CAPTURE(by_alpha);
                            CAPTURE(reduction);
                            Tensor logits = lossref::random_logits(N, C, seed);
                            std::vector<int> t =
                                lossref::random_targets(N, C, seed, with_ignored ? 0.2 : 0.0);
                            Vec alpha = alpha_per_class(kind, C, seed, kScalarAlpha, 0);
                            FocalLossOptions o;
                            o.gamma = gamma;
                            if (kind == AlphaKind::Scalar) o.alpha = Tensor::scalar(kScalarAlpha);
                            if (kind == AlphaKind::Vector) o.alpha = lossref::to_tensor(alpha);
                            o.normalize_by_alpha = by_alpha;
                            o.reduction = reduction;
                            lossref::Run r = lossref::run(
                                [&](const Tensor& x) { return focal_loss(x, t, o); }, logits, seed);
                            auto valid = [&](int64_t i) { return t[size_t(i)] != o.ignore_index; };
                            auto alpha_t = [&](int64_t i) {
                                return lossref::weight_of(alpha, size_t(t[size_t(i)]));
                            };
                            Ref ref = lossref::reduce_reference(
                                logits,
                                [&](const Vec& z, int64_t i) {
                                    return valid(i) ? lossref::focal_row(z, t[size_t(i)], alpha_t(i), gamma)
                                                    : 0.0;
                                },
                                [&](int64_t i) { return valid(i) ? (by_alpha ? alpha_t(i) : 1.0) : 0.0; },
                                reduction, r.upstream);
                            lossref::check_rel(r.out, ref.out, 1e-5, "loss");
                            lossref::check_rel(r.grad, ref.grad, 1e-5, "gradient");
                        }
}

TEST_CASE("focal_loss passes gradcheck for each reduction") {
    Tensor logits = lossref::random_logits(5, 4, 31, 1.0f);
    std::vector<int> t = {0, 3, -100, 1, 2};
    for (float gamma : {0.5f, 2.0f})
        for (Reduction reduction : kReductions) {
            CAPTURE(gamma);
            CAPTURE(reduction);
            FocalLossOptions o;
            o.gamma = gamma;
            o.alpha = Tensor::from({0.5f, 2.0f, 1.0f, 1.5f});
            o.reduction = reduction;
            fgtest::check_gradcheck([&](const std::vector<Tensor>& in) { return focal_loss(in[0], t, o); },
                                    {logits});
            o.alpha = Tensor::scalar(0.25f);
            o.normalize_by_alpha = true;
            fgtest::check_gradcheck([&](const std::vector<Tensor>& in) { return focal_loss(in[0], t, o); },
                                    {logits});
        }
}

TEST_CASE(
    "focal_loss with gamma = 0 is cross-entropy; with an alpha vector and normalize_by_alpha, weighted CE") {
    const int64_t N = 40, C = 7;
    Tensor logits = lossref::random_logits(N, C, 41);
    std::vector<int> t = lossref::random_targets(N, C, 41, 0.2);
    Tensor alpha = lossref::to_tensor(lossref::random_weights(C, 41));
    for (Reduction reduction : kReductions) {
        CAPTURE(reduction);
        FocalLossOptions fo;
        fo.gamma = 0.0f;
        fo.reduction = reduction;
        CrossEntropyOptions co;
        co.reduction = reduction;
        auto focal = [&](const Tensor& x) { return focal_loss(x, t, fo); };
        auto ce = [&](const Tensor& x) { return cross_entropy(x, t, co); };
        fgtest::check_close(
            focal(logits),
            [&] {
                std::vector<double> v;
                for (float f : ce(logits).to_vector()) v.push_back(f);
                return v;
            }(),
            1e-6, 0.0);
        std::vector<float> gf = grad_of(focal, logits), gc = grad_of(ce, logits);
        for (size_t i = 0; i < gf.size(); ++i) CHECK(gf[i] == lossref::rel(gc[i], 1e-6));

        fo.alpha = alpha;
        fo.normalize_by_alpha = true;
        co.weight = alpha;
        std::vector<float> lf = focal(logits).to_vector(), lc = ce(logits).to_vector();
        for (size_t i = 0; i < lf.size(); ++i) CHECK(lf[i] == lossref::rel(lc[i], 1e-6));
        gf = grad_of(focal, logits);
        gc = grad_of(ce, logits);
        for (size_t i = 0; i < gf.size(); ++i) CHECK(gf[i] == lossref::rel(gc[i], 1e-6));
    }
}

TEST_CASE("focal_loss: a scalar alpha changes the gradient's direction, not just its scale") {
    // A scalar α applied to every class alike would multiply the whole gradient by α: the
    // silent no-op of other libraries. With the background convention (class 0 gets 1 - α,
    // the others α), background samples are down-weighted relative to the rest.
    const int64_t N = 48, C = 5;
    Tensor logits = lossref::random_logits(N, C, 51);
    std::vector<int> t = lossref::random_targets(N, C, 51);
    FocalLossOptions plain;
    FocalLossOptions scalar;
    scalar.alpha = Tensor::scalar(0.25f);
    FocalLossOptions uniform;  // the same α for every class: a pure rescaling
    uniform.alpha = Tensor::full({C}, 0.25f);
    std::vector<float> g0 = grad_of([&](const Tensor& x) { return focal_loss(x, t, plain); }, logits);
    std::vector<float> gs = grad_of([&](const Tensor& x) { return focal_loss(x, t, scalar); }, logits);
    std::vector<float> gu = grad_of([&](const Tensor& x) { return focal_loss(x, t, uniform); }, logits);
    CHECK(cosine(g0, gu) == doctest::Approx(1.0).epsilon(1e-6));
    CHECK(cosine(g0, gs) < 0.95);
    // Per sample: background rows are scaled by 1 - α = 0.75, the others by α = 0.25.
    for (int64_t i = 0; i < N; ++i) {
        double expected = t[size_t(i)] == 0 ? 0.75 : 0.25;
        for (int64_t j = 0; j < C; ++j) {
            size_t k = size_t(i * C + j);
            CHECK(gs[k] == lossref::rel(expected * g0[k], 1e-5));
        }
    }
    // background_class moves the 1 - α to another class.
    scalar.background_class = 3;
    std::vector<float> g3 = grad_of([&](const Tensor& x) { return focal_loss(x, t, scalar); }, logits);
    for (int64_t i = 0; i < N; ++i) {
        double expected = t[size_t(i)] == 3 ? 0.75 : 0.25;
        CHECK(g3[size_t(i * C)] == lossref::rel(expected * g0[size_t(i * C)], 1e-5));
    }
}

TEST_CASE("focal_loss with 0 < gamma < 1 stays exact as p_t -> 1, where (1 - p_t)^(gamma - 1) blows up") {
    // Row [z, 0, 0], target 0: 1 - p_t = 2 e^-z / (1 + 2 e^-z), down to 1e-26 at z = 60.
    // The unfactored backward evaluates (1 - p_t)^(γ-1) = 1e+13 or more and multiplies it by
    // numbers that round to 0 in float: NaN or garbage. The factored one is relatively exact.
    for (float gamma : {0.25f, 0.5f, 0.75f})
        for (float z : {5.0f, 10.0f, 20.0f, 40.0f, 60.0f}) {
            CAPTURE(gamma);
            CAPTURE(z);
            Tensor logits = Tensor::from({z, 0.0f, 0.0f}, {1, 3});
            std::vector<int> t = {0};
            FocalLossOptions o;
            o.gamma = gamma;
            lossref::Run r = lossref::run([&](const Tensor& x) { return focal_loss(x, t, o); }, logits, 1);
            Vec row = {z, 0.0, 0.0};
            auto f = [&](const Vec& v) { return lossref::focal_row(v, 0, 1.0, gamma); };
            // Relative accuracy, down to values of 1e-39 and less; there the float result is a
            // denormal, spaced 1.4e-45, so allow a few of those spacings.
            auto close = [](double got, double expected) {
                return std::fabs(got - expected) <= 1e-5 * std::fabs(expected) + 1e-44;
            };
            CHECK(close(r.out[0], f(row)));
            for (size_t j = 0; j < 3; ++j) {
                double expected = r.upstream[0] * lossref::derivative(f, row, j);
                CHECK(std::isfinite(r.grad[j]));
                CHECK_MESSAGE(close(r.grad[j], expected), "gradient ", j, ": ", r.grad[j], " vs ", expected);
            }
        }
}

TEST_CASE("focal_loss: extreme logits give finite losses and gradients; a perfect sample gives 0") {
    Tensor logits = Tensor::from({1e4f, -1e4f, 0.0f,    //
                                  -1e4f, 1e4f, 0.0f,    //
                                  1e4f, -1e4f, 0.0f,    //
                                  -1e4f, 1e4f, 1e4f,    //
                                  1e4f, 1e4f, 1e4f,     //
                                  -1e4f, -1e4f, 1e4f},  //
                                 {6, 3});
    std::vector<int> t = {0, 0, 2, 1, 2, 2};
    for (float gamma : {0.0f, 0.25f, 0.5f, 1.0f, 2.0f})
        for (bool with_alpha : {false, true}) {
            CAPTURE(gamma);
            CAPTURE(with_alpha);
            FocalLossOptions o;
            o.gamma = gamma;
            if (with_alpha) o.alpha = Tensor::scalar(0.25f);
            o.reduction = Reduction::None;
            lossref::Run r = lossref::run([&](const Tensor& x) { return focal_loss(x, t, o); }, logits, 2);
            for (float v : r.out) CHECK(std::isfinite(v));
            for (float g : r.grad) CHECK(std::isfinite(g));
            // Rows 0 and 5 are perfectly classified (p_t = 1 in float): loss and gradient 0.
            for (int i : {0, 5}) {
                CHECK(r.out[size_t(i)] == 0.0f);
                for (int j = 0; j < 3; ++j) CHECK(r.grad[size_t(3 * i + j)] == 0.0f);
            }
            // Row 1 is maximally wrong (p_t = 0): ℓ = α_t 2e4, gradient α_t (p - onehot).
            double background = with_alpha ? 0.75 : 1.0, other = with_alpha ? 0.25 : 1.0;
            CHECK(r.out[1] == lossref::rel(background * 2e4, 1e-6));
            CHECK(r.grad[3] == lossref::rel(-background * r.upstream[1], 1e-6));
            CHECK(r.grad[4] == lossref::rel(background * r.upstream[1], 1e-6));
            CHECK(r.grad[5] == 0.0f);
            CHECK(r.out[2] == lossref::rel(other * 1e4, 1e-6));
            // Rows 3 and 4: a tie (p_t = 1/2) and a three-way tie (p_t = 1/3).
            CHECK(r.out[3] == lossref::rel(other * std::pow(0.5, gamma) * std::log(2.0), 1e-6));
            CHECK(r.out[4] == lossref::rel(other * std::pow(2.0 / 3.0, gamma) * std::log(3.0), 1e-6));
        }
}

TEST_CASE("focal_loss equals the same loss composed from core ops") {
    // log_softmax -> gather -> exp -> 1 - p_t -> pow -> mul -> mean, through the tape.
    const int64_t N = 32, C = 6;
    Tensor logits = lossref::random_logits(N, C, 61, 1.5f);
    std::vector<int> t = lossref::random_targets(N, C, 61);
    Vec alpha = lossref::random_weights(C, 61);
    Tensor alpha_t = Tensor::empty({N});
    for (int64_t i = 0; i < N; ++i) alpha_t.data()[i] = float(alpha[size_t(t[size_t(i)])]);
    for (float gamma : {0.5f, 2.0f, 5.0f}) {
        CAPTURE(gamma);
        Tensor x1 = logits.clone().set_requires_grad(true);
        FocalLossOptions o;
        o.gamma = gamma;
        o.alpha = lossref::to_tensor(alpha);
        Tensor fused = focal_loss(x1, t, o);
        fused.backward();

        Tensor x2 = logits.clone().set_requires_grad(true);
        Tensor log_pt = gather(log_softmax(x2, 1), t);      // [N]
        Tensor modulator = pow(1.0f - exp(log_pt), gamma);  // [N]
        Tensor composed = mean(neg(alpha_t * modulator * log_pt));
        composed.backward();

        CHECK(fused.item() == lossref::rel(composed.item(), 1e-5));
        std::vector<double> g2;
        for (float v : x2.grad().to_vector()) g2.push_back(v);
        fgtest::check_close(x1.grad(), g2, 1e-5, 1e-7);
    }
}

TEST_CASE("focal_loss rejects bad arguments with clear messages") {
    Tensor logits = lossref::random_logits(4, 3, 1);
    std::vector<int> t = {0, 1, 2, 0};
    FocalLossOptions o;
    o.gamma = -1.0f;
    CHECK_ERROR(focal_loss(logits, t, o), "focal_loss", "gamma", ">= 0", "-1");
    o.gamma = NAN;
    CHECK_ERROR(focal_loss(logits, t, o), "gamma");
    o = {};
    o.alpha = Tensor::scalar(1.5f);
    CHECK_ERROR(focal_loss(logits, t, o), "scalar alpha", "[0, 1]", "1.5");
    o.alpha = Tensor::scalar(-0.1f);
    CHECK_ERROR(focal_loss(logits, t, o), "scalar alpha");
    o.alpha = Tensor::from({0.5f, 0.5f});
    CHECK_ERROR(focal_loss(logits, t, o), "alpha", "[3]", "[2]");
    o.alpha = Tensor::from({0.5f, -0.5f, 1.0f});
    CHECK_ERROR(focal_loss(logits, t, o), "alpha[1] = -0.5");
    o.alpha = Tensor::full({3, 1}, 0.5f);
    CHECK_ERROR(focal_loss(logits, t, o), "alpha", "[3, 1]");
    o.alpha = Tensor::scalar(0.25f);
    o.background_class = 3;
    CHECK_ERROR(focal_loss(logits, t, o), "background_class = 3", "3 classes");
    CHECK_ERROR(focal_loss(logits, std::vector<int>{0, 5, 2, 0}), "focal_loss", "target 5", "row 1");
    Tensor x = logits.clone();
    x.data()[4] = NAN;
    CHECK_ERROR(focal_loss(x, t), "focal_loss", "logits", "nan", "[1, 1]");
}
