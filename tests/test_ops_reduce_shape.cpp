// test_ops_reduce_shape.cpp — reductions, softmax, argmax and the shape ops: forward
// values from independent loops and gradchecks with random upstream gradients.
#include <algorithm>
#include <cmath>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/kernels.h>
#include <focalgrad/core/ops.h>

#include "helpers.h"

using namespace focalgrad;

namespace {
Tensor randn(const Shape& s, uint64_t seed) {
    Generator g(seed);
    return Tensor::randn(s, g);
}
}  // namespace

TEST_CASE("sum, mean, max over all elements") {
    Tensor x = Tensor::from({1, -2, 3.5f, 0.25f}, {2, 2});
    CHECK(sum(x).item() == 2.75f);
    CHECK(mean(x).item() == 0.6875f);
    CHECK(max(x).item() == 3.5f);
    CHECK(argmax(x) == 2);
    Tensor r = randn({3, 4}, 1);
    fgtest::check_gradcheck([](const std::vector<Tensor>& in) { return sum(in[0]); }, {r});
    fgtest::check_gradcheck([](const std::vector<Tensor>& in) { return mean(in[0]); }, {r});
    fgtest::check_gradcheck([](const std::vector<Tensor>& in) { return max(in[0]); }, {r});
    // The sum is accumulated in double: a million 0.1f values sum to the double result.
    Tensor big = Tensor::full({1000000}, 0.1f);
    CHECK(sum(big).item() == float(1000000 * double(0.1f)));
}

TEST_CASE("reductions along a dim, with and without keepdim") {
    Tensor x = randn({2, 3, 4}, 2);
    for (int d = 0; d < 3; ++d) {
        for (bool keep : {false, true}) {
            Tensor s = sum(x, d, keep), m = mean(x, d, keep), mx = max(x, d, keep);
            Shape expected;
            for (int k = 0; k < 3; ++k) {
                if (k != d)
                    expected.push_back(x.shape()[k]);
                else if (keep)
                    expected.push_back(1);
            }
            CHECK(s.shape() == expected);
            CHECK(mx.shape() == expected);
            // Reference: explicit loops over the three indices.
            std::vector<double> rs, rm, rmx;
            int64_t n = x.shape()[d];
            for (int64_t i = 0; i < (d == 0 ? 1 : 2); ++i)
                for (int64_t j = 0; j < (d == 1 ? 1 : 3); ++j)
                    for (int64_t k = 0; k < (d == 2 ? 1 : 4); ++k) {
                        double acc = 0, best = -1e30;
                        for (int64_t t = 0; t < n; ++t) {
                            double v = x.at({d == 0 ? t : i, d == 1 ? t : j, d == 2 ? t : k});
                            acc += v;
                            best = std::max(best, v);
                        }
                        rs.push_back(acc);
                        rm.push_back(acc / double(n));
                        rmx.push_back(best);
                    }
            fgtest::check_close(s, rs, 1e-6, 1e-6);
            fgtest::check_close(m, rm, 1e-6, 1e-6);
            fgtest::check_close(mx, rmx, 0, 0);
            fgtest::check_gradcheck([=](const std::vector<Tensor>& in) { return sum(in[0], d, keep); }, {x});
            fgtest::check_gradcheck([=](const std::vector<Tensor>& in) { return mean(in[0], d, keep); }, {x});
            fgtest::check_gradcheck([=](const std::vector<Tensor>& in) { return max(in[0], d, keep); }, {x});
        }
    }
    CHECK(sum(x, -1).shape() == Shape{2, 3});
    CHECK_ERROR(sum(x, 3), "sum", "dim 3", "out of range");
    CHECK(argmax(Tensor::from({1, 5, 2, 7, 0, 7}, {2, 3}), 1) == std::vector<int>{1, 0});
    CHECK(argmax(Tensor::from({1, 5, 2, 7, 0, 7}, {2, 3}), 0) == std::vector<int>{1, 0, 1});
}

