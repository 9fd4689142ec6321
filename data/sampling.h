// sampling.h — which items a run sees: a seeded, stratified hold-out split for
// validation, and class-balanced oversampling (the sampler behind Sampler::balanced in
// data/loader.h). Both work on label vectors and index lists, like data/imbalance.h, so
// they serve a uint8 Dataset and a TensorDataset alike.
// Not here: k-fold cross-validation, weighted sampling with arbitrary weights.
#pragma once

#include <cstdint>
#include <vector>

namespace focalgrad {

struct HoldoutSplit {
    std::vector<int64_t> train;  // ascending
    std::vector<int64_t> val;    // ascending
};

// Holds out a fraction of every class: of class c's n_c items (among `indices`, or all
// items when it is empty), n_val = min(n_c - 1, round(fraction * n_c)) go to `val` — a
// class always keeps at least one training item — chosen by a shuffle seeded with
// (seed, stream = c), so the split of one class does not depend on the others. The same
// labels, fraction and seed give the same split on every machine. 0 <= fraction < 1.
HoldoutSplit stratified_split(const std::vector<int>& labels, double fraction, uint64_t seed,
                              const std::vector<int64_t>& indices = {});

// Oversampling to balance the classes (Buda et al. 2018 find it the strongest baseline
// for imbalanced training): each epoch makes as many draws as there are items, divided
// as evenly as possible among the classes present — floor(N / K) each, and one more for
// N mod K of them, picked at random — each draw an item of its class chosen uniformly
// with replacement. The draws are then shuffled. Everything is seeded by (seed, stream =
// epoch): any epoch can be replayed on its own, as with DataLoader's permutations.
class BalancedSampler {
public:
    // The items are indices into `labels` (all of them when `indices` is empty).
    BalancedSampler(const std::vector<int>& labels, const std::vector<int64_t>& indices = {});

    int64_t size() const { return size_; }  // draws per epoch: the number of items
    int num_classes_present() const { return int(members_.size()); }
    std::vector<int64_t> epoch_order(uint64_t seed, int64_t epoch) const;

private:
    std::vector<std::vector<int64_t>> members_;  // the items of each class present, ascending
    int64_t size_ = 0;
};

}  // namespace focalgrad
