// test_ops_linalg.cpp — matmul and linear against a naive triple loop in double, on odd
// sizes, and their gradients.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/blas.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/parallel.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

Tensor randn(const Shape& s, uint64_t seed) {
    Generator g(seed);
    return Tensor::randn(s, g);
}

// C[i, j] = sum_k A[i, k] B[k, j] (with B given transposed when b_t), in double.
std::vector<double> naive(const float* A, const float* B, int64_t M, int64_t K, int64_t P, bool b_t) {
    std::vector<double> C(size_t(M * P), 0.0);
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < P; ++j) {
            double acc = 0;
            for (int64_t k = 0; k < K; ++k) acc += double(A[i * K + k]) * (b_t ? B[j * K + k] : B[k * P + j]);
            C[size_t(i * P + j)] = acc;
        }
    return C;
}

// |a - b| <= 1e-5 * (|b| + scale): relative to the size of the terms being summed.
void check_product(const Tensor& c, const std::vector<double>& ref, int64_t K) {
    REQUIRE(c.numel() == int64_t(ref.size()));
    double scale = std::sqrt(double(K));  // typical magnitude of a sum of K products of N(0,1)
    for (size_t i = 0; i < ref.size(); ++i)
        CHECK_MESSAGE(std::fabs(c.data()[i] - ref[i]) <= 1e-5 * (std::fabs(ref[i]) + scale), "element ", i,
                      ": ", c.data()[i], " vs ", ref[i]);
}

}  // namespace

TEST_CASE("matmul and linear agree with a naive triple loop on odd sizes") {
    struct Size {
        int64_t M, K, P;
    };
    for (Size s : {Size{1, 1, 1}, Size{3, 7, 5}, Size{127, 129, 65}}) {
        Tensor a = randn({s.M, s.K}, 1), b = randn({s.K, s.P}, 2);
        check_product(matmul(a, b), naive(a.data(), b.data(), s.M, s.K, s.P, false), s.K);
        Tensor W = randn({s.P, s.K}, 3), bias = randn({s.P}, 4);
        std::vector<double> ref = naive(a.data(), W.data(), s.M, s.K, s.P, true);
        for (int64_t i = 0; i < s.M; ++i)
            for (int64_t j = 0; j < s.P; ++j) ref[size_t(i * s.P + j)] += bias.data()[j];
        check_product(linear(a, W, bias), ref, s.K);
        check_product(linear(a, W), naive(a.data(), W.data(), s.M, s.K, s.P, true), s.K);
    }
}

TEST_CASE("gemm with beta = 0 ignores what C held (NaN, inf), in a strided block, for every transpose") {
    // gemm may zero C itself before calling OpenBLAS with beta = 1 (core/blas.cpp): C's old
    // contents must not leak in, and the columns of C beyond N (ldc > N) must be left alone.
    const int64_t M = 37, N = 21, K = 13, ldc = N + 3;
    Tensor A = randn({M, K}, 5), B = randn({K, N}, 6);
    Tensor At = transpose(A), Bt = transpose(B);  // [K, M] and [N, K]
    std::vector<double> ref = naive(A.data(), B.data(), M, K, N, false);
    for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb) {
            std::vector<float> C(size_t(M * ldc));
            for (size_t i = 0; i < C.size(); ++i) C[i] = i % 2 ? std::nanf("") : INFINITY;
            gemm(ta, tb, M, N, K, 1.0f, ta ? At.data() : A.data(), ta ? M : K, tb ? Bt.data() : B.data(),
                 tb ? K : N, 0.0f, C.data(), ldc);
            for (int64_t i = 0; i < M; ++i)
                for (int64_t j = 0; j < ldc; ++j) {
                    float c = C[size_t(i * ldc + j)];
                    if (j >= N) {  // outside the product: untouched
                        CHECK(((i * ldc + j) % 2 ? std::isnan(c) : std::isinf(c)));
                        continue;
                    }
                    double r = ref[size_t(i * N + j)];
                    CHECK_MESSAGE(std::fabs(c - r) <= 1e-5 * (std::fabs(r) + std::sqrt(double(K))), "ta=", ta,
                                  " tb=", tb, " C[", i, ", ", j, "] = ", c, " vs ", r);
                }
        }
}

