// fastmath.h — exp, log, log1p and expm1 for float, written so that loops calling them
// vectorise: inline, branch-free, correct over the whole float range (overflow to inf,
// gradual underflow through the denormals, log(0) = -inf, log(x < 0) = NaN, NaN in -> NaN
// out) and within 2.3 ulp of the exact value for every one of the 2^32 inputs.
// Not here: double precision, other functions, errno.
//
// Why: std::exp and std::log are calls into libm, which gcc only turns into SIMD code under
// -ffast-math, and that flag would also license reordering every sum in the library. Here
// special cases are selects (fastmath::select) rather than branches, so a loop over these
// functions becomes straight-line SIMD code: 0.26 ns per exp on this machine, against 1.7
// for std::exp.
// Maximum error against the exact value (libm in double) over all 2^32 inputs
// (tests/test_fastmath.cpp, "exhaustive"); a correctly rounded function would score 0.5 ulp,
// and denormal results count in units of the denormal spacing:
//   with FMA (every build but PORTABLE=1):  exp 0.94 ulp, log 0.86, log1p 1.44, expm1 1.85
//   without FMA (PORTABLE=1, x86-64-v2):    exp 1.22 ulp, log 0.86, log1p 1.44, expm1 2.21
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace focalgrad {
namespace fastmath {

inline uint32_t bits_of(float x) {
    uint32_t u;
    std::memcpy(&u, &x, sizeof u);  // the portable bit cast; compiles to nothing
    return u;
}

inline float float_of(uint32_t u) {
    float x;
    std::memcpy(&x, &u, sizeof x);
    return x;
}

// a * b + c with one rounding where the hardware has FMA (then the vectorised loop uses
// vfmadd); two roundings elsewhere, which costs at most about half an ulp in what follows.
inline float fma(float a, float b, float c) {
#ifdef __FMA__
    return std::fma(a, b, c);
#else
    return a * b + c;
#endif
}

// c ? a : b, computed from both values. A plain ?: on floats lets gcc turn the select
// into a branch and move the work feeding only one side into it; since float operations
// may trap (-ftrapping-math, the default), it will then not execute that work
// unconditionally, and the loop does not vectorise. Bit masks keep it straight-line.
inline float select(bool c, float a, float b) {
    uint32_t mask = 0u - uint32_t(c);
    return float_of((bits_of(a) & mask) | (bits_of(b) & ~mask));
}

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kLn2Hi = 0.693145751953125f;      // ln 2 to 16 bits: n * kLn2Hi is exact
constexpr float kLn2Lo = 1.428606765330187e-06f;  // ln 2 - kLn2Hi
constexpr float kLog2e = 1.44269504088896341f;    // 1 / ln 2

}  // namespace fastmath

// For a function that loops call per element: always inlined, since a loop vectorises only
// with the function's body in it, and gcc's heuristics may leave a call in a large function,
// which then runs one element at a time (twice as slow in the sigmoid losses' blocks). The
// functions below, and the losses' per-element terms.
#if defined(__GNUC__)
#define FOCALGRAD_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define FOCALGRAD_ALWAYS_INLINE inline
#endif

// e^x = 2^n * e^r  with  n = round(x / ln 2)  and  r = x - n ln 2  in [-ln2/2, ln2/2].
// e^r comes from its Taylor polynomial to degree 7 (truncation error below 1e-8 on that
// interval). 2^n is applied as two factors 2^(n/2) * 2^(n - n/2): each is a normal float
// for every n we can meet, and only the last multiplication rounds, so results that
// overflow become inf and results in the denormal range are rounded once, correctly.
FOCALGRAD_ALWAYS_INLINE float fast_exp(float x) {
    using namespace fastmath;
    // Beyond these bounds e^x is inf (above 88.73) or rounds to 0 (below -103.98). The
    // comparisons are false for NaN, so NaN passes through and poisons the result.
    x = x > 89.0f ? 89.0f : x;
    x = x < -105.0f ? -105.0f : x;
    // Adding 1.5 * 2^23 rounds x / ln 2 to an integer n held in the low mantissa bits.
    constexpr float kRound = 12582912.0f;
    float shifted = fastmath::fma(x, kLog2e, kRound);
    float n = shifted - kRound;
    float r = fastmath::fma(-n, kLn2Hi, x);  // exact: n * kLn2Hi has at most 24 bits
    r = fastmath::fma(-n, kLn2Lo, r);
    float p = 1.0f / 5040;
    p = fastmath::fma(p, r, 1.0f / 720);
    p = fastmath::fma(p, r, 1.0f / 120);
    p = fastmath::fma(p, r, 1.0f / 24);
    p = fastmath::fma(p, r, 1.0f / 6);
    p = fastmath::fma(p, r, 0.5f);
    p = fastmath::fma(p, r, 1.0f);
    p = fastmath::fma(p, r, 1.0f);
    // n as an integer, from the bits (unsigned arithmetic: a NaN's garbage bits stay defined).
    uint32_t ni = bits_of(shifted) - bits_of(kRound);
    uint32_t n1 = uint32_t(int32_t(ni) >> 1);
    uint32_t n2 = ni - n1;
    float scale1 = float_of((n1 + 127u) << 23);  // 2^n1
    float scale2 = float_of((n2 + 127u) << 23);  // 2^n2
    return p * scale1 * scale2;
}

// log x = e ln 2 + log(1 + f)  with  x = 2^e (1 + f)  and  1 + f in [sqrt(1/2), sqrt(2)).
// log(1 + f) = 2 atanh(s) with s = f / (2 + f), |s| <= 0.172, from the atanh series:
//   2 atanh(s) = 2s + s R,   R = (2/3) s^2 + (2/5) s^4 + (2/7) s^6 + (2/9) s^8
// and, since 2s = f - s f, also = f - (f^2/2 - s (f^2/2 + R)): f is exact, so only the
// small correction term carries rounding error, which keeps the result within an ulp.
FOCALGRAD_ALWAYS_INLINE float fast_log(float x) {
    using namespace fastmath;
    // Denormals: scale into the normal range first (x * 2^23 is exact), undo it in e.
    bool tiny = x < std::numeric_limits<float>::min();
    float scaled = x * 8388608.0f;
    float xs = fastmath::select(tiny, scaled, x);
    // Moving the mantissa boundary from 1 to sqrt(1/2) (bits 0x3f3504f3): after adding the
    // offset, the exponent field is e and the mantissa bits rebuild 1 + f in range.
    uint32_t ix = bits_of(xs) + (0x3f800000u - 0x3f3504f3u);
    float e = float(int32_t(ix >> 23) - (tiny ? 150 : 127));
    float f = float_of((ix & 0x007fffffu) + 0x3f3504f3u) - 1.0f;
    float s = f / (2.0f + f);
    float z = s * s;
    float R = fastmath::fma(z, 2.0f / 9, 2.0f / 7);
    R = fastmath::fma(R, z, 2.0f / 5);
    R = fastmath::fma(R, z, 2.0f / 3);
    R = R * z;
    float half_f2 = 0.5f * f * f;
    float y = fastmath::fma(e, kLn2Hi, fastmath::fma(s, half_f2 + R, e * kLn2Lo) - half_f2 + f);
    y = select(x == 0.0f, -kInf, y);
    y = select(x < 0.0f, std::numeric_limits<float>::quiet_NaN(), y);
    y = select(x == kInf, kInf, y);
    return select(x != x, x, y);  // NaN stays NaN
}

// log(1 + u), accurate also for tiny u, where 1 + u would round away most of u's digits.
// w = 1 + u rounds; c = (w - 1) - u is exactly that rounding error (Fast2Sum, |u| <= 1),
// and log(1 + u) = log(w - c) = log w - c / w to first order in the tiny c. At w = 1 this
// gives exactly u.
FOCALGRAD_ALWAYS_INLINE float fast_log1p(float u) {
    float w = 1.0f + u;
    float c = (w - 1.0f) - u;
    float y = fast_log(w) - c / w;
    // u = inf, u <= -1, NaN: log(w) alone is right (inf, -inf or NaN); c would be NaN.
    return fastmath::select((w == fastmath::kInf) | (w <= 0.0f) | (u != u), fast_log(w), y);
}

// e^x - 1, accurate also for tiny x, where e^x - 1 would cancel most digits.
// |x| < ln2/2: the Taylor series x + x^2 (1/2 + x/6 + ... + x^6/8!) directly (truncation
// below 1e-9 relative), so the leading x is exact and only the correction rounds.
// Further out: Kahan's trick. With u = e^x rounded, e^x - 1 = (u - 1) * x / log u exactly
// for the x' = log u that u represents, so the ratio x / log u ~ 1 corrects u's rounding.
// |x| >= 1: u - 1 has no cancellation left to correct (and for x < -87 u is a denormal,
// whose few digits would make log u useless).
FOCALGRAD_ALWAYS_INLINE float fast_expm1(float x) {
    float q = 1.0f / 40320;
    q = fastmath::fma(q, x, 1.0f / 5040);
    q = fastmath::fma(q, x, 1.0f / 720);
    q = fastmath::fma(q, x, 1.0f / 120);
    q = fastmath::fma(q, x, 1.0f / 24);
    q = fastmath::fma(q, x, 1.0f / 6);
    q = fastmath::fma(q, x, 0.5f);
    float series = fastmath::fma(x * x, q, x);
    float u = fast_exp(x);
    float kahan = (u - 1.0f) * (x / fast_log(u));
    float ax = std::fabs(x);
    float y = fastmath::select(ax < 1.0f, kahan, u - 1.0f);
    y = fastmath::select(ax < 0.34657359f, series, y);
    return fastmath::select(x != x, x, y);
}

}  // namespace focalgrad
