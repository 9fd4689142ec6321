// test_data_imbalance.cpp — the imbalance builders: exact per-class counts (worked out by
// hand below), determinism for a seed, valid subsets, and their argument checks.
#include <algorithm>
#include <doctest/doctest.h>
#include <set>

#include <focalgrad/data/imbalance.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

// counts[c] items of class c, the classes interleaved (not sorted), so that a builder
// that assumed sorted labels would fail.
std::vector<int> labels_with_counts(const std::vector<int>& counts) {
    std::vector<int> labels;
    std::vector<int> left = counts;
    for (bool any = true; any;) {
        any = false;
        for (size_t c = 0; c < left.size(); ++c)
            if (left[c] > 0) {
                labels.push_back(int(c));
                --left[c];
                any = true;
            }
    }
    return labels;
}

// Sorted, unique, in range; and every class kept whole keeps exactly its own indices.
void check_valid_subset(const std::vector<int>& labels, const std::vector<int64_t>& kept,
                        const std::vector<int64_t>& counts) {
    CHECK(std::is_sorted(kept.begin(), kept.end()));
    CHECK(std::adjacent_find(kept.begin(), kept.end()) == kept.end());
    for (int64_t i : kept) REQUIRE((i >= 0 && i < int64_t(labels.size())));
    std::vector<int64_t> got = class_counts(labels, kept, int(counts.size()));
    for (size_t c = 0; c < counts.size(); ++c) {
        if (got[c] != counts[c]) continue;  // a shrunk class: checked by the caller
        for (size_t i = 0; i < labels.size(); ++i)
            if (labels[i] == int(c)) CHECK(std::binary_search(kept.begin(), kept.end(), int64_t(i)));
    }
}

}  // namespace

TEST_CASE("class_counts counts, and rejects labels out of range") {
    std::vector<int> labels = {2, 0, 2, 1, 2};
    CHECK(class_counts(labels, 3) == std::vector<int64_t>{1, 1, 3});
    CHECK(class_counts(labels, 4) == std::vector<int64_t>{1, 1, 3, 0});
    CHECK(class_counts(labels, {0, 2, 4}, 3) == std::vector<int64_t>{0, 0, 3});
    CHECK_ERROR(class_counts(labels, 2), "label 2 at index 0", "out of range [0, 1]");
    CHECK_ERROR(class_counts(labels, {5}, 3), "index 5 is out of range for 5 labels");
}

TEST_CASE("make_step_imbalance keeps round(n / ratio) of each minority class, at least 1") {
    //                                   0    1   2   3   4   5   6   7  8  9
    std::vector<int> counts = {100, 90, 80, 70, 60, 50, 25, 35, 4, 9};
    std::vector<int> labels = labels_with_counts(counts);
    std::vector<int64_t> all(counts.begin(), counts.end());

    // ratio 10 on classes 5..9: 50 -> 5; 25 -> 2.5 -> 3 (halves round up); 35 -> 3.5 -> 4;
    // 4 -> 0.4 -> 0 -> at least 1; 9 -> 0.9 -> 1.
    std::vector<int64_t> kept = make_step_imbalance(labels, {5, 6, 7, 8, 9}, 10.0, 7);
    std::vector<int64_t> expected = {100, 90, 80, 70, 60, 5, 3, 4, 1, 1};
    CHECK(class_counts(labels, kept, 10) == expected);
    CHECK(kept.size() == 100 + 90 + 80 + 70 + 60 + 5 + 3 + 4 + 1 + 1);
    check_valid_subset(labels, kept, all);

    // ratio 1 and no minority classes both keep everything.
    CHECK(make_step_imbalance(labels, {0, 3}, 1.0, 7).size() == labels.size());
    CHECK(make_step_imbalance(labels, {}, 50.0, 7).size() == labels.size());
    // A fractional ratio: 60 / 2.5 = 24, 80 / 2.5 = 32.
    CHECK(class_counts(labels, make_step_imbalance(labels, {2, 4}, 2.5, 1), 10) ==
          std::vector<int64_t>{100, 90, 32, 70, 24, 50, 25, 35, 4, 9});
}

