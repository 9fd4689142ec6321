// gradcheck.cpp — analytic versus central-difference gradients.
#include <algorithm>
#include <cmath>
#include <ostream>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/error.h>
#include <focalgrad/core/gradcheck.h>

namespace focalgrad {

namespace {

// L = sum_i u_i y_i, in double so that the difference of two nearby L stays accurate.
double contract(const Tensor& y, const Tensor& u) {
    double L = 0.0;
    for (int64_t i = 0; i < y.numel(); ++i) L += double(u.data()[i]) * double(y.data()[i]);
    return L;
}

}  // namespace

std::string GradcheckResult::message() const {
    if (input < 0) return "gradcheck: no elements to check";
    return str("gradcheck ", ok ? "passed" : "FAILED", ": worst element is input ", input, " flat index ",
               index, ": analytic ", analytic, ", numeric ", numeric, ", relative error ", rel_error,
               " (atol ", atol, ", rtol ", rtol, ")");
}

std::ostream& operator<<(std::ostream& os, const GradcheckResult& r) { return os << r.message(); }

GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
    FG_CHECK(options.eps > 0 && options.atol >= 0 && options.rtol >= 0,
             "gradcheck: eps must be > 0 and tolerances >= 0, got eps=", options.eps, " atol=", options.atol,
             " rtol=", options.rtol);
    std::vector<Tensor> leaves;
    for (const Tensor& x : inputs) leaves.push_back(x.clone().set_requires_grad(true));

    Tensor y = f(leaves);
    FG_CHECK(y.requires_grad(), "gradcheck: the output of shape ", y.shape(),
             " does not depend on any input (or was computed under NoGradGuard)");
    Generator gen(options.seed);
    Tensor u = Tensor::randn(y.shape(), gen);  // the random upstream gradient
    y.backward(u);

    GradcheckResult result;
    result.atol = options.atol;
    result.rtol = options.rtol;
    double worst = -1.0;  // largest |a - n| / (atol + rtol |n|) seen
    NoGradGuard no_grad;
    for (size_t k = 0; k < leaves.size(); ++k) {
        Tensor& x = leaves[k];
        Tensor analytic = x.has_grad() ? x.grad() : Tensor::zeros(x.shape());
        for (int64_t i = 0; i < x.numel(); ++i) {
            float x0 = x.data()[i];
            float h = float(options.eps * std::max(1.0, std::fabs(double(x0))));
            float hi = x0 + h, lo = x0 - h;  // the float steps actually taken
            x.data()[i] = hi;
            double L_hi = contract(f(leaves), u);
            x.data()[i] = lo;
            double L_lo = contract(f(leaves), u);
            x.data()[i] = x0;

            double numeric = (L_hi - L_lo) / (double(hi) - double(lo));
            double a = analytic.data()[i];
            double diff = std::fabs(a - numeric);
            double ratio = diff / (options.atol + options.rtol * std::fabs(numeric));
            if (!std::isfinite(a) || !std::isfinite(numeric)) ratio = INFINITY;
            if (ratio > worst) {
                worst = ratio;
                result.input = int(k);
                result.index = i;
                result.analytic = a;
                result.numeric = numeric;
                double scale = std::max(std::fabs(a), std::fabs(numeric));
                result.rel_error = scale > 0 ? diff / scale : diff;
            }
        }
    }
    result.ok = worst <= 1.0;
    return result;
}

}  // namespace focalgrad
