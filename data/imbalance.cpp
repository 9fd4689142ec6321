// imbalance.cpp — step and long-tail subsets: per-class target counts, then one seeded
// random sample per class.
#include <algorithm>
#include <cmath>

#include <focalgrad/core/error.h>
#include <focalgrad/core/random.h>
#include <focalgrad/data/imbalance.h>

namespace focalgrad {

namespace {

// Number of classes implied by the labels (max + 1), after checking they are usable.
int num_classes_of(const std::vector<int>& labels, const char* op) {
    FG_CHECK(!labels.empty(), op, ": labels is empty; there is nothing to subsample");
    int max_label = 0;
    for (size_t i = 0; i < labels.size(); ++i) {
        FG_CHECK(labels[i] >= 0, op, ": label ", labels[i], " at index ", i, " is negative");
        max_label = std::max(max_label, labels[i]);
    }
    return max_label + 1;
}

// round(target), halves away from zero, at least 1 for a class that has items (n > 0).
int64_t kept_count(int64_t n, double target) {
    if (n == 0) return 0;
    return std::min(n, std::max<int64_t>(1, std::llround(target)));
}

// Keeps keep[c] items of each class c, chosen at random with one generator walked through
// the classes in order, and returns the kept indices sorted.
std::vector<int64_t> subsample(const std::vector<int>& labels, const std::vector<int64_t>& keep,
                               uint64_t seed) {
    std::vector<std::vector<int64_t>> by_class(keep.size());
    for (size_t i = 0; i < labels.size(); ++i) by_class[size_t(labels[i])].push_back(int64_t(i));
    Generator gen(seed);
    std::vector<int64_t> kept;
    for (size_t c = 0; c < keep.size(); ++c) {
        std::vector<int64_t>& items = by_class[c];
        // Classes kept whole draw no random numbers: their order does not matter.
        if (keep[c] < int64_t(items.size())) {
            shuffle(items, gen);
            items.resize(size_t(keep[c]));
        }
        kept.insert(kept.end(), items.begin(), items.end());
    }
    std::sort(kept.begin(), kept.end());
    return kept;
}

// What the per-class arrays of `num_classes` classes cost (counts, targets and item lists:
// about 40 bytes a class), for the message when they cannot be allocated: a label of 2e9
// asks for 80 GB of them.
auto per_class_arrays(int num_classes) {
    return [num_classes] {
        return str("the per-class arrays of ", num_classes, " classes (about ",
                   byte_size(40.0 * double(num_classes)),
                   "; the number of classes is the largest label + 1)");
    };
}

// class_counts, naming the caller `op` in its errors.
std::vector<int64_t> count_classes(const std::vector<int>& labels, int num_classes, const char* op) {
    std::vector<int64_t> counts(size_t(std::max(num_classes, 0)), 0);
    for (size_t i = 0; i < labels.size(); ++i) {
        FG_CHECK(labels[i] >= 0 && labels[i] < num_classes, op, ": label ", labels[i], " at index ", i,
                 " is out of range [0, ", num_classes - 1, "]");
        ++counts[size_t(labels[i])];
    }
    return counts;
}

}  // namespace

std::vector<int64_t> class_counts(const std::vector<int>& labels, int num_classes) {
    return allocating("class_counts", per_class_arrays(num_classes),
                      [&] { return count_classes(labels, num_classes, "class_counts"); });
}

std::vector<int64_t> class_counts(const std::vector<int>& labels, const std::vector<int64_t>& indices,
                                  int num_classes) {
    std::vector<int64_t> counts = allocating("class_counts", per_class_arrays(num_classes), [&] {
        return std::vector<int64_t>(size_t(std::max(num_classes, 0)), 0);
    });
    for (int64_t i : indices) {
        FG_CHECK(i >= 0 && i < int64_t(labels.size()), "class_counts: index ", i, " is out of range for ",
                 labels.size(), " labels");
        int y = labels[size_t(i)];
        FG_CHECK(y >= 0 && y < num_classes, "class_counts: label ", y, " at index ", i,
                 " is out of range [0, ", num_classes - 1, "]");
        ++counts[size_t(y)];
    }
    return counts;
}

std::vector<int64_t> make_step_imbalance(const std::vector<int>& labels,
                                         const std::vector<int>& minority_classes, double ratio,
                                         uint64_t seed) {
    const char* op = "make_step_imbalance";
    int num_classes = num_classes_of(labels, op);
    FG_CHECK(std::isfinite(ratio) && ratio >= 1.0, op,
             ": ratio must be a finite number >= 1 "
             "(minority classes keep 1/ratio of their items), got ",
             ratio);
    return allocating(op, per_class_arrays(num_classes), [&] {
        std::vector<int64_t> counts = count_classes(labels, num_classes, op);
        std::vector<int64_t> keep = counts;
        std::vector<bool> listed(size_t(num_classes), false);
        for (int c : minority_classes) {
            FG_CHECK(c >= 0 && c < num_classes && counts[size_t(c)] > 0, op, ": minority class ", c,
                     " has no items in labels (labels hold classes 0 to ", num_classes - 1, ")");
            FG_CHECK(!listed[size_t(c)], op, ": minority class ", c, " is listed twice");
            listed[size_t(c)] = true;
            keep[size_t(c)] = kept_count(counts[size_t(c)], double(counts[size_t(c)]) / ratio);
        }
        return subsample(labels, keep, seed);
    });
}

std::vector<int64_t> make_long_tail(const std::vector<int>& labels, double imbalance_factor, uint64_t seed) {
    const char* op = "make_long_tail";
    int num_classes = num_classes_of(labels, op);
    FG_CHECK(std::isfinite(imbalance_factor) && imbalance_factor >= 1.0, op,
             ": imbalance_factor "
             "must be a finite number >= 1 (the head class keeps IF times the tail's share), got ",
             imbalance_factor);
    FG_CHECK(num_classes >= 2, op,
             ": a long tail needs at least 2 classes; the labels hold only "
             "class 0");
    return allocating(op, per_class_arrays(num_classes), [&] {
        std::vector<int64_t> counts = count_classes(labels, num_classes, op);
        const double n_max = double(*std::max_element(counts.begin(), counts.end()));
        std::vector<int64_t> keep(counts.size());
        for (int c = 0; c < num_classes; ++c) {
            double fraction = std::pow(imbalance_factor, -double(c) / double(num_classes - 1));
            keep[size_t(c)] = kept_count(counts[size_t(c)], n_max * fraction);  // capped at n_c
        }
        return subsample(labels, keep, seed);
    });
}

}  // namespace focalgrad
