// test_loss_fast_vs_reference.cpp — every fused loss's fast form against its reference::
// form (the plain double-precision loops its .cpp opens with), output and gradient for a
// random upstream gradient, on random and extreme logits, with every option and reduction:
// |fast - reference| <= 1e-5 |reference| + 1e-7 for every element (check_same: the floor
// scales with the entries beyond 1). Also: the references are
// ops that pass gradcheck, the core-case references equal the option forms' defaults, and
// the references agree with the independent oracle of test_loss_reference.h.
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/random.h>
#include <focalgrad/losses/losses.h>

#include "helpers.h"
#include "test_loss_reference.h"

using namespace focalgrad;

namespace {

const Reduction kReductions[] = {Reduction::None, Reduction::Mean, Reduction::Sum};
using LossFn = std::function<Tensor(const Tensor&)>;

// Random logits N(0, 2.5²), or extreme ones: per row one of a dominant class (+30, +100 or
// +1e4 over the rest, so p_t -> 1 or -> 0 depending on the target), all-equal logits, a
// spread of N(0, 50²), or very negative logits with one near 0.
Tensor make_logits(const Shape& shape, bool extreme, uint64_t seed) {
    Generator gen(seed);
    Tensor z = Tensor::normal(shape, 0.0f, 2.5f, gen);
    if (!extreme) return z;
    const int64_t N = shape[0], C = shape[1], positions = z.numel() / (N * C);
    const float lifts[] = {30.0f, 100.0f, 1e4f};
    for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < positions; ++k) {
            auto at = [&](int64_t j) -> float& { return z.data()[(n * C + j) * positions + k]; };
            const uint32_t kind = gen.below(5u);
            const int64_t top = int64_t(gen.below(uint32_t(C)));
            if (kind <= 2) at(top) += lifts[kind];
            if (kind == 3)
                for (int64_t j = 0; j < C; ++j) at(j) = 7.0f;
            if (kind == 4)
                for (int64_t j = 0; j < C; ++j) at(j) = j == top ? at(j) : at(j) * 50.0f - 1e3f;
        }
    return z;
}

std::vector<int> make_targets(int64_t rows, int64_t C, bool with_ignored, uint64_t seed) {
    return lossref::random_targets(rows, C, seed, with_ignored ? 0.2 : 0.0);
}

// Targets in [0, 1]: 0/1 labels, or soft ones.
Tensor make_binary_targets(const Shape& shape, bool soft, uint64_t seed) {
    Generator gen(seed + 3);
    Tensor y = Tensor::rand(shape, gen);
    if (!soft)
        for (int64_t i = 0; i < y.numel(); ++i) y.data()[i] = y.data()[i] < 0.3f ? 1.0f : 0.0f;
    return y;
}

// The acceptance rule, element by element: |fast - reference| <= 1e-5 |reference| + floor,
// floor = 1e-7 max(1, max |reference|). The floor is 1e-7 for outputs and gradients of size
// <= 1; beyond, it grows with their scale, because an entry that is the difference of terms
// of that size (Wy p_j - w_j y_j with soft targets summing to 3, times a random upstream
// gradient) is no more exact than float's 6e-8 of them.
void check_same(const std::vector<float>& fast, const std::vector<float>& reference,
                const std::string& what) {
    REQUIRE(fast.size() == reference.size());
    double largest = 1.0;
    for (float r : reference) largest = std::max(largest, double(std::fabs(r)));
    int reported = 0;
    for (size_t i = 0; i < fast.size(); ++i) {
        const double err = std::fabs(double(fast[i]) - double(reference[i]));
        if (err <= 1e-5 * std::fabs(double(reference[i])) + 1e-7 * largest && std::isfinite(fast[i]))
            continue;
        if (reported++ < 5)
            FAIL_CHECK(what, " element ", i, ": fast ", fast[i], ", reference ", reference[i], " (error ",
                       err, ")");
    }
    CHECK_MESSAGE(reported == 0, what, ": ", reported, " of ", fast.size(), " elements differ");
}

