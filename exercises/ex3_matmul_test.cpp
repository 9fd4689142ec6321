// Exercise 3 — the backward of matmul.
// Its tests (matmul_backward); run them with `make exercises N=3`.
#include <array>

#include <focalgrad/core/gradcheck.h>
#include <focalgrad/core/ops.h>

#include "../tests/helpers.h"
#include "exercise.h"

using namespace focalgrad;

namespace exercises {
void matmul_backward(float* dA, float* dB, const float* dC, const float* A, const float* B, int64_t M,
                     int64_t K,
                     int64_t N);  // ex3_matmul.cpp
}

namespace {

// matmul whose backward is yours (the forward is the library's).
Tensor my_matmul(const Tensor& A, const Tensor& B) {
    Tensor C;
    {
        NoGradGuard no_grad;
        C = matmul(A, B);
    }
    record("my_matmul", {A, B}, C, [A, B](const Tensor& dC, const Tensor&) {
        Tensor dA = exercises::grad_buffer(A), dB = exercises::grad_buffer(B);
        exercises::matmul_backward(dA.data(), dB.data(), dC.data(), A.data(), B.data(), A.size(0), A.size(1),
                                   B.size(1));
        if (A.requires_grad()) exercises::adopt_grad(A, std::move(dA));
        if (B.requires_grad()) exercises::adopt_grad(B, std::move(dB));
    });
    return C;
}

}  // namespace

TEST_CASE("exercise 3: matmul_backward on a 2x3 by 3x4 product, against the formulas in double") {
    Generator gen(3);
    const int64_t M = 2, K = 3, N = 4;
    Tensor A = Tensor::randn({M, K}, gen), B = Tensor::randn({K, N}, gen), dC = Tensor::randn({M, N}, gen);
    Tensor dA = Tensor::full({M, K}, 0.5f), dB = Tensor::full({K, N}, -0.25f);  // earlier gradients
    std::vector<double> eA(size_t(M * K), 0.5), eB(size_t(K * N), -0.25);
    for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < K; ++k)
            for (int64_t n = 0; n < N; ++n) {
                eA[size_t(m * K + k)] += double(dC.data()[m * N + n]) * B.data()[k * N + n];
                eB[size_t(k * N + n)] += double(A.data()[m * K + k]) * dC.data()[m * N + n];
            }
    exercises::matmul_backward(dA.data(), dB.data(), dC.data(), A.data(), B.data(), M, K, N);
    fgtest::check_close(dA, eA, 1e-5, 1e-6);
    fgtest::check_close(dB, eB, 1e-5, 1e-6);
}

TEST_CASE("exercise 3: gradcheck of a matmul built on your backward, square and not") {
    Generator gen(4);
    for (auto [M, K, N] : std::vector<std::array<int64_t, 3>>{{3, 3, 3}, {2, 5, 3}, {4, 1, 2}}) {
        CAPTURE(M);
        CAPTURE(K);
        CAPTURE(N);
        fgtest::check_gradcheck([](const std::vector<Tensor>& in) { return my_matmul(in[0], in[1]); },
                                {Tensor::randn({M, K}, gen), Tensor::randn({K, N}, gen)});
    }
}
