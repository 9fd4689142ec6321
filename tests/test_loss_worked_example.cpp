// test_loss_worked_example.cpp — the focal-loss write-ups' worked example, as a test.
// 100,000 easy negatives at p_t = 0.95 and 10 hard positives at p_t = 0.05. Under
// cross-entropy the positives carry 0.0058 of the total loss: the easy negatives drown
// them. Under focal loss (α = 0.25, γ = 2) they carry 0.4127. (The write-up computes with
// log base 10 and in one place misstates the count as 10,000; a share is a ratio of sums of
// logs, so the base cancels, and the count used is 100,000.)
#include <cmath>
#include <vector>

#include <focalgrad/losses/cross_entropy.h>
#include <focalgrad/losses/focal_loss.h>
#include <focalgrad/losses/sigmoid_focal_loss.h>

#include "helpers.h"
#include "test_loss_reference.h"

using namespace focalgrad;

namespace {

constexpr int64_t kNegatives = 100000, kPositives = 10;

// The positives' share of the total: they are the last kPositives entries.
double positive_share(const std::vector<float>& losses) {
    double pos = 0.0, all = 0.0;
    for (size_t i = 0; i < losses.size(); ++i) {
        all += losses[i];
        if (i >= size_t(kNegatives)) pos += losses[i];
    }
    return pos / all;
}

// The same shares in double, in a given log base.
double share(double gamma, double a_pos, double a_neg, double log_base) {
    auto fl = [&](double pt, double a) {
        return -a * std::pow(1 - pt, gamma) * std::log(pt) / std::log(log_base);
    };
    double pos = kPositives * fl(0.05, a_pos), neg = kNegatives * fl(0.95, a_neg);
    return pos / (pos + neg);
}

}  // namespace

TEST_CASE("worked example: the shares are base-independent (the write-up used log10)") {
    for (double base : {10.0, 2.0}) {
        CHECK(share(0, 1, 1, base) == lossref::rel(share(0, 1, 1, std::exp(1.0)), 1e-12));
        CHECK(share(2, 0.25, 0.75, base) == lossref::rel(share(2, 0.25, 0.75, std::exp(1.0)), 1e-12));
    }
    CHECK(std::fabs(share(0, 1, 1, 10) - 0.0058) < 5e-5);
    CHECK(std::fabs(share(2, 0.25, 0.75, 10) - 0.4127) < 5e-5);
}

TEST_CASE("worked example with sigmoid losses: CE share 0.0058, focal share 0.4127") {
    // One logit per sample with σ(x) = 0.05: p_t = 0.95 for the negatives (y = 0) and
    // p_t = 0.05 for the positives (y = 1).
    const float x = float(std::log(0.05 / 0.95));
    Tensor logits = Tensor::full({kNegatives + kPositives}, x);
    Tensor targets = Tensor::zeros({kNegatives + kPositives});
    for (int64_t i = kNegatives; i < kNegatives + kPositives; ++i) targets.data()[i] = 1.0f;

    SigmoidFocalLossOptions ce;  // γ = 0 and no α: binary cross-entropy
    ce.gamma = 0.0f;
    ce.alpha = -1.0f;
    ce.reduction = Reduction::None;
    double ce_share = positive_share(sigmoid_focal_loss(logits, targets, ce).to_vector());
    CHECK(std::fabs(ce_share - 0.0058) < 5e-5);
    CHECK(ce_share == lossref::rel(share(0, 1, 1, std::exp(1.0)), 1e-5));

    SigmoidFocalLossOptions focal;  // the paper's α = 0.25 (positives), γ = 2
    focal.reduction = Reduction::None;
    double focal_share = positive_share(sigmoid_focal_loss(logits, targets, focal).to_vector());
    CHECK(std::fabs(focal_share - 0.4127) < 5e-5);
    CHECK(focal_share == lossref::rel(share(2, 0.25, 0.75, std::exp(1.0)), 1e-5));
}

TEST_CASE("worked example with softmax losses over two classes gives the same shares") {
    // Two classes, background 0 and object 1, every row at probabilities [0.95, 0.05].
    const int64_t n = kNegatives + kPositives;
    Tensor logits = Tensor::empty({n, 2});
    for (int64_t i = 0; i < n; ++i) {
        logits.data()[2 * i] = float(std::log(0.95));
        logits.data()[2 * i + 1] = float(std::log(0.05));
    }
    std::vector<int> targets(static_cast<size_t>(n), 0);
    for (int64_t i = kNegatives; i < n; ++i) targets[size_t(i)] = 1;

    CrossEntropyOptions ce;
    ce.reduction = Reduction::None;
    CHECK(std::fabs(positive_share(cross_entropy(logits, targets, ce).to_vector()) - 0.0058) < 5e-5);

    // The scalar α convention (background gets 1 - α) is exactly the write-up's weighting.
    FocalLossOptions focal;
    focal.alpha = Tensor::scalar(0.25f);
    focal.reduction = Reduction::None;
    CHECK(std::fabs(positive_share(focal_loss(logits, targets, focal).to_vector()) - 0.4127) < 5e-5);
}
