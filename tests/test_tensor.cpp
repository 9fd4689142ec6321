// test_tensor.cpp — Tensor factories, shapes (0-d and zero-size), accessors, printing,
// the seeded generator, and the buffer pool.
#include <cmath>
#include <cstdint>
#include <sstream>

#include <focalgrad/core/memory.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/random.h>
#include <focalgrad/core/tensor.h>

#include "helpers.h"

using namespace focalgrad;

TEST_CASE("factories fill the documented values") {
    Tensor z = Tensor::zeros({2, 3});
    CHECK(z.shape() == Shape{2, 3});
    CHECK(z.numel() == 6);
    fgtest::check_close(z, {0, 0, 0, 0, 0, 0});
    fgtest::check_close(Tensor::ones({2}), {1, 1});
    fgtest::check_close(Tensor::full({3}, 2.5f), {2.5, 2.5, 2.5});
    Tensor f = Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3});
    CHECK(f.at({1, 2}) == 6.0f);
    CHECK(f.at({0, 1}) == 2.0f);
    CHECK(f.size(-1) == 3);
    CHECK(f.size(0) == 2);
}

TEST_CASE("arange follows numpy's count rule") {
    fgtest::check_close(Tensor::arange(4), {0, 1, 2, 3});
    fgtest::check_close(Tensor::arange(1, 2, 0.25f), {1, 1.25, 1.5, 1.75});
    fgtest::check_close(Tensor::arange(3, 0, -1), {3, 2, 1});
    CHECK(Tensor::arange(2, 1).numel() == 0);
    CHECK_ERROR(Tensor::arange(0, 1, 0), "arange", "step");
}

TEST_CASE("0-d tensors behave as scalars") {
    Tensor s = Tensor::scalar(3.0f);
    CHECK(s.dim() == 0);
    CHECK(s.numel() == 1);
    CHECK(s.item() == 3.0f);
    Tensor x = Tensor::from({1, 2}).set_requires_grad();
    Tensor y = mul(x, s);  // [2] * [] broadcasts
    CHECK(y.shape() == Shape{2});
    sum(y).backward();
    fgtest::check_close(x.grad(), {3, 3});
}

TEST_CASE("zero-size tensors flow through ops and backward") {
    Tensor e = Tensor::zeros({0, 3}).set_requires_grad();
    CHECK(e.numel() == 0);
    Tensor y = relu(e * 2.0f + 1.0f);
    CHECK(y.shape() == Shape{0, 3});
    Tensor s = sum(y);
    CHECK(s.item() == 0.0f);
    s.backward();
    CHECK(e.grad().shape() == Shape{0, 3});
    CHECK(sum(Tensor::zeros({4, 0}), 1).shape() == Shape{4});
    CHECK(std::isnan(mean(Tensor::zeros({0})).item()));
    CHECK_ERROR(max(Tensor::zeros({0})), "max", "[0]", "empty");
    Tensor W = Tensor::randn({5, 3});
    CHECK(linear(Tensor::zeros({0, 3}), W).shape() == Shape{0, 5});
    CHECK(matmul(Tensor::zeros({2, 0}), Tensor::zeros({0, 4})).to_vector() == std::vector<float>(8, 0.0f));
}

TEST_CASE("bad shapes and accessors give clear errors") {
    CHECK_ERROR(Tensor::from({1, 2, 3}, {2, 2}), "Tensor::from", "3 values", "[2, 2]");
    CHECK_ERROR(Tensor::ones({2}).item(), "item", "[2]");
    CHECK_ERROR(Tensor::ones({2, 2}).at({2, 0}), "at", "index 2", "[2, 2]");
    CHECK_ERROR(Tensor().numel(), "undefined tensor");
    CHECK_ERROR(Tensor::ones({2}).grad(), "grad", "no gradient");
    CHECK_ERROR(Tensor::ones({2}).size(3), "dim 3", "out of range");
    CHECK_ERROR(Shape({1, 2, 3, 4, 5, 6, 7, 8, 9}), "at most 8");
}

