// test_ops_sort.cpp — topk and sort: values and indices against an independent stable sort
// in double, along every dim, the tie and NaN order, and gradchecks with random upstream
// gradients (on inputs whose values are well apart, so a finite-difference step cannot
// reorder them).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

// Distinct values at least 0.1 apart, in a seeded random order.
Tensor spaced(const Shape& shape, uint64_t seed) {
    Generator g(seed);
    std::vector<float> v(size_t(shape.numel()));
    for (size_t i = 0; i < v.size(); ++i) v[i] = 0.1f * float(i) - 1.0f;
    shuffle(v, g);
    return Tensor::from(v, shape);
}

// Reference: for each line along dim of a [A, B, C] tensor, the first k of a stable
// sort by value (descending or ascending), as (value, index) pairs.
void check_against_reference(const Tensor& x, int d, int64_t k, bool descending, const ValuesIndices& r) {
    int64_t A = x.shape()[0], B = x.shape()[1], C = x.shape()[2];
    int64_t n = x.shape()[d];
    int64_t sizes[3] = {A, B, C};
    sizes[d] = k;
    REQUIRE(r.values.shape() == Shape{sizes[0], sizes[1], sizes[2]});
    REQUIRE(int64_t(r.indices.size()) == r.values.numel());
    for (int64_t a = 0; a < (d == 0 ? 1 : A); ++a)
        for (int64_t b = 0; b < (d == 1 ? 1 : B); ++b)
            for (int64_t c = 0; c < (d == 2 ? 1 : C); ++c) {
                std::vector<std::pair<double, int64_t>> line;
                for (int64_t i = 0; i < n; ++i)
                    line.push_back({x.at({d == 0 ? i : a, d == 1 ? i : b, d == 2 ? i : c}), i});
                std::stable_sort(line.begin(), line.end(), [&](const auto& p, const auto& q) {
                    return descending ? p.first > q.first : p.first < q.first;
                });
                for (int64_t j = 0; j < k; ++j) {
                    int64_t at[3] = {a, b, c};
                    at[d] = j;
                    int64_t flat = (at[0] * sizes[1] + at[1]) * sizes[2] + at[2];
                    CHECK(r.values.data()[flat] == line[size_t(j)].first);
                    CHECK(r.indices[size_t(flat)] == line[size_t(j)].second);
                }
            }
}

}  // namespace

TEST_CASE("topk and sort: values and indices along every dim, against a stable sort") {
    Generator g(3);
    // Values on a coarse grid, so that many are equal: ties must come in index order.
    Tensor x = Tensor::empty({3, 5, 4});
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = float(int(g.below(7)) - 3);
    for (int d = 0; d < 3; ++d) {
        int64_t n = x.shape()[d];
        for (int64_t k : {int64_t(0), int64_t(1), n / 2, n})
            for (bool largest : {true, false})
                check_against_reference(x, d, k, largest, topk(x, k, d, largest));
        for (bool descending : {false, true})
            check_against_reference(x, d, n, descending, sort(x, d, descending));
    }
    CHECK(topk(x, 2).values.shape() == Shape{3, 5, 2});  // dim -1 by default
    CHECK(topk(x, 2, -3).values.shape() == Shape{2, 5, 4});
}

TEST_CASE("topk and sort: a hand-worked line with ties, infinities and NaN") {
    float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    Tensor x = Tensor::from({2, nan, -inf, 2, 5, nan, 0, inf});
    ValuesIndices top = topk(x, 5);
    CHECK(top.indices == std::vector<int64_t>{1, 5, 7, 4, 0});  // NaN first, then inf, 5, the first 2
    CHECK(std::isnan(top.values.data()[0]));
    CHECK(top.values.data()[2] == inf);
    CHECK(top.values.data()[4] == 2.0f);
    ValuesIndices low = topk(x, 3, 0, false);
    CHECK(low.indices == std::vector<int64_t>{2, 6, 0});  // -inf, 0, then the first of the two 2s
    ValuesIndices up = sort(x);
    CHECK(up.indices == std::vector<int64_t>{2, 6, 0, 3, 4, 7, 1, 5});  // NaN last, in index order
    ValuesIndices down = sort(x, 0, true);
    CHECK(down.indices == std::vector<int64_t>{1, 5, 7, 4, 0, 3, 6, 2});
    // -0 and +0 are equal: index order.
    CHECK(sort(Tensor::from({0.0f, -0.0f, 0.0f})).indices == std::vector<int64_t>{0, 1, 2});
}

TEST_CASE("topk and sort: gradients go to the selected elements only") {
    for (int d = 0; d < 3; ++d) {
        Tensor x = spaced({3, 4, 5}, uint64_t(10 + d));
        int64_t n = x.shape()[d];
        for (int64_t k : {int64_t(1), n - 1, n})
            for (bool largest : {true, false})
                fgtest::check_gradcheck(
                    [=](const std::vector<Tensor>& in) { return topk(in[0], k, d, largest).values; }, {x});
        fgtest::check_gradcheck([=](const std::vector<Tensor>& in) { return sort(in[0], d, true).values; },
                                {x});
    }
    // By hand: the top 2 of [3, 1, 4, 1, 5] are 5 (index 4) and 4 (index 2).
    Tensor x = Tensor::from({3, 1, 4, 1, 5}).set_requires_grad();
    ValuesIndices top = topk(x, 2);
    top.values.backward(Tensor::from({10, 20}));
    fgtest::check_close(x.grad(), {0, 0, 20, 0, 10}, 0, 0);
    // A tensor selected twice receives both gradients.
    Tensor y = Tensor::from({1, 2, 3}).set_requires_grad();
    Tensor both = add(sum(topk(y, 1).values), sum(sort(y).values));
    both.backward();
    fgtest::check_close(y.grad(), {1, 1, 2}, 0, 0);
}

TEST_CASE("topk and sort: large lines, k much smaller than n") {
    Tensor x = spaced({2, 3000}, 7);
    ValuesIndices top = topk(x, 10, 1);
    for (int64_t row = 0; row < 2; ++row) {
        std::vector<float> line(x.data() + row * 3000, x.data() + (row + 1) * 3000);
        std::sort(line.begin(), line.end(), std::greater<float>());
        for (int j = 0; j < 10; ++j) {
            CHECK(top.values.data()[row * 10 + j] == line[size_t(j)]);
            CHECK(x.data()[row * 3000 + top.indices[size_t(row * 10 + j)]] == line[size_t(j)]);
        }
    }
    // No grad, no tape.
    clear_tape();
    topk(x, 5);
    CHECK(tape_size() == 0);
}

TEST_CASE("topk and sort: bad arguments") {
    Tensor x = Tensor::zeros({2, 3});
    CHECK_ERROR(topk(x, 4, 1), "topk", "k = 4", "dim 1", "[2, 3]", "0 <= k <= 3");
    CHECK_ERROR(topk(x, -1, 1), "topk", "k = -1");
    CHECK_ERROR(topk(x, 1, 2), "topk", "dim 2");
    CHECK_ERROR(sort(Tensor::scalar(1.0f)), "sort");
}
