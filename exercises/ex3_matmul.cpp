// Exercise 3 — the backward of matmul.
//
//   forward    C = A B            A [M, K], B [K, N], C [M, N]:  C[m][n] = Σ_k A[m][k] B[k][n]
//   backward   dA += dC Bᵀ        dA[m][k] += Σ_n dC[m][n] B[k][n]          [M, N] x [N, K]
//              dB += Aᵀ dC        dB[k][n] += Σ_m A[m][k] dC[m][n]          [K, M] x [M, N]
//
// Every matrix is row-major and contiguous: element [i][j] of an [R, S] matrix is at
// i * S + j. A check that catches most mistakes: dA has A's shape and dB has B's. Add into
// dA and dB (they may hold gradients already). Test: make exercises N=3.
#include <cstdint>

#include "exercise.h"

namespace exercises {

void matmul_backward(float* dA, float* dB, const float* dC, const float* A, const float* B, int64_t M,
                     int64_t K, int64_t N) {
    (void)dA, (void)dB, (void)dC, (void)A, (void)B, (void)M, (void)K, (void)N;
    throw NotImplemented("exercise 3: matmul_backward (exercises/ex3_matmul.cpp)");
}

}  // namespace exercises
