// gradcheck.h — checks a hand-written backward against central differences.
// The output y = f(inputs) is contracted with a random upstream gradient u, giving the
// scalar L = sum(u * y); the analytic dL/dx (from backward(u)) is compared, element by
// element, with (L(x + h) - L(x - h)) / 2h. A random u matters: with all ones, errors
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

// An element passes when |analytic - numeric| <= atol + rtol * |numeric|. The defaults
// suit float32 and inputs of order 1: the step h = eps * max(1, |x|) trades truncation
// error (~h^2) against rounding error (~1e-7 / h).
struct GradcheckOptions {
    double eps = 1e-3;
    double atol = 1e-3;
    double rtol = 1e-2;
    uint64_t seed = 0;  // of the random upstream gradient
};

struct GradcheckResult {
    bool ok = true;
    int input = -1;        // the input holding the worst element (-1 if no element was checked)
    int64_t index = -1;    // its flat index
    double analytic = 0;   // dL/dx there, from backward
    double numeric = 0;    // dL/dx there, from central differences
    double rel_error = 0;  // |analytic - numeric| / max(|analytic|, |numeric|)
    double atol = 0, rtol = 0;
    std::string message() const;  // one line, for CHECK_MESSAGE / logs
};
std::ostream& operator<<(std::ostream& os, const GradcheckResult& r);

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Every input is checked: gradcheck hands f fresh leaf copies that require grad.
// Keep inputs small (every element costs two forward passes) and away from kinks
// (relu at 0, abs at 0, clamp at its bounds), where no derivative exists.
GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace focalgrad
