// test_loss_box_regression.cpp — l1_loss and smooth_l1_loss: hand-worked values and
// gradients, the fast form against reference:: and against an independent double loop for
// every reduction, weights and β, gradchecks with random upstream gradients (input and
// target), extreme inputs, the ignore semantics of zero weights under Mean, the caller's
// normalizer, RetinaNet's box loss from dense_targets, and bad input; giou_loss against its
// definition, with gradchecks for boxes and target.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/random.h>
#include <focalgrad/detection/anchors.h>
#include <focalgrad/losses/box_regression.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

const Reduction kReductions[] = {Reduction::None, Reduction::Mean, Reduction::Sum};

// The per-element loss in double, written from the definition.
double smooth_l1(double d, double beta) {
    if (beta == 0) return std::fabs(d);
    return std::fabs(d) < beta ? 0.5 * d * d / beta : std::fabs(d) - 0.5 * beta;
}

// Inputs whose differences d = x - y stay at least 0.02 away from the kinks (0 and ±β), so
// that central differences of step 1e-3 never straddle one.
void kink_free(Tensor& x, const Tensor& y, float beta) {
    for (int64_t i = 0; i < x.numel(); ++i) {
        float& v = x.data()[i];
        for (float kink : {0.0f, beta, -beta})
            if (std::fabs(v - y.data()[i] - kink) < 0.02f) v += 0.05f;
    }
}

// Output and gradients (input, target) for one random upstream gradient.
struct Run {
    std::vector<float> out, dinput, dtarget;
};
template <class Loss>
Run run(Loss loss, const Tensor& x, const Tensor& y, uint64_t seed) {
    Tensor xi = x.clone().set_requires_grad(), yi = y.clone().set_requires_grad();
    Tensor out = loss(xi, yi);
    Generator g(seed);
    out.backward(Tensor::normal(out.shape(), 0.0f, 1.0f, g));
    return {out.to_vector(), xi.grad().to_vector(), yi.grad().to_vector()};
}

void check_same(const std::vector<float>& a, const std::vector<double>& b, double rtol, const char* what) {
    REQUIRE(a.size() == b.size());
    int bad = 0;
    for (size_t i = 0; i < a.size(); ++i)
        if (!(std::fabs(double(a[i]) - b[i]) <= rtol * std::fabs(b[i]) + 1e-7)) {
            if (bad++ < 3) FAIL_CHECK(what, " element ", i, ": ", a[i], " vs ", b[i]);
        }
    CHECK_MESSAGE(bad == 0, what, ": ", bad, " elements differ");
}

}  // namespace

TEST_CASE("smooth_l1_loss and l1_loss: hand-worked values and gradients") {
    // d = 0, 0.5, -2, 2 with β = 1: 0, 0.5² / 2, 2 - 0.5, 2 - 0.5.
    Tensor x = Tensor::from({0, 0.5f, -2, 3}).set_requires_grad(), y = Tensor::from({0, 0, 0, 1});
    RegressionLossOptions none;
    none.reduction = Reduction::None;
    fgtest::check_close(smooth_l1_loss(x, y, 1.0f, none), {0, 0.125, 1.5, 1.5}, 0, 0);
    fgtest::check_close(l1_loss(x, y, none), {0, 0.5, 2, 2}, 0, 0);
    Tensor mean = smooth_l1_loss(x, y);  // β = 1, Mean
    CHECK(mean.item() == 0.78125f);      // 3.125 / 4
    mean.backward();
    fgtest::check_close(x.grad(), {0, 0.125, -0.25, 0.25}, 0, 0);  // (d / β or sign d) / 4
    x.zero_grad();
    RegressionLossOptions sum;
    sum.reduction = Reduction::Sum;
    l1_loss(x, y, sum).backward();
    fgtest::check_close(x.grad(), {0, 1, -1, 1}, 0, 0);  // sign(d), 0 at d = 0
    // β = 0 is L1; a large β is d² / (2β) everywhere.
    CHECK(smooth_l1_loss(x, y, 0.0f, sum).item() == 4.5f);
    CHECK(smooth_l1_loss(x, y, 10.0f, sum).item() == doctest::Approx((0.25 + 4 + 4) / 20.0).epsilon(1e-7));
    // Continuous at |d| = β: both pieces give β / 2.
    CHECK(smooth_l1_loss(Tensor::from({0.3f}), Tensor::from({0.0f}), 0.3f, sum).item() ==
          doctest::Approx(0.15).epsilon(1e-6));
}

