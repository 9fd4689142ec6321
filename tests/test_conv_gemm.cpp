// test_conv_gemm.cpp — conv2d's own matrix product (core/internal/conv_gemm.h): the tiled
// kernel gives the bits of its plain reference (every output one chain of multiply-adds in k
// order) on every tile shape and edge, the reference is the product (a double-precision loop),
// and the chain's order is the documented one.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include <focalgrad/core/blas.h>
#include <focalgrad/core/fastmath.h>
#include <focalgrad/core/internal/conv_gemm.h>
#include <focalgrad/core/random.h>

#include "helpers.h"

using namespace focalgrad;
using focalgrad::detail::conv_gemm;
using focalgrad::detail::conv_gemm_reference;

namespace {

// Values of mixed sign and magnitude, so that the order of the sums shows in the bits.
std::vector<float> draw(size_t n, Generator& g) {
    std::vector<float> v(n);
    for (float& x : v) x = (g.uniform() - 0.5f) * std::ldexp(1.0f, int(g.below(9)) - 4);
    return v;
}

// The floats of a and b that differ in any bit, -0 against +0 included.
int64_t differing(const std::vector<float>& a, const std::vector<float>& b) {
    int64_t n = 0;
    for (size_t i = 0; i < a.size(); ++i) n += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return n;
}

}  // namespace

TEST_CASE(
    "conv_gemm gives its reference's bits on every tile shape, strip and row remainder, with padded rows") {
    Generator g(17);
    // Rows: both tilings (6 x 16 when M is a multiple of 6 or N < 24, else 4 x 24) and every
    // remainder of 1-5 rows. Columns: full strips of 24 and 16, one of 8, the last 1-7, and N
    // below 8. K: 1 (a single multiply-add), 9 (conv1), long chains.
    const int64_t Ms[] = {1, 2, 3, 4, 5, 6, 7, 9, 10, 12, 13, 16, 32, 35};
    const int64_t Ns[] = {1, 3, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 40, 47, 48, 49, 196};
    const int64_t Ks[] = {1, 2, 9, 37, 144};
    int64_t cases = 0;
    for (int64_t M : Ms)
        for (int64_t N : Ns)
            for (int64_t K : Ks)
                for (bool accumulate : {false, true}) {
                    // Rows 3 floats longer than they need (lda, ldb, ldc > the widths): the
                    // kernel must read and write only inside the matrices.
                    const int64_t lda = K + 3, ldb = N + 3, ldc = N + 3;
                    std::vector<float> A = draw(size_t(M * lda), g), B = draw(size_t(K * ldb), g);
                    std::vector<float> C = draw(size_t(M * ldc), g), R = C;
                    conv_gemm(M, N, K, A.data(), lda, B.data(), ldb, accumulate, C.data(), ldc);
                    conv_gemm_reference(M, N, K, A.data(), lda, B.data(), ldb, accumulate, R.data(), ldc);
                    INFO("M = " << M << ", N = " << N << ", K = " << K << ", accumulate = " << accumulate);
                    REQUIRE(differing(C, R) == 0);  // the padding columns included: both left them alone
                    ++cases;
                }
    CHECK(cases == 14 * 19 * 5 * 2);
}

TEST_CASE("conv_gemm without accumulate ignores what C held; with it, continues C's chain") {
    Generator g(3);
    const int64_t M = 7, N = 29, K = 20;
    std::vector<float> A = draw(size_t(M * K), g), B = draw(size_t(K * N), g);
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    std::vector<float> clean(size_t(M * N), 0.0f), dirty(size_t(M * N), nan);
    for (size_t i = 0; i < dirty.size(); i += 3) dirty[i] = (i % 2 == 0) ? inf : -inf;
    conv_gemm(M, N, K, A.data(), K, B.data(), N, false, clean.data(), N);
    conv_gemm(M, N, K, A.data(), K, B.data(), N, false, dirty.data(), N);
    CHECK(differing(clean, dirty) == 0);

    // Accumulating over two halves of k is the same chain as one product over all of k: what
    // conv2d relies on when it adds image after image into dW.
    const int64_t K1 = 11;
    std::vector<float> A1(size_t(M * K1)), A2(size_t(M * (K - K1))), B1(B.begin(), B.begin() + K1 * N),
        B2(B.begin() + K1 * N, B.end());
    for (int64_t i = 0; i < M; ++i)
        for (int64_t k = 0; k < K; ++k)
            (k < K1 ? A1[size_t(i * K1 + k)] : A2[size_t(i * (K - K1) + k - K1)]) = A[size_t(i * K + k)];
    std::vector<float> halves(size_t(M * N));
    conv_gemm(M, N, K1, A1.data(), K1, B1.data(), N, false, halves.data(), N);
    conv_gemm(M, N, K - K1, A2.data(), K - K1, B2.data(), N, true, halves.data(), N);
    CHECK(differing(clean, halves) == 0);
}

TEST_CASE("conv_gemm_reference is the product: within the rounding bound of a double-precision loop") {
    Generator g(5);
    const int64_t M = 9, N = 31, K = 288;
    std::vector<float> A = draw(size_t(M * K), g), B = draw(size_t(K * N), g), C(size_t(M * N));
    conv_gemm_reference(M, N, K, A.data(), K, B.data(), N, false, C.data(), N);
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            double exact = 0.0, magnitude = 0.0;
            for (int64_t k = 0; k < K; ++k) {
                exact += double(A[size_t(i * K + k)]) * double(B[size_t(k * N + j)]);
                magnitude += std::fabs(double(A[size_t(i * K + k)]) * double(B[size_t(k * N + j)]));
            }
            // K roundings of at most half an ulp of a partial sum each (two per step without FMA).
            const double bound = 2.0 * double(K) * std::ldexp(1.0, -24) * magnitude;
            REQUIRE(std::fabs(double(C[size_t(i * N + j)]) - exact) <= bound);
        }
}

