// test_loss_hard_mining.cpp — OHEM and SSD's hard negative mining: hand-worked selections,
// groups, ties, the fast form (topk) against reference:: for every option and reduction on
// random losses, gradients only at the kept examples, gradchecks with random upstream
// gradients, mining a real per-anchor loss from dense_targets' states, and bad input.
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/random.h>
#include <focalgrad/detection/anchors.h>
#include <focalgrad/losses/hard_mining.h>
#include <focalgrad/losses/sigmoid_focal_loss.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

const Reduction kReductions[] = {Reduction::None, Reduction::Mean, Reduction::Sum};

// Distinct losses at least 0.01 apart (a shuffled ramp): a finite-difference step cannot
// reorder them. With `ties`, the values are rounded to a coarse grid instead.
Tensor random_losses(const Shape& shape, uint64_t seed, bool ties = false) {
    Generator g(seed);
    std::vector<float> v(size_t(shape.numel()));
    for (size_t i = 0; i < v.size(); ++i) v[i] = ties ? float(g.below(6)) * 0.5f : 0.01f * float(i) + 0.05f;
    if (!ties) shuffle(v, g);
    return Tensor::from(v, shape);
}

std::vector<int> random_labels(int64_t n, uint64_t seed, double positive = 0.1, double ignored = 0.1) {
    Generator g(seed + 7);
    std::vector<int> labels(static_cast<size_t>(n));
    for (int& l : labels) {
        float u = g.uniform();
        l = u < positive ? 1 : u < positive + ignored ? -1 : 0;
    }
    return labels;
}

// The gradient of a mined loss for a random upstream gradient.
std::vector<float> gradient_of(const std::function<MinedLoss(const Tensor&)>& mine, const Tensor& losses,
                               uint64_t seed, MinedLoss* result = nullptr) {
    Tensor x = losses.clone().set_requires_grad();
    MinedLoss r = mine(x);
    Generator g(seed);
    r.loss.backward(Tensor::normal(r.loss.shape(), 0.0f, 1.0f, g));
    if (result) *result = r;
    return x.grad().to_vector();
}

}  // namespace

TEST_CASE("ohem and hard_negative_mining: hand-worked selections") {
    //                               0    1    2    3    4     5
    Tensor losses = Tensor::from({0.1f, 0.9f, 0.5f, 0.7f, 0.3f, 0.2f});
    std::vector<int> labels = {1, 0, 0, -1, 0, 1};  // example 3 is ignored: never kept
    OhemOptions top2;
    top2.batch_size = 2;
    MinedLoss a = ohem(losses, labels, top2);
    CHECK(a.kept == std::vector<int64_t>{1, 2});  // 0.9 and 0.5 (0.7 is ignored)
    CHECK(a.loss.item() == doctest::Approx(1.4));
    CHECK(a.num_positive == 0);
    CHECK(a.num_negative == 2);
    // At a positive fraction of 1/2: the hardest positive (0.2, example 5), then one negative.
    OhemOptions half = top2;
    half.positive_fraction = 0.5f;
    CHECK(ohem(losses, labels, half).kept == std::vector<int64_t>{1, 5});
    // More than there is: everything that counts.
    OhemOptions many;
    many.batch_size = 100;
    many.reduction = Reduction::Mean;
    MinedLoss all = ohem(losses, labels, many);
    CHECK(all.kept == std::vector<int64_t>{0, 1, 2, 4, 5});
    CHECK(all.loss.item() == doctest::Approx(2.0 / 5));
    // SSD: both positives and 3 x 2 = 6 negatives, of which there are 3; at ratio 1, 2 negatives.
    MinedLoss ssd = hard_negative_mining(losses, labels);
    CHECK(ssd.kept == std::vector<int64_t>{0, 1, 2, 4, 5});
    HardNegativeOptions one;
    one.negative_ratio = 1;
    one.reduction = Reduction::None;
    MinedLoss s1 = hard_negative_mining(losses, labels, one);
    CHECK(s1.kept == std::vector<int64_t>{0, 1, 2, 5});
    fgtest::check_close(s1.loss, {0.1, 0.9, 0.5, 0, 0, 0.2}, 1e-7, 0);  // the floats themselves
    // Without positives SSD keeps no negative, unless min_negatives says so.
    std::vector<int> no_pos = {0, 0, 0, -1, 0, 0};
    CHECK(hard_negative_mining(losses, no_pos).kept.empty());
    CHECK(hard_negative_mining(losses, no_pos).loss.item() == 0.0f);
    HardNegativeOptions least;
    least.min_negatives = 2;
    CHECK(hard_negative_mining(losses, no_pos, least).kept == std::vector<int64_t>{1, 2});
}

