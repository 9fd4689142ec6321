// gradcheck.cpp — analytic versus finite-difference gradients (the method is in gradcheck.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
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

// L as a function of element i of leaves[k], the other elements fixed.
struct Probe {
    const GradcheckFn& f;
    std::vector<Tensor>& leaves;
    const Tensor& u;

    // D(h) = (L(x + h) - L(x - h)) / 2h, with the half-step actually taken (x ± h is
    // rounded to float); that half-step is returned in `half`.
    double central_difference(size_t k, int64_t i, double h, double& half) {
        float* x = leaves[k].data();
        const float x0 = x[i];
        const float hi = x0 + float(h), lo = x0 - float(h);
        x[i] = hi;
        double L_hi = contract(f(leaves), u);
        x[i] = lo;
        double L_lo = contract(f(leaves), u);
        x[i] = x0;
        half = (double(hi) - double(lo)) / 2;
        return (L_hi - L_lo) / (double(hi) - double(lo));
    }

    // D(h) and D(2h) combined so that their h^2 error terms cancel: (4 D(h) - D(2h)) / 3
    // for exact steps, written for the steps actually taken. `spread` = |D(h) - D(2h)|:
    // about 3 h^2 L'''/6 where L is smooth, the size of the jump where it has a kink.
    double derivative(size_t k, int64_t i, double h, double& spread) {
        double h1, h2;
        double d1 = central_difference(k, i, h, h1);
        double d2 = central_difference(k, i, 2 * h, h2);
        spread = std::fabs(d1 - d2);
        return (h2 * h2 * d1 - h1 * h1 * d2) / (h2 * h2 - h1 * h1);
    }
};

}  // namespace

std::string GradcheckResult::message() const {
    if (input < 0) return "gradcheck: no elements to check";
    char numbers[256];
    std::snprintf(numbers, sizeof numbers,
                  "analytic %.6g, numeric %.6g, relative error %.2g; error/tolerance %.2g "
                  "(tolerance %g x max|grad| %.3g + %g x |numeric|",
                  analytic, numeric, rel_error, ratio, atol, scale, rtol);
    std::string kinks = small_steps > 0 ? str("; ", small_steps, " element(s) near a kink used h/10") : "";
    return str("gradcheck ", ok ? "passed" : "FAILED", ": worst element is input ", input, " flat index ",
               index, ": ", numbers, kinks, ")");
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

    NoGradGuard no_grad;
    Probe probe{f, leaves, u};
    auto step = [&](size_t k, int64_t i) {
        return options.eps * std::max(1.0, std::fabs(double(leaves[k].data()[i])));
    };
    auto scale_of = [](const std::vector<std::vector<double>>& numeric) {
        double s = 0.0;
        for (const auto& n : numeric)
            for (double v : n)
                if (std::isfinite(v)) s = std::max(s, std::fabs(v));
        return s;
    };

    // Every element's numeric derivative, then s = ‖grad‖∞.
    std::vector<std::vector<double>> numeric(leaves.size()), spread(leaves.size());
    for (size_t k = 0; k < leaves.size(); ++k)
        for (int64_t i = 0; i < leaves[k].numel(); ++i) {
            double sp;
            numeric[k].push_back(probe.derivative(k, i, step(k, i), sp));
            spread[k].push_back(sp);
        }
    double s = scale_of(numeric);

    // Where D(h) and D(2h) disagree by more than the tolerance, f is not smooth within 2h
    // (a kink): the element is estimated again with a ten times smaller step.
    GradcheckResult result;
    for (size_t k = 0; k < leaves.size(); ++k)
        for (int64_t i = 0; i < leaves[k].numel(); ++i) {
            double& n = numeric[k][size_t(i)];
            if (!(spread[k][size_t(i)] > options.atol * s + options.rtol * std::fabs(n))) continue;
            double sp;
            n = probe.derivative(k, i, step(k, i) / 10, sp);
            ++result.small_steps;
        }
    s = scale_of(numeric);

    result.atol = options.atol;
    result.rtol = options.rtol;
    result.scale = s;
    double worst = -1.0;
    for (size_t k = 0; k < leaves.size(); ++k) {
        Tensor analytic = leaves[k].has_grad() ? leaves[k].grad() : Tensor::zeros(leaves[k].shape());
        for (int64_t i = 0; i < leaves[k].numel(); ++i) {
            double n = numeric[k][size_t(i)];
            double a = analytic.data()[i];
            double diff = std::fabs(a - n);
            double tolerance = options.atol * s + options.rtol * std::fabs(n);
            double ratio = diff == 0 ? 0.0 : diff / tolerance;  // inf when the tolerance is 0
            if (!std::isfinite(a) || !std::isfinite(n)) ratio = INFINITY;
            if (ratio > worst) {
                worst = ratio;
                result.input = int(k);
                result.index = i;
                result.analytic = a;
                result.numeric = n;
                result.ratio = ratio;
                double size = std::max(std::fabs(a), std::fabs(n));
                result.rel_error = size > 0 ? diff / size : diff;
            }
        }
    }
    result.ok = worst <= 1.0;
    return result;
}

}  // namespace focalgrad
