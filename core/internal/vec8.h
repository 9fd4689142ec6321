// vec8.h — internal, not installed: eight floats as one value, gcc's vector extensions (one
// AVX register in the default build, two SSE registers in PORTABLE=1, whatever the target has
// elsewhere), with the few operations that the hand-vectorised loops share: the softmax loss
// tiles (losses/internal/simd8.h builds on it) and conv2d's products (conv_gemm.h): loads,
// stores, fused multiply-add, and transposes within registers.
#pragma once

#include <cstring>

#if defined(__FMA__)
#include <immintrin.h>
#endif

namespace focalgrad {
namespace internal {

typedef float Vec8 __attribute__((vector_size(32)));

// Loads and stores through memcpy: one unaligned vector move each, no aliasing questions.
inline Vec8 load8(const float* p) {
    Vec8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store8(float* p, Vec8 v) { std::memcpy(p, &v, sizeof v); }
inline Vec8 splat8(float x) { return Vec8{x, x, x, x, x, x, x, x}; }  // not 0 + x: -0 stays -0

// fastmath::fma lane by lane: one rounding with FMA, a * b + c (two roundings) without, as the
// scalar form compiles (-std=c++17 contracts nothing).
inline Vec8 fma8(Vec8 a, Vec8 b, Vec8 c) {
#if defined(__FMA__)
    return _mm256_fmadd_ps(a, b, c);
#else
    return a * b + c;
#endif
}

// Lane masks for __builtin_shuffle(a, b, mask): lane k of the result is lane mask[k] of a
// (0-7) or of b (8-15).
typedef int Lanes8 __attribute__((vector_size(32)));

// A 4 x 4 transpose in each 128-bit half at once: with a_i = (x_i0 x_i1 x_i2 x_i3 | y_i0 y_i1
// y_i2 y_i3), afterwards a_k = (x_0k x_1k x_2k x_3k | y_0k y_1k y_2k y_3k). The first two rounds
// of the textbook 8 x 8 AVX transpose (unpack, then shuffle pairs), 8 shuffles, none of them
// crossing the halves.
inline void transpose4_halves(Vec8& a0, Vec8& a1, Vec8& a2, Vec8& a3) {
    const Lanes8 unpack_lo = {0, 8, 1, 9, 4, 12, 5, 13}, unpack_hi = {2, 10, 3, 11, 6, 14, 7, 15};
    const Lanes8 pairs_lo = {0, 1, 8, 9, 4, 5, 12, 13}, pairs_hi = {2, 3, 10, 11, 6, 7, 14, 15};
    const Vec8 b0 = __builtin_shuffle(a0, a1, unpack_lo), b1 = __builtin_shuffle(a0, a1, unpack_hi);
    const Vec8 b2 = __builtin_shuffle(a2, a3, unpack_lo), b3 = __builtin_shuffle(a2, a3, unpack_hi);
    a0 = __builtin_shuffle(b0, b2, pairs_lo), a1 = __builtin_shuffle(b0, b2, pairs_hi);
    a2 = __builtin_shuffle(b1, b3, pairs_lo), a3 = __builtin_shuffle(b1, b3, pairs_hi);
}

// The 8 x 8 transpose: rows r[0..8) of eight floats each become its columns, r[k] holding
// column k afterwards. transpose4_halves on rows 0-3 and on rows 4-7, then each column's two
// halves paired across the registers.
inline void transpose8(Vec8 (&r)[8]) {
    transpose4_halves(r[0], r[1], r[2], r[3]);  // r[k] = (rows 0-3 of column k | of column k + 4)
    transpose4_halves(r[4], r[5], r[6], r[7]);  // the same for rows 4-7
    const Lanes8 low = {0, 1, 2, 3, 8, 9, 10, 11}, high = {4, 5, 6, 7, 12, 13, 14, 15};
    for (int k = 0; k < 4; ++k) {
        const Vec8 top = r[k], bottom = r[k + 4];
        r[k] = __builtin_shuffle(top, bottom, low);       // column k: rows 0-3, then 4-7
        r[k + 4] = __builtin_shuffle(top, bottom, high);  // column k + 4
    }
}

}  // namespace internal
}  // namespace focalgrad
