// test_loss_dense.cpp — the options of dense prediction in sigmoid_focal_loss and
// balanced_binary_cross_entropy (element weights, α per class, a normaliser from the caller)
// and smp_multiclass_focal_loss, both forms of each: against the double-precision formulas
// of test_loss_reference.h (outputs, and gradients for a random upstream gradient by a
// numeric derivative of the whole loss); weights of 0 are the same as leaving the elements
// out, also under normalized; SMP's multiclass mode against a line-by-line transcription of
// its code on [N, C, H, W] with ignore_index; gradcheck; extreme logits; errors.
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/random.h>
#include <focalgrad/losses/balanced_cross_entropy.h>
#include <focalgrad/losses/sigmoid_focal_loss.h>

#include "helpers.h"
#include "test_loss_reference.h"

using namespace focalgrad;
using lossref::Vec;

namespace {

const Reduction kReductions[] = {Reduction::None, Reduction::Mean, Reduction::Sum};
const SmpReduction kSmpReductions[] = {SmpReduction::None, SmpReduction::Mean, SmpReduction::Sum,
                                       SmpReduction::BatchwiseMean};
const char* smp_name(SmpReduction r) {
    const char* names[] = {"none", "mean", "sum", "batchwise_mean"};
    return names[int(r)];
}

Vec vec_of(const Tensor& t) {
    Vec v;
    for (float x : t.to_vector()) v.push_back(x);
    return v;
}

Tensor tensor_of(const Vec& v, const Shape& shape) {
    std::vector<float> f(v.begin(), v.end());
    return Tensor::from(f, shape);
}

// Targets 0/1 (about 30 % positive) or uniform in [0, 1].
Tensor binary_targets(const Shape& shape, bool soft, uint64_t seed) {
    Generator gen(seed + 11);
    Tensor y = Tensor::rand(shape, gen);
    if (!soft)
        for (int64_t i = 0; i < y.numel(); ++i) y.data()[i] = y.data()[i] < 0.3f ? 1.0f : 0.0f;
    return y;
}

// Element weights: kind 1 is a 0/1 mask (about a quarter ignored), kind 2 mixes zeros with
// weights in [0.2, 3]; kind 0 is no tensor.
Tensor element_weights(const Shape& shape, int kind, uint64_t seed) {
    if (kind == 0) return Tensor();
    Generator gen(seed + 23);
    Tensor w = Tensor::empty(shape);
    for (int64_t i = 0; i < w.numel(); ++i) {
        const bool ignored = gen.uniform() < 0.25f;
        w.data()[i] = ignored ? 0.0f : kind == 1 ? 1.0f : gen.uniform(0.2f, 3.0f);
    }
    return w;
}

// α of each element: class_alpha[c] for its class c (dim 1), or the scalar.
Vec alpha_per_element(const Tensor& logits, float alpha, const Vec& class_alpha) {
    Vec a(size_t(logits.numel()), alpha);
    if (class_alpha.empty()) return a;
    int64_t positions = logits.numel() / (logits.size(0) * logits.size(1));
    for (int64_t e = 0; e < logits.numel(); ++e)
        a[size_t(e)] = class_alpha[size_t((e / positions) % logits.size(1))];
    return a;
}

// Moves logits whose SMP p_t = e^(-BCE) lies within 0.03 of the threshold, where the reduced
// focal term jumps and no derivative exists.
void keep_away_from_threshold(Tensor& x, const Tensor& y, double tau) {
    if (tau <= 0) return;
    for (int64_t i = 0; i < x.numel(); ++i)
        while (std::fabs(std::exp(-lossref::bce(x.data()[i], y.data()[i])) - tau) < 0.03) x.data()[i] += 0.1f;
}

// The same for SMP's multiclass targets y = [t = c].
void keep_away_from_threshold(Tensor& z, const std::vector<int>& t, double tau) {
    if (tau <= 0) return;
    const int64_t C = z.size(1), P = z.numel() / (z.size(0) * C);
    for (int64_t e = 0; e < z.numel(); ++e) {
        const double y = t[size_t((e / (C * P)) * P + e % P)] == (e / P) % C ? 1.0 : 0.0;
        while (std::fabs(std::exp(-lossref::bce(z.data()[e], y)) - tau) < 0.03) z.data()[e] += 0.1f;
    }
}

SigmoidFocalLossOptions focal_options(float alpha, float gamma, bool normalized, float tau,
                                      Reduction reduction, const Tensor& weights, const Tensor& class_alpha,
                                      double normalizer) {
    SigmoidFocalLossOptions o;
    o.alpha = alpha;
    o.gamma = gamma;
    o.normalized = normalized;
    o.reduced_threshold = tau;
    o.reduction = reduction;
    o.weight = weights;
    o.class_alpha = class_alpha;
    if (normalizer >= 0) o.normalizer = normalizer;
    return o;
}

using Loss = std::function<Tensor(const Tensor&)>;

}  // namespace