TEST_CASE("ohem and hard_negative_mining: per group of [G, M], and ties in index order") {
    // Two groups of four: each keeps its own hardest.
    Tensor losses = Tensor::from({0.4f, 0.1f, 0.8f, 0.3f, 0.9f, 0.95f, 0.2f, 0.7f}, {2, 4});
    std::vector<int> labels = {1, 0, 0, 0, 0, 0, 1, 0};
    OhemOptions top1;
    top1.batch_size = 1;
    CHECK(ohem(losses, labels, top1).kept == std::vector<int64_t>{2, 5});
    HardNegativeOptions r1;
    r1.negative_ratio = 1;
    CHECK(hard_negative_mining(losses, labels, r1).kept == std::vector<int64_t>{0, 2, 5, 6});
    // Equal losses: the lower index is kept, in both forms.
    Tensor flat = Tensor::full({6}, 0.5f);
    std::vector<int> all_neg(6, 0);
    OhemOptions top3;
    top3.batch_size = 3;
    CHECK(ohem(flat, all_neg, top3).kept == std::vector<int64_t>{0, 1, 2});
    CHECK(reference::ohem(flat, all_neg, top3).kept == std::vector<int64_t>{0, 1, 2});
}

TEST_CASE("ohem and hard_negative_mining: topk form equals reference:: on random losses") {
    uint64_t seed = 100;
    for (bool grouped : {false, true})
        for (bool ties : {false, true})
            for (Reduction reduction : kReductions) {
                ++seed;
                Shape shape = grouped ? Shape{6, 120} : Shape{720};
                Tensor losses = random_losses(shape, seed, ties);
                std::vector<int> labels = random_labels(720, seed);
                std::vector<std::pair<std::string, std::function<MinedLoss(const Tensor&)>>> fast, ref;
                for (float f : {0.0f, 0.25f}) {
                    OhemOptions o;
                    o.batch_size = 40;
                    o.positive_fraction = f;
                    o.reduction = reduction;
                    fast.push_back({str("ohem f ", f), [=](const Tensor& x) { return ohem(x, labels, o); }});
                    ref.push_back({"", [=](const Tensor& x) { return reference::ohem(x, labels, o); }});
                }
                for (float ratio : {3.0f, 0.5f}) {
                    HardNegativeOptions o;
                    o.negative_ratio = ratio;
                    o.min_negatives = 4;
                    o.reduction = reduction;
                    fast.push_back({str("hnm ratio ", ratio),
                                    [=](const Tensor& x) { return hard_negative_mining(x, labels, o); }});
                    ref.push_back(
                        {"", [=](const Tensor& x) { return reference::hard_negative_mining(x, labels, o); }});
                }
                for (size_t k = 0; k < fast.size(); ++k) {
                    CAPTURE(fast[k].first);
                    CAPTURE(grouped);
                    CAPTURE(ties);
                    CAPTURE(reduction);
                    MinedLoss f, r;
                    std::vector<float> gf = gradient_of(fast[k].second, losses, seed, &f);
                    std::vector<float> gr = gradient_of(ref[k].second, losses, seed, &r);
                    CHECK(f.kept == r.kept);
                    CHECK(f.num_positive == r.num_positive);
                    CHECK(f.num_negative == r.num_negative);
                    REQUIRE(f.loss.numel() == r.loss.numel());
                    for (int64_t i = 0; i < f.loss.numel(); ++i)
                        CHECK(f.loss.data()[i] == doctest::Approx(r.loss.data()[i]).epsilon(1e-6));
                    // Gradients: equal, and zero wherever an example was not kept.
                    int64_t differ = 0, leaked = 0;
                    std::vector<char> kept(720, 0);
                    for (int64_t i : f.kept) kept[size_t(i)] = 1;
                    for (size_t i = 0; i < 720; ++i) {
                        differ += std::fabs(gf[i] - gr[i]) > 1e-6f * (1 + std::fabs(gr[i]));
                        leaked += !kept[i] && gf[i] != 0.0f;
                    }
                    CHECK(differ == 0);
                    CHECK(leaked == 0);
                    CHECK(!f.kept.empty());
                }
            }
}