TEST_CASE("copying a handle shares data; clone and detach behave as documented") {
    Tensor a = Tensor::from({1, 2});
    Tensor b = a;
    b.data()[0] = 7;
    CHECK(a.data()[0] == 7.0f);
    Tensor c = a.clone();
    c.data()[1] = 9;
    CHECK(a.data()[1] == 2.0f);
    Tensor x = Tensor::from({1, 2}).set_requires_grad();
    Tensor d = (x * 2.0f).detach();
    CHECK_FALSE(d.requires_grad());
    CHECK(d.is_leaf());
}

TEST_CASE("printing shows shape and values and elides large tensors") {
    std::ostringstream small;
    small << Tensor::from({1, 2, 3, 4}, {2, 2});
    CHECK(small.str().find("shape=[2, 2]") != std::string::npos);
    CHECK(small.str().find('4') != std::string::npos);
    std::ostringstream big;
    big << Tensor::arange(5000);
    CHECK(big.str().find("...") != std::string::npos);
    CHECK(big.str().find("4999") != std::string::npos);
    CHECK(big.str().size() < 400);
    std::ostringstream undefined;
    undefined << Tensor();
    CHECK(undefined.str() == "Tensor(undefined)");
}

TEST_CASE("PCG32 matches the reference sequence and is reproducible") {
    // First outputs of the reference pcg32 demo (pcg32_srandom_r(&rng, 42, 54)).
    Generator g(42, 54);
    const uint32_t expected[6] = {0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e};
    for (uint32_t e : expected) CHECK(g.next_u32() == e);

    Generator g1(7), g2(7), g3(8);
    Tensor a = Tensor::randn({1000}, g1), b = Tensor::randn({1000}, g2), c = Tensor::randn({1000}, g3);
    CHECK(a.to_vector() == b.to_vector());
    CHECK(a.to_vector() != c.to_vector());
    manual_seed(3);
    Tensor d = Tensor::rand({10});
    manual_seed(3);
    CHECK(Tensor::rand({10}).to_vector() == d.to_vector());
}

TEST_CASE("the distributions have the right moments and ranges") {
    Generator g(1);
    Tensor n = Tensor::randn({200000}, g);
    double m = 0, v = 0;
    for (float x : n.to_vector()) m += x;
    m /= n.numel();
    for (float x : n.to_vector()) v += (x - m) * (x - m);
    v /= n.numel();
    CHECK(std::fabs(m) < 0.01);  // 4.5 standard errors
    CHECK(std::fabs(v - 1.0) < 0.015);
    Tensor u = Tensor::uniform({100000}, -2.0f, 3.0f, g);
    float lo = 1e9f, hi = -1e9f;
    for (float x : u.to_vector()) lo = std::min(lo, x), hi = std::max(hi, x);
    CHECK(lo >= -2.0f);
    CHECK(hi < 3.0f);
    CHECK(lo < -1.99f);
    CHECK(hi > 2.99f);
    // below(n) is unbiased: each of 3 outcomes within 1 % of a third.
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < 300000; ++i) ++counts[g.below(3)];
    for (int c : counts) CHECK(std::abs(c - 100000) < 1000);
}

TEST_CASE("the buffer pool reuses freed buffers and counts live ones") {
    int64_t live = live_buffer_count();
    {
        Tensor a = Tensor::empty({1 << 16});
        CHECK(live_buffer_count() == live + 1);
        const float* p = a.data();
        a = Tensor();
        Tensor b = Tensor::empty({1 << 16});
        CHECK(b.data() == p);  // same size: the pooled buffer comes back
    }
    CHECK(live_buffer_count() == live);
    CHECK(pooled_bytes() >= (int64_t(1) << 18));
    release_pool();
    CHECK(pooled_bytes() == 0);
}

