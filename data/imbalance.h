// imbalance.h — imbalanced subsets of a labelled dataset, returned as index lists.
// Each shrunk class keeps a seeded random sample of its items; the kept indices come back
// in ascending order, so the same labels and seed give the same subset on any machine.
// Counts are rounded to the nearest integer (halves away from zero) and a class that has
// items keeps at least one. Not here: oversampling, or re-weighting (that is the losses').
#pragma once

#include <cstdint>
#include <vector>

namespace focalgrad {

// counts[c] = how many of labels[indices[i]] (or of all labels) equal c; labels outside
// [0, num_classes) are an error.
std::vector<int64_t> class_counts(const std::vector<int>& labels, int num_classes);
std::vector<int64_t> class_counts(const std::vector<int>& labels, const std::vector<int64_t>& indices,
                                  int num_classes);

// Step imbalance (Buda et al. 2018): each class in `minority_classes` keeps
//   n_c' = max(1, round(n_c / ratio))
// of its n_c items; every other class keeps all of them. ratio >= 1.
std::vector<int64_t> make_step_imbalance(const std::vector<int>& labels,
                                         const std::vector<int>& minority_classes, double ratio,
                                         uint64_t seed);

// Exponential long tail (Cui et al. 2019): class c of C keeps
//   n_c' = min(n_c, max(1, round(n_max * IF^(-c / (C - 1)))))
// of its n_c items, n_max being the largest class: the profile falls from n_max for
// class 0 to n_max / IF for class C-1. A class never keeps more than it has, so on
// MNIST (classes of 5421 to 6742 images) class 0 keeps its 5923 where the profile asks
// for 6742. C = max label + 1, IF >= 1.
std::vector<int64_t> make_long_tail(const std::vector<int>& labels, double imbalance_factor, uint64_t seed);

}  // namespace focalgrad
