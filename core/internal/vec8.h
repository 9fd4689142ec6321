// vec8.h — internal, not installed: eight floats as one value, gcc's vector extensions (one
// AVX register in the default build, two SSE registers in PORTABLE=1, whatever the target has
// elsewhere), with the few operations that the hand-vectorised loops share: the softmax loss
// tiles (losses/internal/simd8.h builds on it) and conv2d's products (conv_gemm.h).
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

}  // namespace internal
}  // namespace focalgrad
