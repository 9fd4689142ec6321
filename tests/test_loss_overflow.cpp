// test_loss_overflow.cpp — finite but extreme logits (up to ±FLT_MAX) in every fused loss,
// fast and reference forms alike (issue 15 item 12): the loss is what the math gives, +inf
// where it exceeds float, never NaN; the gradient is finite; the fast form equals the
// reference (which computes in double) on the same inputs. Before the fix, logits 3e38 apart
// in one softmax row gave a NaN loss and no error.
#include <cfloat>
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
using Loss = std::function<Tensor(const Tensor&)>;

// [N, C] logits, half of them drawn from ±FLT_MAX, ±3e38, ±1e38, ±1e20, ±1e4, the rest N(0, 3²).
Tensor extreme_logits(int64_t N, int64_t C, uint64_t seed) {
    const float values[] = {FLT_MAX, -FLT_MAX, 3e38f, -3e38f, 1e38f, -1e38f, 1e20f, -1e20f, 1e4f, -1e4f};
    Generator gen(seed);
    Tensor z = Tensor::empty({N, C});
    for (int64_t i = 0; i < z.numel(); ++i)
        z.data()[i] = gen.uniform() < 0.5f ? values[gen.below(10)] : 3.0f * gen.normal();
    return z;
}

// Same value, both infinite with one sign, or within 1e-5 relative (1e-7 floor scaled by
// the largest finite entry).
void check_same(const std::vector<float>& fast, const std::vector<float>& reference,
                const std::string& what) {
    REQUIRE(fast.size() == reference.size());
    double largest = 1.0;
    for (float r : reference)
        if (std::isfinite(r)) largest = std::max(largest, double(std::fabs(r)));
    int reported = 0;
    for (size_t i = 0; i < fast.size(); ++i) {
        const bool same_inf = std::isinf(fast[i]) && fast[i] == reference[i];
        const double err = std::fabs(double(fast[i]) - double(reference[i]));
        if (same_inf || err <= 1e-5 * std::fabs(double(reference[i])) + 1e-7 * largest) continue;
        if (reported++ < 5)
            FAIL_CHECK(what, " element ", i, ": fast ", fast[i], ", reference ", reference[i]);
    }
    CHECK_MESSAGE(reported == 0, what, ": ", reported, " of ", fast.size(), " elements differ");
}

// Both forms on the same logits and upstream gradient: no NaN in the loss, a finite
// gradient, and the two forms equal.
void check_forms(const Loss& fast, const Loss& reference, const Tensor& logits, uint64_t seed,
                 const std::string& what) {
    lossref::Run f = lossref::run(fast, logits, seed);
    lossref::Run r = lossref::run(reference, logits, seed);
    for (const lossref::Run* run : {&f, &r}) {
        for (float v : run->out) CHECK_MESSAGE(!std::isnan(v), what, ": NaN loss");
        for (float g : run->grad) CHECK_MESSAGE(std::isfinite(g), what, ": gradient ", g);
    }
    check_same(f.out, r.out, what + " output");
    check_same(f.grad, r.grad, what + " gradient");
}

}  // namespace

