// test_data_tensor.cpp — TensorDataset through DataLoader (the same orders and values as
// the uint8 MNIST path, per-channel standardisation, shapes), channel_stats by hand, the
// stratified split (counts, determinism, disjointness) and the class-balanced sampler
// (exact counts per epoch, determinism, replay, draws only from the given items).
#include <algorithm>
#include <cmath>
#include <doctest/doctest.h>
#include <map>
#include <numeric>
#include <set>

#include <focalgrad/data/loader.h>
#include <focalgrad/data/sampling.h>
#include <focalgrad/data/tensor_dataset.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

// n items of shape item; value j of item i is a function of (i, j), label i % classes.
TensorDataset numbered(int64_t n, Shape item, int classes) {
    TensorDataset d;
    d.name = "numbered";
    d.item_shape = item;
    for (int c = 0; c < classes; ++c) d.class_names.push_back("class " + std::to_string(c));
    for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < item.numel(); ++j) d.values.push_back(float(i) + 0.001f * float(j));
        d.labels.push_back(int(i % classes));
    }
    return d;
}

std::vector<int64_t> iota(int64_t n) {
    std::vector<int64_t> v(static_cast<size_t>(n));
    std::iota(v.begin(), v.end(), int64_t(0));
    return v;
}

// How often each label occurs among the items `order` names.
std::map<int, int64_t> label_counts(const std::vector<int>& labels, const std::vector<int64_t>& order) {
    std::map<int, int64_t> counts;
    for (int64_t i : order) ++counts[labels[size_t(i)]];
    return counts;
}

}  // namespace

TEST_CASE("TensorDataset: DataLoader gives the orders and values of the uint8 path") {
    // The same 40 images as a uint8 Dataset and as floats v / 255.
    Dataset bytes;
    bytes.name = "bytes";
    bytes.rows = 3;
    bytes.cols = 2;
    for (int c = 0; c < 4; ++c) bytes.class_names.push_back(std::to_string(c));
    TensorDataset floats;
    floats.name = "floats";
    floats.item_shape = Shape{1, 3, 2};
    floats.class_names = bytes.class_names;
    for (int64_t i = 0; i < 40; ++i) {
        for (int p = 0; p < 6; ++p) {
            uint8_t v = uint8_t((i * 37 + p * 11) % 256);
            bytes.images.push_back(v);
            floats.values.push_back(float(v / 255.0));
        }
        bytes.labels.push_back(int(i % 4));
        floats.labels.push_back(int(i % 4));
    }
    LoaderOptions opt;
    opt.batch_size = 7;
    opt.seed = 3;
    DataLoader a(bytes, opt), b(floats, opt);
    REQUIRE(a.num_batches() == b.num_batches());
    for (int64_t e = 0; e < 3; ++e) {
        CHECK(a.epoch_order(e) == b.epoch_order(e));
        DataLoader::Epoch ea = a.epoch(e), eb = b.epoch(e);
        for (int64_t k = 0; k < ea.num_batches(); ++k) {
            Batch x = ea.batch(k), y = eb.batch(k);
            CHECK(x.x.shape() == y.x.shape());
            CHECK(x.x.to_vector() == y.x.to_vector());
            CHECK(x.y == y.y);
            CHECK(x.indices == y.indices);
        }
    }
    // Unflattened, items keep their [C, H, W] shape, like MNIST's [1, H, W].
    opt.flatten = false;
    DataLoader images(floats, opt), mnist_like(bytes, opt);
    CHECK(images.epoch(0).batch(0).x.shape() == Shape{7, 1, 3, 2});
    CHECK(mnist_like.epoch(0).batch(0).x.shape() == Shape{7, 1, 3, 2});
    CHECK(images.epoch(0).batch(5).x.shape() == Shape{5, 1, 3, 2});  // 40 = 5 * 7 + 5
}