// Runs both forms on the same logits with the same random upstream gradient and compares.
void check_fast_equals_reference(const LossFn& fast, const LossFn& reference, const Tensor& logits,
                                 uint64_t seed, const std::string& what) {
    lossref::Run f = lossref::run(fast, logits, seed);
    lossref::Run r = lossref::run(reference, logits, seed);
    check_same(f.out, r.out, what + " output");
    check_same(f.grad, r.grad, what + " gradient");
}

Shape layout_shape(bool strided, int64_t N, int64_t C) { return strided ? Shape{N, C, 3, 2} : Shape{N, C}; }
int64_t rows_of(bool strided, int64_t N) { return strided ? N * 6 : N; }

}  // namespace

TEST_CASE("cross_entropy (class indices): fast form equals reference::cross_entropy for every option") {
    const int64_t N = 48, C = 10;
    uint64_t seed = 0;
    for (bool extreme : {false, true})
        for (bool strided : {false, true})
            for (bool weighted : {false, true})
                for (float eps : {0.0f, 0.1f})
                    for (bool with_ignored : {false, true})
                        for (Reduction reduction : kReductions) {
                            ++seed;
                            Tensor logits = make_logits(layout_shape(strided, N, C), extreme, seed);
                            std::vector<int> t = make_targets(rows_of(strided, N), C, with_ignored, seed);
                            CrossEntropyOptions o;
                            if (weighted) o.weight = lossref::to_tensor(lossref::random_weights(C, seed));
                            o.label_smoothing = eps;
                            o.reduction = reduction;
                            std::string what =
                                str("extreme ", extreme, " strided ", strided, " weighted ", weighted,
                                    " eps ", eps, " ignored ", with_ignored, " ", reduction);
                            check_fast_equals_reference(
                                [&](const Tensor& x) { return cross_entropy(x, t, o); },
                                [&](const Tensor& x) { return reference::cross_entropy(x, t, o); }, logits,
                                seed, what);
                        }
}

TEST_CASE("cross_entropy (probability targets): fast form equals reference::cross_entropy for every option") {
    const int64_t N = 48, C = 7;
    uint64_t seed = 100;
    for (bool extreme : {false, true})
        for (bool strided : {false, true})
            for (bool weighted : {false, true})
                for (float eps : {0.0f, 0.2f})
                    for (Reduction reduction : kReductions) {
                        ++seed;
                        const Shape shape = layout_shape(strided, N, C);
                        Tensor logits = make_logits(shape, extreme, seed);
                        Tensor y = make_binary_targets(shape, true, seed);
                        CrossEntropyOptions o;
                        if (weighted) o.weight = lossref::to_tensor(lossref::random_weights(C, seed));
                        o.label_smoothing = eps;
                        o.reduction = reduction;
                        std::string what = str("extreme ", extreme, " strided ", strided, " weighted ",
                                               weighted, " eps ", eps, " ", reduction);
                        check_fast_equals_reference(
                            [&](const Tensor& x) { return cross_entropy(x, y, o); },
                            [&](const Tensor& x) { return reference::cross_entropy(x, y, o); }, logits, seed,
                            what);
                    }
}

TEST_CASE("focal_loss: fast form equals reference::focal_loss for every option") {
    const int64_t N = 40, C = 6;
    uint64_t seed = 200;
    for (bool extreme : {false, true})
        for (bool strided : {false, true})
            for (int alpha_kind : {0, 1, 2})  // none, scalar, per class
                for (float gamma : {0.0f, 0.5f, 1.0f, 2.0f, 5.0f})
                    for (bool with_ignored : {false, true})
                        for (bool by_alpha : {false, true})
                            for (Reduction reduction : kReductions) {
                                ++seed;
                                Tensor logits = make_logits(layout_shape(strided, N, C), extreme, seed);
                                std::vector<int> t = make_targets(rows_of(strided, N), C, with_ignored, seed);
                                FocalLossOptions o;
                                o.gamma = gamma;
                                if (alpha_kind == 1) o.alpha = Tensor::scalar(0.25f);
                                if (alpha_kind == 2)
                                    o.alpha = lossref::to_tensor(lossref::random_weights(C, seed));
                                o.background_class = 2;
                                o.normalize_by_alpha = by_alpha;
                                o.reduction = reduction;
                                std::string what = str("extreme ", extreme, " strided ", strided, " alpha ",
                                                       alpha_kind, " gamma ", gamma, " ignored ",
                                                       with_ignored, " by_alpha ", by_alpha, " ", reduction);
                                check_fast_equals_reference(
                                    [&](const Tensor& x) { return focal_loss(x, t, o); },
                                    [&](const Tensor& x) { return reference::focal_loss(x, t, o); }, logits,
                                    seed, what);
                            }
}

