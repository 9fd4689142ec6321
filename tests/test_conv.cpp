// test_conv.cpp — conv2d and max_pool2d (core/ops_conv.cpp): forward against direct
// loops in double, gradients against central differences, and argument errors.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/im2col.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/core/random.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

// The definition of a convolution, one output element at a time, in double.
std::vector<double> naive_conv2d(const Tensor& x, const Tensor& W, const Tensor& b, int64_t s, int64_t pad) {
    int64_t N = x.size(0), C = x.size(1), H = x.size(2), Wd = x.size(3);
    int64_t O = W.size(0), kH = W.size(2), kW = W.size(3);
    int64_t Ho = (H + 2 * pad - kH) / s + 1, Wo = (Wd + 2 * pad - kW) / s + 1;
    std::vector<double> y;
    for (int64_t n = 0; n < N; ++n)
        for (int64_t o = 0; o < O; ++o)
            for (int64_t oh = 0; oh < Ho; ++oh)
                for (int64_t ow = 0; ow < Wo; ++ow) {
                    double acc = b.defined() ? b.data()[o] : 0.0;
                    for (int64_t c = 0; c < C; ++c)
                        for (int64_t i = 0; i < kH; ++i)
                            for (int64_t j = 0; j < kW; ++j) {
                                int64_t ih = oh * s - pad + i, iw = ow * s - pad + j;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= Wd) continue;
                                acc += double(W.at({o, c, i, j})) * double(x.at({n, c, ih, iw}));
                            }
                    y.push_back(acc);
                }
    return y;
}

std::vector<double> naive_max_pool2d(const Tensor& x, int64_t k, int64_t s) {
    int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    int64_t Ho = (H - k) / s + 1, Wo = (W - k) / s + 1;
    std::vector<double> y;
    for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t oh = 0; oh < Ho; ++oh)
                for (int64_t ow = 0; ow < Wo; ++ow) {
                    double m = -INFINITY;
                    for (int64_t i = 0; i < k; ++i)
                        for (int64_t j = 0; j < k; ++j)
                            m = std::max(m, double(x.at({n, c, oh * s + i, ow * s + j})));
                    y.push_back(m);
                }
    return y;
}

// Values 0.1 * (a random permutation of 0..n-1), minus an offset: all distinct, at least
// 0.1 apart, so the finite-difference steps of gradcheck never change which one is largest.
Tensor distinct_values(const Shape& shape, uint64_t seed) {
    std::vector<float> v(size_t(shape.numel()));
    for (size_t i = 0; i < v.size(); ++i) v[i] = 0.1f * float(i) - 0.05f * float(v.size());
    Generator gen(seed);
    shuffle(v, gen);
    return Tensor::from(v, shape);
}

// Whole numbers drawn uniformly from lo .. hi: convolutions of them tie often.
Tensor whole_numbers(const Shape& shape, int lo, int hi, Generator& gen) {
    Tensor t = Tensor::uniform(shape, float(lo), float(hi + 1), gen);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = std::min(float(hi), std::floor(t.data()[i]));
    return t;
}

}  // namespace

TEST_CASE("conv2d: forward equals the direct definition, for every stride/padding/bias") {
    Generator gen(11);
    Tensor x = Tensor::randn({3, 2, 7, 6}, gen);
    Tensor W = Tensor::randn({4, 2, 3, 2}, gen);  // non-square kernel
    Tensor b = Tensor::randn({4}, gen);
    for (int64_t s : {1, 2, 3})
        for (int64_t pad : {0, 1, 2})
            for (bool with_bias : {true, false}) {
                CAPTURE(s);
                CAPTURE(pad);
                CAPTURE(with_bias);
                Tensor bias = with_bias ? b : Tensor();
                Tensor y = conv2d(x, W, bias, s, pad);
                int64_t Ho = (7 + 2 * pad - 3) / s + 1, Wo = (6 + 2 * pad - 2) / s + 1;
                CHECK(y.shape() == Shape{3, 4, Ho, Wo});
                fgtest::check_close(y, naive_conv2d(x, W, bias, s, pad), 1e-5, 1e-5);
            }
}

