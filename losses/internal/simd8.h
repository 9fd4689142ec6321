// simd8.h — internal to the losses, not installed: eight floats as one value (gcc's vector
// extensions: AVX in the default build, two SSE registers in PORTABLE=1, whatever the target
// has elsewhere), for the softmax tiles' loops that keep their sums in registers across the
// classes, which gcc does not do for the plain loops. It holds no math of its own:
// exp8_nonpositive is fast_exp (core/fastmath.h) operation for operation, lane by lane, and
// tests/test_loss_tiles.cpp holds the two together bit for bit.
#pragma once

#include <cstdint>
#include <cstring>

#include <focalgrad/core/fastmath.h>

#if defined(__FMA__) || defined(__AVX__)
#include <immintrin.h>
#endif

namespace focalgrad {
namespace internal {

typedef float Vec8 __attribute__((vector_size(32)));
typedef int32_t Int8 __attribute__((vector_size(32)));
typedef uint32_t Uint8 __attribute__((vector_size(32)));

// Loads and stores through memcpy: one unaligned vector move each, no aliasing questions.
inline Vec8 load8(const float* p) {
    Vec8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline Int8 load8(const int* p) {
    Int8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store8(float* p, Vec8 v) { std::memcpy(p, &v, sizeof v); }
inline Vec8 splat8(float x) { return Vec8{} + x; }

// fastmath::fma lane by lane: one rounding with FMA, a * b + c (two roundings) without, as the
// scalar form compiles (-std=c++17 contracts nothing).
inline Vec8 fma8(Vec8 a, Vec8 b, Vec8 c) {
#if defined(__FMA__)
    return _mm256_fmadd_ps(a, b, c);
#else
    return a * b + c;
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

// x < lo ? lo : x lane by lane, NaN passing through (the comparison is false): maxps with lo
// first is exactly that.
inline Vec8 raise_to8(Vec8 x, float lo) {
#if defined(__AVX__)
    return _mm256_max_ps(splat8(lo), x);
#else
    return x < splat8(lo) ? splat8(lo) : x;
#endif
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