TEST_CASE("dense options: both forms of sigmoid_focal_loss and balanced BCE match the double formulas") {
    const Shape shape{3, 4, 5};  // [N, C, d]: class_alpha along dim 1
    const Vec class_alpha = {0.1, 0.5, 0.8, 1.0};
    uint64_t seed = 0;
    for (bool soft : {false, true})
        for (int weight_kind : {0, 1, 2})
            for (bool per_class : {false, true})
                for (int variant = 0; variant < 4; ++variant)  // plain, normalized, reduced, both
                    for (Reduction reduction : kReductions)
                        for (bool with_normalizer : {false, true}) {
                            if (with_normalizer && reduction != Reduction::Mean) continue;
                            ++seed;
                            const bool normalized = variant & 1;
                            const float tau = variant & 2 ? 0.4f : 0.0f;
                            const float gamma = seed % 3 == 0 ? 0.5f : 2.0f;
                            const double normalizer = with_normalizer ? double(seed % 7) : -1.0;
                            Tensor x = lossref::random_logits(shape[0], shape[1] * shape[2], seed);
                            x = x.view(shape);
                            Tensor y = binary_targets(shape, soft, seed);
                            keep_away_from_threshold(x, y, tau);
                            Tensor w = element_weights(shape, weight_kind, seed);
                            Tensor ca = per_class ? lossref::to_tensor(class_alpha) : Tensor();
                            const Vec alpha = alpha_per_element(x, 0.25f, per_class ? class_alpha : Vec{});
                            const Vec wv = w.defined() ? vec_of(w) : Vec(size_t(x.numel()), 1.0);
                            lossref::DenseOptions d;
                            d.gamma = gamma, d.tau = tau, d.normalized = normalized,
                            d.smp = normalized || tau > 0;
                            d.reduction = reduction, d.normalizer = normalizer;
                            auto oracle = [&](const Vec& z) {
                                return lossref::dense_focal(z, vec_of(y), wv, alpha, d);
                            };
                            SigmoidFocalLossOptions o =
                                focal_options(0.25f, gamma, normalized, tau, reduction, w, ca, normalizer);
                            const std::string what =
                                str("soft ", soft, " weights ", weight_kind, " per_class ", per_class,
                                    " normalized ", normalized, " tau ", tau, " ", reduction, " normalizer ",
                                    normalizer);
                            CAPTURE(what);
                            const Loss forms[] = {
                                [&](const Tensor& v) { return sigmoid_focal_loss(v, y, o); },
                                [&](const Tensor& v) { return reference::sigmoid_focal_loss(v, y, o); }};
                            for (const Loss& form : forms) {
                                lossref::Run r = lossref::run(form, x, seed);
                                const Vec ref_grad = lossref::numeric_gradient(oracle, vec_of(x), r.upstream);
                                double scale = 0.0;
                                for (double g : ref_grad) scale = std::max(scale, std::fabs(g));
                                // normalized: u_j A'_j / Z - f'_j K / Z can nearly cancel; float
                                // gives ~1e-7 of the terms' size there.
                                const Vec floor(ref_grad.size(), normalized ? 2e-6 * scale : 0.0);
                                lossref::check_rel(r.out, oracle(vec_of(x)), 1e-5,
                                                   "sigmoid_focal_loss output");
                                lossref::check_rel(r.grad, ref_grad, 1e-5, "sigmoid_focal_loss gradient",
                                                   floor);
                            }
                            if (variant != 0 || seed % 2) continue;
                            // Balanced BCE: the focal formula at γ = 0 for hard targets; for soft
                            // ones its own, α y softplus(-x) + (1 - α)(1 - y) softplus(x).
                            BalancedBCEOptions b;
                            b.alpha = 0.25f, b.reduction = reduction, b.weight = w, b.class_alpha = ca;
                            if (with_normalizer) b.normalizer = normalizer;
                            auto bce_oracle = [&](const Vec& z) {
                                Vec loss(z.size());
                                double total = 0.0, weight_sum = 0.0;
                                for (size_t e = 0; e < z.size(); ++e) {
                                    loss[e] = wv[e] * lossref::balanced_bce(z[e], y.data()[e], alpha[e]);
                                    total += loss[e];
                                    weight_sum += wv[e];
                                }
                                if (reduction == Reduction::None) return loss;
                                if (reduction == Reduction::Sum) return Vec{total};
                                double den = with_normalizer ? std::max(normalizer, 1.0) : weight_sum;
                                return Vec{den > 0 ? total / den : 0.0};
                            };
                            const Loss bce_forms[] = {
                                [&](const Tensor& v) { return balanced_binary_cross_entropy(v, y, b); },
                                [&](const Tensor& v) {
                                    return reference::balanced_binary_cross_entropy(v, y, b);
                                }};
                            for (const Loss& form : bce_forms) {
                                lossref::Run r = lossref::run(form, x, seed);
                                lossref::check_rel(r.out, bce_oracle(vec_of(x)), 1e-5, "balanced BCE output");
                                lossref::check_rel(
                                    r.grad, lossref::numeric_gradient(bce_oracle, vec_of(x), r.upstream),
                                    1e-5, "balanced BCE gradient");
                            }
                        }
}