TEST_CASE("softmax and log_softmax: exact values, stability, gradients") {
    Tensor x = Tensor::from({1, 2, 3, -1, 0, 1}, {2, 3});
    Tensor p = softmax(x, 1), lp = log_softmax(x, 1);
    for (int i = 0; i < 2; ++i) {
        double z = 0;
        for (int j = 0; j < 3; ++j) z += std::exp(double(x.at({i, j})));
        for (int j = 0; j < 3; ++j) {
            CHECK(p.at({i, j}) == doctest::Approx(std::exp(double(x.at({i, j}))) / z).epsilon(1e-6));
            CHECK(lp.at({i, j}) == doctest::Approx(double(x.at({i, j})) - std::log(z)).epsilon(1e-6));
        }
    }
    // Huge logits: no overflow, the max-subtraction makes it exact.
    Tensor huge = Tensor::from({1e4f, -1e4f, 0.0f, 1e4f}, {1, 4});
    fgtest::check_close(softmax(huge, 1), {0.5, 0, 0, 0.5}, 1e-6, 1e-30);
    fgtest::check_close(log_softmax(huge, 1),
                        {-std::log(2.0), -2e4 - std::log(2.0), -1e4 - std::log(2.0), -std::log(2.0)}, 1e-6);
    // Along a middle dim of a 3-D tensor, and gradients.
    Tensor y = randn({2, 4, 3}, 3);
    Tensor s1 = softmax(y, 1);
    for (int i = 0; i < 2; ++i)
        for (int k = 0; k < 3; ++k) {
            double total = 0;
            for (int j = 0; j < 4; ++j) total += s1.at({i, j, k});
            CHECK(total == doctest::Approx(1.0).epsilon(1e-6));
        }
    for (int d : {0, 1, 2, -1}) {
        fgtest::check_gradcheck([=](const std::vector<Tensor>& in) { return softmax(in[0], d); }, {y});
        fgtest::check_gradcheck([=](const std::vector<Tensor>& in) { return log_softmax(in[0], d); }, {y});
    }
}

TEST_CASE("reshape shares storage, infers -1, and passes gradients back") {
    Tensor x = Tensor::arange(12);
    Tensor r = reshape(x, {3, -1});
    CHECK(r.shape() == Shape{3, 4});
    CHECK(r.data() == x.data());
    CHECK(flatten(Tensor::zeros({2, 3, 4}), 1).shape() == Shape{2, 12});
    CHECK(flatten(Tensor::zeros({2, 3, 4})).shape() == Shape{24});
    CHECK(flatten(Tensor::zeros({2, 3, 4, 5}), 1, 2).shape() == Shape{2, 12, 5});
    CHECK_ERROR(reshape(x, {5, -1}), "reshape", "[12]");
    CHECK_ERROR(reshape(x, {5, 2}), "reshape", "[12]", "[5, 2]");
    CHECK_ERROR(reshape(x, {-1, -1}), "reshape", "only one");
    fgtest::check_gradcheck(
        [](const std::vector<Tensor>& in) {
            return reshape(in[0], {2, 6}) * 3.0f;
        },
        {randn({3, 4}, 4)});
    fgtest::check_gradcheck([](const std::vector<Tensor>& in) { return flatten(in[0], 1); },
                            {randn({2, 3, 2}, 5)});
}

TEST_CASE("transpose and permute") {
    Tensor x = Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3});
    fgtest::check_close(transpose(x), {1, 4, 2, 5, 3, 6});
    CHECK(transpose(x).shape() == Shape{3, 2});
    Tensor y = randn({2, 3, 4}, 6);
    Tensor p = permute(y, {2, 0, 1});
    REQUIRE(p.shape() == Shape{4, 2, 3});
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j)
            for (int k = 0; k < 4; ++k) CHECK(p.at({k, i, j}) == y.at({i, j, k}));
    fgtest::check_gradcheck([](const std::vector<Tensor>& in) { return permute(in[0], {2, 0, 1}); }, {y});
    fgtest::check_gradcheck([](const std::vector<Tensor>& in) { return transpose(in[0]); },
                            {randn({3, 5}, 7)});
    CHECK_ERROR(permute(y, {0, 0, 1}), "permute", "twice");
    CHECK_ERROR(permute(y, {0, 1}), "permute", "[2, 3, 4]");
    CHECK_ERROR(transpose(y), "transpose", "[2, 3, 4]");
}