TEST_CASE("batched matmul: [B,M,K]x[B,K,P] and [B,M,K]x[K,P]") {
    Tensor a = randn({3, 4, 5}, 5), b = randn({3, 5, 2}, 6), b2 = randn({5, 2}, 7);
    Tensor c = matmul(a, b), c2 = matmul(a, b2);
    REQUIRE(c.shape() == Shape{3, 4, 2});
    for (int64_t i = 0; i < 3; ++i) {
        std::vector<double> ref = naive(a.data() + i * 20, b.data() + i * 10, 4, 5, 2, false);
        std::vector<double> ref2 = naive(a.data() + i * 20, b2.data(), 4, 5, 2, false);
        for (int64_t j = 0; j < 8; ++j) {
            CHECK(c.data()[i * 8 + j] == doctest::Approx(ref[size_t(j)]).epsilon(1e-5));
            CHECK(c2.data()[i * 8 + j] == doctest::Approx(ref2[size_t(j)]).epsilon(1e-5));
        }
    }
}

TEST_CASE("matmul and linear gradients") {
    fgtest::check_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
                            {randn({3, 4}, 8), randn({4, 2}, 9)});
    fgtest::check_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
                            {randn({2, 3, 4}, 10), randn({2, 4, 2}, 11)});
    fgtest::check_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
                            {randn({2, 3, 4}, 12), randn({4, 2}, 13)});
    fgtest::check_gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                            {randn({5, 4}, 14), randn({3, 4}, 15), randn({3}, 16)});
    fgtest::check_gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1]); },
                            {randn({2, 5, 4}, 17), randn({3, 4}, 18)});
    // Only the weight requires grad (a first layer): dx is skipped, dW and db are right.
    Tensor x = randn({4, 3}, 19);
    Tensor W = randn({2, 3}, 20).set_requires_grad(), b = Tensor::zeros({2}).set_requires_grad();
    sum(linear(x, W, b)).backward();
    fgtest::check_close(b.grad(), {4, 4});
    std::vector<double> col_sums(3, 0.0);
    for (int i = 0; i < 4; ++i)
        for (int k = 0; k < 3; ++k) col_sums[size_t(k)] += x.at({i, k});
    std::vector<double> dW;
    for (int j = 0; j < 2; ++j)
        for (int k = 0; k < 3; ++k) dW.push_back(col_sums[size_t(k)]);
    fgtest::check_close(W.grad(), dW, 1e-5, 1e-6);
}

TEST_CASE("matmul and linear shape errors name both shapes") {
    CHECK_ERROR(matmul(Tensor::ones({32, 784}), Tensor::ones({100, 10})), "matmul", "inner dimensions differ",
                "[32, 784]", "[100, 10]");
    CHECK_ERROR(matmul(Tensor::ones({2, 3, 4}), Tensor::ones({5, 4, 2})), "matmul", "batch", "[2, 3, 4]",
                "[5, 4, 2]");
    CHECK_ERROR(matmul(Tensor::ones({4}), Tensor::ones({4, 2})), "matmul", "[4]", "[4, 2]");
    CHECK_ERROR(linear(Tensor::ones({2, 5}), Tensor::ones({3, 4})), "linear", "[2, 5]", "[3, 4]");
    CHECK_ERROR(linear(Tensor::ones({2, 4}), Tensor::ones({3, 4}), Tensor::ones({2})), "linear", "bias",
                "[2]");
}