TEST_CASE("smooth_l1_loss: fast form equals reference:: and an independent double loop") {
    uint64_t seed = 0;
    for (float beta : {0.0f, 1e-3f, 0.11f, 1.0f, 5.0f})
        for (bool weighted : {false, true})
            for (bool normalized : {false, true})
                for (Reduction reduction : kReductions) {
                    if (normalized && reduction != Reduction::Mean) continue;
                    ++seed;
                    Generator g(seed);
                    Tensor x = Tensor::normal({7, 50, 4}, 0.0f, 2.0f, g),
                           y = Tensor::normal({7, 50, 4}, 0.0f, 2.0f, g);
                    RegressionLossOptions o;
                    o.reduction = reduction;
                    if (weighted) {
                        o.weight = Tensor::rand({7, 50, 4}, g);
                        for (int64_t i = 0; i < 300; ++i) o.weight.data()[i * 4] = 0.0f;  // some ignored
                    }
                    if (normalized) o.normalizer = 37.5;
                    Run fast =
                        run([&](const Tensor& a, const Tensor& b) { return smooth_l1_loss(a, b, beta, o); },
                            x, y, seed);
                    Run ref = run([&](const Tensor& a,
                                      const Tensor& b) { return reference::smooth_l1_loss(a, b, beta, o); },
                                  x, y, seed);
                    CAPTURE(beta);
                    CAPTURE(weighted);
                    CAPTURE(reduction);
                    // The independent loop: per-element losses, the denominator, the reduction.
                    const int64_t n = x.numel();
                    std::vector<double> losses(static_cast<size_t>(n)), dloss(static_cast<size_t>(n));
                    double total = 0, wsum = 0;
                    for (int64_t i = 0; i < n; ++i) {
                        double d = double(x.data()[i]) - y.data()[i], w = weighted ? o.weight.data()[i] : 1.0;
                        losses[size_t(i)] = w * smooth_l1(d, beta);
                        dloss[size_t(i)] =
                            w * (beta > 0 && std::fabs(d) < beta ? d / beta : (d > 0) - (d < 0));
                        total += losses[size_t(i)];
                        wsum += w;
                    }
                    const double D = normalized ? 37.5 : wsum;
                    std::vector<double> expected_out = reduction == Reduction::None ? losses
                                                       : reduction == Reduction::Sum
                                                           ? std::vector<double>{total}
                                                           : std::vector<double>{total / D};
                    check_same(ref.out, expected_out, 1e-6, "reference output");
                    check_same(fast.out, expected_out, 1e-5, "fast output");
                    std::vector<double> ref_dx(ref.dinput.begin(), ref.dinput.end()), ref_dt;
                    for (float v : ref.dinput) ref_dt.push_back(-double(v));
                    check_same(fast.dinput, ref_dx, 1e-5, "fast dinput");
                    check_same(fast.dtarget, ref_dt, 1e-5, "fast dtarget");
                    // And the reference's gradient from the formula: u_i w_i dℓ_i.
                    Generator gu(seed);
                    Tensor u =
                        Tensor::normal(reduction == Reduction::None ? x.shape() : Shape{}, 0.0f, 1.0f, gu);
                    std::vector<double> expected_dx(static_cast<size_t>(n));
                    for (int64_t i = 0; i < n; ++i) {
                        double ui = reduction == Reduction::None  ? u.data()[i]
                                    : reduction == Reduction::Sum ? u.data()[0]
                                                                  : u.data()[0] / D;
                        expected_dx[size_t(i)] = ui * dloss[size_t(i)];
                    }
                    check_same(ref.dinput, expected_dx, 1e-6, "reference dinput");
                }
}

