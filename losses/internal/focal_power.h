// focal_power.h — internal to the losses, not installed: the focal factor q^γ for a whole γ,
// shared by the softmax and the sigmoid focal loss (whose files have the formulas). A
// whole γ in [0, 15] (γ = 2 by default) costs a few multiplications instead of e^(γ log q).
#pragma once

#include <cmath>

#include <focalgrad/core/fastmath.h>

namespace focalgrad {
namespace internal {

// γ as an int when it is a whole number in [0, 15] (focal_power takes it), else -1.
inline int whole_gamma(float gamma) {
    return gamma >= 0.0f && gamma <= 15.0f && gamma == std::floor(gamma) ? int(gamma) : -1;
}

// q^n for a whole n in [0, 15], by squaring: q, q^2, q^4, q^8 multiplied in where n has a
// bit. Branch-free (the bit tests are selects), so it vectorises; q^2 is one rounding, exact
// where e^(2 log q) would be off by an ulp or two.
FOCALGRAD_ALWAYS_INLINE float focal_power(float q, int n) {
    float f = 1.0f, square = q;
    for (int bit = 0; bit < 4; ++bit) {
        f = fastmath::select((n >> bit) & 1, f * square, f);
        square *= square;
    }
    return f;
}

}  // namespace internal
}  // namespace focalgrad
