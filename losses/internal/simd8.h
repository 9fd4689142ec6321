// simd8.h — internal to the losses, not installed: eight floats as one value
// (core/internal/vec8.h), for the softmax tiles' loops that keep their sums in registers
// across the classes, which gcc does not do for the plain loops, and the moves of eight rows
// of ten classes between memory and class vectors (C = 10). It holds no math of its own:
// exp8_nonpositive is fast_exp (core/fastmath.h) operation for operation, lane by lane, and
// tests/test_loss_tiles.cpp holds the two together bit for bit.
#pragma once

#include <cstdint>
#include <cstring>

#include <focalgrad/core/fastmath.h>
#include <focalgrad/core/internal/vec8.h>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace focalgrad {
namespace internal {

typedef int32_t Int8 __attribute__((vector_size(32)));
typedef uint32_t Uint8 __attribute__((vector_size(32)));

inline Int8 load8(const int* p) {
    Int8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// store8 with a non-temporal (streaming) store, for p on a 32-byte boundary: the line goes to
// memory without being read first (_mm256_stream_ps; two _mm_stream_ps in PORTABLE=1; a
// plain store where neither exists). store_fence() (softmax_tiles.h) orders them.
inline void stream8(float* p, Vec8 v) {
#if defined(__AVX__)
    _mm256_stream_ps(p, __m256(v));
#elif defined(__SSE2__)
    float lo[4], hi[4];
    std::memcpy(lo, &v, sizeof lo);
    std::memcpy(hi, reinterpret_cast<const char*>(&v) + sizeof lo, sizeof hi);
    _mm_stream_ps(p, _mm_loadu_ps(lo));
    _mm_stream_ps(p + 4, _mm_loadu_ps(hi));
#else
    store8(p, v);
#endif
}

// fastmath::fma(-a, b, c) lane by lane (the negation is exact).
inline Vec8 fnma8(Vec8 a, Vec8 b, Vec8 c) {
#if defined(__FMA__)
    return _mm256_fnmadd_ps(a, b, c);
#else
    return -a * b + c;
#endif
}

// a b - c lane by lane, one rounding with FMA (vfmsub), two without: what gcc makes of the
// plain a * b - c when it may fuse (it does with -std=c++17 too), written out so that the
// choice does not depend on the code around it (it could fuse the other product instead).
inline Vec8 fms8(Vec8 a, Vec8 b, Vec8 c) {
#if defined(__FMA__)
    return _mm256_fmsub_ps(a, b, c);
#else
    return a * b - c;
#endif
}

// x < lo ? lo : x lane by lane, NaN passing through (the comparison is false): maxps with lo
// first is exactly that.
inline Vec8 raise_to8(Vec8 x, float lo) {
#if defined(__AVX__)
    return _mm256_max_ps(splat8(lo), x);
#else
    return x < splat8(lo) ? splat8(lo) : x;
#endif
}

// Eight rows of ten floats, given as ten class vectors (dz[j], lane i: class j of row i;
// a gradient's, in softmax_tiles), written row-major to dst (the eight rows' 80 floats; dst on a 64-byte boundary, so
// they are five whole cache lines) with streaming stores, straight from the registers: the
// general path transposes the tile into a staging block (scatter_rows) and copies that out
// (stream_floats). Row i is A_i (classes 0-3), B_i (4-7) and P_i (8, 9), so rows 0-3 are ten
// quarters of 4 floats,
//   A_0 B_0 (P_0 A_1[0,1]) (A_1[2,3] B_1[0,1]) (B_1[2,3] P_1) A_2 B_2 (P_2 A_3[0,1]) ...,
// and rows 4-7 the same. Each quarter is picked within a 128-bit half from at most two
// registers, with rows 0-3 in the low halves and rows 4-7 in the high ones at once (as in
// transpose4_halves); only the last step, pairing quarters into the ten 8-float stores,
// crosses the halves. 34 shuffles and 10 stores for the 80 floats.
inline void stream_rows10(const Vec8 (&dz)[10], float* dst) {
    Vec8 a0 = dz[0], a1 = dz[1], a2 = dz[2], a3 = dz[3];
    Vec8 b0 = dz[4], b1 = dz[5], b2 = dz[6], b3 = dz[7];
    transpose4_halves(a0, a1, a2, a3);  // a_i = (A_i | A_i+4)
    transpose4_halves(b0, b1, b2, b3);  // b_i = (B_i | B_i+4)
    const Lanes8 unpack_lo = {0, 8, 1, 9, 4, 12, 5, 13}, unpack_hi = {2, 10, 3, 11, 6, 14, 7, 15};
    const Vec8 p01 = __builtin_shuffle(dz[8], dz[9], unpack_lo);  // (P_0 P_1 | P_4 P_5)
    const Vec8 p23 = __builtin_shuffle(dz[8], dz[9], unpack_hi);  // (P_2 P_3 | P_6 P_7)
    // In each half: (first pair of x, first pair of y), (second of x, first of y), (second, second).
    const Lanes8 firsts = {0, 1, 8, 9, 4, 5, 12, 13}, second_first = {2, 3, 8, 9, 6, 7, 12, 13},
                 seconds = {2, 3, 10, 11, 6, 7, 14, 15};
    const Vec8 q0 = a0, q1 = b0, q2 = __builtin_shuffle(p01, a1, firsts),
               q3 = __builtin_shuffle(a1, b1, second_first), q4 = __builtin_shuffle(b1, p01, seconds),
               q5 = a2, q6 = b2, q7 = __builtin_shuffle(p23, a3, firsts),
               q8 = __builtin_shuffle(a3, b3, second_first), q9 = __builtin_shuffle(b3, p23, seconds);
    // Quarters 2k and 2k + 1 of rows 0-3 are the k-th store (low halves), of rows 4-7 the
    // (5 + k)-th (high halves).
    const Lanes8 low_halves = {0, 1, 2, 3, 8, 9, 10, 11}, high_halves = {4, 5, 6, 7, 12, 13, 14, 15};
    stream8(dst, __builtin_shuffle(q0, q1, low_halves));
    stream8(dst + 8, __builtin_shuffle(q2, q3, low_halves));
    stream8(dst + 16, __builtin_shuffle(q4, q5, low_halves));
    stream8(dst + 24, __builtin_shuffle(q6, q7, low_halves));
    stream8(dst + 32, __builtin_shuffle(q8, q9, low_halves));
    stream8(dst + 40, __builtin_shuffle(q0, q1, high_halves));
    stream8(dst + 48, __builtin_shuffle(q2, q3, high_halves));
    stream8(dst + 56, __builtin_shuffle(q4, q5, high_halves));
    stream8(dst + 64, __builtin_shuffle(q6, q7, high_halves));
    stream8(dst + 72, __builtin_shuffle(q8, q9, high_halves));
}

// The way in: eight rows of ten floats at src, row-major (a tile's logits), into the ten class
// vectors z[j] (lane i: class j of row i). stream_rows10's steps backwards: the ten 8-float
// loads are split into the twenty quarters (two rows' quarters per register, rows 0-3 in the
// low halves, rows 4-7 in the high ones), which give A_i, B_i and the pairs P_i back, and
// two 4 x 4 transposes and two shuffles of the pairs make the classes. 34 shuffles.
inline void load_rows10(const float* src, Vec8 (&z)[10]) {
    const Lanes8 low_halves = {0, 1, 2, 3, 8, 9, 10, 11}, high_halves = {4, 5, 6, 7, 12, 13, 14, 15};
    const Vec8 v0 = load8(src), v1 = load8(src + 8), v2 = load8(src + 16), v3 = load8(src + 24),
               v4 = load8(src + 32), v5 = load8(src + 40), v6 = load8(src + 48), v7 = load8(src + 56),
               v8 = load8(src + 64), v9 = load8(src + 72);
    const Vec8 q0 = __builtin_shuffle(v0, v5, low_halves), q1 = __builtin_shuffle(v0, v5, high_halves),
               q2 = __builtin_shuffle(v1, v6, low_halves), q3 = __builtin_shuffle(v1, v6, high_halves),
               q4 = __builtin_shuffle(v2, v7, low_halves), q5 = __builtin_shuffle(v2, v7, high_halves),
               q6 = __builtin_shuffle(v3, v8, low_halves), q7 = __builtin_shuffle(v3, v8, high_halves),
               q8 = __builtin_shuffle(v4, v9, low_halves), q9 = __builtin_shuffle(v4, v9, high_halves);
    // In each half: (second pair of x, first pair of y), and (first of x, second of y).
    const Lanes8 second_first = {2, 3, 8, 9, 6, 7, 12, 13}, first_second = {0, 1, 10, 11, 4, 5, 14, 15};
    Vec8 a0 = q0, a1 = __builtin_shuffle(q2, q3, second_first), a2 = q5,
         a3 = __builtin_shuffle(q7, q8, second_first);
    Vec8 b0 = q1, b1 = __builtin_shuffle(q3, q4, second_first), b2 = q6,
         b3 = __builtin_shuffle(q8, q9, second_first);
    const Vec8 p01 = __builtin_shuffle(q2, q4, first_second);  // (P_0 P_1 | P_4 P_5)
    const Vec8 p23 = __builtin_shuffle(q7, q9, first_second);  // (P_2 P_3 | P_6 P_7)
    transpose4_halves(a0, a1, a2, a3);                         // a_j = class j of the eight rows, j = 0 ... 3
    transpose4_halves(b0, b1, b2, b3);                         // b_j: class 4 + j
    const Lanes8 evens = {0, 2, 8, 10, 4, 6, 12, 14}, odds = {1, 3, 9, 11, 5, 7, 13, 15};
    z[0] = a0, z[1] = a1, z[2] = a2, z[3] = a3, z[4] = b0, z[5] = b1, z[6] = b2, z[7] = b3;
    z[8] = __builtin_shuffle(p01, p23, evens);
    z[9] = __builtin_shuffle(p01, p23, odds);
}

// fast_exp(x) for x <= 0 or NaN, the same bits in every lane: fast_exp's upper clamp
// (x > 89) does nothing there, so only the lower one is kept. The rest is fast_exp's lines.
inline Vec8 exp8_nonpositive(Vec8 x) {
    using namespace fastmath;
    x = raise_to8(x, -105.0f);
    const Vec8 round = splat8(12582912.0f);
    const Vec8 shifted = fma8(x, splat8(kLog2e), round);
    const Vec8 n = shifted - round;
    Vec8 r = fnma8(n, splat8(kLn2Hi), x);
    r = fnma8(n, splat8(kLn2Lo), r);
    Vec8 p = splat8(1.0f / 5040);
    p = fma8(p, r, splat8(1.0f / 720));
    p = fma8(p, r, splat8(1.0f / 120));
    p = fma8(p, r, splat8(1.0f / 24));
    p = fma8(p, r, splat8(1.0f / 6));
    p = fma8(p, r, splat8(0.5f));
    p = fma8(p, r, splat8(1.0f));
    p = fma8(p, r, splat8(1.0f));
    Uint8 shifted_bits, round_bits;
    std::memcpy(&shifted_bits, &shifted, sizeof shifted_bits);
    std::memcpy(&round_bits, &round, sizeof round_bits);
    const Uint8 ni = shifted_bits - round_bits;
    const Uint8 n1 = Uint8(Int8(ni) >> 1);
    const Uint8 n2 = ni - n1;
    const Uint8 bits1 = (n1 + 127u) << 23, bits2 = (n2 + 127u) << 23;
    Vec8 scale1, scale2;
    std::memcpy(&scale1, &bits1, sizeof scale1);
    std::memcpy(&scale2, &bits2, sizeof scale2);
    return p * scale1 * scale2;
}

}  // namespace internal
}  // namespace focalgrad