TEST_CASE(
    "element weights of 0 are the elements left out: loss, Mean's denominator, normalized's Z, gradient") {
    // The kept elements, copied out into a tensor of their own, give the reference: the
    // weighted loss must be the same number, its None output the same per element (0 where
    // ignored), and its gradient the same (exactly 0 where ignored), for any upstream gradient.
    const Shape shape{6, 7};
    for (uint64_t seed : {1u, 2u, 3u})
        for (float gamma : {0.0f, 0.5f, 2.0f})
            for (bool normalized : {false, true})
                for (Reduction reduction : kReductions) {
                    CAPTURE(seed);
                    CAPTURE(gamma);
                    CAPTURE(normalized);
                    CAPTURE(reduction);
                    Tensor x = lossref::random_logits(shape[0], shape[1], seed, 3.0f);
                    Tensor y = binary_targets(shape, seed == 3, seed);
                    Tensor w = element_weights(shape, 1, seed);
                    // Ignored elements may hold anything finite, extreme logits included.
                    for (int64_t i = 0; i < x.numel(); i += 5)
                        if (w.data()[i] == 0.0f) x.data()[i] = i % 2 ? 1e4f : -3e3f;
                    Vec kept_x, kept_y;
                    std::vector<int64_t> kept;
                    for (int64_t i = 0; i < x.numel(); ++i)
                        if (w.data()[i] != 0.0f) {
                            kept.push_back(i);
                            kept_x.push_back(x.data()[i]);
                            kept_y.push_back(y.data()[i]);
                        }
                    const Shape kept_shape{int64_t(kept.size())};
                    Tensor xk = tensor_of(kept_x, kept_shape), yk = tensor_of(kept_y, kept_shape);
                    SigmoidFocalLossOptions o =
                        focal_options(0.25f, gamma, normalized, 0.0f, reduction, w, Tensor(), -1);
                    SigmoidFocalLossOptions ok = o;
                    ok.weight = Tensor();
                    BalancedBCEOptions b;
                    b.reduction = reduction;
                    b.weight = w;
                    BalancedBCEOptions bk = b;
                    bk.weight = Tensor();
                    struct Pair {
                        const char* name;
                        Loss weighted, alone;
                    };
                    const Pair pairs[] = {
                        {"sigmoid_focal_loss", [&](const Tensor& v) { return sigmoid_focal_loss(v, y, o); },
                         [&](const Tensor& v) { return sigmoid_focal_loss(v, yk, ok); }},
                        {"reference::sigmoid_focal_loss",
                         [&](const Tensor& v) { return reference::sigmoid_focal_loss(v, y, o); },
                         [&](const Tensor& v) { return reference::sigmoid_focal_loss(v, yk, ok); }},
                        {"balanced_binary_cross_entropy",
                         [&](const Tensor& v) { return balanced_binary_cross_entropy(v, y, b); },
                         [&](const Tensor& v) { return balanced_binary_cross_entropy(v, yk, bk); }},
                        {"reference::balanced_binary_cross_entropy",
                         [&](const Tensor& v) { return reference::balanced_binary_cross_entropy(v, y, b); },
                         [&](const Tensor& v) {
                             return reference::balanced_binary_cross_entropy(v, yk, bk);
                         }},
                    };
                    for (const Pair& pair : pairs) {
                        if (normalized && std::string(pair.name).find("balanced") != std::string::npos)
                            continue;
                        CAPTURE(pair.name);
                        // One upstream gradient for both: per element for None, else one value.
                        Generator gen(seed + 5);
                        Tensor u =
                            reduction == Reduction::None ? Tensor::randn(shape, gen) : Tensor::scalar(0.7f);
                        Tensor uk = u;
                        if (reduction == Reduction::None) {
                            Vec kept_u;
                            for (int64_t i : kept) kept_u.push_back(u.data()[i]);
                            uk = tensor_of(kept_u, kept_shape);
                        }
                        Tensor xl = x.clone().set_requires_grad(true),
                               xkl = xk.clone().set_requires_grad(true);
                        Tensor out = pair.weighted(xl);
                        out.backward(u);
                        Tensor out_k = pair.alone(xkl);
                        out_k.backward(uk);
                        if (reduction != Reduction::None) {
                            CHECK(out.item() == lossref::rel(out_k.item(), 1e-6));
                        }
                        size_t next = 0;
                        for (int64_t i = 0; i < x.numel(); ++i) {
                            const bool is_kept = next < kept.size() && kept[next] == i;
                            const float g = xl.grad().data()[i];
                            if (!is_kept) {
                                CHECK(g == 0.0f);
                                if (reduction == Reduction::None) CHECK(out.data()[i] == 0.0f);
                                continue;
                            }
                            const float gk = xkl.grad().data()[next];
                            CHECK(g == lossref::rel(gk, 1e-5));
                            if (reduction == Reduction::None)
                                CHECK(out.data()[i] == lossref::rel(out_k.data()[next], 1e-6));
                            ++next;
                        }
                    }
                }
}