TEST_CASE("extreme finite logits: one softmax row [3e38, -3e38] has a loss of inf or 6e38 / N, never NaN") {
    // The regression of issue 15 item 12: z_t - max overflowed to -inf, and 0 * -inf gave NaN.
    Tensor z = Tensor::from({3e38f, -3e38f, 0.0f, 1.0f, 2.0f, 3.0f}, {3, 2});
    const std::vector<int> t = {1, 0, 1};
    FocalLossOptions gamma0;  // γ = 0: the same loss as cross-entropy
    gamma0.gamma = 0.0f;
    for (const Loss& loss : {Loss([&](const Tensor& x) { return cross_entropy(x, t); }),
                             Loss([&](const Tensor& x) { return reference::cross_entropy(x, t); }),
                             Loss([&](const Tensor& x) { return focal_loss(x, t, gamma0); }),
                             Loss([&](const Tensor& x) { return reference::focal_loss(x, t, gamma0); })}) {
        lossref::Run r = lossref::run(loss, z, 1);
        // Row 0 loses 6e38 nats; the mean over 3 rows is 2e38, which float holds.
        const double expected = (6e38 + std::log1p(std::exp(1.0)) + std::log1p(std::exp(-1.0))) / 3.0;
        CHECK(r.out[0] == lossref::rel(expected, 1e-6));
        CHECK(r.grad[0] == lossref::rel(r.upstream[0] / 3.0, 1e-6));  // (p - onehot) / N = (1 - 0) / 3
        CHECK(r.grad[1] == lossref::rel(-r.upstream[0] / 3.0, 1e-6));
    }
    CrossEntropyOptions none;
    none.reduction = Reduction::None;
    std::vector<float> per_row = cross_entropy(z, t, none).to_vector();
    CHECK(std::isinf(per_row[0]));  // 6e38 is beyond float: inf is the correctly rounded loss
    CHECK(per_row[1] == lossref::rel(std::log1p(std::exp(1.0)), 1e-6));
}

TEST_CASE("extreme finite logits: every softmax loss, both forms, every option and reduction") {
    uint64_t seed = 0;
    for (Reduction reduction : kReductions)
        for (int option = 0; option < 4; ++option) {  // plain, weights, smoothing, both
            ++seed;
            const int64_t N = 40, C = 5;
            Tensor z = extreme_logits(N, C, seed);
            std::vector<int> t = lossref::random_targets(N, C, seed, 0.1);
            CrossEntropyOptions ce;
            ce.reduction = reduction;
            if (option & 1) ce.weight = Tensor::from({1.0f, 2.0f, 0.5f, 3.0f, 1.5f}, {5});
            if (option & 2) ce.label_smoothing = 0.1f;
            const std::string what = str(reduction, " option ", option);
            check_forms([&](const Tensor& x) { return cross_entropy(x, t, ce); },
                        [&](const Tensor& x) { return reference::cross_entropy(x, t, ce); }, z, seed,
                        "cross_entropy " + what);
            Generator gen(seed + 1);
            Tensor probs = Tensor::rand({N, C}, gen);
            for (int64_t i = 0; i < probs.numel(); ++i)  // some exact zeros next to extreme logits
                if (probs.data()[i] < 0.3f) probs.data()[i] = 0.0f;
            for (int64_t i = 0; i < N; ++i) {
                float s = 1e-30f;
                for (int64_t j = 0; j < C; ++j) s += probs.data()[i * C + j];
                for (int64_t j = 0; j < C; ++j) probs.data()[i * C + j] /= s;
            }
            CrossEntropyOptions soft = ce;
            soft.ignore_index = -100;
            check_forms([&](const Tensor& x) { return cross_entropy(x, probs, soft); },
                        [&](const Tensor& x) { return reference::cross_entropy(x, probs, soft); }, z, seed,
                        "cross_entropy (probabilities) " + what);
            for (float gamma : {0.0f, 0.25f, 0.5f, 1.0f, 2.0f}) {
                FocalLossOptions fo;
                fo.gamma = gamma;
                fo.reduction = reduction;
                if (option & 1) fo.alpha = Tensor::from({0.5f, 1.0f, 2.0f, 0.25f, 1.0f}, {5});
                if (option & 2) fo.alpha = Tensor::scalar(0.25f);
                check_forms([&](const Tensor& x) { return focal_loss(x, t, fo); },
                            [&](const Tensor& x) { return reference::focal_loss(x, t, fo); }, z, seed,
                            str("focal_loss gamma ", gamma, " ", what));
            }
        }
}

