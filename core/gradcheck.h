// gradcheck.h — checks a hand-written backward against finite differences.
// The output y = f(inputs) is contracted with a random upstream gradient u, giving the
// scalar L = sum(u * y); the analytic dL/dx (from backward(u)) is compared, element by
// element, with a numeric derivative of L. A random u matters: with all ones, errors
// that cancel in a plain sum (a wrong sign on one of two outputs, say) go unseen.
// Not here: second derivatives, complex numbers, double precision tensors.
//
//   auto r = gradcheck([](const std::vector<Tensor>& in) { return tanh(in[0]); },
//                      {Tensor::randn({3, 4})});
//   CHECK_MESSAGE(r.ok, r.message());
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include <focalgrad/core/tensor.h>

namespace focalgrad {

// The numeric derivative of element x_i, with h = eps * max(1, |x_i|):
//
//   D(h) = (L(x + h) - L(x - h)) / 2h           error h^2 L'''/6 + (float32 rounding of L) / h
//   n    = (4 D(h) - D(2h)) / 3                 error h^4 L^(5)/30 + the same rounding term
//
// The rounding term dominates in float32 (a forward pass is only good to ~1e-7 of |L|), and
// it shrinks as h grows. Cancelling the h^2 term (Richardson extrapolation: the 5-point
// stencil) allows h = 1e-2, ten times the step of a plain central difference, so the noise
// is ten times lower and the tolerance can be tight. Where f is not smooth within 2h (relu
// at 0, a near-tie in max) D(h) and D(2h) disagree; such an element is estimated again
// with h / 10.
//
// An element passes when |analytic - numeric| <= atol * s + rtol * |numeric|, with s the
// largest |numeric| over every element of every input (‖grad‖∞). The noise of a difference
// quotient is a fraction of the whole gradient's size, not of each element's, so the
// absolute part scales with it, and the verdict does not depend on the size of u.
// docs/autograd.md ("What gradcheck can see") measures what these defaults catch.
struct GradcheckOptions {
    double eps = 1e-2;
    double atol = 1e-3;  // in units of s = ‖grad‖∞
    double rtol = 1e-3;
    uint64_t seed = 0;  // of the random upstream gradient
};

struct GradcheckResult {
    bool ok = true;
    int input = -1;           // the input holding the worst element (-1 if no element was checked)
    int64_t index = -1;       // its flat index
    double analytic = 0;      // dL/dx there, from backward
    double numeric = 0;       // dL/dx there, from finite differences
    double rel_error = 0;     // |analytic - numeric| / max(|analytic|, |numeric|)
    double ratio = 0;         // |analytic - numeric| / tolerance there: ok when <= 1
    double scale = 0;         // s = ‖grad‖∞, the largest |numeric|
    int64_t small_steps = 0;  // elements estimated again with h / 10 (f not smooth within 2h)
    double atol = 0, rtol = 0;
    std::string message() const;  // one line, for CHECK_MESSAGE / logs
};
std::ostream& operator<<(std::ostream& os, const GradcheckResult& r);

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Every input is checked: gradcheck hands f fresh leaf copies that require grad.
// Keep inputs small (every element costs four forward passes) and more than
// eps * max(1, |x|) / 5 away from kinks (relu at 0, abs at 0, clamp at its bounds,
// ties in max), where no derivative exists.
GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace focalgrad