TEST_CASE("conv2d: a 1x1 kernel is a per-pixel matrix product; a kernel covering the image is linear") {
    Generator gen(3);
    Tensor x = Tensor::randn({2, 3, 4, 5}, gen);
    Tensor W = Tensor::randn({2, 3, 1, 1}, gen);
    Tensor y = conv2d(x, W, Tensor(), 1, 0);
    for (int64_t n = 0; n < 2; ++n)
        for (int64_t o = 0; o < 2; ++o)
            for (int64_t h = 0; h < 4; ++h)
                for (int64_t w = 0; w < 5; ++w) {
                    double ref = 0;
                    for (int64_t c = 0; c < 3; ++c) ref += double(W.at({o, c, 0, 0})) * x.at({n, c, h, w});
                    CHECK(y.at({n, o, h, w}) == doctest::Approx(ref).epsilon(1e-5));
                }
    // Full-image kernel: conv2d == linear on the flattened image.
    Tensor Wf = Tensor::randn({5, 3, 4, 5}, gen);
    Tensor bf = Tensor::randn({5}, gen);
    Tensor yc = conv2d(x, Wf, bf);
    Tensor yl = linear(reshape(x, {2, 60}), reshape(Wf, {5, 60}), bf);
    std::vector<float> yl_values = yl.to_vector();
    std::vector<double> ref(yl_values.begin(), yl_values.end());
    CHECK(yc.shape() == Shape{2, 5, 1, 1});
    fgtest::check_close(yc, ref, 1e-5, 1e-5);
}

TEST_CASE("conv2d: gradcheck for stride 1 and 2, padding 0 and 1, with and without bias") {
    Generator gen(5);
    Tensor x = Tensor::randn({2, 2, 5, 6}, gen);
    Tensor W = Tensor::randn({3, 2, 3, 2}, gen);
    Tensor b = Tensor::randn({3}, gen);
    for (int64_t s : {1, 2})
        for (int64_t pad : {0, 1}) {
            CAPTURE(s);
            CAPTURE(pad);
            fgtest::check_gradcheck(
                [s, pad](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], s, pad); },
                {x, W, b});
            fgtest::check_gradcheck(
                [s, pad](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), s, pad); },
                {x, W});
        }
}

TEST_CASE("conv2d: only the inputs that require grad receive one; nothing is recorded without grad") {
    Generator gen(8);
    Tensor x = Tensor::randn({1, 1, 4, 4}, gen);
    Tensor W = Tensor::randn({2, 1, 3, 3}, gen).set_requires_grad();
    Tensor b = Tensor::randn({2}, gen);
    Tensor y = conv2d(x, W, b, 1, 1);
    sum(y).backward();
    CHECK(W.has_grad());
    CHECK_FALSE(x.has_grad());
    CHECK_FALSE(b.has_grad());
    // dW[o, 0, i, j] = sum over output pixels of the input pixel under tap (i, j).
    for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 3; ++j) {
            double ref = 0;
            for (int64_t oh = 0; oh < 4; ++oh)
                for (int64_t ow = 0; ow < 4; ++ow) {
                    int64_t ih = oh - 1 + i, iw = ow - 1 + j;
                    if (ih >= 0 && ih < 4 && iw >= 0 && iw < 4) ref += x.at({0, 0, ih, iw});
                }
            CHECK(W.grad().at({1, 0, i, j}) == doctest::Approx(ref).epsilon(1e-5));
        }
    size_t before = tape_size();
    {
        NoGradGuard guard;
        conv2d(x, W, b, 1, 1);
    }
    CHECK(tape_size() == before);
}