TEST_CASE("smooth_l1_loss and l1_loss: gradcheck with random upstream gradients, input and target") {
    for (float beta : {0.0f, 0.5f, 2.0f})
        for (Reduction reduction : kReductions) {
            Generator g(uint64_t(beta * 10) + 3);
            Tensor x = Tensor::normal({3, 5, 4}, 0.0f, 1.5f, g), y = Tensor::normal({3, 5, 4}, 0.0f, 1.5f, g);
            kink_free(x, y, beta);
            RegressionLossOptions o;
            o.reduction = reduction;
            o.weight = Tensor::rand({3, 5, 4}, g);
            o.weight.data()[0] = 0.0f;
            fgtest::check_gradcheck(
                [=](const std::vector<Tensor>& in) { return smooth_l1_loss(in[0], in[1], beta, o); }, {x, y});
            fgtest::check_gradcheck(
                [=](const std::vector<Tensor>& in) {
                    return reference::smooth_l1_loss(in[0], in[1], beta, o);
                },
                {x, y});
            fgtest::check_gradcheck([=](const std::vector<Tensor>& in) { return l1_loss(in[0], in[1], o); },
                                    {x, y});
        }
}

TEST_CASE("smooth_l1_loss: extreme inputs stay finite and exact") {
    RegressionLossOptions none;
    none.reduction = Reduction::None;
    Tensor x = Tensor::from({1e4f, -1e4f, 1e30f, 1e-30f, 3e38f}), y = Tensor::from({-1e4f, 0, -1e30f, 0, 0});
    for (float beta : {0.0f, 1e-30f, 1.0f, 1e4f, 1e30f}) {
        Tensor l = smooth_l1_loss(x, y, beta, none), r = reference::smooth_l1_loss(x, y, beta, none);
        for (int64_t i = 0; i < 5; ++i) {
            double d = double(x.data()[i]) - y.data()[i];
            double expected = smooth_l1(d, beta);
            CAPTURE(beta);
            CAPTURE(i);
            CHECK(std::isfinite(l.data()[i]));
            CHECK(double(l.data()[i]) == doctest::Approx(expected).epsilon(1e-6));
            CHECK(double(r.data()[i]) == doctest::Approx(expected).epsilon(1e-6));
        }
    }
    Tensor a = Tensor::from({1e30f, 3e38f}).set_requires_grad();
    smooth_l1_loss(a, Tensor::from({-1e30f, 0}), 1.0f).backward();
    fgtest::check_close(a.grad(), {0.5, 0.5}, 0, 0);  // sign(d) / 2
    CHECK_ERROR(smooth_l1_loss(Tensor::from({3e38f}), Tensor::from({-3e38f})), "smooth_l1_loss", "overflows");
}