TEST_CASE("TensorDataset: per-channel standardisation is (v - mean[c]) / std[c], rounded once") {
    TensorDataset d = numbered(9, Shape{2, 2, 3}, 3);  // 2 channels of 6 values
    LoaderOptions opt;
    opt.batch_size = 4;
    opt.per_channel = {{1.5, 2.0}, {-0.25, 0.5}};
    DataLoader loader(d, opt);
    for (const Batch& b : loader.epoch(1)) {
        REQUIRE(b.x.shape() == Shape{int64_t(b.indices.size()), 12});
        for (size_t r = 0; r < b.indices.size(); ++r) {
            CHECK(b.y[r] == d.labels[size_t(b.indices[r])]);
            for (int64_t j = 0; j < 12; ++j) {
                const PixelStats& s = opt.per_channel[size_t(j / 6)];
                float expected = float((double(d.item(b.indices[r])[j]) - s.mean) / s.std);
                CHECK(b.x.data()[int64_t(r) * 12 + j] == expected);
            }
        }
    }
    // One entry standardises every value alike.
    opt.per_channel = {{2.0, 4.0}};
    int64_t idx[] = {5};
    Batch one = make_batch(d, idx, 1, opt);
    for (int64_t j = 0; j < 12; ++j) CHECK(one.x.data()[j] == float((double(d.item(5)[j]) - 2.0) / 4.0));
}

TEST_CASE("TensorDataset: inconsistent datasets and options are refused by name") {
    TensorDataset d = numbered(5, Shape{3}, 2);
    LoaderOptions opt;
    opt.per_channel = {{0, 1}, {0, 1}};
    CHECK_ERROR(DataLoader(d, opt), "DataLoader: per_channel has 2 entries but numbered has 3 channels");
    opt.per_channel = {{0, 0}};
    CHECK_ERROR(DataLoader(d, opt), "per_channel[0] needs a finite mean and a finite std > 0");
    opt.per_channel = {};
    opt.normalize = kMnistStats;
    CHECK_ERROR(DataLoader(d, opt), "normalize is for uint8 image datasets");
    opt.normalize = {};

    TensorDataset bad = d;
    bad.values.pop_back();
    CHECK_ERROR(DataLoader(bad, opt), "numbered has 14 values, but 5 items of shape [3] need 15");
    bad = d;
    bad.labels[2] = 2;
    CHECK_ERROR(DataLoader(bad, opt), "item 2 has label 2, outside [0, 2)");
    bad = d;
    bad.values[7] = std::nanf("");
    CHECK_ERROR(DataLoader(bad, opt), "item 2 holds nan at position 1");
    bad = d;
    bad.item_shape = Shape{};
    CHECK_ERROR(DataLoader(bad, opt), "items must have 1 to 4 dims");
    bad = d;
    bad.class_names.clear();
    CHECK_ERROR(DataLoader(bad, opt), "has no class names");
    CHECK_ERROR(DataLoader(d, std::vector<int64_t>{0, 5}, opt),
                "index 5 is out of range for numbered (5 items)");

    Dataset images;
    images.name = "digits";
    images.rows = images.cols = 1;
    images.class_names = {"0"};
    images.images = {1};
    images.labels = {0};
    opt.per_channel = {{0, 1}};
    CHECK_ERROR(DataLoader(images, opt),
                "per_channel is for a TensorDataset; digits is a uint8 image dataset");
}

TEST_CASE("channel_stats: per-channel mean and population std, worked out by hand") {
    TensorDataset d;
    d.name = "two channels";
    d.item_shape = Shape{2, 1, 2};
    d.class_names = {"a"};
    // Item 0: channel 0 = {1, 3}, channel 1 = {5, 5}; item 1: channel 0 = {5, 7}, channel 1 = {5, 5}.
    d.values = {1, 3, 5, 5, 5, 7, 5, 5};
    d.labels = {0, 0};
    std::vector<PixelStats> s = channel_stats(d);
    REQUIRE(s.size() == 2);
    CHECK(s[0].mean == 4.0);                                            // (1 + 3 + 5 + 7) / 4
    CHECK(s[0].std == doctest::Approx(std::sqrt(5.0)).epsilon(1e-15));  // (9 + 1 + 1 + 9) / 4
    CHECK(s[1].mean == 5.0);
    CHECK(s[1].std == 1.0);  // a constant channel: std 1, so standardising only centres it
    std::vector<PixelStats> first = channel_stats(d, {0});
    CHECK(first[0].mean == 2.0);
    CHECK(first[0].std == 1.0);
    CHECK_ERROR(channel_stats(d, {2}), "channel_stats: index 2 is out of range");
    // Feature vectors: one channel per feature.
    TensorDataset table = numbered(4, Shape{3}, 2);  // feature j of item i = i + 0.001 j
    std::vector<PixelStats> f = channel_stats(table);
    REQUIRE(f.size() == 3);
    for (int j = 0; j < 3; ++j) {
        double mean = 0, sq = 0;
        for (int i = 0; i < 4; ++i) mean += double(float(i) + 0.001f * float(j)) / 4;
        for (int i = 0; i < 4; ++i) sq += std::pow(double(float(i) + 0.001f * float(j)) - mean, 2) / 4;
        CHECK(f[size_t(j)].mean == doctest::Approx(mean).epsilon(1e-14));
        CHECK(f[size_t(j)].std == doctest::Approx(std::sqrt(sq)).epsilon(1e-14));
    }
}