TEST_CASE("conv2d: bad shapes and arguments give clear errors") {
    Tensor x = Tensor::zeros({2, 3, 5, 5});
    CHECK_ERROR(conv2d(Tensor::zeros({3, 5, 5}), Tensor::zeros({4, 3, 3, 3}), Tensor()), "conv2d",
                "[N, C, H, W]", "[3, 5, 5]");
    CHECK_ERROR(conv2d(x, Tensor::zeros({4, 2, 3, 3}), Tensor()), "conv2d", "3 channels", "[4, 2, 3, 3]");
    CHECK_ERROR(conv2d(x, Tensor::zeros({4, 3, 3, 3}), Tensor::zeros({3})), "conv2d", "bias", "[4]", "[3]");
    CHECK_ERROR(conv2d(x, Tensor::zeros({4, 3, 7, 7}), Tensor()), "conv2d", "does not fit", "7x7");
    CHECK_ERROR(conv2d(x, Tensor::zeros({4, 3, 3, 3}), Tensor(), 0, 0), "conv2d", "stride", ">= 1");
    CHECK_ERROR(conv2d(x, Tensor::zeros({4, 3, 3, 3}), Tensor(), 1, -1), "conv2d", "padding");
    CHECK_ERROR(conv2d(x, Tensor::zeros({4, 3, 3, 3}), Tensor(), 1, 1, Activation::relu, 3), "conv2d",
                "pooling", "got 3", "max_pool2d");
    CHECK_ERROR(conv2d(x, Tensor::zeros({4, 3, 5, 5}), Tensor(), 1, 0, Activation::none, 2), "conv2d", "2x2",
                "1x1");
}

TEST_CASE("max_pool2d: forward equals the direct definition; gradcheck with distinct values") {
    Tensor x = distinct_values({2, 3, 6, 7}, 21);
    for (auto [k, s] : std::vector<std::pair<int64_t, int64_t>>{{2, 2}, {3, 2}, {2, 1}, {3, 3}}) {
        CAPTURE(k);
        CAPTURE(s);
        Tensor y = max_pool2d(x, k, s);
        CHECK(y.shape() == Shape{2, 3, (6 - k) / s + 1, (7 - k) / s + 1});
        fgtest::check_close(y, naive_max_pool2d(x, k, s), 0, 0);
        fgtest::check_gradcheck(
            [k = k, s = s](const std::vector<Tensor>& in) { return max_pool2d(in[0], k, s); }, {x});
    }
}

TEST_CASE("max_pool2d: the 2x2 stride-2 path against the definition, ties and odd sizes included") {
    // Ties: the first maximum in row-major order wins, as in the general kernel. Odd H and
    // W: the last row and column belong to no window and get a zero gradient.
    Generator gen(31);
    for (auto [H, W] : std::vector<std::pair<int64_t, int64_t>>{{4, 4}, {5, 7}, {7, 5}, {2, 19}, {9, 33}}) {
        CAPTURE(H);
        CAPTURE(W);
        std::vector<float> v(size_t(2 * H * W));
        for (float& e : v) e = float(gen.below(3));  // many ties
        Tensor x = Tensor::from(v, {1, 2, H, W}).set_requires_grad();
        Tensor y = max_pool2d(x, 2, 2);
        fgtest::check_close(y, naive_max_pool2d(x, 2, 2), 0, 0);
        Tensor dy = Tensor::randn(y.shape(), gen);
        y.backward(dy);
        const int64_t Ho = H / 2, Wo = W / 2;
        std::vector<float> expected(v.size(), 0.0f);
        for (int64_t c = 0; c < 2; ++c)
            for (int64_t oh = 0; oh < Ho; ++oh)
                for (int64_t ow = 0; ow < Wo; ++ow) {
                    int64_t best = -1;  // the first maximum in row-major order
                    for (int64_t i = 0; i < 2; ++i)
                        for (int64_t j = 0; j < 2; ++j) {
                            int64_t at = (c * H + 2 * oh + i) * W + 2 * ow + j;
                            if (best < 0 || v[size_t(at)] > v[size_t(best)]) best = at;
                        }
                    expected[size_t(best)] = dy.data()[(c * Ho + oh) * Wo + ow];
                }
        CHECK(x.grad().to_vector() == expected);
    }
}