TEST_CASE(
    "masking the None output by hand is not ignoring under normalized: Z still holds the masked elements") {
    // RetinaNet-like: 2,000 anchors, 20 positives, 1,880 easy negatives and 100 anchors
    // between the IoU thresholds (ignored), whose scores are ambiguous: large focal terms.
    const int64_t n = 2000;
    Generator gen(42);
    Tensor x = Tensor::empty({n}), y = Tensor::zeros({n}), w = Tensor::ones({n});
    for (int64_t i = 0; i < n; ++i) {
        const bool positive = i < 20, ignored = i >= 20 && i < 120;
        x.data()[i] = positive  ? (0.0f + gen.normal())
                      : ignored ? (-2.0f + gen.normal())
                                : (-4.0f + gen.normal());
        y.data()[i] = positive ? 1.0f : 0.0f;
        w.data()[i] = ignored ? 0.0f : 1.0f;
    }
    SigmoidFocalLossOptions o;
    o.normalized = true;
    o.reduction = Reduction::None;
    Tensor per_element = sigmoid_focal_loss(x, y, o);
    double by_hand = 0.0;
    for (int64_t i = 0; i < n; ++i) by_hand += double(w.data()[i]) * per_element.data()[i];
    o.reduction = Reduction::Sum;
    o.weight = w;
    const double weighted = sigmoid_focal_loss(x, y, o).item();
    // The weighted loss is the loss of the kept anchors alone ...
    Vec kept_x, kept_y;
    for (int64_t i = 0; i < n; ++i)
        if (w.data()[i] != 0.0f) kept_x.push_back(x.data()[i]), kept_y.push_back(y.data()[i]);
    lossref::DenseOptions d;
    d.normalized = true, d.smp = true, d.reduction = Reduction::Sum;
    const double alone =
        lossref::dense_focal(kept_x, kept_y, Vec(kept_x.size(), 1.0), Vec(kept_x.size(), 0.25), d)[0];
    CHECK(weighted == lossref::rel(alone, 1e-5));
    // ... and masking by hand is 29 % below it (docs/losses.md quotes this figure).
    const double off = 1.0 - by_hand / weighted;
    CHECK(off == doctest::Approx(0.294).epsilon(0.01));
}

TEST_CASE(
    "normalizer: Mean is the sum over max(normalizer, 1), RetinaNet's division by the positive anchors") {
    Tensor x = lossref::random_logits(8, 9, 5);
    Tensor y = binary_targets({8, 9}, false, 5);
    Tensor w = element_weights({8, 9}, 1, 5);
    for (double normalizer : {0.0, 0.5, 1.0, 7.0, 123.0}) {
        CAPTURE(normalizer);
        SigmoidFocalLossOptions o = focal_options(0.25f, 2.0f, false, 0.0f, Reduction::Sum, w, Tensor(), -1);
        lossref::Run sum = lossref::run([&](const Tensor& v) { return sigmoid_focal_loss(v, y, o); }, x, 3);
        o.reduction = Reduction::Mean;
        o.normalizer = normalizer;
        lossref::Run mean = lossref::run([&](const Tensor& v) { return sigmoid_focal_loss(v, y, o); }, x, 3);
        const double den = std::max(normalizer, 1.0);
        CHECK(mean.out[0] == lossref::rel(sum.out[0] / den, 1e-6));
        for (size_t i = 0; i < sum.grad.size(); ++i)
            CHECK(mean.grad[i] == lossref::rel(sum.grad[i] / den, 1e-6));
        BalancedBCEOptions b;
        b.reduction = Reduction::Sum;
        b.weight = w;
        const float bce_sum = balanced_binary_cross_entropy(x, y, b).item();
        b.reduction = Reduction::Mean;
        b.normalizer = normalizer;
        CHECK(balanced_binary_cross_entropy(x, y, b).item() == lossref::rel(bce_sum / den, 1e-6));
    }
}

TEST_CASE(
    "balanced_binary_cross_entropy is sigmoid_focal_loss at gamma 0 for 0/1 targets, with every dense "
    "option") {
    const Shape shape{4, 3, 6};
    Tensor x = lossref::random_logits(4, 18, 8).view(shape);
    Tensor y = binary_targets(shape, false, 8);
    Tensor ca = Tensor::from({0.9f, 0.25f, 0.6f}, {3});
    for (Reduction reduction : kReductions) {
        CAPTURE(reduction);
        SigmoidFocalLossOptions o =
            focal_options(0.3f, 0.0f, false, 0.0f, reduction, element_weights(shape, 2, 8), ca,
                          reduction == Reduction::Mean ? 5.0 : -1.0);
        BalancedBCEOptions b;
        b.alpha = 0.3f, b.reduction = reduction, b.weight = o.weight, b.class_alpha = ca;
        b.normalizer = o.normalizer;
        lossref::Run f = lossref::run([&](const Tensor& v) { return sigmoid_focal_loss(v, y, o); }, x, 4);
        lossref::Run g =
            lossref::run([&](const Tensor& v) { return balanced_binary_cross_entropy(v, y, b); }, x, 4);
        for (size_t i = 0; i < f.out.size(); ++i) CHECK(f.out[i] == lossref::rel(g.out[i], 1e-6));
        for (size_t i = 0; i < f.grad.size(); ++i) CHECK(f.grad[i] == lossref::rel(g.grad[i], 1e-5));
    }
}