TEST_CASE("matrix products give the same bits on 1 and on 2 threads") {
    // OpenBLAS's own threading changes the bits with the thread count; focalgrad's fixed
    // partition must not (core/blas.cpp).
    int saved = num_threads();
    auto run = [](int threads) {
        set_num_threads(threads);
        Generator g(21);
        Tensor a = Tensor::randn({128, 784}, g), W = Tensor::randn({256, 784}, g),
               b = Tensor::randn({256}, g);
        a.set_requires_grad();
        W.set_requires_grad();
        Tensor y = linear(a, W, b);
        Tensor z = matmul(y, Tensor::randn({256, 300}, g));
        sum(z * z).backward();
        std::vector<float> out = z.to_vector();
        for (float v : W.grad().to_vector()) out.push_back(v);
        for (float v : a.grad().to_vector()) out.push_back(v);
        return out;
    };
    std::vector<float> one = run(1), two = run(2);
    set_num_threads(saved);
    REQUIRE(one.size() == two.size());
    int64_t differ = 0;
    for (size_t i = 0; i < one.size(); ++i) differ += one[i] != two[i];
    CHECK(differ == 0);
}

TEST_CASE("linear with a fused relu gives relu(linear(...))'s bits, forward and backward, NaN included") {
    // Sizes that make gemm cut the product into blocks (each block gets its own bias and
    // relu), and inputs with zeros, negative and positive outputs and a NaN.
    for (int64_t N : {3, 128}) {
        CAPTURE(N);
        Generator g(23);
        Tensor x = Tensor::randn({N, 784}, g), W = Tensor::randn({256, 784}, g), b = Tensor::randn({256}, g);
        x.data()[5] = NAN;
        for (int64_t j = 0; j < 256; j += 7) W.data()[j * 784 + 3] = 0.0f;
        Tensor dy = Tensor::randn({N, 256}, g);
        std::vector<std::vector<float>> runs;
        for (bool fused : {false, true}) {
            Tensor xs = x.clone().set_requires_grad(), Ws = W.clone().set_requires_grad();
            Tensor bs = b.clone().set_requires_grad();
            Tensor y = fused ? linear(xs, Ws, bs, Activation::relu) : relu(linear(xs, Ws, bs));
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
    "OpenBLAS's SSE3 fallback is replaced by the AVX2 or AVX-512 kernels the CPU has, unless the user "
    "chose") {
    using detail::CpuVectorUnits;
    using detail::openblas_replacement;
    const CpuVectorUnits none, avx2{true, false}, avx512{true, true};
    // Only OpenBLAS's fallback for an unknown CPU is replaced, by what the CPU can run.
    CHECK(std::string(openblas_replacement(nullptr, "Prescott", avx512)) == "SkylakeX");
    CHECK(std::string(openblas_replacement(nullptr, "Prescott", avx2)) == "Haswell");
    CHECK(openblas_replacement(nullptr, "Prescott", none) == nullptr);
    // A CPU OpenBLAS knows keeps its kernels; OPENBLAS_CORETYPE set keeps the user's.
    CHECK(openblas_replacement(nullptr, "Zen", avx2) == nullptr);
    CHECK(openblas_replacement(nullptr, "SkylakeX", avx512) == nullptr);
    CHECK(openblas_replacement("Prescott", "Prescott", avx512) == nullptr);
    CHECK(openblas_replacement("", "Prescott", avx2) == nullptr);

    // On this machine: never the fallback where the CPU has better, the user not choosing.
    const std::string kernels = blas_kernels();
    INFO("OpenBLAS kernels: ", kernels);
#if defined(__x86_64__)
    if (!std::getenv("OPENBLAS_CORETYPE") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        CHECK(kernels.rfind("Prescott", 0) != 0);
#endif
    // The user's OPENBLAS_CORETYPE is kept, and said.
    if (const char* env = std::getenv("OPENBLAS_CORETYPE")) {
        CHECK(kernels.find(std::string("(set by OPENBLAS_CORETYPE=") + env) != std::string::npos);
        CHECK(kernels.find("focalgrad replaced") == std::string::npos);
    }
    CHECK(detail::openblas_avx512_kernels("SkylakeX"));
    CHECK(detail::openblas_avx512_kernels("Cooperlake"));
    CHECK(!detail::openblas_avx512_kernels("Haswell"));
    CHECK(!detail::openblas_avx512_kernels("Zen"));
    // And the products run on them agree with the double loop.
    const Tensor a = randn({37, 53}, 5), b = randn({53, 29}, 6);
    check_product(matmul(a, b), naive(a.data(), b.data(), 37, 53, 29, false), 53);
}