TEST_CASE("sigmoid_focal_loss: fast form equals reference::sigmoid_focal_loss for every option and variant") {
    uint64_t seed = 300;
    for (bool extreme : {false, true})
        for (bool soft : {false, true})
            for (float gamma : {0.0f, 0.5f, 2.0f, 3.0f, 5.0f})
                for (float alpha : {-1.0f, 0.25f})
                    for (bool normalized : {false, true})
                        for (float tau : {0.0f, 0.5f})
                            for (Reduction reduction : kReductions) {
                                ++seed;
                                const Shape shape{12, 5, 3};
                                Tensor logits = make_logits(shape, extreme, seed);
                                Tensor y = make_binary_targets(shape, soft, seed);
                                SigmoidFocalLossOptions o;
                                o.gamma = gamma;
                                o.alpha = alpha;
                                o.normalized = normalized;
                                o.reduced_threshold = tau;
                                o.reduction = reduction;
                                std::string what =
                                    str("extreme ", extreme, " soft ", soft, " gamma ", gamma, " alpha ",
                                        alpha, " normalized ", normalized, " tau ", tau, " ", reduction);
                                check_fast_equals_reference(
                                    [&](const Tensor& x) { return sigmoid_focal_loss(x, y, o); },
                                    [&](const Tensor& x) { return reference::sigmoid_focal_loss(x, y, o); },
                                    logits, seed, what);
                            }
}

TEST_CASE("balanced_binary_cross_entropy: fast form equals its reference for every alpha and reduction") {
    uint64_t seed = 400;
    for (bool extreme : {false, true})
        for (bool soft : {false, true})
            for (float alpha : {0.0f, 0.25f, 0.5f, 1.0f})
                for (Reduction reduction : kReductions) {
                    ++seed;
                    const Shape shape{16, 9};
                    Tensor logits = make_logits(shape, extreme, seed);
                    Tensor y = make_binary_targets(shape, soft, seed);
                    std::string what =
                        str("extreme ", extreme, " soft ", soft, " alpha ", alpha, " ", reduction);
                    check_fast_equals_reference(
                        [&](const Tensor& x) {
                            return balanced_binary_cross_entropy(x, y, alpha, reduction);
                        },
                        [&](const Tensor& x) {
                            return reference::balanced_binary_cross_entropy(x, y, alpha, reduction);
                        },
                        logits, seed, what);
                }
}