TEST_CASE("extreme finite logits: every sigmoid loss, both forms, every option and reduction") {
    uint64_t seed = 100;
    for (Reduction reduction : kReductions)
        for (int variant = 0; variant < 3; ++variant)  // plain, normalized, reduced
            for (bool weighted : {false, true}) {
                ++seed;
                const Shape shape{8, 5, 3};
                Tensor z = extreme_logits(8, 15, seed).view(shape);
                Generator gen(seed + 2);
                Tensor y = Tensor::rand(shape, gen);  // soft targets, and some 0/1 ones
                for (int64_t i = 0; i < y.numel(); i += 2) y.data()[i] = y.data()[i] < 0.3f ? 1.0f : 0.0f;
                Tensor w;
                if (weighted) {
                    w = Tensor::rand(shape, gen);
                    for (int64_t i = 0; i < w.numel(); ++i)
                        w.data()[i] = w.data()[i] < 0.2f ? 0.0f : 2.0f * w.data()[i];
                }
                for (float gamma : {0.0f, 0.25f, 0.5f, 1.0f, 2.0f}) {
                    SigmoidFocalLossOptions o;
                    o.gamma = gamma;
                    o.normalized = variant == 1;
                    o.reduced_threshold = variant == 2 ? 0.5f : 0.0f;
                    o.reduction = reduction;
                    o.weight = w;
                    o.class_alpha = Tensor::from({0.25f, 0.5f, 0.75f, 0.1f, 0.9f}, {5});
                    const std::string what =
                        str(reduction, " variant ", variant, " weighted ", weighted, " gamma ", gamma);
                    check_forms([&](const Tensor& x) { return sigmoid_focal_loss(x, y, o); },
                                [&](const Tensor& x) { return reference::sigmoid_focal_loss(x, y, o); }, z,
                                seed, "sigmoid_focal_loss " + what);
                }
                BalancedBCEOptions b;
                b.reduction = reduction;
                b.weight = w;
                check_forms(
                    [&](const Tensor& x) { return balanced_binary_cross_entropy(x, y, b); },
                    [&](const Tensor& x) { return reference::balanced_binary_cross_entropy(x, y, b); }, z,
                    seed, str("balanced_binary_cross_entropy ", reduction, " weighted ", weighted));
            }
    const SmpReduction smp_reductions[] = {SmpReduction::None, SmpReduction::Mean, SmpReduction::Sum,
                                           SmpReduction::BatchwiseMean};
    for (SmpReduction reduction : smp_reductions)
        for (bool normalized : {false, true}) {
            ++seed;
            Tensor z = extreme_logits(6, 12, seed).view({6, 4, 3});
            std::vector<int> t = lossref::random_targets(18, 4, seed, 0.2);
            SmpFocalLossOptions o;
            o.normalized = normalized;
            o.reduction = reduction;
            check_forms([&](const Tensor& x) { return smp_multiclass_focal_loss(x, t, o); },
                        [&](const Tensor& x) { return reference::smp_multiclass_focal_loss(x, t, o); }, z,
                        seed, str("smp_multiclass_focal_loss ", int(reduction), " normalized ", normalized));
        }
}

TEST_CASE("normalized with small element weights: a logit of 3e38 gives a finite gradient, not 0 * inf") {
    // Z = Σ w f = 0.5: K / Z = 2 ℓ overflowed float, and the perfect elements' f' = 0 times it
    // was NaN.
    Tensor z = Tensor::from({3e38f, 1e4f, -1e4f, 0.5f}, {4});
    Tensor y = Tensor::from({0.0f, 1.0f, 0.0f, 1.0f}, {4});
    SigmoidFocalLossOptions o;
    o.alpha = -1.0f;
    o.normalized = true;
    o.reduction = Reduction::Sum;
    o.weight = Tensor::from({0.5f, 1.0f, 1.0f, 1e-3f}, {4});
    for (const Loss& form : {Loss([&](const Tensor& x) { return sigmoid_focal_loss(x, y, o); }),
                             Loss([&](const Tensor& x) { return reference::sigmoid_focal_loss(x, y, o); })}) {
        lossref::Run r = lossref::run(form, z, 3);
        CHECK(std::isfinite(r.out[0]));
        for (float g : r.grad) CHECK(std::isfinite(g));
        CHECK(r.grad[1] == 0.0f);
        CHECK(r.grad[2] == 0.0f);
    }
}