TEST_CASE("max_pool2d: overlapping windows accumulate into a shared maximum") {
    // One 3x3 image whose centre is the largest: with kernel 2, stride 1, all four windows
    // pick the centre, so its gradient is the sum of the four upstream values.
    Tensor x = Tensor::from({1, 2, 3, 4, 9, 5, 6, 7, 8}, {1, 1, 3, 3}).set_requires_grad();
    Tensor y = max_pool2d(x, 2, 1);
    CHECK(y.to_vector() == std::vector<float>{9, 9, 9, 9});
    y.backward(Tensor::from({1, 10, 100, 1000}, {1, 1, 2, 2}));
    std::vector<float> expected(9, 0.0f);
    expected[4] = 1111;
    CHECK(x.grad().to_vector() == expected);
}

TEST_CASE("max_pool2d: NaN propagates; bad arguments give clear errors") {
    Tensor x = Tensor::from({1, NAN, 3, 4}, {1, 1, 2, 2});
    CHECK(std::isnan(max_pool2d(x, 2, 2).item()));
    CHECK_ERROR(max_pool2d(Tensor::zeros({2, 4, 4}), 2, 2), "max_pool2d", "[N, C, H, W]");
    CHECK_ERROR(max_pool2d(Tensor::zeros({1, 1, 4, 4}), 5, 1), "max_pool2d", "kernel 5", "4x4");
    CHECK_ERROR(max_pool2d(Tensor::zeros({1, 1, 4, 4}), 2, 0), "max_pool2d", "stride");
}

TEST_CASE("conv2d and max_pool2d: batches large enough to run in parallel chunks, on 1 and 2 threads") {
    // 16 images x 3 channels of 32x32: conv2d's image chunks and pooling's planes split into
    // several chunks. Both are bit-identical on any thread count: the chunks, and so the
    // order in which dW and db are summed, depend on the sizes only.
    Generator gen(13);
    Tensor x0 = Tensor::randn({16, 3, 32, 32}, gen);
    Tensor W0 = Tensor::randn({4, 3, 3, 3}, gen);
    Tensor b0 = Tensor::randn({4}, gen);
    Tensor dy = Tensor::randn({16, 4, 16, 16}, gen);
    Tensor dp = Tensor::randn({16, 3, 16, 16}, gen);
    int before = num_threads();
    std::vector<std::vector<std::vector<float>>> runs;
    for (int threads : {1, 2}) {
        CAPTURE(threads);
        set_num_threads(threads);
        std::vector<std::vector<float>> bits;
        Tensor x = x0.clone().set_requires_grad(), W = W0.clone().set_requires_grad();
        Tensor b = b0.clone().set_requires_grad();
        Tensor y = conv2d(x, W, b, 2, 1);
        fgtest::check_close(y, naive_conv2d(x0, W0, b0, 2, 1), 1e-5, 1e-5);
        y.backward(dy);
        for (const Tensor& t : {y, x.grad(), W.grad(), b.grad()}) bits.push_back(t.to_vector());
        Tensor xp = x0.clone().set_requires_grad();
        Tensor p = max_pool2d(xp, 2, 2);
        p.backward(dp);
        bits.push_back(p.to_vector());
        bits.push_back(xp.grad().to_vector());
        runs.push_back(bits);
    }
    set_num_threads(before);
    for (size_t i = 0; i < runs[0].size(); ++i) {
        CAPTURE(i);
        CHECK(runs[0][i] == runs[1][i]);
    }
}