TEST_CASE("permute's blocked copy equals the element-by-element odometer for every permutation") {
    // Shapes whose dims merge (runs that stay in order), transpose in 8 x 8 blocks and across
    // the 32 x 64 tiles, have size-1 dims, or nothing: every permutation of each.
    const std::vector<std::vector<int64_t>> shapes = {
        {7},        {0, 3},        {1, 1},          {5, 9},       {70, 90},        {2, 3, 4},     {3, 1, 17},
        {4, 8, 16}, {2, 90, 5, 7}, {3, 36, 16, 16}, {1, 2, 1, 3}, {2, 3, 5, 1, 4}, {2, 33, 2, 65}};
    int64_t checked = 0;
    for (size_t k = 0; k < shapes.size(); ++k) {
        const Shape shape(shapes[k], "test");
        Tensor x = randn(shape, 40 + k);
        std::vector<int> p(size_t(shape.size()));
        for (size_t d = 0; d < p.size(); ++d) p[d] = int(d);
        do {
            std::vector<int64_t> dims(p.begin(), p.end());
            Tensor y = permute(x, dims), want = detail::permuted_copy_reference(x, p);
            INFO("shape " << shape << ", dims " << Shape(dims, "dims"));
            REQUIRE(y.shape() == want.shape());
            for (int64_t d = 0; d < y.dim(); ++d) REQUIRE(y.shape()[int(d)] == shape[p[size_t(d)]]);
            REQUIRE(std::equal(y.data(), y.data() + y.numel(), want.data()));
            ++checked;
        } while (std::next_permutation(p.begin(), p.end()));
    }
    CHECK(checked == 1 + 2 + 2 + 2 + 2 + 6 + 6 + 6 + 24 + 24 + 24 + 120 + 24);
    // The reference itself against at(): y[k, i, j] = x[i, j, k].
    Tensor x = randn({3, 4, 5}, 9);
    Tensor r = detail::permuted_copy_reference(x, {2, 0, 1});
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 4; ++j)
            for (int k = 0; k < 5; ++k) CHECK(r.at({k, i, j}) == x.at({i, j, k}));
    // The heads' permute of dense_digits and its inverse, with the gradient: a gradcheck with
    // a random upstream gradient runs both copies.
    fgtest::check_gradcheck(
        [](const std::vector<Tensor>& in) {
            return permute(in[0], {0, 2, 3, 1});
        },
        {randn({2, 18, 3, 3}, 8)});
}

TEST_CASE("concat along any dim") {
    Tensor a = Tensor::from({1, 2, 3, 4}, {2, 2}), b = Tensor::from({5, 6}, {2, 1});
    fgtest::check_close(concat({a, b}, 1), {1, 2, 5, 3, 4, 6});
    fgtest::check_close(concat({a, transpose(b)}, 0), {1, 2, 3, 4, 5, 6});
    CHECK_ERROR(concat({a, b}, 0), "concat", "[2, 1]", "[2, 2]");
    Tensor u = randn({2, 3, 2}, 8), v = randn({2, 1, 2}, 9), w = randn({2, 2, 2}, 10);
    fgtest::check_gradcheck([](const std::vector<Tensor>& in) { return concat(in, 1); }, {u, v, w});
    // Only some inputs require grad.
    Tensor need = Tensor::ones({1, 2}).set_requires_grad();
    sum(concat({Tensor::ones({2, 2}), need}, 0) * 3.0f).backward();
    fgtest::check_close(need.grad(), {3, 3});
}

TEST_CASE("index_select and gather pick rows and entries; repeats accumulate") {
    Tensor x = Tensor::from({0, 1, 2, 3, 4, 5}, {3, 2});
    fgtest::check_close(index_select(x, 0, {2, 0, 2}), {4, 5, 0, 1, 4, 5});
    fgtest::check_close(index_select(x, 1, {1}), {1, 3, 5});
    fgtest::check_close(gather(x, {1, 0, 1}), {1, 2, 5});
    CHECK_ERROR(index_select(x, 0, {3}), "index_select", "index[0] = 3", "[3, 2]");
    CHECK_ERROR(gather(x, {0, 2, 0}), "gather", "index[1] = 2", "[3, 2]");
    CHECK_ERROR(gather(x, {0, 1}), "gather", "[3, 2]", "2 indices");
    Tensor r = randn({4, 3}, 11);
    fgtest::check_gradcheck(
        [](const std::vector<Tensor>& in) {
            return index_select(in[0], 0, {3, 1, 1, 0});
        },
        {r});
    fgtest::check_gradcheck(
        [](const std::vector<Tensor>& in) {
            return index_select(in[0], 1, {2, 2});
        },
        {r});
    fgtest::check_gradcheck([](const std::vector<Tensor>& in) { return gather(in[0], {2, 0, 1, 1}); }, {r});
}
