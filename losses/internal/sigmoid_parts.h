// sigmoid_parts.h — internal to the losses, not installed: σ(x), 1 - σ(x) and log(1 + e^-|x|)
// of one logit in a branch-free form that vectorises (core/fastmath.h), for the fast forms of
// the elementwise losses. No loss's math is here: their reference:: forms compute the same
// quantities with std::exp and std::log1p in double.
#pragma once

#include <cmath>

#include <focalgrad/core/fastmath.h>

namespace focalgrad {
namespace internal {

// At logit x, with e = e^(-|x|) in (0, 1] (never overflows):
//   p = σ(x) = 1/(1+e) or e/(1+e), and 1 - p = σ(-x) the other one, both accurate to
//   an ulp even when the other is tiny (no 1 - p subtraction);
//   log1p_e = log(1 + e) = softplus(-|x|), so softplus(x) = max(x, 0) + log1p_e and
//   softplus(-x) = max(-x, 0) + log1p_e.
struct SigmoidParts {
    float p, one_minus_p, log1p_e;
};

inline SigmoidParts sigmoid_parts(float x) {
    float e = fast_exp(-std::fabs(x));
    float w = 1.0f + e;
    float big = 1.0f / w;   // σ(|x|)
    float small = e * big;  // σ(-|x|)
    // log(1 + e) as in fast_log1p, sharing its 1 / w with σ: log w corrected by the
    // rounding error (w - 1) - e of 1 + e.
    float log1p_e = fast_log(w) - ((w - 1.0f) - e) * big;
    bool positive = x >= 0.0f;
    return {fastmath::select(positive, big, small), fastmath::select(positive, small, big), log1p_e};
}

}  // namespace internal
}  // namespace focalgrad