TEST_CASE("dense options pass gradcheck: element weights, class_alpha, normalizer, with normalized") {
    const Shape shape{2, 3, 2};
    Tensor x = lossref::random_logits(2, 6, 31, 1.0f).view(shape);
    Tensor y = binary_targets(shape, true, 31);
    Tensor w = element_weights(shape, 2, 31);
    Tensor ca = Tensor::from({0.2f, 0.7f, 0.5f}, {3});
    for (bool normalized : {false, true})
        for (Reduction reduction : kReductions)
            for (bool with_normalizer : {false, true}) {
                if (with_normalizer && reduction != Reduction::Mean) continue;
                CAPTURE(normalized);
                CAPTURE(reduction);
                CAPTURE(with_normalizer);
                SigmoidFocalLossOptions o = focal_options(0.25f, 1.5f, normalized, 0.0f, reduction, w, ca,
                                                          with_normalizer ? 3.0 : -1.0);
                fgtest::check_gradcheck(
                    [&](const std::vector<Tensor>& in) { return sigmoid_focal_loss(in[0], y, o); }, {x});
                fgtest::check_gradcheck(
                    [&](const std::vector<Tensor>& in) { return reference::sigmoid_focal_loss(in[0], y, o); },
                    {x});
                if (normalized) continue;
                BalancedBCEOptions b;
                b.reduction = reduction, b.weight = w, b.class_alpha = ca;
                if (with_normalizer) b.normalizer = 3.0;
                fgtest::check_gradcheck(
                    [&](const std::vector<Tensor>& in) { return balanced_binary_cross_entropy(in[0], y, b); },
                    {x});
                fgtest::check_gradcheck(
                    [&](const std::vector<Tensor>& in) {
                        return reference::balanced_binary_cross_entropy(in[0], y, b);
                    },
                    {x});
            }
}

TEST_CASE("dense options: extreme logits (|z| up to 1e4) give finite losses and gradients for every gamma") {
    const Shape shape{2, 4, 2};                                                    // 16 elements
    Tensor x = Tensor::from({1e4f, -1e4f, 1e4f, -1e4f, 0.0f, 30.0f, -30.0f, 1e3f,  //
                             -1e3f, 5.0f, -5.0f, 88.0f, -88.0f, 1e4f, -1e4f, 0.5f},
                            shape);
    Tensor y = Tensor::from({1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0}, shape);
    Tensor w = Tensor::from({1, 1, 1, 1, 2, 1, 0.5f, 1, 1, 1, 1, 1, 1, 0, 0, 1}, shape);  // 13, 14 ignored
    Tensor ca = Tensor::from({0.25f, 0.5f, 0.75f, 1.0f}, {4});
    for (float gamma : {0.0f, 0.25f, 0.5f, 1.0f, 2.0f})
        for (int variant = 0; variant < 3; ++variant)  // plain, normalized, reduced
            for (Reduction reduction : kReductions) {
                CAPTURE(gamma);
                CAPTURE(variant);
                CAPTURE(reduction);
                SigmoidFocalLossOptions o =
                    focal_options(0.25f, gamma, variant == 1, variant == 2 ? 0.5f : 0.0f, reduction, w, ca,
                                  reduction == Reduction::Mean ? 2.0 : -1.0);
                BalancedBCEOptions b;
                b.reduction = reduction, b.weight = w, b.class_alpha = ca, b.normalizer = o.normalizer;
                const Loss forms[] = {
                    [&](const Tensor& v) { return sigmoid_focal_loss(v, y, o); },
                    [&](const Tensor& v) { return reference::sigmoid_focal_loss(v, y, o); },
                    [&](const Tensor& v) { return balanced_binary_cross_entropy(v, y, b); },
                    [&](const Tensor& v) { return reference::balanced_binary_cross_entropy(v, y, b); }};
                for (const Loss& form : forms) {
                    lossref::Run r = lossref::run(form, x, 9);
                    for (float l : r.out) CHECK(std::isfinite(l));
                    for (float g : r.grad) CHECK(std::isfinite(g));
                    // Perfect elements (0, 1) and ignored ones (13, 14): no gradient at all.
                    for (int i : {0, 1, 13, 14}) CHECK(r.grad[size_t(i)] == 0.0f);
                    if (reduction == Reduction::None)
                        for (int i : {0, 1, 13, 14}) CHECK(r.out[size_t(i)] == 0.0f);
                }
            }
}