TEST_CASE("buffers of 8 MiB and more start on a 2 MiB boundary (huge pages); smaller ones on 64 bytes") {
    const int64_t huge = int64_t(2) << 20;
    for (int64_t n : {int64_t(2) << 20, (int64_t(2) << 20) + 3, int64_t(5) << 20}) {  // 8, 8+, 20 MiB
        Tensor a = Tensor::empty({n});
        CHECK(reinterpret_cast<uintptr_t>(a.data()) % uintptr_t(huge) == 0);
        a.data()[0] = 1.0f;  // the whole buffer is usable, to its last float
        a.data()[n - 1] = 2.0f;
        CHECK(a.data()[n - 1] == 2.0f);
        const float* p = a.data();
        a = Tensor();
        Tensor b = Tensor::empty({n});  // pooled and reused like any other size
        CHECK(b.data() == p);
    }
    for (int64_t n : {int64_t(129), int64_t(1) << 16, (int64_t(2) << 20) - 16}) {  // just below 8 MiB too
        Tensor a = Tensor::empty({n});
        CHECK(reinterpret_cast<uintptr_t>(a.data()) % 64 == 0);
    }
    Tensor small = Tensor::empty({128});  // 512 bytes: a small block
    CHECK(reinterpret_cast<uintptr_t>(small.data()) % 16 == 0);
    release_pool();
}

TEST_CASE("shape arithmetic is checked: a product past kMaxNumel is an Error naming the op and the shape") {
    // Sizes whose product wraps around int64 used to be accepted: [2^62 + 1, 4] as 4 elements.
    CHECK_ERROR(reshape(Tensor::ones({4}), {4611686018427387905LL, 4}),
                "reshape: shape [4611686018427387905, 4] has more than kMaxNumel = 2^46");
    CHECK_ERROR(reshape(Tensor::ones({4}), {-1, 4611686018427387905LL}),
                "reshape: shape [0, 4611686018427387905]");
    CHECK_ERROR(Tensor::zeros({int64_t(1) << 32, int64_t(1) << 32}),
                "shape [4294967296, 4294967296] has more than");
    CHECK_ERROR(Tensor::zeros({int64_t(1) << 40, 0, int64_t(1) << 40}),
                "shape [1099511627776, 0, 1099511627776]");
    CHECK_ERROR(Shape({int64_t(1) << 23, int64_t(1) << 23, 2}, "my_op"),
                "my_op: shape [8388608, 8388608, 2]");
    Shape s{int64_t(1) << 40};
    CHECK_ERROR(s.push_back(int64_t(1) << 7, "grow"), "grow: shape [1099511627776, 128] has more than");
    CHECK_ERROR(s.set(0, kMaxNumel + 1, "resize"), "resize: shape [70368744177665]");
    s.set(0, kMaxNumel);  // the limit itself is a valid size
    CHECK(s.numel() == kMaxNumel);
    CHECK_ERROR(checked_numel({int64_t(1) << 30, int64_t(1) << 30}, "im2col", "the buffer"),
                "im2col: the buffer [1073741824, 1073741824] has more than");
    CHECK(checked_numel({3, 0, int64_t(1) << 40}, "x", "y") == 0);

    // Ops that compute an output shape from their inputs' sizes name themselves.
    Tensor tall = Tensor::zeros({int64_t(1) << 31, 0}), wide = Tensor::zeros({0, int64_t(1) << 40});
    CHECK_ERROR(matmul(tall, wide), "matmul: shape [2147483648, 1099511627776]");
    CHECK_ERROR(linear(Tensor::zeros({int64_t(1) << 31, 0}), Tensor::zeros({int64_t(1) << 40, 0})),
                "linear: shape [2147483648, 1099511627776]");
    Tensor x = Tensor::zeros({1, 1, 4, 4}), W = Tensor::zeros({1, 1, 3, 3}), b = Tensor::zeros({1});
    CHECK_ERROR(conv2d(x, W, b, 1, 1000000000), "conv2d: the output [1, 1, 2000000002, 2000000002] has more");
    CHECK_ERROR(conv2d(x, W, b, 1, INT64_MAX / 2), "conv2d: padding", "is more than kMaxNumel");
    Tensor big = Tensor::zeros({0, int64_t(1) << 45});
    CHECK_ERROR(concat({big, big, big}, 1), "concat: ");
}
