// test_loss_tiles.cpp — the class-major tile copies of the fast softmax losses
// (losses/internal/softmax_tiles.h): gather_rows and scatter_rows move exactly the values the
// layout's index formula names, for every number of classes around the 8 x 8 blocks of the
// [N, C] case (C = 1 ... 20), whole and partial tiles, and strided [N, C, d] logits; the
// streaming copy of large gradients, and that streaming leaves their bits as they were; the
// register form of the tile statistics against its plain loops, bit for bit, and the C = 10
// form that takes them straight from the rows (load_tile_stats10) against the tile's; and the
// block form of the sigmoid losses' parts (sigmoid_parts_block) against the per-logit one.
// Not here: the losses built on them (test_loss_fast_vs_reference.cpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/random.h>
#include <focalgrad/losses/internal/sigmoid_parts.h>
#include <focalgrad/losses/internal/softmax_tiles.h>
#include <focalgrad/losses/losses.h>

#include "helpers.h"

using namespace focalgrad;
using internal::kTileRows;

TEST_CASE(
    "gather_rows and scatter_rows copy exactly the tile's rows, for C = 1 ... 20, [N, C] and [N, C, d]") {
    for (int64_t positions : {1, 3})
        for (int64_t C = 1; C <= 20; ++C) {
            ClassLayout layout;
            layout.batch = 150 / positions + 1;
            layout.classes = C;
            layout.positions = positions;
            const int64_t rows = layout.rows(), count = rows * C;
            std::vector<float> logits(static_cast<size_t>(count));
            for (int64_t e = 0; e < count; ++e) logits[size_t(e)] = float(e) + 0.5f;  // every value distinct
            for (int64_t row0 : {int64_t(0), int64_t(8), int64_t(64), rows - 9})
                for (int n : {1, 7, 8, 9, 17, 63, 64}) {
                    if (row0 + n > rows) continue;
                    INFO("C ", C, ", positions ", positions, ", rows ", row0, " + ", n);
                    std::vector<float> tile(size_t(C * kTileRows), NAN);
                    internal::gather_rows(logits.data(), layout, row0, n, tile.data());
                    int wrong = 0;
                    for (int64_t j = 0; j < C; ++j)
                        for (int r = 0; r < kTileRows; ++r) {
                            const float want = r < n ? logits[size_t(layout.index(row0 + r, j))] : 0.0f;
                            wrong += tile[size_t(j * kTileRows + r)] != want;
                        }
                    CHECK(wrong == 0);
                    // Back: the tile's n rows land where they came from; nothing else is written.
                    for (float& v : tile) v = -v;
                    std::vector<float> out(static_cast<size_t>(count), 7.0f);
                    internal::scatter_rows(tile.data(), layout, row0, n, out.data());
                    wrong = 0;
                    for (int64_t i = 0; i < rows; ++i)
                        for (int64_t j = 0; j < C; ++j) {
                            const int64_t e = layout.index(i, j);
                            const bool in_tile = i >= row0 && i < row0 + n;
                            wrong += out[size_t(e)] != (in_tile ? -logits[size_t(e)] : 7.0f);
                        }
                    CHECK(wrong == 0);
                }
        }
}

TEST_CASE("stream_floats copies exactly, at every alignment of the destination and every length to 100") {
    std::vector<float> src(128), dst(160);
    for (size_t e = 0; e < src.size(); ++e) src[e] = float(e) + 0.25f;
    for (int offset = 0; offset < 17; ++offset)
        for (int64_t n = 0; n <= 100; ++n) {
            INFO("offset ", offset, ", n ", n);
            for (float& v : dst) v = -1.0f;
            internal::stream_floats(src.data(), n, dst.data() + offset);
            internal::store_fence();
            int wrong = 0;
            for (int64_t e = 0; e < int64_t(dst.size()); ++e) {
                const int64_t i = e - offset;
                wrong += dst[size_t(e)] != (i >= 0 && i < n ? src[size_t(i)] : -1.0f);
            }
            CHECK(wrong == 0);
        }
}

