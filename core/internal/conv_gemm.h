// conv_gemm.h — internal to conv2d (core/ops_conv.cpp), not installed: the matrix product of
// its image-sized steps, written here rather than taken from OpenBLAS. These products are
// small (the second convolution of examples/mnist_cnn: 32 x 196 x 144, 0.9 M multiply-adds)
// and OpenBLAS runs them at 60-85 % of its large-matrix rate, below 50 % when K = 9 (measured
// on an AVX2 AMD EPYC). They fit in cache, so register tiles of 12 sums (6 x 16 or 4 x 24
// outputs) read straight from the row-major operands, without packing, do better.
//
// The math, row-major, every output one chain of multiply-adds in k order:
//   C[i, j] = sum over k of A[i, k] B[k, j]
//   accumulate = false:  c = 0;        for k = 0 .. K-1:  c = fma(A[i, k], B[k, j], c)
//   accumulate = true:   c = C[i, j];  for k = 0 .. K-1:  c = fma(A[i, k], B[k, j], c)
// with fastmath::fma (fused with FMA, a * b + c without). So the bits depend only on the build
// flavour, not on the CPU, the thread count or how the product is tiled: conv_gemm_reference
// is that loop, and tests/test_conv_gemm.cpp holds the two equal bit for bit. (The chain has no
// backward of its own: conv2d's gradients are more of these products.)
//
// Shapes: A [M, K] rows lda apart, B [K, N] rows ldb apart, C [M, N] rows ldc apart.
#pragma once

#include <cstdint>

namespace focalgrad::detail {

void conv_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
               bool accumulate, float* C, int64_t ldc);

// The same chains one output at a time: the plain form conv_gemm is tested against.
void conv_gemm_reference(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                         int64_t ldb, bool accumulate, float* C, int64_t ldc);

// C = A B (+ C if accumulate), the same shapes: conv2d's products. conv_gemm, or OpenBLAS's
// sgemm where OpenBLAS runs AVX-512 kernels (conv_gemm.cpp says why and what it changes).
void conv_product(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                  bool accumulate, float* C, int64_t ldc);

// The same with B given as its transpose Bt [N, K] (rows K apart): dW's product, whose B is
// dY_n transposed. Bt is transposed into scratch ([K, N]) first, except where OpenBLAS's own
// transposed product is faster (conv_gemm.cpp).
void conv_product_bt(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* Bt,
                     float* scratch, bool accumulate, float* C, int64_t ldc);

// dst[c, r] = src[r, c] for src [rows, cols] (rows and cols of floats, no padding): dW's
// product takes dY_n [O, P] as its [P, O] operand, and permute's blocked copy
// (core/ops_shape.cpp) is made of these (named apart from the tensor op transpose,
// core/ops.h). 8 x 8 blocks transposed in registers, then the edges one float at a time;
// transpose_floats_reference is the plain double loop, and the two are tested equal.
void transpose_floats(const float* src, int64_t rows, int64_t cols, float* dst);
void transpose_floats_reference(const float* src, int64_t rows, int64_t cols, float* dst);

}  // namespace focalgrad::detail