TEST_CASE("dense options reject bad arguments with clear messages") {
    Tensor x = lossref::random_logits(2, 3, 1);
    Tensor y = Tensor::zeros({2, 3});
    SigmoidFocalLossOptions o;
    o.weight = Tensor::ones({3, 2});
    CHECK_ERROR(sigmoid_focal_loss(x, y, o), "sigmoid_focal_loss", "element weights", "[3, 2]", "[2, 3]");
    o.weight = Tensor::ones({2, 3});
    o.weight.data()[4] = -1.0f;
    CHECK_ERROR(sigmoid_focal_loss(x, y, o), "element weights", "finite and >= 0", "-1", "flat index 4");
    o.weight.data()[4] = NAN;
    CHECK_ERROR(reference::sigmoid_focal_loss(x, y, o), "reference::sigmoid_focal_loss", "element weights",
                "nan");
    o.weight.data()[4] = INFINITY;
    CHECK_ERROR(sigmoid_focal_loss(x, y, o), "element weights", "inf");
    o = {};
    o.class_alpha = Tensor::from({0.5f, 0.5f}, {2});
    CHECK_ERROR(sigmoid_focal_loss(x, y, o), "class_alpha", "[3]", "[2]");
    o.class_alpha = Tensor::from({0.5f, 1.5f, 0.5f}, {3});
    CHECK_ERROR(sigmoid_focal_loss(x, y, o), "class_alpha[1] = 1.5", "[0, 1]");
    CHECK_ERROR(sigmoid_focal_loss(Tensor::zeros({3}), Tensor::zeros({3}), o), "class_alpha",
                "[N, C, d1...]");
    o = {};
    o.normalizer = 4.0;
    o.reduction = Reduction::Sum;
    CHECK_ERROR(sigmoid_focal_loss(x, y, o), "normalizer", "Reduction::Mean", "Sum");
    o.reduction = Reduction::Mean;
    o.normalizer = -1.0;
    CHECK_ERROR(sigmoid_focal_loss(x, y, o), "normalizer", ">= 0", "-1");
    o.normalizer = NAN;
    CHECK_ERROR(reference::sigmoid_focal_loss(x, y, o), "normalizer", "nan");
    BalancedBCEOptions b;
    b.weight = Tensor::ones({2});
    CHECK_ERROR(balanced_binary_cross_entropy(x, y, b), "balanced_binary_cross_entropy", "element weights",
                "[2]");
    b = {};
    b.normalizer = 1.0;
    b.reduction = Reduction::None;
    CHECK_ERROR(balanced_binary_cross_entropy(x, y, b), "normalizer", "Mean", "None");
    b = {};
    b.class_alpha = Tensor::from({0.5f, -0.5f, 0.5f}, {3});
    CHECK_ERROR(reference::balanced_binary_cross_entropy(x, y, b), "class_alpha[1] = -0.5");
    SmpFocalLossOptions s;
    CHECK_ERROR(smp_multiclass_focal_loss(x, {0, 3}, s), "smp_multiclass_focal_loss", "target 3",
                "3 classes");
    CHECK_ERROR(smp_multiclass_focal_loss(x, {0, 1, 2}, s), "smp_multiclass_focal_loss", "3 targets",
                "2 rows");
    s.gamma = -1.0f;
    CHECK_ERROR(reference::smp_multiclass_focal_loss(x, {0, 1}, s), "reference::smp_multiclass_focal_loss",
                "gamma");
    s = {};
    x.data()[2] = NAN;
    CHECK_ERROR(smp_multiclass_focal_loss(x, {0, 1}, s), "smp_multiclass_focal_loss", "logits", "nan");
}

// ---- SMP's multiclass mode ------------------------------------------------------------------

namespace {

// SMP's output, transcribed, laid out as smp_multiclass_focal_loss returns it: with
// ignore_index set, SMP's None output holds the kept pixels only, and its batchwise_mean is
// a scalar (the filtering flattened the pixels); here None has a 0 at each ignored pixel and
// BatchwiseMean sums over n per position. Both are built from the transcription's kept pixels.
Vec smp_as_returned(const Vec& z, const std::vector<int64_t>& shape, const std::vector<int>& t,
                    bool has_ignore, const SmpFocalLossOptions& o) {
    const std::string name = smp_name(o.reduction);
    const bool per_pixel = o.reduction == SmpReduction::None || o.reduction == SmpReduction::BatchwiseMean;
    if (!has_ignore || !per_pixel)
        return lossref::smp_multiclass_focal(z, shape, t, has_ignore, o.ignore_index, o.gamma, o.alpha, name,
                                             o.normalized, o.reduced_threshold);
    Vec kept = lossref::smp_multiclass_focal(z, shape, t, true, o.ignore_index, o.gamma, o.alpha, "none",
                                             o.normalized, o.reduced_threshold);
    Vec pixels(t.size(), 0.0);
    size_t next = 0;
    for (size_t i = 0; i < t.size(); ++i)
        if (t[i] != o.ignore_index) pixels[i] = kept[next++];
    if (o.reduction == SmpReduction::None) return pixels;
    const size_t P = t.size() / size_t(shape[0]);
    Vec by_position(P, 0.0);
    for (size_t i = 0; i < pixels.size(); ++i) by_position[i % P] += pixels[i];
    return by_position;
}

}  // namespace