TEST_CASE(
    "dense options: fast forms equal their references (weights, class_alpha, normalizer, SMP multiclass)") {
    uint64_t seed = 500;
    const Shape shape{6, 4, 5};
    Tensor class_alpha = Tensor::from({0.1f, 0.25f, 0.75f, 1.0f}, {4});
    for (bool extreme : {false, true})
        for (int weights : {0, 1, 2})  // none, 0/1, general
            for (bool per_class : {false, true})
                for (bool normalized : {false, true})
                    for (float tau : {0.0f, 0.5f})
                        for (Reduction reduction : kReductions) {
                            ++seed;
                            Tensor logits = make_logits(shape, extreme, seed);
                            Tensor y = make_binary_targets(shape, seed % 2 == 0, seed);
                            Tensor w;
                            if (weights) {
                                Generator gen(seed + 9);
                                w = Tensor::rand(shape, gen);
                                for (int64_t i = 0; i < w.numel(); ++i)
                                    w.data()[i] = w.data()[i] < 0.25f ? 0.0f
                                                  : weights == 1      ? 1.0f
                                                                      : 3.0f * w.data()[i];
                            }
                            SigmoidFocalLossOptions o;
                            o.gamma = seed % 3 == 0 ? 0.5f : 2.0f;
                            o.normalized = normalized;
                            o.reduced_threshold = tau;
                            o.reduction = reduction;
                            o.weight = w;
                            if (per_class) o.class_alpha = class_alpha;
                            if (reduction == Reduction::Mean && seed % 2) o.normalizer = double(seed % 5);
                            std::string what =
                                str("extreme ", extreme, " weights ", weights, " per_class ", per_class,
                                    " normalized ", normalized, " tau ", tau, " ", reduction);
                            check_fast_equals_reference(
                                [&](const Tensor& x) { return sigmoid_focal_loss(x, y, o); },
                                [&](const Tensor& x) { return reference::sigmoid_focal_loss(x, y, o); },
                                logits, seed, "sigmoid_focal_loss " + what);
                            if (normalized || tau > 0) continue;
                            BalancedBCEOptions b;
                            b.reduction = reduction, b.weight = w, b.normalizer = o.normalizer;
                            if (per_class) b.class_alpha = class_alpha;
                            check_fast_equals_reference(
                                [&](const Tensor& x) { return balanced_binary_cross_entropy(x, y, b); },
                                [&](const Tensor& x) {
                                    return reference::balanced_binary_cross_entropy(x, y, b);
                                },
                                logits, seed, "balanced_binary_cross_entropy " + what);
                        }
    const SmpReduction smp_reductions[] = {SmpReduction::None, SmpReduction::Mean, SmpReduction::Sum,
                                           SmpReduction::BatchwiseMean};
    for (bool extreme : {false, true})
        for (bool strided : {false, true})
            for (float gamma : {0.0f, 0.5f, 2.0f})
                for (bool normalized : {false, true})
                    for (float tau : {0.0f, 0.5f})
                        for (SmpReduction reduction : smp_reductions) {
                            ++seed;
                            const int64_t N = 8, C = 5;
                            Tensor logits = make_logits(layout_shape(strided, N, C), extreme, seed);
                            std::vector<int> t = make_targets(rows_of(strided, N), C, true, seed);
                            SmpFocalLossOptions o;
                            o.alpha = seed % 2 ? 0.25f : -1.0f;
                            o.gamma = gamma;
                            o.normalized = normalized;
                            o.reduced_threshold = tau;
                            o.reduction = reduction;
                            std::string what = str("smp_multiclass_focal_loss extreme ", extreme, " strided ",
                                                   strided, " gamma ", gamma, " normalized ", normalized,
                                                   " tau ", tau, " ", int(reduction));
                            check_fast_equals_reference(
                                [&](const Tensor& x) { return smp_multiclass_focal_loss(x, t, o); },
                                [&](const Tensor& x) {
                                    return reference::smp_multiclass_focal_loss(x, t, o);
                                },
                                logits, seed, what);
                        }
}

TEST_CASE("the core-case references equal the option forms with default options, and the fast forms") {
    for (bool extreme : {false, true}) {
        CAPTURE(extreme);
        Tensor logits = make_logits({30, 8}, extreme, 7);
        std::vector<int> t = make_targets(30, 8, false, 7);
        Tensor y = make_binary_targets({30, 8}, false, 7);
        check_fast_equals_reference([&](const Tensor& x) { return reference::cross_entropy(x, t, {}); },
                                    [&](const Tensor& x) { return reference::cross_entropy(x, t); }, logits,
                                    1, "cross_entropy options form vs core");
        check_fast_equals_reference([&](const Tensor& x) { return cross_entropy(x, t); },
                                    [&](const Tensor& x) { return reference::cross_entropy(x, t); }, logits,
                                    1, "cross_entropy fast vs core");
        for (float gamma : {0.0f, 0.5f, 2.0f}) {
            FocalLossOptions o;
            o.gamma = gamma;
            check_fast_equals_reference([&](const Tensor& x) { return reference::focal_loss(x, t, o); },
                                        [&](const Tensor& x) { return reference::focal_loss(x, t, gamma); },
                                        logits, 2, str("focal_loss options form vs core, gamma ", gamma));
            check_fast_equals_reference([&](const Tensor& x) { return focal_loss(x, t, o); },
                                        [&](const Tensor& x) { return reference::focal_loss(x, t, gamma); },
                                        logits, 2, str("focal_loss fast vs core, gamma ", gamma));
        }
        SigmoidFocalLossOptions so;
        check_fast_equals_reference(
            [&](const Tensor& x) { return reference::sigmoid_focal_loss(x, y, so); },
            [&](const Tensor& x) { return reference::sigmoid_focal_loss(x, y, 0.25f, 2.0f); }, logits, 3,
            "sigmoid_focal_loss options form vs core");
        check_fast_equals_reference(
            [&](const Tensor& x) { return sigmoid_focal_loss(x, y); },
            [&](const Tensor& x) { return reference::sigmoid_focal_loss(x, y, 0.25f, 2.0f); }, logits, 3,
            "sigmoid_focal_loss fast vs core");
    }
}