TEST_CASE("ohem and hard_negative_mining: gradcheck with random upstream gradients") {
    Tensor losses = random_losses({3, 20}, 5);
    std::vector<int> labels = random_labels(60, 5, 0.2, 0.1);
    for (Reduction reduction : kReductions) {
        OhemOptions o;
        o.batch_size = 6;
        o.positive_fraction = 0.25f;
        o.reduction = reduction;
        HardNegativeOptions h;
        h.reduction = reduction;
        fgtest::check_gradcheck([=](const std::vector<Tensor>& in) { return ohem(in[0], labels, o).loss; },
                                {losses});
        fgtest::check_gradcheck(
            [=](const std::vector<Tensor>& in) { return reference::ohem(in[0], labels, o).loss; }, {losses});
        fgtest::check_gradcheck(
            [=](const std::vector<Tensor>& in) { return hard_negative_mining(in[0], labels, h).loss; },
            {losses});
    }
}

TEST_CASE("hard_negative_mining on a real per-anchor loss: only kept anchors get a gradient") {
    // Anchor states from dense_targets; per-anchor BCE (focal loss at γ = 0 without α), summed
    // over the classes; SSD mining per image; the gradient reaches the logits of kept anchors only.
    AnchorGrid grid;
    grid.height = grid.width = 4, grid.stride = 8;
    grid.sizes = {10};
    Tensor anchors = make_anchors(grid);  // 16 anchors
    std::vector<GroundTruth> truth = {{{{2, 2, 12, 12}}, {1}}, {{{18, 17, 29, 28}, {1, 20, 11, 31}}, {0, 2}}};
    DenseTargets t = dense_targets(anchors, truth, {0, 1}, 3);
    Generator g(8);
    Tensor logits = Tensor::normal({2, 16, 3}, 0.0f, 1.0f, g).set_requires_grad();
    SigmoidFocalLossOptions bce;
    bce.gamma = 0;
    bce.alpha = -1;
    bce.reduction = Reduction::None;
    Tensor per_anchor = sum(sigmoid_focal_loss(logits, t.labels, bce), 2);  // [2, 16]
    MinedLoss m = hard_negative_mining(per_anchor, t.state);
    CHECK(m.num_positive == t.num_positive);
    int64_t expected_negatives = 0;  // per image: min(3 n_pos, n_neg)
    for (int b = 0; b < 2; ++b) {
        int64_t pos = 0, neg = 0;
        for (int a = 0; a < 16; ++a)
            pos += t.state[size_t(b * 16 + a)] == 1, neg += t.state[size_t(b * 16 + a)] == 0;
        expected_negatives += std::min(3 * pos, neg);
    }
    CHECK(m.num_negative == expected_negatives);
    m.loss.backward();
    std::vector<char> kept(32, 0);
    for (int64_t i : m.kept) kept[size_t(i)] = 1;
    int64_t with_grad = 0;
    for (int64_t a = 0; a < 32; ++a) {
        bool any = false;
        for (int c = 0; c < 3; ++c) any |= logits.grad().data()[a * 3 + c] != 0.0f;
        CHECK(any == bool(kept[size_t(a)]));
        with_grad += any;
    }
    CHECK(with_grad == int64_t(m.kept.size()));
}

TEST_CASE("ohem and hard_negative_mining: bad input") {
    Tensor losses = Tensor::from({0.1f, 0.2f, 0.3f});
    CHECK_ERROR(ohem(losses, {0, 1}), "ohem", "2 labels", "[3]");
    CHECK_ERROR(ohem(losses, {0, 2, 1}), "ohem", "labels[1] = 2");
    CHECK_ERROR(ohem(Tensor::zeros({2, 2, 2}), std::vector<int>(8, 0)), "ohem", "[N]", "[G, M]");
    OhemOptions o;
    o.positive_fraction = 1.5f;
    CHECK_ERROR(ohem(losses, {0, 0, 1}, o), "ohem", "positive_fraction", "[0, 1]");
    o = OhemOptions{};
    o.batch_size = -1;
    CHECK_ERROR(ohem(losses, {0, 0, 1}, o), "ohem", "batch_size");
    HardNegativeOptions h;
    h.negative_ratio = -1;
    CHECK_ERROR(hard_negative_mining(losses, {0, 0, 1}, h), "hard_negative_mining", "negative_ratio");
    losses.data()[1] = std::nanf("");
    CHECK_ERROR(hard_negative_mining(losses, {0, 0, 1}), "hard_negative_mining", "losses[1] is NaN");
    CHECK_ERROR(reference::ohem(losses, {0, 0, 1}), "reference::ohem", "losses[1] is NaN");
}