TEST_CASE("a gradient streamed out (above kStreamBytes) has the bits of the same rows' cached one") {
    // Rows are independent and the Sum reduction scales nothing: the gradient of a large batch
    // (streamed) is, row for row, the gradient of its pieces (small: plain stores).
    const int64_t C = 10, N = internal::kStreamBytes / int64_t(sizeof(float) * C) + 1000, piece = 4096;
    Generator gen(5);
    Tensor x = Tensor::normal({N, C}, 0.0f, 3.0f, gen).set_requires_grad(true);  // [N, C]
    std::vector<int> t(static_cast<size_t>(N));
    for (auto& v : t) v = int(gen.below(uint32_t(C)));
    FocalLossOptions focal;
    focal.reduction = Reduction::Sum;
    CrossEntropyOptions ce, smoothed;  // smoothed: weights and label smoothing, the spread term u_j
    ce.reduction = smoothed.reduction = Reduction::Sum;
    smoothed.weight = Tensor::from({0.5f, 1.0f, 2.0f, 0.25f, 1.5f, 1.0f, 3.0f, 0.75f, 1.25f, 2.5f}, {C});
    smoothed.label_smoothing = 0.1f;
    auto loss = [&](int which, const Tensor& z, const std::vector<int>& targets) {
        return which == 0   ? cross_entropy(z, targets, ce)
               : which == 1 ? focal_loss(z, targets, focal)
                            : cross_entropy(z, targets, smoothed);
    };
    for (int which = 0; which < 3; ++which) {
        INFO("loss ", which == 0   ? "cross_entropy"
                      : which == 1 ? "focal_loss"
                                   : "cross_entropy, weights and smoothing");
        x.zero_grad();
        loss(which, x, t).backward();
        int64_t wrong = 0;
        for (int64_t r0 = 0; r0 < N; r0 += piece) {
            const int64_t n = std::min(piece, N - r0);
            Tensor part = Tensor::empty({n, C});
            std::copy(x.data() + r0 * C, x.data() + (r0 + n) * C, part.data());
            part.set_requires_grad(true);
            std::vector<int> part_t(t.begin() + r0, t.begin() + r0 + n);
            loss(which, part, part_t).backward();
            for (int64_t e = 0; e < n * C; ++e) wrong += part.grad().data()[e] != x.grad().data()[r0 * C + e];
        }
        CHECK(wrong == 0);
    }
}

namespace {
uint32_t bits(float x) {
    uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    return u;
}

// A logit for the statistics tests: kind 0 normal, kind 1 with a quarter of odd values
// (NaN, infinities, overflow to the exp's edges, a denormal, signed zeros), kind 2 normal
// with half of them scaled by 1000.
float test_logit(Generator& gen, int kind) {
    static const float odd[] = {NAN,    INFINITY, -INFINITY, 1e30f,  -1e30f, 3e38f,
                                -3e38f, 88.0f,    -104.0f,   1e-40f, 0.0f,   -0.0f};
    float v = 4.0f * gen.normal();
    if (kind == 1 && gen.below(4) == 0) v = odd[gen.below(12)];
    if (kind == 2) v = (gen.below(2) ? 1e3f : 1.0f) * v;
    return v;
}

// How many of the two tiles' statistics (and exps left in z) differ in their bits; any
// NaN equals any NaN.
int differing_stats(const internal::SoftmaxTile& a, const internal::SoftmaxTile& b, int64_t C) {
    int wrong = 0;
    auto same = [&](const float* x, const float* y, int64_t n) {
        for (int64_t i = 0; i < n; ++i) wrong += bits(x[i]) != bits(y[i]) && !(x[i] != x[i] && y[i] != y[i]);
    };
    same(a.z, b.z, C * kTileRows);
    same(a.max, b.max, kTileRows);
    same(a.shifted_target, b.shifted_target, kTileRows);
    same(a.exp_target, b.exp_target, kTileRows);
    same(a.exp_others, b.exp_others, kTileRows);
    same(a.shifted_dot, b.shifted_dot, kTileRows);
    return wrong;
}
}  // namespace

TEST_CASE("exp8_nonpositive gives fast_exp's bits for x <= 0 and NaN (a sweep of all non-positive floats)") {
    // Every 61st bit pattern from -0 down to -NaN's, and +0, -inf, NaN themselves.
    std::vector<float> xs = {0.0f, -0.0f, -INFINITY, NAN, -NAN, -104.0f, -105.0f, -106.0f, -87.3f, -88.8f};
    for (uint64_t u = 0x80000000u; u <= 0xffffffffu; u += 61) {
        float x;
        const uint32_t u32 = uint32_t(u);
        std::memcpy(&x, &u32, sizeof x);
        xs.push_back(x);
    }
    while (xs.size() % 8) xs.push_back(-1.0f);
    int64_t wrong = 0;
    for (size_t i = 0; i < xs.size(); i += 8) {
        alignas(32) float e[8];
        internal::store8(e, internal::exp8_nonpositive(internal::load8(&xs[i])));
        for (int l = 0; l < 8; ++l) {
            const float want = fast_exp(xs[i + size_t(l)]);
            wrong += std::isnan(want) ? !std::isnan(e[l]) : bits(e[l]) != bits(want);
        }
    }
    CHECK(wrong == 0);
}