TEST_CASE("im2col: the stride-1 fast path equals the reference, bit for bit, and stays in its slack") {
    using detail::ConvGeometry;
    Generator gen(21);
    for (int64_t k : {1, 2, 3, 5})
        for (int64_t pad : {0, 1, 2})
            for (int64_t W : {1, 3, 7, 8, 9, 14, 17}) {
                const int64_t C = 2, H = 5;
                if (W + 2 * pad < k || H + 2 * pad < k) continue;
                CAPTURE(k);
                CAPTURE(pad);
                CAPTURE(W);
                ConvGeometry g{1, C, H, W, 1, k, k, 1, pad, H + 2 * pad - k + 1, W + 2 * pad - k + 1};
                Tensor x = Tensor::randn({C, H, W}, gen);
                std::vector<float> ref(size_t(g.K() * g.P())), fast(ref.size() + detail::kIm2colSlack, 7.0f);
                std::vector<float> scratch(size_t(detail::im2col_stride1_scratch(g)), 0.0f);
                detail::im2col(x.data(), g, ref.data());
                for (int call = 0; call < 2; ++call) {  // the scratch is reused as the first call left it
                    detail::im2col_stride1(x.data(), g, scratch.data(), fast.data());
                    CHECK(std::equal(ref.begin(), ref.end(), fast.begin()));
                }
            }
}

TEST_CASE("conv2d: dx of the stride-1 path (a convolution with the flipped kernel) equals col2im(W^T dy)") {
    using detail::ConvGeometry;
    Generator gen(22);
    for (int64_t pad : {0, 1, 2}) {
        CAPTURE(pad);
        const int64_t N = 3, C = 4, H = 9, Wd = 11, O = 5, k = 3;
        Tensor x = Tensor::randn({N, C, H, Wd}, gen).set_requires_grad();
        Tensor W = Tensor::randn({O, C, k, k}, gen);
        Tensor y = conv2d(x, W, Tensor(), 1, pad);
        Tensor dy = Tensor::randn(y.shape(), gen);
        y.backward(dy);
        ConvGeometry g{N, C, H, Wd, O, k, k, 1, pad, y.size(2), y.size(3)};
        const int64_t K = g.K(), P = g.P();
        std::vector<float> dcols(size_t(K * P)), dx(size_t(C * H * Wd));
        for (int64_t n = 0; n < N; ++n) {
            for (int64_t r = 0; r < K; ++r)  // dcols = W^T dY, in double
                for (int64_t p = 0; p < P; ++p) {
                    double s = 0.0;
                    for (int64_t o = 0; o < O; ++o)
                        s += double(W.data()[o * K + r]) * double(dy.data()[(n * O + o) * P + p]);
                    dcols[size_t(r * P + p)] = float(s);
                }
            detail::col2im(dcols.data(), g, dx.data());
            for (size_t i = 0; i < dx.size(); ++i) {
                CAPTURE(i);
                CHECK(x.grad().data()[n * C * H * Wd + int64_t(i)] == doctest::Approx(dx[i]).epsilon(1e-5));
            }
        }
    }
}

TEST_CASE("conv2d with a fused relu (and 2x2 pooling) gives the unfused ops' bits, forward and backward") {
    Generator gen(24);
    for (int64_t stride : {1, 2})
        for (Activation act : {Activation::none, Activation::relu})
            for (int64_t pool : {1, 2}) {
                CAPTURE(stride);
                CAPTURE(int(act));
                CAPTURE(pool);
                // 9 x 8 images: with stride 1 an odd output height, whose last row no window covers.
                Tensor x = Tensor::randn({5, 3, 9, 8}, gen), W = Tensor::randn({4, 3, 3, 3}, gen);
                Tensor b = Tensor::randn({4}, gen);
                x.data()[17] = NAN;
                auto unfused = [&](const Tensor& xs, const Tensor& Ws, const Tensor& bs) {
                    Tensor z = conv2d(xs, Ws, bs, stride, 1);
                    if (act == Activation::relu) z = relu(z);
                    return pool == 2 ? max_pool2d(z, 2, 2) : z;
                };
                Tensor dy = Tensor::randn(unfused(x, W, b).shape(), gen);
                std::vector<std::vector<float>> runs;
                for (bool fused : {false, true}) {
                    Tensor xs = x.clone().set_requires_grad(), Ws = W.clone().set_requires_grad();
                    Tensor bs = b.clone().set_requires_grad();
                    Tensor y = fused ? conv2d(xs, Ws, bs, stride, 1, act, pool) : unfused(xs, Ws, bs);
                    y.backward(dy);
                    std::vector<float> bits = y.to_vector();
                    for (const Tensor& t : {xs.grad(), Ws.grad(), bs.grad()})
                        for (float v : t.to_vector()) bits.push_back(v);
                    runs.push_back(bits);
                }
                REQUIRE(runs[0].size() == runs[1].size());
                CHECK(std::memcmp(runs[0].data(), runs[1].data(), runs[0].size() * sizeof(float)) == 0);
            }
}