TEST_CASE("smooth_l1_loss: zero weights ignore elements, also in Mean's denominator and the gradient") {
    Generator g(21);
    Tensor x = Tensor::normal({40, 4}, 0.0f, 2.0f, g), y = Tensor::normal({40, 4}, 0.0f, 2.0f, g);
    Tensor w = Tensor::zeros({40, 4});
    std::vector<float> kept_x, kept_y;
    for (int64_t i = 0; i < 40; i += 3)
        for (int k = 0; k < 4; ++k) {
            w.data()[i * 4 + k] = 1.0f;
            kept_x.push_back(x.data()[i * 4 + k]);
            kept_y.push_back(y.data()[i * 4 + k]);
        }
    const int64_t kept = int64_t(kept_x.size());
    RegressionLossOptions masked;
    masked.weight = w;
    Tensor xm = x.clone().set_requires_grad();
    Tensor loss = smooth_l1_loss(xm, y, 0.5f, masked);
    loss.backward();  // (backward clears the tape: one graph at a time)
    Tensor xs = Tensor::from(kept_x, {kept}).set_requires_grad();
    Tensor subset = smooth_l1_loss(xs, Tensor::from(kept_y, {kept}), 0.5f);
    subset.backward();
    CHECK(loss.item() == doctest::Approx(subset.item()).epsilon(1e-6));  // the mean over the kept ones
    int64_t k = 0, nonzero_ignored = 0;
    for (int64_t i = 0; i < 160; ++i) {
        if (w.data()[i] == 0)
            nonzero_ignored += xm.grad().data()[i] != 0.0f;
        else
            CHECK(xm.grad().data()[i] == doctest::Approx(xs.grad().data()[k++]).epsilon(1e-6));
    }
    CHECK(nonzero_ignored == 0);
    // The caller's denominator: Σ w ℓ / 7 whatever the weights sum to; below 1 it counts as 1.
    masked.normalizer = 7;
    RegressionLossOptions sum;
    sum.reduction = Reduction::Sum;
    sum.weight = w;
    CHECK(smooth_l1_loss(x, y, 0.5f, masked).item() ==
          doctest::Approx(smooth_l1_loss(x, y, 0.5f, sum).item() / 7).epsilon(1e-6));
    masked.normalizer = 0;  // a batch without positives
    CHECK(smooth_l1_loss(x, y, 0.5f, masked).item() ==
          doctest::Approx(smooth_l1_loss(x, y, 0.5f, sum).item()).epsilon(1e-6));
    // All ignored: a mean over nothing is 0 with a zero gradient.
    RegressionLossOptions nothing;
    nothing.weight = Tensor::zeros({40, 4});
    Tensor xz = x.clone().set_requires_grad();
    Tensor zero = smooth_l1_loss(xz, y, 1.0f, nothing);
    CHECK(zero.item() == 0.0f);
    zero.backward();
    fgtest::check_close(xz.grad(), std::vector<double>(160, 0.0), 0, 0);
}

TEST_CASE("l1_loss: RetinaNet's box loss from dense_targets (positives only, / #positives)") {
    Tensor anchors = boxes_to_tensor({{0, 0, 10, 10}, {20, 20, 30, 30}, {40, 40, 50, 50}});
    std::vector<GroundTruth> truth = {{{{1, 0, 11, 10}}, {0}},
                                      {{{20, 21, 30, 31}, {40, 40, 50, 52}}, {1, 1}}};
    DenseTargets t = dense_targets(anchors, truth, {0, 1}, 2);
    REQUIRE(t.num_positive == 3);
    Generator g(4);
    Tensor pred = Tensor::normal({2, 3, 4}, 0.0f, 0.3f, g);
    RegressionLossOptions o;
    o.weight = t.box_weights;
    o.normalizer = double(t.num_positive);  // clamped to >= 1 by the loss
    double expected = 0;  // Σ over the positive anchors' four offsets of |pred - target|, / 3
    for (int64_t i = 0; i < 24; ++i)
        if (t.box_weights.data()[i] > 0)
            expected += std::fabs(double(pred.data()[i]) - t.box_targets.data()[i]);
    CHECK(l1_loss(pred, t.box_targets, o).item() == doctest::Approx(expected / 3).epsilon(1e-6));
}