TEST_CASE(
    "smp_multiclass_focal_loss matches a transcription of SMP's FocalLoss on [N, C, H, W] with "
    "ignore_index") {
    const std::vector<int64_t> shape = {2, 3, 4, 5};
    const Shape tensor_shape{2, 3, 4, 5};
    uint64_t seed = 100;
    for (bool has_ignore : {false, true})
        for (float alpha : {-1.0f, 0.25f})
            for (float gamma : {0.0f, 0.5f, 2.0f})
                for (int variant = 0; variant < 3; ++variant)  // plain, normalized, reduced
                    for (SmpReduction reduction : kSmpReductions) {
                        ++seed;
                        CAPTURE(has_ignore);
                        CAPTURE(alpha);
                        CAPTURE(gamma);
                        CAPTURE(variant);
                        CAPTURE(smp_name(reduction));
                        SmpFocalLossOptions o;
                        o.alpha = alpha;
                        o.gamma = gamma;
                        o.normalized = variant == 1;
                        o.reduced_threshold = variant == 2 ? 0.5f : 0.0f;
                        o.reduction = reduction;
                        o.ignore_index = 255;
                        std::vector<int> t =
                            lossref::random_targets(2 * 20, 3, seed, has_ignore ? 0.3 : 0.0, 255);
                        Tensor z = lossref::random_logits(2, 60, seed).view(tensor_shape);
                        keep_away_from_threshold(z, t, o.reduced_threshold);
                        auto oracle = [&](const Vec& v) {
                            return smp_as_returned(v, shape, t, has_ignore, o);
                        };
                        const Loss forms[] = {
                            [&](const Tensor& v) { return smp_multiclass_focal_loss(v, t, o); },
                            [&](const Tensor& v) { return reference::smp_multiclass_focal_loss(v, t, o); }};
                        for (const Loss& form : forms) {
                            lossref::Run r = lossref::run(form, z, seed);
                            const Vec ref_grad = lossref::numeric_gradient(oracle, vec_of(z), r.upstream);
                            double scale = 0.0;
                            for (double g : ref_grad) scale = std::max(scale, std::fabs(g));
                            const Vec floor(ref_grad.size(), o.normalized ? 2e-6 * scale : 0.0);
                            lossref::check_rel(r.out, oracle(vec_of(z)), 1e-5, "smp output");
                            lossref::check_rel(r.grad, ref_grad, 1e-5, "smp gradient", floor);
                        }
                    }
}

TEST_CASE("smp_multiclass_focal_loss: the shapes of None and BatchwiseMean, and SMP's own batchwise_mean") {
    std::vector<int> t = lossref::random_targets(2 * 12, 4, 3, 0.25, 255);
    Tensor z = lossref::random_logits(2, 48, 3).view({2, 4, 3, 4});
    SmpFocalLossOptions o;
    o.ignore_index = 255;
    o.reduction = SmpReduction::None;
    CHECK(smp_multiclass_focal_loss(z, t, o).shape() == Shape{2, 3, 4});
    o.reduction = SmpReduction::BatchwiseMean;
    Tensor batchwise = smp_multiclass_focal_loss(z, t, o);
    CHECK(batchwise.shape() == Shape{3, 4});  // a sum over the batch, per position: no mean
    o.reduction = SmpReduction::Sum;
    const float sum = smp_multiclass_focal_loss(z, t, o).item();
    double total = 0.0;
    for (float v : batchwise.to_vector()) total += v;
    CHECK(total == lossref::rel(sum, 1e-6));
    // SMP with ignore_index set flattens the kept pixels first, so its batchwise_mean is
    // the total, our Sum.
    const Vec smp = lossref::smp_multiclass_focal(vec_of(z), {2, 4, 3, 4}, t, true, 255, 2.0, -1.0,
                                                  "batchwise_mean", false, 0.0);
    REQUIRE(smp.size() == 1);
    CHECK(sum == lossref::rel(smp[0], 1e-5));
    // [N, C] logits: BatchwiseMean is a 0-d scalar, as SMP's sum(0) of a 1-d tensor.
    Tensor z2 = lossref::random_logits(5, 3, 4);
    CHECK(smp_multiclass_focal_loss(z2, {0, 2, 1, 1, 0}, o).shape() == Shape{});
    // Every pixel ignored: Mean is 0 with a zero gradient (SMP's mean of nothing is NaN).
    o.reduction = SmpReduction::Mean;
    lossref::Run r = lossref::run(
        [&](const Tensor& v) { return smp_multiclass_focal_loss(v, std::vector<int>(5, 255), o); }, z2, 1);
    CHECK(r.out[0] == 0.0f);
    for (float g : r.grad) CHECK(g == 0.0f);
}