TEST_CASE(
    "conv2d's fused bias, relu and pooling pass: the unfused ops' bits on odd shapes, ties, 1-3 threads") {
    // Odd and even output widths (the flat two-pass kernels need Wo even; odd Wo takes the
    // window-by-window path), rows of 1 to 17 windows (the blocks of 8 and their ends),
    // odd output heights, with and without bias, stride 1 and 2,
    // inputs in whole numbers (so that many windows hold ties, and many relu outputs are 0),
    // batches large enough for several chunks; every thread count gives the same bits.
    struct Case {
        int64_t N, C, H, W, O, stride, pad;
    };
    const Case cases[] = {{9, 2, 9, 8, 3, 1, 1},    {9, 3, 7, 9, 4, 1, 1},   {20, 16, 14, 14, 8, 1, 1},
                          {3, 1, 28, 28, 16, 1, 1}, {6, 2, 11, 13, 3, 2, 1}, {5, 2, 8, 10, 3, 1, 0},
                          {7, 2, 5, 4, 3, 1, 1},    {5, 2, 3, 2, 3, 1, 1},   {4, 3, 6, 34, 5, 1, 1}};
    Generator gen(25);
    const int before = num_threads();
    for (const Case& k : cases)
        for (bool with_bias : {false, true})
            for (Activation act : {Activation::none, Activation::relu}) {
                CAPTURE(k.H);
                CAPTURE(k.W);
                CAPTURE(k.stride);
                CAPTURE(with_bias);
                CAPTURE(int(act));
                Tensor x = whole_numbers({k.N, k.C, k.H, k.W}, -2, 2, gen);
                Tensor W = whole_numbers({k.O, k.C, 3, 3}, -1, 1, gen);
                Tensor b = with_bias ? whole_numbers({k.O}, -2, 2, gen) : Tensor();
                auto unfused = [&](const Tensor& xs, const Tensor& Ws, const Tensor& bs) {
                    Tensor z = conv2d(xs, Ws, bs, k.stride, k.pad);
                    if (act == Activation::relu) z = relu(z);
                    return max_pool2d(z, 2, 2);
                };
                Tensor dy = Tensor::randn(unfused(x, W, b).shape(), gen);
                auto run = [&](bool fused) {
                    Tensor xs = x.clone().set_requires_grad(), Ws = W.clone().set_requires_grad();
                    Tensor bs = with_bias ? b.clone().set_requires_grad() : Tensor();
                    Tensor y = fused ? conv2d(xs, Ws, bs, k.stride, k.pad, act, 2) : unfused(xs, Ws, bs);
                    y.backward(dy);
                    std::vector<float> bits = y.to_vector();
                    for (const Tensor& t : {xs.grad(), Ws.grad()})
                        for (float v : t.to_vector()) bits.push_back(v);
                    if (with_bias)
                        for (float v : bs.grad().to_vector()) bits.push_back(v);
                    return bits;
                };
                set_num_threads(1);
                const std::vector<float> reference = run(false);
                for (int threads : {1, 2, 3}) {
                    CAPTURE(threads);
                    set_num_threads(threads);
                    const std::vector<float> fast = run(true);
                    REQUIRE(fast.size() == reference.size());
                    CHECK(std::memcmp(fast.data(), reference.data(), fast.size() * sizeof(float)) == 0);
                }
            }
    set_num_threads(before);
}