TEST_CASE("smooth_l1_loss and l1_loss: bad input") {
    Tensor a = Tensor::zeros({2, 4}), b = Tensor::zeros({2, 4});
    CHECK_ERROR(smooth_l1_loss(a, Tensor::zeros({4, 2})), "smooth_l1_loss", "[2, 4]", "[4, 2]", "same shape");
    CHECK_ERROR(smooth_l1_loss(a, b, -1.0f), "smooth_l1_loss", "beta", "-1");
    CHECK_ERROR(smooth_l1_loss(a, b, std::nanf("")), "smooth_l1_loss", "beta");
    RegressionLossOptions o;
    o.weight = Tensor::full({2, 4}, 1.0f);
    o.weight.data()[5] = -0.5f;
    CHECK_ERROR(l1_loss(a, b, o), "l1_loss", "weight[5] = -0.5", ">= 0");
    o.weight.data()[5] = std::numeric_limits<float>::infinity();
    CHECK_ERROR(l1_loss(a, b, o), "l1_loss", "weight[5] = inf");
    o.weight = Tensor::ones({8});
    CHECK_ERROR(l1_loss(a, b, o), "l1_loss", "weight has shape [8]");
    RegressionLossOptions s;
    s.reduction = Reduction::Sum;
    s.normalizer = 3;
    CHECK_ERROR(l1_loss(a, b, s), "l1_loss", "normalizer", "Reduction::Sum");
    s.reduction = Reduction::Mean;
    s.normalizer = -1;
    CHECK_ERROR(l1_loss(a, b, s), "l1_loss", "normalizer", ">= 0");
    a.data()[3] = std::nanf("");
    CHECK_ERROR(smooth_l1_loss(a, b), "smooth_l1_loss", "input", "nan", "[0, 3]");
    CHECK_ERROR(reference::l1_loss(a, b), "reference::l1_loss", "input");
}

// ---- giou_loss -------------------------------------------------------------------------------

namespace {

// 1 - GIoU from the definition, in double, as torchvision's generalized_box_iou_loss writes it.
double giou_reference(const float* p, const float* g) {
    double ix1 = std::max(p[0], g[0]), iy1 = std::max(p[1], g[1]), ix2 = std::min(p[2], g[2]),
           iy2 = std::min(p[3], g[3]);
    double inter = ix2 > ix1 && iy2 > iy1 ? (ix2 - ix1) * (iy2 - iy1) : 0.0;
    double uni =
        (double(p[2]) - p[0]) * (double(p[3]) - p[1]) + (double(g[2]) - g[0]) * (double(g[3]) - g[1]) - inter;
    double cx1 = std::min(p[0], g[0]), cy1 = std::min(p[1], g[1]), cx2 = std::max(p[2], g[2]),
           cy2 = std::max(p[3], g[3]);
    double enclose = (cx2 - cx1) * (cy2 - cy1);
    return 1 - (inter / (uni + 1e-7) - (enclose - uni) / (enclose + 1e-7));
}

// Random box pairs whose coordinates are at least 0.1 apart wherever the loss has a kink (a
// comparison between the two boxes' edges), so that gradcheck's steps never cross one.
void random_pairs(int n, uint64_t seed, Tensor& boxes, Tensor& target) {
    Generator g(seed);
    std::vector<float> b, t;
    while (int(b.size()) < 4 * n) {
        float p[4], q[4];
        for (float* box : {p, q}) {
            box[0] = g.uniform(0, 3), box[1] = g.uniform(0, 3);
            box[2] = box[0] + g.uniform(0.5f, 5), box[3] = box[1] + g.uniform(0.5f, 5);
        }
        bool apart = true;
        for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j)
                if (i % 2 == j % 2) apart &= std::fabs(p[i] - q[j]) > 0.1f;
        if (!apart) continue;
        b.insert(b.end(), p, p + 4);
        t.insert(t.end(), q, q + 4);
    }
    boxes = Tensor::from(b, {n, 4});
    target = Tensor::from(t, {n, 4});
}

}  // namespace