TEST_CASE("make_step_imbalance is deterministic for a seed and varies with it") {
    std::vector<int> labels = labels_with_counts({300, 300, 300});
    std::vector<int64_t> a = make_step_imbalance(labels, {1, 2}, 10.0, 42);
    CHECK(a == make_step_imbalance(labels, {1, 2}, 10.0, 42));
    std::vector<int64_t> b = make_step_imbalance(labels, {1, 2}, 10.0, 43);
    CHECK(a.size() == b.size());
    CHECK(a != b);
    // The kept minority items are spread over the class, not its first 30.
    int64_t last_class1 = 0;
    for (int64_t i : a)
        if (labels[size_t(i)] == 1) last_class1 = std::max(last_class1, i);
    CHECK(last_class1 > int64_t(labels.size()) / 2);
}

TEST_CASE("make_step_imbalance rejects bad arguments") {
    std::vector<int> labels = {0, 1, 3, 3, 1};
    CHECK_ERROR(make_step_imbalance({}, {1}, 10.0, 0), "make_step_imbalance", "labels is empty");
    CHECK_ERROR(make_step_imbalance(labels, {1}, 0.5, 0), "ratio must be a finite number >= 1", "got 0.5");
    CHECK_ERROR(make_step_imbalance(labels, {1}, std::nan(""), 0), "ratio must be");
    CHECK_ERROR(make_step_imbalance(labels, {2}, 10.0, 0), "minority class 2 has no items", "classes 0 to 3");
    CHECK_ERROR(make_step_imbalance(labels, {7}, 10.0, 0), "minority class 7 has no items");
    CHECK_ERROR(make_step_imbalance(labels, {-1}, 10.0, 0), "minority class -1");
    CHECK_ERROR(make_step_imbalance(labels, {1, 3, 1}, 10.0, 0), "class 1 is listed twice");
    CHECK_ERROR(make_step_imbalance({0, -2}, {0}, 10.0, 0), "label -2 at index 1 is negative");
}

TEST_CASE("make_long_tail: n_c = min(n_c, round(n_max * IF^(-c/(C-1)))), exact counts") {
    // 1000 per class, IF = 100, C = 10: 1000 * 100^(-c/9) =
    //   1000, 599.48, 359.38, 215.44, 129.15, 77.43, 46.42, 27.83, 16.68, 10.
    std::vector<int> labels = labels_with_counts(std::vector<int>(10, 1000));
    std::vector<int64_t> kept = make_long_tail(labels, 100.0, 3);
    CHECK(class_counts(labels, kept, 10) ==
          std::vector<int64_t>{1000, 599, 359, 215, 129, 77, 46, 28, 17, 10});
    check_valid_subset(labels, kept, std::vector<int64_t>(10, 1000));
    CHECK(kept == make_long_tail(labels, 100.0, 3));
    CHECK(kept != make_long_tail(labels, 100.0, 4));
    CHECK(make_long_tail(labels, 1.0, 3).size() == labels.size());

    // Unequal classes follow the profile from n_max = 200, capped at what they have:
    // 200 -> 60 of 60; 200 * 4^(-1/2) = 100 of 200; 200 * 4^(-1) = 50 -> 7 of 7.
    std::vector<int> uneven = labels_with_counts({60, 200, 7});
    CHECK(class_counts(uneven, make_long_tail(uneven, 4.0, 0), 3) == std::vector<int64_t>{60, 100, 7});
    // n_max need not be class 0: 10 * 9^(-1/2) = 3.33 -> 3 and 10 * 9^(-1) = 1.11 -> 1.
    std::vector<int> head_last = labels_with_counts({4, 8, 10});
    CHECK(class_counts(head_last, make_long_tail(head_last, 9.0, 0), 3) == std::vector<int64_t>{4, 3, 1});
    // A class with a single item keeps it whatever the factor.
    std::vector<int> tiny = labels_with_counts({5, 1});
    CHECK(class_counts(tiny, make_long_tail(tiny, 1000.0, 0), 2) == std::vector<int64_t>{5, 1});
}

TEST_CASE("make_long_tail rejects bad arguments") {
    CHECK_ERROR(make_long_tail({}, 10.0, 0), "make_long_tail", "labels is empty");
    CHECK_ERROR(make_long_tail({0, 1}, 0.9, 0), "imbalance_factor must be a finite number >= 1", "got 0.9");
    CHECK_ERROR(make_long_tail({0, 1}, INFINITY, 0), "imbalance_factor must be");
    CHECK_ERROR(make_long_tail({0, 0, 0}, 10.0, 0), "at least 2 classes");
    CHECK_ERROR(make_long_tail({0, 1, -1}, 10.0, 0), "label -1 at index 2 is negative");
}
