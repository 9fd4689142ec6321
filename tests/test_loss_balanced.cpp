// test_loss_balanced.cpp — class_weights against the formulas, balanced_cross_entropy (equal
// counts give CE; otherwise the weighted mean with weights computed here in double), and
// balanced_binary_cross_entropy against its double reference, with gradcheck and errors.
#include <cmath>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/losses/balanced_cross_entropy.h>
#include <focalgrad/losses/cross_entropy.h>

#include "helpers.h"
#include "test_loss_reference.h"

using namespace focalgrad;
using lossref::Ref;
using lossref::Vec;

namespace {

const Reduction kReductions[] = {Reduction::None, Reduction::Mean, Reduction::Sum};

}  // namespace

TEST_CASE("class_weights follow their formulas") {
    const std::vector<int64_t> counts = {500, 40, 3, 1000};
    const double N = 1543, C = 4;
    std::vector<float> inv = class_weights(counts, WeightScheme::InverseFrequency);
    std::vector<float> sq = class_weights(counts, WeightScheme::InverseSqrt);
    for (size_t c = 0; c < counts.size(); ++c) {
        CHECK(inv[c] == lossref::rel(N / (C * double(counts[c])), 1e-7));
        CHECK(sq[c] == lossref::rel(std::sqrt(N / (C * double(counts[c]))), 1e-7));
    }
    for (double beta : {0.0, 0.9, 0.999, 0.9999}) {
        CAPTURE(beta);
        std::vector<float> eff = class_weights(counts, WeightScheme::EffectiveNumber, beta);
        Vec raw;
        double raw_sum = 0.0;
        for (int64_t n : counts) {
            raw.push_back((1.0 - beta) / (1.0 - std::pow(beta, double(n))));
            raw_sum += raw.back();
        }
        double sum = 0.0;
        for (size_t c = 0; c < counts.size(); ++c) {
            CHECK(eff[c] == lossref::rel(raw[c] * C / raw_sum, 1e-6));
            sum += eff[c];
        }
        CHECK(sum == lossref::rel(C, 1e-6));   // normalised to Σ w = C
        if (beta > 0) CHECK(eff[2] > eff[1]);  // the rarest class weighs most
    }
}

TEST_CASE("class_weights are all 1 for equal counts, in every scheme") {
    for (WeightScheme s :
         {WeightScheme::InverseFrequency, WeightScheme::InverseSqrt, WeightScheme::EffectiveNumber})
        for (float w : class_weights({37, 37, 37, 37, 37}, s)) CHECK(w == lossref::rel(1.0, 1e-6));
}

TEST_CASE("balanced_cross_entropy with equal counts equals cross_entropy") {
    const int64_t N = 50, C = 5;
    Tensor logits = lossref::random_logits(N, C, 12);
    std::vector<int> t = lossref::random_targets(N, C, 12, 0.1);
    for (WeightScheme s :
         {WeightScheme::InverseFrequency, WeightScheme::InverseSqrt, WeightScheme::EffectiveNumber})
        for (Reduction reduction : kReductions) {
            CAPTURE(reduction);
            BalancedCEOptions bo;
            bo.scheme = s;
            bo.reduction = reduction;
            bo.label_smoothing = 0.1f;
            CrossEntropyOptions co;
            co.reduction = reduction;
            co.label_smoothing = 0.1f;
            lossref::Run b = lossref::run(
                [&](const Tensor& x) {
                    return balanced_cross_entropy(x, t, {20, 20, 20, 20, 20}, bo);
                },
                logits, 1);
            lossref::Run c =
                lossref::run([&](const Tensor& x) { return cross_entropy(x, t, co); }, logits, 1);
            for (size_t i = 0; i < b.out.size(); ++i) CHECK(b.out[i] == lossref::rel(c.out[i], 1e-6));
            for (size_t i = 0; i < b.grad.size(); ++i) CHECK(b.grad[i] == lossref::rel(c.grad[i], 1e-6));
        }
}