TEST_CASE("giou_loss: hand-worked boxes") {
    RegressionLossOptions none;
    none.reduction = Reduction::None;
    Tensor p = boxes_to_tensor({{0, 0, 2, 2}, {0, 0, 1, 1}, {0, 0, 2, 2}});
    Tensor g = boxes_to_tensor({{1, 1, 3, 3}, {2, 0, 3, 1}, {0, 0, 2, 2}});
    // Overlap 1, union 7, enclosing 9: 1 - (1/7 - 2/9). Apart: 1 + (3 - 2) / 3. Equal: ~0.
    fgtest::check_close(giou_loss(p, g, none), {1 - (1.0 / 7 - 2.0 / 9), 4.0 / 3, 0}, 1e-6, 1e-7);
    // Symmetric, and the mean over boxes by default.
    CHECK(giou_loss(g, p).item() == doctest::Approx((1 - (1.0 / 7 - 2.0 / 9) + 4.0 / 3) / 3).epsilon(1e-6));
}

TEST_CASE("giou_loss: against the definition in double, gradcheck for boxes and target, weights") {
    Tensor b, t;
    random_pairs(60, 3, b, t);
    RegressionLossOptions none;
    none.reduction = Reduction::None;
    Tensor l = giou_loss(b, t, none);
    REQUIRE(l.shape() == Shape{60});
    std::vector<double> expected;
    int overlapping = 0;
    for (int64_t i = 0; i < 60; ++i) {
        expected.push_back(giou_reference(b.data() + 4 * i, t.data() + 4 * i));
        overlapping += expected.back() < 1;
    }
    fgtest::check_close(l, expected, 1e-6, 1e-7);
    CHECK(overlapping > 10);
    CHECK(overlapping < 50);
    Tensor gb, gt;
    random_pairs(12, 4, gb, gt);
    for (Reduction reduction : kReductions) {
        RegressionLossOptions o;
        o.reduction = reduction;
        Generator gw(5);
        o.weight = Tensor::rand({12}, gw);
        o.weight.data()[2] = 0;
        fgtest::check_gradcheck([=](const std::vector<Tensor>& in) { return giou_loss(in[0], in[1], o); },
                                {gb, gt});
    }
    // A zero weight ignores a box, also in the mean's denominator.
    RegressionLossOptions masked;
    masked.weight = Tensor::ones({60});
    for (int64_t i = 30; i < 60; ++i) masked.weight.data()[i] = 0;
    double first_half = 0;
    for (int64_t i = 0; i < 30; ++i) first_half += expected[size_t(i)];
    CHECK(giou_loss(b, t, masked).item() == doctest::Approx(first_half / 30).epsilon(1e-6));
}

TEST_CASE("giou_loss: degenerate and far-apart boxes stay finite; bad input") {
    RegressionLossOptions none;
    none.reduction = Reduction::None;
    Tensor p = boxes_to_tensor({{5, 5, 5, 5}, {0, 0, 1, 1}, {0, 0, 1e4f, 1e4f}});
    Tensor g = boxes_to_tensor({{5, 5, 5, 5}, {1e4f, 1e4f, 1e4f + 1, 1e4f + 1}, {0, 0, 1e4f, 1e4f}});
    Tensor x = p.clone().set_requires_grad();
    Tensor l = giou_loss(x, g, none);
    for (int64_t i = 0; i < 3; ++i) CHECK(std::isfinite(l.data()[i]));
    CHECK(l.data()[0] == 1.0f);  // two equal points: IoU 0 / ε = 0, as in torchvision
    CHECK(l.data()[1] == doctest::Approx(2.0).epsilon(1e-6));  // far apart: GIoU -> -1
    CHECK(l.data()[2] == doctest::Approx(0.0));
    sum(l).backward();
    for (float v : x.grad().to_vector()) CHECK(std::isfinite(v));
    CHECK_ERROR(giou_loss(Tensor::zeros({2, 3}), Tensor::zeros({2, 3})), "giou_loss", "[..., 4]");
    CHECK_ERROR(giou_loss(boxes_to_tensor({{2, 0, 1, 1}}), boxes_to_tensor({{0, 0, 1, 1}})), "giou_loss",
                "boxes box 0", "x1 <= x2");
    RegressionLossOptions w;
    w.weight = Tensor::ones({2});
    CHECK_ERROR(giou_loss(p, g, w), "giou_loss", "one weight per box");
}
