// ops_elementwise.cpp — arithmetic and activation functions, applied element by element.
// Binary ops broadcast; their backward reduces each gradient back to its input's shape
// with sum_to. Each backward only computes the gradients of inputs that require one.
#include <cmath>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/kernels.h>
#include <focalgrad/core/ops.h>

namespace focalgrad {

// ---- Binary, tensor with tensor ---------------------------------------------------

// z = a + b                 da = dz,  db = dz   (each summed to its input's shape)
Tensor add(const Tensor& a, const Tensor& b) {
    Tensor z = broadcast_zip("add", a, b, [](float u, float v) { return u + v; });
    record("add", {a, b}, z, [a, b](const Tensor& dz, const Tensor&) {
        if (a.requires_grad()) accumulate_grad(a, sum_to(dz, a.shape()));
        if (b.requires_grad()) accumulate_grad(b, sum_to(dz, b.shape()));
    });
    return z;
}

// z = a - b                 da = dz,  db = -dz
Tensor sub(const Tensor& a, const Tensor& b) {
    Tensor z = broadcast_zip("sub", a, b, [](float u, float v) { return u - v; });
    record("sub", {a, b}, z, [a, b](const Tensor& dz, const Tensor&) {
        if (a.requires_grad()) accumulate_grad(a, sum_to(dz, a.shape()));
        if (b.requires_grad()) accumulate_grad(b, sum_to(map(dz, [](float g) { return -g; }), b.shape()));
    });
    return z;
}

// z = a * b                 da = dz * b,  db = dz * a
Tensor mul(const Tensor& a, const Tensor& b) {
    Tensor z = broadcast_zip("mul", a, b, [](float u, float v) { return u * v; });
    record("mul", {a, b}, z, [a, b](const Tensor& dz, const Tensor&) {
        auto times = [](float g, float v) { return g * v; };
        if (a.requires_grad()) accumulate_grad(a, sum_to(broadcast_zip("mul", dz, b, times), a.shape()));
        if (b.requires_grad()) accumulate_grad(b, sum_to(broadcast_zip("mul", dz, a, times), b.shape()));
    });
    return z;
}

// z = a / b                 da = dz / b,  db = -dz * a / b^2 = -dz * z / b
Tensor div(const Tensor& a, const Tensor& b) {
    Tensor z = broadcast_zip("div", a, b, [](float u, float v) { return u / v; });
    record("div", {a, b}, z, [a, b](const Tensor& dz, const Tensor& z) {
        if (a.requires_grad())
            accumulate_grad(
                a, sum_to(broadcast_zip("div", dz, b, [](float g, float v) { return g / v; }), a.shape()));
        if (b.requires_grad()) {
            Tensor dz_z = zip(dz, z, [](float g, float q) { return -g * q; });
            accumulate_grad(
                b, sum_to(broadcast_zip("div", dz_z, b, [](float g, float v) { return g / v; }), b.shape()));
        }
    });
    return z;
}

// ---- Binary, tensor with scalar ---------------------------------------------------

// y = x + s                 dx = dy
Tensor add(const Tensor& x, float s) {
    Tensor y = map(x, [s](float v) { return v + s; });
    record("add_scalar", {x}, y, [x](const Tensor& dy, const Tensor&) { accumulate_grad(x, dy); });
    return y;
}

// y = x - s                 dx = dy
Tensor sub(const Tensor& x, float s) {
    Tensor y = map(x, [s](float v) { return v - s; });
    record("sub_scalar", {x}, y, [x](const Tensor& dy, const Tensor&) { accumulate_grad(x, dy); });
    return y;
}

// y = s - x                 dx = -dy
Tensor rsub(float s, const Tensor& x) {
    Tensor y = map(x, [s](float v) { return s - v; });
    record("rsub_scalar", {x}, y,
           [x](const Tensor& dy, const Tensor&) { accumulate_grad(x, map(dy, [](float g) { return -g; })); });
    return y;
}

// y = x * s                 dx = dy * s
Tensor mul(const Tensor& x, float s) {
    Tensor y = map(x, [s](float v) { return v * s; });
    record("mul_scalar", {x}, y, [x, s](const Tensor& dy, const Tensor&) {
        accumulate_grad(x, map(dy, [s](float g) { return g * s; }));
    });
    return y;
}

// y = x / s                 dx = dy / s
Tensor div(const Tensor& x, float s) {
    Tensor y = map(x, [s](float v) { return v / s; });
    record("div_scalar", {x}, y, [x, s](const Tensor& dy, const Tensor&) {
        accumulate_grad(x, map(dy, [s](float g) { return g / s; }));
    });
    return y;
}

// y = s / x                 dx = -dy * s / x^2 = -dy * y / x
Tensor rdiv(float s, const Tensor& x) {
    Tensor y = map(x, [s](float v) { return s / v; });
    record("rdiv_scalar", {x}, y, [x](const Tensor& dy, const Tensor& y) {
        accumulate_grad(x, zip(dy, y, x, [](float g, float q, float v) { return -g * q / v; }));
    });
    return y;
}

// ---- Unary -------------------------------------------------------------------------

// y = -x                    dx = -dy
Tensor neg(const Tensor& x) {
    Tensor y = map(x, [](float v) { return -v; });
    record("neg", {x}, y,
           [x](const Tensor& dy, const Tensor&) { accumulate_grad(x, map(dy, [](float g) { return -g; })); });
    return y;
}

// y = e^x                   dx = dy * y
Tensor exp(const Tensor& x) {
    Tensor y = map(x, [](float v) { return std::exp(v); });
    record("exp", {x}, y, [x](const Tensor& dy, const Tensor& y) {
        accumulate_grad(x, zip(dy, y, [](float g, float e) { return g * e; }));
    });
    return y;
}

// y = ln x                  dx = dy / x
Tensor log(const Tensor& x) {
    Tensor y = map(x, [](float v) { return std::log(v); });
    record("log", {x}, y, [x](const Tensor& dy, const Tensor&) {
        accumulate_grad(x, zip(dy, x, [](float g, float v) { return g / v; }));
    });
    return y;
}

// y = sqrt(x)               dx = dy / (2 y)
Tensor sqrt(const Tensor& x) {
    Tensor y = map(x, [](float v) { return std::sqrt(v); });
    record("sqrt", {x}, y, [x](const Tensor& dy, const Tensor& y) {
        accumulate_grad(x, zip(dy, y, [](float g, float r) { return g / (2.0f * r); }));
    });
    return y;
}

// y = x^p                   dx = dy * p x^(p-1)   (0 when p = 0, so x = 0 stays finite)
Tensor pow(const Tensor& x, float p) {
    Tensor y = map(x, [p](float v) { return std::pow(v, p); });
    record("pow", {x}, y, [x, p](const Tensor& dy, const Tensor&) {
        accumulate_grad(x, zip(dy, x, [p](float g, float v) {
                            return p == 0.0f ? 0.0f : g * p * std::pow(v, p - 1.0f);
                        }));
    });
    return y;
}

// y = |x|                   dx = dy * sign(x)   (0 at x = 0, as in PyTorch)
Tensor abs(const Tensor& x) {
    Tensor y = map(x, [](float v) { return std::fabs(v); });
    record("abs", {x}, y, [x](const Tensor& dy, const Tensor&) {
        accumulate_grad(x, zip(dy, x, [](float g, float v) { return v > 0 ? g : (v < 0 ? -g : 0.0f); }));
    });
    return y;
}

// y = min(max(x, lo), hi)   dx = dy * 1[lo <= x <= hi]
Tensor clamp(const Tensor& x, float lo, float hi) {
    FG_CHECK(!std::isnan(lo) && !std::isnan(hi), "clamp: lo and hi must not be NaN, got lo=", lo, " hi=", hi,
             " (use -INFINITY or INFINITY for a side without a bound)");
    FG_CHECK(!(lo > hi), "clamp: lo must be <= hi, got lo=", lo, " hi=", hi);
    Tensor y = map(x, [lo, hi](float v) { return v < lo ? lo : (v > hi ? hi : v); });
    record("clamp", {x}, y, [x, lo, hi](const Tensor& dy, const Tensor&) {
        accumulate_grad(x, zip(dy, x, [lo, hi](float g, float v) { return v >= lo && v <= hi ? g : 0.0f; }));
    });
    return y;
}

// y = max(x, 0)             dx = dy * 1[x > 0]
// NaN stays NaN, as in PyTorch: relu(NaN) = 0 made a model with NaN weights give the
// same plausible output for every input. Its gradient passes, as PyTorch's does.
Tensor relu(const Tensor& x) {
    Tensor y = map(x, [](float v) { return v > 0 || v != v ? v : 0.0f; });
    record("relu", {x}, y, [x](const Tensor& dy, const Tensor& y) {
        accumulate_grad(x, zip(dy, y, [](float g, float r) { return r > 0 || r != r ? g : 0.0f; }));
    });
    return y;
}

// y = x if x > 0 else a x   dx = dy * (1 if x > 0 else a)
Tensor leaky_relu(const Tensor& x, float a) {
    FG_CHECK(std::isfinite(a), "leaky_relu: negative_slope must be finite, got ", a);
    Tensor y = map(x, [a](float v) { return v > 0 ? v : a * v; });
    record("leaky_relu", {x}, y, [x, a](const Tensor& dy, const Tensor&) {
        accumulate_grad(x, zip(dy, x, [a](float g, float v) { return v > 0 ? g : a * g; }));
    });
    return y;
}

// y = 1 / (1 + e^-x)        dx = dy * y (1 - y)
// Stable form: for x < 0 use e^x / (1 + e^x), so e^-x never overflows.
Tensor sigmoid(const Tensor& x) {
    Tensor y = map(x, [](float v) {
        if (v >= 0) return 1.0f / (1.0f + std::exp(-v));
        float e = std::exp(v);
        return e / (1.0f + e);
    });
    record("sigmoid", {x}, y, [x](const Tensor& dy, const Tensor& y) {
        accumulate_grad(x, zip(dy, y, [](float g, float s) { return g * s * (1.0f - s); }));
    });
    return y;
}

// y = tanh(x)               dx = dy * (1 - y^2)
Tensor tanh(const Tensor& x) {
    Tensor y = map(x, [](float v) { return std::tanh(v); });
    record("tanh", {x}, y, [x](const Tensor& dy, const Tensor& y) {
        accumulate_grad(x, zip(dy, y, [](float g, float t) { return g * (1.0f - t * t); }));
    });
    return y;
}

}  // namespace focalgrad
