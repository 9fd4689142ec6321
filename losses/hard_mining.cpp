// hard_mining.cpp — OHEM and SSD's hard negative mining. What each group keeps is decided
// the same way for both forms (a quota per pool of examples: positives, negatives, or every
// example that counts); then the reference form picks the examples with a stable sort in
// double and records its own backward, and the fast form picks them with topk on the
// candidates (index_select, topk, concat, sum: core ops, whose backwards send the gradient to
// the kept examples only). tests/test_loss_hard_mining.cpp holds the two together.
#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/losses/hard_mining.h>
#include <focalgrad/losses/loss_toolkit.h>

namespace focalgrad {

namespace {

// ---- What each group keeps (shared by both forms) -------------------------------------------

// A pool of candidate examples (flat indices, increasing) and how many of them to keep: the
// `keep` with the highest losses.
struct Pool {
    std::vector<int64_t> candidates;
    int64_t keep = 0;
};

// Checks losses ([N] or [G, M], no NaN) and labels (one per example, each 1, 0 or -1);
// returns the group size M.
int64_t check_mining(const char* op, const Tensor& losses, const std::vector<int>& labels) {
    FG_CHECK(losses.defined(), op, ": losses is an undefined tensor");
    FG_CHECK(losses.dim() == 1 || losses.dim() == 2, op,
             ": losses must be [N] (one group) or [G, M] (G groups), got ", losses.shape());
    FG_CHECK(int64_t(labels.size()) == losses.numel(), op, ": got ", labels.size(),
             " labels for losses of shape ", losses.shape(), "; expected one per example");
    const float* v = losses.data();
    for (int64_t i = 0; i < losses.numel(); ++i) {
        FG_CHECK(labels[size_t(i)] >= -1 && labels[size_t(i)] <= 1, op, ": labels[", i,
                 "] = ", labels[size_t(i)], "; expected 1 (positive), 0 (negative) or -1 (ignored)");
        FG_CHECK(!std::isnan(v[i]), op, ": losses[", i, "] is NaN; the examples cannot be ranked");
    }
    return losses.dim() == 1 ? losses.numel() : losses.shape()[1];
}

// The pools of every group, in group order. `quota(positives, negatives)` gives, for a group's
// counts, the number of positives and negatives to keep, or with `pooled`, one number to keep
// from all its examples that count.
template <class Quota>
std::vector<Pool> plan(const std::vector<int>& labels, int64_t group_size, bool pooled, Quota&& quota) {
    std::vector<Pool> pools;
    const int64_t n = int64_t(labels.size());
    for (int64_t begin = 0; begin < n; begin += group_size) {
        Pool pos, neg, all;
        for (int64_t i = begin; i < std::min(n, begin + group_size); ++i) {
            if (labels[size_t(i)] == 1) pos.candidates.push_back(i);
            if (labels[size_t(i)] == 0) neg.candidates.push_back(i);
            if (labels[size_t(i)] != -1) all.candidates.push_back(i);
        }
        const auto [keep_pos, keep_neg] =
            quota(int64_t(pos.candidates.size()), int64_t(neg.candidates.size()));
        if (pooled) {
            all.keep = keep_pos;
            pools.push_back(std::move(all));
        } else {
            pos.keep = keep_pos;
            neg.keep = keep_neg;
            pools.push_back(std::move(pos));
            pools.push_back(std::move(neg));
        }
    }
    return pools;
}

std::vector<Pool> ohem_plan(const char* op, const Tensor& losses, const std::vector<int>& labels,
                            const OhemOptions& o) {
    const int64_t M = check_mining(op, losses, labels);
    FG_CHECK(o.batch_size >= 0, op, ": batch_size must be >= 0, got ", o.batch_size);
    FG_CHECK(o.positive_fraction >= 0 && o.positive_fraction <= 1, op,
             ": positive_fraction must be in [0, 1] (0: no fixed share), got ", o.positive_fraction);
    const int64_t B = o.batch_size;
    if (o.positive_fraction == 0)
        return plan(labels, M, true, [B](int64_t p, int64_t n) {
            return std::pair{std::min(B, p + n), int64_t(0)};
        });
    const int64_t share = std::lround(double(o.positive_fraction) * double(B));
    return plan(labels, M, false, [B, share](int64_t p, int64_t n) {
        const int64_t keep_pos = std::min(p, share);
        return std::pair{keep_pos, std::min(n, B - keep_pos)};
    });
}

std::vector<Pool> hnm_plan(const char* op, const Tensor& losses, const std::vector<int>& labels,
                           const HardNegativeOptions& o) {
    const int64_t M = check_mining(op, losses, labels);
    FG_CHECK(std::isfinite(o.negative_ratio) && o.negative_ratio >= 0, op,
             ": negative_ratio must be a finite number >= 0, got ", o.negative_ratio);
    FG_CHECK(o.min_negatives >= 0, op, ": min_negatives must be >= 0, got ", o.min_negatives);
    const double ratio = o.negative_ratio;
    const int64_t least = o.min_negatives;
    return plan(labels, M, false, [ratio, least](int64_t p, int64_t n) {
        const int64_t wanted = std::max(int64_t(std::floor(ratio * double(p))), least);
        return std::pair{p, std::min(n, wanted)};
    });
}

// Counts and sorts the kept indices of a result.
void finish(MinedLoss& r, const std::vector<int>& labels) {
    std::sort(r.kept.begin(), r.kept.end());
    for (int64_t i : r.kept) {
        r.num_positive += labels[size_t(i)] == 1;
        r.num_negative += labels[size_t(i)] == 0;
    }
}

// ---- Reference form -----------------------------------------------------------------------
//   kept = in each pool, the `keep` examples of highest loss (equal losses: lower index first)
//   Sum  Σ_kept ℓ_i     Mean  Σ_kept ℓ_i / |kept|     None  m_i ℓ_i,  m_i = 1[i kept]
//   dℓ_i = m_i g_i, with g_i the reduction's upstream gradient (dy_i, dy or dy / |kept|)
MinedLoss reference_mine(const char* op, const Tensor& losses, const std::vector<Pool>& pools,
                         const std::vector<int>& labels, Reduction reduction) {
    const int64_t n = losses.numel();
    auto mask = std::make_shared<std::vector<double>>(size_t(n), 0.0);
    MinedLoss r;
    for (const Pool& pool : pools) {
        std::vector<std::pair<double, int64_t>> ranked;  // (loss, index), index increasing
        for (int64_t i : pool.candidates) ranked.push_back({double(losses.data()[i]), i});
        std::stable_sort(ranked.begin(), ranked.end(),
                         [](const auto& a, const auto& b) { return a.first > b.first; });
        for (int64_t j = 0; j < pool.keep; ++j) {
            (*mask)[size_t(ranked[size_t(j)].second)] = 1.0;
            r.kept.push_back(ranked[size_t(j)].second);
        }
    }
    finish(r, labels);
    std::vector<double> masked(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) masked[size_t(i)] = (*mask)[size_t(i)] * double(losses.data()[i]);
    const double denominator = double(r.kept.size());
    r.loss = reduce_losses(reduction, masked, denominator, losses.shape());
    record(op, {losses}, r.loss, [losses, mask, reduction, denominator](const Tensor& dy, const Tensor&) {
        const UpstreamGrad g(reduction, dy, denominator);
        Tensor dlosses = Tensor::empty(losses.shape());
        for (int64_t i = 0; i < losses.numel(); ++i) dlosses.data()[i] = float((*mask)[size_t(i)] * g(i));
        accumulate_grad(losses, std::move(dlosses));
    });
    return r;
}

// ---- Fast form: the same selection with topk, the loss from core ops -------------------------
MinedLoss mine(const Tensor& losses, const std::vector<Pool>& pools, const std::vector<int>& labels,
               Reduction reduction) {
    const Tensor flat = reshape(losses, {-1});
    MinedLoss r;
    std::vector<Tensor> picked;  // per pool, the kept losses (differentiable)
    for (const Pool& pool : pools) {
        if (pool.keep == 0) continue;
        // index_select and topk both send their gradient back to where each value came from.
        ValuesIndices top = topk(index_select(flat, 0, pool.candidates), pool.keep);
        picked.push_back(top.values);
        for (int64_t j : top.indices) r.kept.push_back(pool.candidates[size_t(j)]);
    }
    finish(r, labels);
    if (reduction == Reduction::None) {
        Tensor mask = Tensor::zeros(losses.shape());
        for (int64_t i : r.kept) mask.data()[i] = 1.0f;
        r.loss = mul(losses, mask);
    } else if (picked.empty()) {
        r.loss = mul(sum(flat), 0.0f);  // nothing kept: 0, a zero gradient, still on the tape
    } else {
        r.loss = sum(concat(picked));
        if (reduction == Reduction::Mean) r.loss = div(r.loss, float(r.kept.size()));
    }
    return r;
}

}  // namespace

MinedLoss reference::ohem(const Tensor& losses, const std::vector<int>& labels, const OhemOptions& options) {
    constexpr const char* op = "reference::ohem";
    return reference_mine(op, losses, ohem_plan(op, losses, labels, options), labels, options.reduction);
}

MinedLoss reference::hard_negative_mining(const Tensor& losses, const std::vector<int>& labels,
                                          const HardNegativeOptions& options) {
    constexpr const char* op = "reference::hard_negative_mining";
    return reference_mine(op, losses, hnm_plan(op, losses, labels, options), labels, options.reduction);
}

// Per group: the batch_size highest losses (or round(f B) positives, then negatives up to B).
MinedLoss ohem(const Tensor& losses, const std::vector<int>& labels, const OhemOptions& options) {
    return mine(losses, ohem_plan("ohem", losses, labels, options), labels, options.reduction);
}

// Per group: every positive, and the floor(ratio n_pos) (at least min_negatives) hardest negatives.
MinedLoss hard_negative_mining(const Tensor& losses, const std::vector<int>& labels,
                               const HardNegativeOptions& options) {
    return mine(losses, hnm_plan("hard_negative_mining", losses, labels, options), labels, options.reduction);
}

}  // namespace focalgrad