TEST_CASE("balanced_cross_entropy is the weighted mean with inverse-frequency weights") {
    const int64_t N = 64, C = 4;
    const std::vector<int64_t> counts = {900, 60, 30, 10};
    Vec w;
    for (int64_t n : counts) w.push_back(1000.0 / (4.0 * double(n)));
    for (uint64_t seed : {1u, 2u, 3u})
        for (float eps : {0.0f, 0.1f})
            for (Reduction reduction : kReductions) {
                CAPTURE(seed);
                CAPTURE(eps);
                CAPTURE(reduction);
                Tensor logits = lossref::random_logits(N, C, seed);
                std::vector<int> t = lossref::random_targets(N, C, seed, 0.1);
                BalancedCEOptions o;
                o.reduction = reduction;
                o.label_smoothing = eps;
                lossref::Run r = lossref::run(
                    [&](const Tensor& x) { return balanced_cross_entropy(x, t, counts, o); }, logits, seed);
                auto valid = [&](int64_t i) { return t[size_t(i)] != o.ignore_index; };
                Ref ref = lossref::reduce_reference(
                    logits,
                    [&](const Vec& z, int64_t i) {
                        return valid(i) ? lossref::ce_row(z, t[size_t(i)], w, eps) : 0.0;
                    },
                    [&](int64_t i) { return valid(i) ? w[size_t(t[size_t(i)])] : 0.0; }, reduction,
                    r.upstream);
                lossref::check_rel(r.out, ref.out, 1e-5, "loss");
                lossref::check_rel(r.grad, ref.grad, 1e-5, "gradient");
            }
}

TEST_CASE("balanced_cross_entropy passes gradcheck for each reduction and scheme") {
    Tensor logits = lossref::random_logits(5, 3, 14, 1.0f);
    std::vector<int> t = {0, 2, -100, 1, 2};
    for (WeightScheme s :
         {WeightScheme::InverseFrequency, WeightScheme::InverseSqrt, WeightScheme::EffectiveNumber})
        for (Reduction reduction : kReductions) {
            CAPTURE(reduction);
            BalancedCEOptions o;
            o.scheme = s;
            o.beta = 0.99;
            o.reduction = reduction;
            fgtest::check_gradcheck(
                [&](const std::vector<Tensor>& in) {
                    return balanced_cross_entropy(in[0], t, {300, 20, 5}, o);
                },
                {logits});
        }
}

TEST_CASE("balanced losses equal the same losses composed from core ops") {
    // Balanced CE: log_softmax -> gather -> weights -> weighted mean.
    const int64_t N = 32, C = 4;
    const std::vector<int64_t> counts = {500, 50, 20, 5};
    Tensor logits = lossref::random_logits(N, C, 15);
    std::vector<int> t = lossref::random_targets(N, C, 15);
    std::vector<float> w = class_weights(counts, WeightScheme::EffectiveNumber, 0.999);
    Tensor wt = Tensor::empty({N});
    for (int64_t i = 0; i < N; ++i) wt.data()[i] = w[size_t(t[size_t(i)])];
    BalancedCEOptions o;
    o.scheme = WeightScheme::EffectiveNumber;
    o.beta = 0.999;
    Tensor x1 = logits.clone().set_requires_grad(true);
    Tensor fused = balanced_cross_entropy(x1, t, counts, o);
    fused.backward();
    Tensor x2 = logits.clone().set_requires_grad(true);
    Tensor composed = sum(neg(gather(log_softmax(x2, 1), t)) * wt) / sum(wt);
    composed.backward();
    CHECK(fused.item() == lossref::rel(composed.item(), 1e-5));
    std::vector<double> g2;
    for (float v : x2.grad().to_vector()) g2.push_back(v);
    fgtest::check_close(x1.grad(), g2, 1e-5, 1e-7);

    // α-balanced BCE: sigmoid -> log -> weighted sum -> mean.
    Tensor x = lossref::random_logits(16, 5, 16, 1.0f);
    Generator gen(16);
    Tensor y = Tensor::rand({16, 5}, gen);
    const float alpha = 0.3f;
    Tensor b1 = x.clone().set_requires_grad(true);
    Tensor fused_b = balanced_binary_cross_entropy(b1, y, alpha);
    fused_b.backward();
    Tensor b2 = x.clone().set_requires_grad(true);
    Tensor p = sigmoid(b2);
    Tensor composed_b = mean(neg(y * alpha * log(p) + (1.0f - y) * (1.0f - alpha) * log(1.0f - p)));
    composed_b.backward();
    CHECK(fused_b.item() == lossref::rel(composed_b.item(), 1e-5));
    std::vector<double> gb;
    for (float v : b2.grad().to_vector()) gb.push_back(v);
    fgtest::check_close(b1.grad(), gb, 1e-5, 1e-8);
}