TEST_CASE("the references agree with the independent double-precision oracle") {
    const int64_t N = 20, C = 5;
    Tensor logits = lossref::random_logits(N, C, 11);
    std::vector<int> t = lossref::random_targets(N, C, 11, 0.2);
    const lossref::Vec w = lossref::random_weights(C, 11);
    auto valid = [&](int64_t i) { return t[size_t(i)] != -100; };
    for (Reduction reduction : kReductions) {
        CAPTURE(reduction);
        CrossEntropyOptions ce;
        ce.weight = lossref::to_tensor(w);
        ce.label_smoothing = 0.1f;
        ce.reduction = reduction;
        lossref::Run r =
            lossref::run([&](const Tensor& x) { return reference::cross_entropy(x, t, ce); }, logits, 5);
        lossref::Ref ref = lossref::reduce_reference(
            logits,
            [&](const lossref::Vec& z, int64_t i) {
                return valid(i) ? lossref::ce_row(z, t[size_t(i)], w, 0.1) : 0.0;
            },
            [&](int64_t i) { return valid(i) ? w[size_t(t[size_t(i)])] : 0.0; }, reduction, r.upstream);
        lossref::check_rel(r.out, ref.out, 1e-5, "cross_entropy loss");
        lossref::check_rel(r.grad, ref.grad, 1e-5, "cross_entropy gradient");

        FocalLossOptions fo;
        fo.gamma = 0.5f;
        fo.alpha = lossref::to_tensor(w);
        fo.reduction = reduction;
        r = lossref::run([&](const Tensor& x) { return reference::focal_loss(x, t, fo); }, logits, 6);
        ref = lossref::reduce_reference(
            logits,
            [&](const lossref::Vec& z, int64_t i) {
                return valid(i) ? lossref::focal_row(z, t[size_t(i)], w[size_t(t[size_t(i)])], 0.5) : 0.0;
            },
            [&](int64_t i) { return valid(i) ? 1.0 : 0.0; }, reduction, r.upstream);
        lossref::check_rel(r.out, ref.out, 1e-5, "focal_loss loss");
        lossref::check_rel(r.grad, ref.grad, 1e-5, "focal_loss gradient");
    }
    // The elementwise losses, Sum: the gradient is the oracle's derivative times u.
    Tensor x = lossref::random_logits(4, 6, 12);
    Tensor y = make_binary_targets({4, 6}, true, 12);
    SigmoidFocalLossOptions so;
    so.reduction = Reduction::Sum;
    lossref::Run r =
        lossref::run([&](const Tensor& v) { return reference::sigmoid_focal_loss(v, y, so); }, x, 7);
    lossref::Run b = lossref::run(
        [&](const Tensor& v) {
            return reference::balanced_binary_cross_entropy(v, y, 0.25f, Reduction::Sum);
        },
        x, 8);
    double focal_total = 0.0, bce_total = 0.0;
    lossref::Vec focal_grad, bce_grad;
    for (int64_t e = 0; e < x.numel(); ++e) {
        const double xe = x.data()[e], ye = y.data()[e];
        focal_total += lossref::tv_focal(xe, ye, 0.25, 2.0);
        bce_total += lossref::balanced_bce(xe, ye, 0.25);
        auto focal_of = [&](const lossref::Vec& v) { return lossref::tv_focal(v[0], ye, 0.25, 2.0); };
        auto bce_of = [&](const lossref::Vec& v) { return lossref::balanced_bce(v[0], ye, 0.25); };
        focal_grad.push_back(r.upstream[0] * lossref::derivative(focal_of, lossref::Vec{xe}, 0));
        bce_grad.push_back(b.upstream[0] * lossref::derivative(bce_of, lossref::Vec{xe}, 0));
    }
    lossref::check_rel(r.out, {focal_total}, 1e-5, "sigmoid_focal_loss loss");
    lossref::check_rel(r.grad, focal_grad, 1e-5, "sigmoid_focal_loss gradient");
    lossref::check_rel(b.out, {bce_total}, 1e-5, "balanced_binary_cross_entropy loss");
    lossref::check_rel(b.grad, bce_grad, 1e-5, "balanced_binary_cross_entropy gradient");
}