TEST_CASE(
    "conv_product: conv_gemm's bits on AVX2 OpenBLAS kernels, the product within rounding on AVX-512 ones") {
    Generator g(7);
    struct Size {
        int64_t M, N, K;
    };
    // The CNN's products (forward, dW) and odd edges, with strided C, both accumulate modes;
    // B as it is and transposed (dW's, both of conv_product_bt's ways: K >= 4 M and not).
    for (Size s :
         {Size{16, 784, 9}, Size{32, 196, 144}, Size{144, 32, 196}, Size{9, 16, 784}, Size{5, 13, 7}}) {
        const int64_t ldc = s.N + 3;
        std::vector<float> A = draw(size_t(s.M * s.K), g), B = draw(size_t(s.K * s.N), g);
        const std::vector<float> C0 = draw(size_t(s.M * ldc), g);
        std::vector<float> Bt(B.size()), scratch(B.size());  // conv_product_bt's B^T [N, K]
        for (int64_t k = 0; k < s.K; ++k)
            for (int64_t j = 0; j < s.N; ++j) Bt[size_t(j * s.K + k)] = B[size_t(k * s.N + j)];
        for (int variant = 0; variant < 4; ++variant) {
            const bool accumulate = variant % 2 == 1, transposed = variant >= 2;
            CAPTURE(accumulate);
            CAPTURE(transposed);
            std::vector<float> C = C0, R = C0;
            if (transposed)
                detail::conv_product_bt(s.M, s.N, s.K, A.data(), s.K, Bt.data(), scratch.data(), accumulate,
                                        C.data(), ldc);
            else
                detail::conv_product(s.M, s.N, s.K, A.data(), s.K, B.data(), s.N, accumulate, C.data(), ldc);
            conv_gemm_reference(s.M, s.N, s.K, A.data(), s.K, B.data(), s.N, accumulate, R.data(), ldc);
            if (!detail::openblas_avx512()) {
                CHECK(differing(C, R) == 0);
                continue;
            }
            for (int64_t i = 0; i < s.M; ++i)
                for (int64_t j = 0; j < ldc; ++j) {
                    const size_t at = size_t(i * ldc + j);
                    if (j >= s.N) {  // the stride's gap is left alone
                        REQUIRE(std::memcmp(&C[at], &C0[at], sizeof(float)) == 0);
                        continue;
                    }
                    double exact = accumulate ? double(C0[at]) : 0.0, magnitude = std::fabs(exact);
                    for (int64_t k = 0; k < s.K; ++k) {
                        const double p = double(A[size_t(i * s.K + k)]) * double(B[size_t(k * s.N + j)]);
                        exact += p;
                        magnitude += std::fabs(p);
                    }
                    const double bound = 2.0 * double(s.K + 1) * std::ldexp(1.0, -24) * magnitude;
                    REQUIRE(std::fabs(double(C[at]) - exact) <= bound);
                }
        }
    }
}

TEST_CASE("conv_gemm sums in k order, one chain per output: a hand-worked cancellation") {
    // A = [2^24, 1, -2^24], B = [1, 1, 1]^T. In k order: fma(2^24, 1, 0) = 2^24; then
    // 2^24 + 1 rounds back to 2^24 (the float spacing there is 2); then 2^24 - 2^24 = 0. Any
    // other order that adds the 1 last gives 1.
    const float A[3] = {16777216.0f, 1.0f, -16777216.0f}, B[3] = {1.0f, 1.0f, 1.0f};
    float C = 42.0f, R = 42.0f;
    conv_gemm(1, 1, 3, A, 3, B, 1, false, &C, 1);
    conv_gemm_reference(1, 1, 3, A, 3, B, 1, false, &R, 1);
    CHECK(C == 0.0f);
    CHECK(R == 0.0f);
    // The same three terms as the row of a 4 x 24 tile (the first of 24 columns), so the tiled
    // path is held to the same order, not only the one-column one.
    std::vector<float> A4(4 * 3), B24(3 * 24, 1.0f), C24(4 * 24, 42.0f);
    for (int r = 0; r < 4; ++r)
        for (int k = 0; k < 3; ++k) A4[size_t(r * 3 + k)] = A[k];
    conv_gemm(4, 24, 3, A4.data(), 3, B24.data(), 24, false, C24.data(), 24);
    for (float c : C24) REQUIRE(c == 0.0f);
}

TEST_CASE("transpose_floats (8 x 8 blocks in registers) equals the plain loop on every edge") {
    Generator g(11);
    int64_t cases = 0;
    // 32 x 64 tiles: 33, 70 and 256 rows and 65, 90 and 196 columns cross their edges.
    for (int64_t rows : {1, 5, 8, 9, 16, 17, 32, 33, 70, 256})
        for (int64_t cols : {1, 7, 8, 9, 15, 16, 65, 90, 196}) {
            std::vector<float> src = draw(size_t(rows * cols), g);
            std::vector<float> fast(size_t(rows * cols) + 8, 7.0f), plain = fast;  // 8 guard floats
            detail::transpose_floats(src.data(), rows, cols, fast.data());
            detail::transpose_floats_reference(src.data(), rows, cols, plain.data());
            INFO("rows = " << rows << ", cols = " << cols);
            REQUIRE(differing(fast, plain) == 0);
            for (size_t i = size_t(rows * cols); i < fast.size(); ++i) REQUIRE(fast[i] == 7.0f);
            CHECK(plain[size_t(cols > 1 ? rows : 0)] ==
                  src[size_t(cols > 1 ? 1 : 0)]);  // dst[1, 0] = src[0, 1]
            ++cases;
        }
    CHECK(cases == 90);
}