TEST_CASE("balanced_binary_cross_entropy matches the double reference") {
    const Shape shape{64, 10};
    for (uint64_t seed : {1u, 2u, 3u})
        for (bool soft : {false, true})
            for (float alpha : {0.0f, 0.25f, 0.5f, 1.0f})
                for (Reduction reduction : kReductions) {
                    CAPTURE(seed);
                    CAPTURE(soft);
                    CAPTURE(alpha);
                    CAPTURE(reduction);
                    Tensor x = lossref::random_logits(shape[0], shape[1], seed, 4.0f);
                    Generator gen(seed + 400);
                    Tensor y = Tensor::empty(shape);
                    for (int64_t i = 0; i < y.numel(); ++i)
                        y.data()[i] = soft ? gen.uniform() : float(gen.below(2));
                    lossref::Run r = lossref::run(
                        [&](const Tensor& in) {
                            return balanced_binary_cross_entropy(in, y, alpha, reduction);
                        },
                        x, seed);
                    const int64_t n = x.numel();
                    Vec per(static_cast<size_t>(n), 0.0), grad(static_cast<size_t>(n), 0.0);
                    double total = 0.0;
                    for (int64_t i = 0; i < n; ++i) {
                        per[size_t(i)] = lossref::balanced_bce(x.data()[i], y.data()[i], alpha);
                        total += per[size_t(i)];
                        double u = reduction == Reduction::None ? r.upstream[size_t(i)] : r.upstream[0];
                        if (reduction == Reduction::Mean) u /= double(n);
                        grad[size_t(i)] = u * lossref::derivative(
                                                  [&](const Vec& z) {
                                                      return lossref::balanced_bce(z[0], y.data()[i], alpha);
                                                  },
                                                  Vec{x.data()[i]}, 0);
                    }
                    Vec out = reduction == Reduction::None
                                  ? per
                                  : Vec{reduction == Reduction::Sum ? total : total / double(n)};
                    lossref::check_rel(r.out, out, 1e-5, "loss");
                    lossref::check_rel(r.grad, grad, 1e-5, "gradient");
                }
}

TEST_CASE("balanced_binary_cross_entropy passes gradcheck for each reduction") {
    Tensor x = lossref::random_logits(3, 4, 13, 1.0f);
    Generator gen(13);
    Tensor y = Tensor::rand({3, 4}, gen);
    for (Reduction reduction : kReductions) {
        CAPTURE(reduction);
        fgtest::check_gradcheck(
            [&](const std::vector<Tensor>& in) {
                return balanced_binary_cross_entropy(in[0], y, 0.3f, reduction);
            },
            {x});
    }
}

TEST_CASE("balanced_binary_cross_entropy: extreme logits stay finite; perfect elements give 0") {
    Tensor x = Tensor::from({1e4f, -1e4f, -1e4f, 1e4f}, {4});
    Tensor y = Tensor::from({1.0f, 0.0f, 1.0f, 0.0f}, {4});
    lossref::Run r = lossref::run(
        [&](const Tensor& in) { return balanced_binary_cross_entropy(in, y, 0.25f, Reduction::None); }, x, 2);
    CHECK(r.out[0] == 0.0f);
    CHECK(r.out[1] == 0.0f);
    CHECK(r.out[2] == lossref::rel(0.25 * 1e4, 1e-6));
    CHECK(r.out[3] == lossref::rel(0.75 * 1e4, 1e-6));
    CHECK(r.grad[0] == 0.0f);
    CHECK(r.grad[1] == 0.0f);
    CHECK(r.grad[2] == lossref::rel(-0.25 * r.upstream[2], 1e-6));
    CHECK(r.grad[3] == lossref::rel(0.75 * r.upstream[3], 1e-6));
}

TEST_CASE("balanced losses reject bad arguments with clear messages") {
    CHECK_ERROR(class_weights({}, WeightScheme::InverseFrequency), "class_weights", "empty");
    CHECK_ERROR(class_weights({10, 0, 5}, WeightScheme::InverseFrequency), "class 1", "count 0");
    CHECK_ERROR(class_weights({10, -3}, WeightScheme::InverseSqrt), "class 1", "count -3");
    CHECK_ERROR(class_weights({10, 5}, WeightScheme::EffectiveNumber, 1.0), "beta", "[0, 1)");
    Tensor logits = lossref::random_logits(4, 3, 1);
    CHECK_ERROR(balanced_cross_entropy(logits, {0, 1, 2, 0}, {10, 20}), "balanced_cross_entropy",
                "2 class counts", "C = 3");
    CHECK_ERROR(balanced_cross_entropy(logits, {0, 1, 7, 0}, {10, 20, 30}), "target 7");
    Tensor x = Tensor::zeros({2, 2});
    Tensor y = Tensor::ones({2, 2});
    CHECK_ERROR(balanced_binary_cross_entropy(x, y, 1.5f), "balanced_binary_cross_entropy", "alpha", "1.5");
    CHECK_ERROR(balanced_binary_cross_entropy(x, Tensor::ones({4}), 0.5f), "shape [2, 2]", "[4]");
    Tensor xn = x.clone();
    xn.data()[3] = NAN;
    CHECK_ERROR(balanced_binary_cross_entropy(xn, y, 0.5f), "logits", "nan", "[1, 1]");
}