TEST_CASE(
    "one-hot targets in one sigmoid_focal_loss call are not SMP's multiclass loss: 1/C under Mean, equal "
    "under Sum, no fixed ratio normalized") {
    const int64_t N = 3, C = 4, P = 6;
    auto ratio = [&](uint64_t seed, bool normalized, Reduction reduction, bool by_kept_pixels = false) {
        std::vector<int> t = lossref::random_targets(N * P, C, seed, 0.2, 255);
        Tensor z = lossref::random_logits(N, C * P, seed).view({N, C, P});
        Tensor y = Tensor::zeros(z.shape()), w = Tensor::zeros(z.shape());
        for (int64_t n = 0; n < N; ++n)
            for (int64_t c = 0; c < C; ++c)
                for (int64_t k = 0; k < P; ++k) {
                    const int target = t[size_t(n * P + k)];
                    y.data()[(n * C + c) * P + k] = target == c ? 1.0f : 0.0f;
                    w.data()[(n * C + c) * P + k] = target == 255 ? 0.0f : 1.0f;
                }
        double kept = 0.0;
        for (int target : t) kept += target != 255;
        SigmoidFocalLossOptions o = focal_options(-1.0f, 2.0f, normalized, 0.0f, reduction, w, Tensor(),
                                                  by_kept_pixels ? kept : -1.0);
        SmpFocalLossOptions s;
        s.normalized = normalized;
        s.ignore_index = 255;
        s.reduction = reduction == Reduction::Mean ? SmpReduction::Mean : SmpReduction::Sum;
        return double(sigmoid_focal_loss(z, y, o).item()) / double(smp_multiclass_focal_loss(z, t, s).item());
    };
    for (uint64_t seed : {1u, 2u}) {
        CHECK(ratio(seed, false, Reduction::Mean) == doctest::Approx(1.0 / double(C)).epsilon(1e-6));
        CHECK(ratio(seed, false, Reduction::Sum) == doctest::Approx(1.0).epsilon(1e-6));
        // normalizer = the pixels kept turns the one-call Mean into SMP's.
        CHECK(ratio(seed, false, Reduction::Mean, true) == doctest::Approx(1.0).epsilon(1e-6));
    }
    const double a = ratio(1, true, Reduction::Sum), b = ratio(2, true, Reduction::Sum);
    CHECK(std::fabs(a - b) > 0.01);
    CHECK(std::fabs(a - 1.0) > 0.01);
    CHECK(std::fabs(a - 1.0 / double(C)) > 0.01);
}

TEST_CASE("smp_multiclass_focal_loss passes gradcheck for each reduction, normalized, with ignored pixels") {
    std::vector<int> t = {0, 2, 255, 1, 1, 0, 2, 255};
    Tensor z = lossref::random_logits(2, 12, 41, 1.0f).view({2, 3, 4});
    for (bool normalized : {false, true})
        for (SmpReduction reduction : kSmpReductions) {
            CAPTURE(normalized);
            CAPTURE(smp_name(reduction));
            SmpFocalLossOptions o;
            o.alpha = 0.25f;
            o.gamma = 1.5f;
            o.normalized = normalized;
            o.ignore_index = 255;
            o.reduction = reduction;
            fgtest::check_gradcheck(
                [&](const std::vector<Tensor>& in) { return smp_multiclass_focal_loss(in[0], t, o); }, {z});
            fgtest::check_gradcheck(
                [&](const std::vector<Tensor>& in) {
                    return reference::smp_multiclass_focal_loss(in[0], t, o);
                },
                {z});
        }
}

TEST_CASE(
    "smp_multiclass_focal_loss: extreme logits (|z| up to 1e4) stay finite for every gamma; ignored pixels "
    "get 0") {
    std::vector<int> t = {0, 1, 255, 2};
    Tensor z = Tensor::from({1e4f, -1e4f, 1e4f, 0.0f,    //
                             -1e4f, 1e4f, -1e4f, 30.0f,  //
                             -1e4f, -1e4f, 1e4f, -30.0f},
                            {1, 3, 4});
    for (float gamma : {0.0f, 0.25f, 0.5f, 1.0f, 2.0f})
        for (bool normalized : {false, true})
            for (SmpReduction reduction : kSmpReductions) {
                CAPTURE(gamma);
                CAPTURE(normalized);
                CAPTURE(smp_name(reduction));
                SmpFocalLossOptions o;
                o.gamma = gamma;
                o.normalized = normalized;
                o.ignore_index = 255;
                o.reduction = reduction;
                for (const Loss& form :
                     {Loss([&](const Tensor& v) { return smp_multiclass_focal_loss(v, t, o); }),
                      Loss([&](const Tensor& v) { return reference::smp_multiclass_focal_loss(v, t, o); })}) {
                    lossref::Run r = lossref::run(form, z, 2);
                    for (float l : r.out) CHECK(std::isfinite(l));
                    for (float g : r.grad) CHECK(std::isfinite(g));
                    for (int c = 0; c < 3; ++c) {
                        CHECK(r.grad[size_t(c * 4 + 2)] == 0.0f);  // pixel 2 is ignored
                        CHECK(r.grad[size_t(c * 4)] == 0.0f);      // pixel 0 is perfect in every class
                    }
                }
            }
}