TEST_CASE("the references are ops on the tape: one node each, and they pass gradcheck") {
    Tensor logits = lossref::random_logits(5, 4, 21, 1.0f);
    std::vector<int> t = {0, 3, 1, 1, 2};
    Tensor y = make_binary_targets({5, 4}, true, 21);
    {
        Tensor x = logits.clone().set_requires_grad(true);
        Tensor loss = reference::focal_loss(x, t, 2.0f);
        CHECK(tape_size() == 1);
        loss.backward();
        CHECK(tape_size() == 0);
    }
    fgtest::check_gradcheck([&](const std::vector<Tensor>& in) { return reference::cross_entropy(in[0], t); },
                            {logits});
    fgtest::check_gradcheck(
        [&](const std::vector<Tensor>& in) { return reference::focal_loss(in[0], t, 0.5f); }, {logits});
    for (Reduction reduction : kReductions) {
        CAPTURE(reduction);
        CrossEntropyOptions ce;
        ce.label_smoothing = 0.1f;
        ce.reduction = reduction;
        fgtest::check_gradcheck(
            [&](const std::vector<Tensor>& in) { return reference::cross_entropy(in[0], t, ce); }, {logits});
        fgtest::check_gradcheck(
            [&](const std::vector<Tensor>& in) { return reference::cross_entropy(in[0], y, ce); }, {logits});
        FocalLossOptions fo;
        fo.alpha = Tensor::scalar(0.25f);
        fo.reduction = reduction;
        fgtest::check_gradcheck(
            [&](const std::vector<Tensor>& in) { return reference::focal_loss(in[0], t, fo); }, {logits});
        SigmoidFocalLossOptions so;
        so.normalized = true;
        so.reduction = reduction;
        fgtest::check_gradcheck(
            [&](const std::vector<Tensor>& in) { return reference::sigmoid_focal_loss(in[0], y, so); },
            {logits});
        fgtest::check_gradcheck(
            [&](const std::vector<Tensor>& in) {
                return reference::balanced_binary_cross_entropy(in[0], y, 0.25f, reduction);
            },
            {logits});
    }
}

TEST_CASE("the references check their arguments like the fast forms") {
    Tensor logits = lossref::random_logits(3, 4, 1);
    CHECK_ERROR(reference::cross_entropy(logits, {0, 1, 7}), "reference::cross_entropy", "target 7",
                "[0, 4)");
    CHECK_ERROR(reference::focal_loss(logits, {0, 1}, 2.0f), "reference::focal_loss", "2 targets");
    CHECK_ERROR(reference::focal_loss(Tensor::zeros({2, 3, 4}), {0, 1, 2, 0, 1, 2, 0, 1}, 2.0f),
                "reference::focal_loss", "FocalLossOptions");
    FocalLossOptions fo;
    fo.gamma = -1.0f;
    CHECK_ERROR(reference::focal_loss(logits, {0, 1, 2}, fo), "reference::focal_loss", "gamma");
    logits.data()[5] = NAN;
    CHECK_ERROR(reference::cross_entropy(logits, {0, 1, 2}), "reference::cross_entropy", "nan", "[1, 1]");
    CHECK_ERROR(reference::sigmoid_focal_loss(logits, Tensor::zeros({3, 4}), 0.25f, 2.0f),
                "reference::sigmoid_focal_loss", "nan");
    CHECK_ERROR(reference::balanced_binary_cross_entropy(Tensor::zeros({3}), Tensor::zeros({3}), 1.5f),
                "reference::balanced_binary_cross_entropy", "alpha");
}