TEST_CASE("subset copies the chosen items in order") {
    TensorDataset d = numbered(6, Shape{2}, 3);
    TensorDataset s = subset(d, {4, 1});
    CHECK(s.item_shape == Shape{2});
    CHECK(s.labels == std::vector<int>{1, 1});
    CHECK(s.values == std::vector<float>{d.item(4)[0], d.item(4)[1], d.item(1)[0], d.item(1)[1]});
    CHECK(s.class_names == d.class_names);
    CHECK_ERROR(subset(d, {6}), "subset: index 6 is out of range");
}

TEST_CASE("stratified_split: round(fraction n_c) of each class, disjoint, seeded, deterministic") {
    // Classes of 50, 20, 7 and 1 items.
    std::vector<int> labels;
    for (int c = 0; c < 4; ++c)
        for (int k = 0; k < (c == 0 ? 50 : c == 1 ? 20 : c == 2 ? 7 : 1); ++k) labels.push_back(c);
    std::reverse(labels.begin(), labels.end());
    HoldoutSplit s = stratified_split(labels, 0.2, 9);
    std::map<int, int64_t> val = label_counts(labels, s.val), train = label_counts(labels, s.train);
    CHECK(val[0] == 10);
    CHECK(val[1] == 4);
    CHECK(val[2] == 1);  // round(1.4)
    CHECK(val[3] == 0);  // a class of one keeps its item for training
    CHECK(train[0] == 40);
    CHECK(train[1] == 16);
    CHECK(train[2] == 6);
    CHECK(train[3] == 1);
    CHECK(std::is_sorted(s.train.begin(), s.train.end()));
    CHECK(std::is_sorted(s.val.begin(), s.val.end()));
    std::vector<int64_t> all = s.train;
    all.insert(all.end(), s.val.begin(), s.val.end());
    std::sort(all.begin(), all.end());
    CHECK(all == iota(int64_t(labels.size())));

    HoldoutSplit again = stratified_split(labels, 0.2, 9);
    CHECK(again.train == s.train);
    CHECK(again.val == s.val);
    HoldoutSplit other = stratified_split(labels, 0.2, 10);
    CHECK(other.val != s.val);
    std::map<int, int64_t> other_val = label_counts(labels, other.val);
    for (int c = 0; c < 4; ++c) CHECK(other_val[c] == val[c]);

    // Within a subset; a class's choice does not depend on the other classes' items.
    std::vector<int64_t> without_class_1;
    for (int64_t i = 0; i < int64_t(labels.size()); ++i)
        if (labels[size_t(i)] != 1) without_class_1.push_back(i);
    HoldoutSplit sub = stratified_split(labels, 0.2, 9, without_class_1);
    std::vector<int64_t> class0_full, class0_sub;
    for (int64_t i : s.val)
        if (labels[size_t(i)] == 0) class0_full.push_back(i);
    for (int64_t i : sub.val)
        if (labels[size_t(i)] == 0) class0_sub.push_back(i);
    CHECK(class0_full == class0_sub);
    CHECK(label_counts(labels, sub.val)[1] == 0);

    CHECK(stratified_split(labels, 0.0, 1).val.empty());
    CHECK_ERROR(stratified_split(labels, 1.0, 1), "stratified_split: fraction must be in [0, 1), got 1");
    CHECK_ERROR(stratified_split(labels, -0.1, 1), "fraction must be in [0, 1)");
    CHECK_ERROR(stratified_split(labels, 0.5, 1, {0, 78}), "index 78 is out of range for 78 labels");
    CHECK_ERROR(stratified_split(labels, 0.5, 1, {3, 3}), "index 3 is listed twice");
}