TEST_CASE(
    "sigmoid_parts_block gives sigmoid_parts' bits, logit by logit (a sweep of all floats, blocks of "
    "1-256)") {
    // Every 127th bit pattern, both signs, and the edges: 0, inf, NaN, where e^(-|x|) leaves
    // the normal range, and where 1 + e rounds to 1.
    std::vector<float> xs = {0.0f,   -0.0f,  INFINITY, -INFINITY, NAN,   87.3f,
                             -87.3f, 104.0f, -104.0f,  17.0f,     -17.0f};
    for (uint64_t u = 0; u <= 0xffffffffu; u += 127) {
        float x;
        const uint32_t u32 = uint32_t(u);
        std::memcpy(&x, &u32, sizeof x);
        xs.push_back(x);
    }
    int64_t wrong = 0;
    auto differ = [](float got, float want) {
        return std::isnan(want) ? !std::isnan(got) : bits(got) != bits(want);
    };
    internal::SigmoidBlock parts;
    int n = 1;  // block lengths cycle through 1 ... kBlock
    for (size_t begin = 0; begin < xs.size(); begin += size_t(n), n = n % internal::kBlock + 1) {
        n = int(std::min<size_t>(size_t(n), xs.size() - begin));
        internal::sigmoid_parts_block(&xs[begin], n, parts);
        for (int i = 0; i < n; ++i) {
            const internal::SigmoidParts want = internal::sigmoid_parts(xs[begin + size_t(i)]);
            wrong += differ(parts.p[i], want.p) + differ(parts.one_minus_p[i], want.one_minus_p) +
                     differ(parts.log1p_e[i], want.log1p_e);
        }
    }
    CHECK(wrong == 0);
}

TEST_CASE("softmax_tile_stats gives the bits of its plain form softmax_tile_stats_loops, any C, odd logits") {
    Generator gen(11);
    for (int64_t C : {1, 2, 3, 5, 8, 10, 13, 17, 100})
        for (int kind = 0; kind < 3; ++kind)
            for (bool dot : {false, true}) {
                INFO("C ", C, ", kind ", kind, ", dot weights ", dot);
                internal::SoftmaxTile a(C), b(C);
                std::vector<float> u(static_cast<size_t>(C));
                for (auto& w : u) w = 0.5f + gen.uniform();
                for (int64_t e = 0; e < C * kTileRows; ++e) a.z[e] = b.z[e] = test_logit(gen, kind);
                for (int r = 0; r < kTileRows; ++r)
                    a.target[r] = b.target[r] = int(gen.below(uint32_t(C + 1))) - 1;
                internal::softmax_tile_stats_loops(a, dot ? u.data() : nullptr);
                internal::softmax_tile_stats(b, dot ? u.data() : nullptr);
                CHECK(differing_stats(a, b, C) == 0);
            }
}

TEST_CASE(
    "load_tile_stats10 (from registers) gives the bits of load_tile and softmax_tile_stats, odd logits") {
    Generator gen(12);
    const int64_t C = internal::kFixedClasses, N = 3 * kTileRows;
    ClassLayout layout;
    layout.batch = N;
    layout.classes = C;
    layout.positions = 1;
    std::vector<int> targets(static_cast<size_t>(N));
    std::vector<float> u(static_cast<size_t>(C)), logits(static_cast<size_t>(N * C));  // [N, C]
    for (int kind = 0; kind < 3; ++kind)
        for (bool dot : {false, true}) {
            INFO("kind ", kind, ", dot weights ", dot);
            for (auto& w : u) w = 0.5f + gen.uniform();
            for (auto& v : logits) v = test_logit(gen, kind);
            for (auto& t : targets) t = int(gen.below(uint32_t(C + 1))) - 1;  // -1: ignored
            int wrong = 0;
            for (int64_t row0 = 0; row0 < N; row0 += kTileRows) {
                internal::SoftmaxTile a(C), b(C);
                internal::load_tile(logits.data(), layout, row0, kTileRows, targets, -1, a);
                internal::softmax_tile_stats(a, dot ? u.data() : nullptr);
                internal::load_targets(row0, kTileRows, targets, -1, b);
                internal::load_tile_stats10(logits.data() + row0 * C, b, dot ? u.data() : nullptr);
                wrong += differing_stats(a, b, C);
            }
            CHECK(wrong == 0);
        }
}
