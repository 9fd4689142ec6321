// sampling.cpp — the stratified hold-out split and the class-balanced sampler.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include <focalgrad/core/error.h>
#include <focalgrad/core/random.h>
#include <focalgrad/data/sampling.h>

namespace focalgrad {

namespace {

// The items (indices into labels) of each label value, ascending, keyed by label.
std::map<int, std::vector<int64_t>> group_by_label(const std::vector<int>& labels,
                                                   const std::vector<int64_t>& indices, const char* op) {
    std::map<int, std::vector<int64_t>> groups;
    auto add = [&](int64_t i) {
        FG_CHECK(i >= 0 && i < int64_t(labels.size()), op, ": index ", i, " is out of range for ",
                 labels.size(), " labels");
        FG_CHECK(labels[size_t(i)] >= 0, op, ": label ", labels[size_t(i)], " of item ", i, " is negative");
        groups[labels[size_t(i)]].push_back(i);
    };
    if (indices.empty())
        for (int64_t i = 0; i < int64_t(labels.size()); ++i) add(i);
    else
        for (int64_t i : indices) add(i);
    for (auto& [label, items] : groups) {
        std::sort(items.begin(), items.end());
        FG_CHECK(std::adjacent_find(items.begin(), items.end()) == items.end(), op, ": index ",
                 *std::adjacent_find(items.begin(), items.end()), " is listed twice");
    }
    return groups;
}

}  // namespace

HoldoutSplit stratified_split(const std::vector<int>& labels, double fraction, uint64_t seed,
                              const std::vector<int64_t>& indices) {
    FG_CHECK(fraction >= 0.0 && fraction < 1.0, "stratified_split: fraction must be in [0, 1), got ",
             fraction);
    HoldoutSplit split;
    for (auto& [label, items] : group_by_label(labels, indices, "stratified_split")) {
        const int64_t n = int64_t(items.size());
        const int64_t n_val = std::min<int64_t>(n - 1, std::llround(fraction * double(n)));
        Generator gen(seed, uint64_t(label));
        std::vector<int64_t> order = items;
        shuffle(order, gen);
        split.val.insert(split.val.end(), order.begin(), order.begin() + n_val);
        split.train.insert(split.train.end(), order.begin() + n_val, order.end());
    }
    std::sort(split.train.begin(), split.train.end());
    std::sort(split.val.begin(), split.val.end());
    return split;
}

BalancedSampler::BalancedSampler(const std::vector<int>& labels, const std::vector<int64_t>& indices) {
    for (auto& [label, items] : group_by_label(labels, indices, "BalancedSampler")) {
        size_ += int64_t(items.size());
        members_.push_back(std::move(items));
    }
    FG_CHECK(size_ > 0, "BalancedSampler: there are no items to draw from");
    FG_CHECK(size_ <= int64_t(UINT32_MAX), "BalancedSampler: ", size_, " items are more than 2^32 - 1");
}

std::vector<int64_t> BalancedSampler::epoch_order(uint64_t seed, int64_t epoch) const {
    FG_CHECK(epoch >= 0, "BalancedSampler::epoch_order: epoch must be >= 0, got ", epoch);
    const int64_t K = int64_t(members_.size());
    Generator gen(seed, uint64_t(epoch));
    // Draws per class: N / K each, and one more for N mod K classes picked at random.
    std::vector<int64_t> draws(size_t(K), size_ / K);
    std::vector<int64_t> classes(static_cast<size_t>(K));
    std::iota(classes.begin(), classes.end(), int64_t(0));
    shuffle(classes, gen);
    for (int64_t k = 0; k < size_ % K; ++k) ++draws[size_t(classes[size_t(k)])];

    std::vector<int64_t> order;
    order.reserve(size_t(size_));
    for (int64_t c = 0; c < K; ++c) {
        const std::vector<int64_t>& items = members_[size_t(c)];
        for (int64_t d = 0; d < draws[size_t(c)]; ++d)
            order.push_back(items[gen.below(uint32_t(items.size()))]);
    }
    shuffle(order, gen);
    return order;
}

}  // namespace focalgrad