TEST_CASE("BalancedSampler: exact class counts per epoch, with replacement, seeded and replayable") {
    // 90 items of class 0, 9 of class 1, 1 of class 2 (among 101 labels; item 100 excluded).
    std::vector<int> labels;
    for (int k = 0; k < 90; ++k) labels.push_back(0);
    for (int k = 0; k < 9; ++k) labels.push_back(1);
    labels.push_back(2);
    labels.push_back(1);
    std::vector<int64_t> items = iota(100);
    BalancedSampler sampler(labels, items);
    CHECK(sampler.size() == 100);
    CHECK(sampler.num_classes_present() == 3);
    std::set<int64_t> extra_counts;
    for (int64_t e = 0; e < 6; ++e) {
        std::vector<int64_t> order = sampler.epoch_order(5, e);
        REQUIRE(order.size() == 100);
        std::map<int, int64_t> counts = label_counts(labels, order);
        // 100 draws over 3 classes: 33 each, and one class (chosen at random) gets 34.
        int64_t with_34 = 0;
        for (int c = 0; c < 3; ++c) {
            CHECK((counts[c] == 33 || counts[c] == 34));
            with_34 += counts[c] == 34;
            if (counts[c] == 34) extra_counts.insert(c);
        }
        CHECK(with_34 == 1);
        for (int64_t i : order) CHECK(i < 100);  // item 100 is not among the items
        // The lone class-2 item is drawn every time class 2 is.
        CHECK(std::count(order.begin(), order.end(), int64_t(99)) == counts[2]);
        // Draws are shuffled, not grouped by class.
        CHECK(!std::is_sorted(order.begin(), order.end()));
    }
    CHECK(extra_counts.size() >= 2);  // the class with the extra draw changes between epochs
    CHECK(sampler.epoch_order(5, 3) == BalancedSampler(labels, items).epoch_order(5, 3));
    CHECK(sampler.epoch_order(5, 3) != sampler.epoch_order(5, 4));
    CHECK(sampler.epoch_order(5, 3) != sampler.epoch_order(6, 3));

    // Class 0 has more items than draws: with replacement, some repeat and some are left out.
    std::vector<int64_t> order = sampler.epoch_order(5, 0);
    std::set<int64_t> distinct0;
    for (int64_t i : order)
        if (labels[size_t(i)] == 0) distinct0.insert(i);
    CHECK(distinct0.size() < 33);

    CHECK_ERROR(BalancedSampler(labels, {101}), "BalancedSampler: index 101 is out of range");
    CHECK_ERROR(sampler.epoch_order(0, -1), "epoch must be >= 0");
}

TEST_CASE("DataLoader with Sampler::balanced: size() draws per epoch, as BalancedSampler gives them") {
    TensorDataset d = numbered(30, Shape{2}, 3);
    for (int64_t i = 0; i < 30; ++i) d.labels[size_t(i)] = i < 24 ? 0 : i < 29 ? 1 : 2;  // 24 / 5 / 1
    LoaderOptions opt;
    opt.batch_size = 8;
    opt.seed = 4;
    opt.sampler = Sampler::balanced;
    DataLoader loader(d, opt);
    CHECK(loader.size() == 30);
    CHECK(loader.num_batches() == 4);
    std::vector<int64_t> seen;
    for (const Batch& b : loader.epoch(2)) {
        for (size_t r = 0; r < b.indices.size(); ++r) CHECK(b.x.data()[2 * r] == d.item(b.indices[r])[0]);
        seen.insert(seen.end(), b.indices.begin(), b.indices.end());
    }
    CHECK(seen == BalancedSampler(d.labels).epoch_order(4, 2));
    std::map<int, int64_t> counts = label_counts(d.labels, seen);
    CHECK(counts[0] == 10);
    CHECK(counts[1] == 10);
    CHECK(counts[2] == 10);
    // A uint8 dataset draws the same way, over a subset.
    Dataset images;
    images.name = "images";
    images.rows = images.cols = 1;
    images.class_names = {"a", "b", "c"};
    images.images.assign(30, 7);
    images.labels = d.labels;
    std::vector<int64_t> some = {0, 1, 2, 3, 24, 25, 29};
    DataLoader sub(images, some, opt);
    CHECK(sub.epoch_order(1) == BalancedSampler(images.labels, some).epoch_order(4, 1));
}
