// test_fastmath.cpp — fast_exp, fast_log, fast_log1p, fast_expm1 against libm in double:
// the error in ulps over a dense sweep of float bit patterns (every 1021st of the 2^32,
// which covers every binade, the denormals, infinities and NaNs), and the special values.
// The full sweep over all 2^32 inputs is the test case "fastmath exhaustive", skipped by
// default (about a minute per function); run it with
//   build/bin/focalgrad_tests -tc="fastmath exhaustive*" --no-skip
#include <cmath>
#include <cstdint>
#include <limits>

#include <focalgrad/core/fastmath.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

// The distance from y to the exact value `ref`, in units of the float spacing at ref
// (2^-149 for denormals). Infinite when y and ref disagree on NaN or on overflow.
double ulp_error(float y, double ref) {
    const double inf = std::numeric_limits<double>::infinity();
    if (std::isnan(ref)) return std::isnan(y) ? 0.0 : inf;
    if (std::isnan(y)) return inf;
    const double max_float = double(std::numeric_limits<float>::max());
    if (std::fabs(ref) > max_float || std::isinf(y)) {
        // Beyond the float range the only right answer is inf of the right sign.
        return (std::isinf(y) && std::fabs(ref) >= max_float && (y > 0) == (ref > 0)) ? 0.0 : inf;
    }
    int e;
    std::frexp(ref, &e);  // |ref| = m 2^e, m in [0.5, 1): float spacing 2^(e - 24)
    double ulp = std::ldexp(1.0, std::max(e - 24, -149));
    return std::fabs(double(y) - ref) / ulp;
}

// The documented bounds (core/fastmath.h): measured maxima over all 2^32 inputs, rounded up.
// Without FMA (the PORTABLE=1 build, x86-64-v2) every a * b + c rounds twice, which costs a
// little.
#ifdef __FMA__
constexpr double kExpUlps = 1.0, kLogUlps = 1.0, kLog1pUlps = 1.5, kExpm1Ulps = 2.0;
#else
constexpr double kExpUlps = 1.25, kLogUlps = 1.0, kLog1pUlps = 1.5, kExpm1Ulps = 2.25;
#endif

struct Worst {
    double ulps = 0.0;
    float at = 0.0f;
};

template <class Fast, class Exact>
Worst sweep(Fast fast, Exact exact, uint64_t stride) {
    Worst w;
    for (uint64_t bits = 0; bits < (uint64_t(1) << 32); bits += stride) {
        float x = fastmath::float_of(uint32_t(bits));
        double err = ulp_error(fast(x), exact(double(x)));
        if (err > w.ulps) w = {err, x};
    }
    return w;
}

double exact_exp(double x) { return std::exp(x); }
double exact_log(double x) { return std::log(x); }
double exact_log1p(double x) { return std::log1p(x); }
double exact_expm1(double x) { return std::expm1(x); }

}  // namespace

TEST_CASE("fastmath: error over a dense sweep of all floats stays within the documented ulps") {
    const uint64_t stride = 1021;
    Worst e = sweep(fast_exp, exact_exp, stride);
    Worst l = sweep(fast_log, exact_log, stride);
    Worst l1 = sweep(fast_log1p, exact_log1p, stride);
    Worst m1 = sweep(fast_expm1, exact_expm1, stride);
    CHECK_MESSAGE(e.ulps <= kExpUlps, "fast_exp: ", e.ulps, " ulp at ", e.at);
    CHECK_MESSAGE(l.ulps <= kLogUlps, "fast_log: ", l.ulps, " ulp at ", l.at);
    CHECK_MESSAGE(l1.ulps <= kLog1pUlps, "fast_log1p: ", l1.ulps, " ulp at ", l1.at);
    CHECK_MESSAGE(m1.ulps <= kExpm1Ulps, "fast_expm1: ", m1.ulps, " ulp at ", m1.at);
}

TEST_CASE("fastmath exhaustive: every float input" * doctest::skip()) {
    Worst e = sweep(fast_exp, exact_exp, 1);
    Worst l = sweep(fast_log, exact_log, 1);
    Worst l1 = sweep(fast_log1p, exact_log1p, 1);
    Worst m1 = sweep(fast_expm1, exact_expm1, 1);
    MESSAGE("max error: exp ", e.ulps, " ulp (at ", e.at, "), log ", l.ulps, " (at ", l.at, "), log1p ",
            l1.ulps, " (at ", l1.at, "), expm1 ", m1.ulps, " (at ", m1.at, ")");
    CHECK(e.ulps <= kExpUlps);
    CHECK(l.ulps <= kLogUlps);
    CHECK(l1.ulps <= kLog1pUlps);
    CHECK(m1.ulps <= kExpm1Ulps);
}

TEST_CASE("fastmath: special values, overflow, underflow and denormals") {
    const float inf = std::numeric_limits<float>::infinity();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float denorm_min = std::numeric_limits<float>::denorm_min();
    CHECK(fast_exp(0.0f) == 1.0f);
    CHECK(fast_exp(-0.0f) == 1.0f);
    CHECK(fast_exp(inf) == inf);
    CHECK(fast_exp(-inf) == 0.0f);
    CHECK(std::isnan(fast_exp(nan)));
    CHECK(std::isfinite(fast_exp(88.72f)));  // just below FLT_MAX = e^88.7228
    CHECK(fast_exp(88.73f) == inf);
    CHECK(fast_exp(-103.0f) > 0.0f);  // a denormal, not flushed to zero
    CHECK(fast_exp(-103.0f) < std::numeric_limits<float>::min());
    CHECK(fast_exp(-104.0f) == 0.0f);  // below half the smallest denormal

    CHECK(fast_log(1.0f) == 0.0f);
    CHECK(fast_log(0.0f) == -inf);
    CHECK(fast_log(-0.0f) == -inf);
    CHECK(std::isnan(fast_log(-1.0f)));
    CHECK(std::isnan(fast_log(-inf)));
    CHECK(std::isnan(fast_log(nan)));
    CHECK(fast_log(inf) == inf);
    CHECK(fast_log(denorm_min) == doctest::Approx(std::log(double(denorm_min))).epsilon(1e-7));

    CHECK(fast_log1p(0.0f) == 0.0f);
    CHECK(fast_log1p(1e-30f) == 1e-30f);  // log(1 + u) = u exactly for u far below epsilon
    CHECK(fast_log1p(-1.0f) == -inf);
    CHECK(std::isnan(fast_log1p(-2.0f)));
    CHECK(fast_log1p(inf) == inf);
    CHECK(std::isnan(fast_log1p(nan)));

    CHECK(fast_expm1(0.0f) == 0.0f);
    CHECK(fast_expm1(1e-30f) == 1e-30f);
    CHECK(fast_expm1(-inf) == -1.0f);
    CHECK(fast_expm1(inf) == inf);
    CHECK(std::isnan(fast_expm1(nan)));

    CHECK(fastmath::select(true, 1.0f, 2.0f) == 1.0f);
    CHECK(fastmath::select(false, 1.0f, 2.0f) == 2.0f);
}
