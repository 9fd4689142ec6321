// ops_reduce.cpp — reductions (sum, mean, max), softmax / log_softmax, argmax.
// "Along dim" ops see their input as [outer, n, inner] (kernels.h: split_at) and reduce
// the middle axis. Sums accumulate in double, in a fixed order: accurate, and the same
// bits on any thread count.
#include <cmath>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/kernels.h>
#include <focalgrad/core/ops.h>

namespace focalgrad {

namespace {

// y[o, k] = sum_i x[o, i, k] * scale
Tensor sum_along(const Tensor& x, int dim, bool keepdim, double scale) {
    DimSplit s = split_at(x.shape(), dim);
    Tensor y = Tensor::empty(reduced_shape(x.shape(), dim, keepdim));  // [outer, inner]
    const float* px = x.data();
    float* py = y.data();
    int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, s.n * s.inner));
    parallel_for(s.outer, grain, [&](int64_t lo, int64_t hi) {
        std::vector<double> acc(size_t(s.inner));
        for (int64_t o = lo; o < hi; ++o) {
            std::fill(acc.begin(), acc.end(), 0.0);
            for (int64_t i = 0; i < s.n; ++i) {
                const float* row = px + (o * s.n + i) * s.inner;
                for (int64_t k = 0; k < s.inner; ++k) acc[size_t(k)] += row[k];
            }
            for (int64_t k = 0; k < s.inner; ++k) py[o * s.inner + k] = float(acc[size_t(k)] * scale);
        }
    });
    return y;
}

// dx[o, i, k] = dy[o, k] * scale: the gradient of a sum copies dy back along the summed axis.
Tensor spread_along(const Tensor& dy, const Shape& x_shape, int dim, float scale) {
    DimSplit s = split_at(x_shape, dim);
    Tensor dx = Tensor::empty(x_shape);
    const float* pdy = dy.data();
    float* pdx = dx.data();
    for (int64_t o = 0; o < s.outer; ++o)
        for (int64_t i = 0; i < s.n; ++i)
            for (int64_t k = 0; k < s.inner; ++k)
                pdx[(o * s.n + i) * s.inner + k] = pdy[o * s.inner + k] * scale;
    return dx;
}

}  // namespace

// ---- Over all elements ------------------------------------------------------------

// y = sum_i x_i             dx_i = dy
Tensor sum(const Tensor& x) {
    const float* px = x.data();
    double total = parallel_sum(x.numel(), kGrain, [px](int64_t lo, int64_t hi) {
        double s = 0.0;
        for (int64_t i = lo; i < hi; ++i) s += px[i];
        return s;
    });
    Tensor y = Tensor::scalar(float(total));
    record("sum", {x}, y,
           [x](const Tensor& dy, const Tensor&) { accumulate_grad(x, Tensor::full(x.shape(), dy.item())); });
    return y;
}

// y = (1/n) sum_i x_i       dx_i = dy / n      (NaN for an empty tensor, as in PyTorch)
Tensor mean(const Tensor& x) {
    const float* px = x.data();
    int64_t n = x.numel();
    double total = parallel_sum(n, kGrain, [px](int64_t lo, int64_t hi) {
        double s = 0.0;
        for (int64_t i = lo; i < hi; ++i) s += px[i];
        return s;
    });
    Tensor y = Tensor::scalar(n ? float(total / double(n)) : std::numeric_limits<float>::quiet_NaN());
    record("mean", {x}, y, [x, n](const Tensor& dy, const Tensor&) {
        accumulate_grad(x, Tensor::full(x.shape(), dy.item() / float(n)));
    });
    return y;
}

// y = max_i x_i             dx = dy at the (first) maximum, 0 elsewhere. NaN propagates.
Tensor max(const Tensor& x) {
    FG_CHECK(x.numel() > 0, "max: tensor of shape ", x.shape(), " is empty and has no maximum");
    int64_t best = argmax(x);
    Tensor y = Tensor::scalar(x.data()[best]);
    record("max", {x}, y, [x, best](const Tensor& dy, const Tensor&) {
        Tensor dx = Tensor::zeros(x.shape());
        dx.data()[best] = dy.item();
        accumulate_grad(x, std::move(dx));
    });
    return y;
}

// ---- Along one dimension ----------------------------------------------------------

// y[o, k] = sum_i x[o, i, k]          dx[o, i, k] = dy[o, k]
Tensor sum(const Tensor& x, int64_t dim, bool keepdim) {
    int d = normalize_dim(dim, x.dim(), "sum");
    Tensor y = sum_along(x, d, keepdim, 1.0);
    record("sum_dim", {x}, y, [x, d](const Tensor& dy, const Tensor&) {
        accumulate_grad(x, spread_along(dy, x.shape(), d, 1.0f));
    });
    return y;
}

// y[o, k] = (1/n) sum_i x[o, i, k]    dx[o, i, k] = dy[o, k] / n
Tensor mean(const Tensor& x, int64_t dim, bool keepdim) {
    int d = normalize_dim(dim, x.dim(), "mean");
    int64_t n = x.shape()[d];
    Tensor y = sum_along(x, d, keepdim, n ? 1.0 / double(n) : std::numeric_limits<double>::quiet_NaN());
    record("mean_dim", {x}, y, [x, d, n](const Tensor& dy, const Tensor&) {
        accumulate_grad(x, spread_along(dy, x.shape(), d, 1.0f / float(n)));
    });
    return y;
}

// y[o, k] = max_i x[o, i, k]          dx[o, i*, k] = dy[o, k] at the first maximum i*
Tensor max(const Tensor& x, int64_t dim, bool keepdim) {
    int d = normalize_dim(dim, x.dim(), "max");
    DimSplit s = split_at(x.shape(), d);
    FG_CHECK(s.n > 0, "max: dimension ", d, " of shape ", x.shape(), " is empty and has no maximum");
    std::vector<int> where = argmax(x, d);  // [outer * inner]
    Tensor y = Tensor::empty(reduced_shape(x.shape(), d, keepdim));
    for (int64_t o = 0; o < s.outer; ++o)
        for (int64_t k = 0; k < s.inner; ++k)
            y.data()[o * s.inner + k] = x.data()[(o * s.n + where[size_t(o * s.inner + k)]) * s.inner + k];
    auto saved = std::make_shared<std::vector<int>>(std::move(where));
    record("max_dim", {x}, y, [x, s, saved](const Tensor& dy, const Tensor&) {
        Tensor dx = Tensor::zeros(x.shape());
        for (int64_t o = 0; o < s.outer; ++o)
            for (int64_t k = 0; k < s.inner; ++k)
                dx.data()[(o * s.n + (*saved)[size_t(o * s.inner + k)]) * s.inner + k] =
                    dy.data()[o * s.inner + k];
        accumulate_grad(x, std::move(dx));
    });
    return y;
}

// ---- Softmax ----------------------------------------------------------------------
namespace {

// For each (o, k): the maximum m and log sum_i e^(x_i - m) along the middle axis.
// Subtracting m first keeps every e^(.) <= 1, so nothing overflows for any logits.
template <class Emit>
void softmax_rows(const Tensor& x, int dim, Emit emit) {
    DimSplit s = split_at(x.shape(), dim);
    const float* px = x.data();
    int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, s.n));
    parallel_for(s.outer * s.inner, grain, [&](int64_t lo, int64_t hi) {
        for (int64_t r = lo; r < hi; ++r) {
            int64_t o = r / s.inner, k = r % s.inner;
            const float* row = px + o * s.n * s.inner + k;  // element i is row[i * inner]
            float m = -std::numeric_limits<float>::infinity();
            for (int64_t i = 0; i < s.n; ++i) m = std::max(m, row[i * s.inner]);
            double z = 0.0;
            for (int64_t i = 0; i < s.n; ++i) z += std::exp(double(row[i * s.inner]) - m);
            emit(o * s.n * s.inner + k, s.n, s.inner, m, float(std::log(z)));
        }
    });
}

}  // namespace

// y_i = e^(x_i - m) / sum_j e^(x_j - m)          dx = y * (dy - sum_j dy_j y_j)
Tensor softmax(const Tensor& x, int64_t dim) {
    int d = normalize_dim(dim, x.dim(), "softmax");
    Tensor y = Tensor::empty(x.shape());
    const float* px = x.data();
    float* py = y.data();
    softmax_rows(x, d, [&](int64_t base, int64_t n, int64_t step, float m, float log_z) {
        for (int64_t i = 0; i < n; ++i) py[base + i * step] = std::exp(px[base + i * step] - m - log_z);
    });
    record("softmax", {x}, y, [x, d](const Tensor& dy, const Tensor& y) {
        DimSplit s = split_at(x.shape(), d);
        Tensor dx = Tensor::empty(x.shape());
        for (int64_t o = 0; o < s.outer; ++o)
            for (int64_t k = 0; k < s.inner; ++k) {
                int64_t base = o * s.n * s.inner + k;
                double dot = 0.0;
                for (int64_t i = 0; i < s.n; ++i)
                    dot += double(dy.data()[base + i * s.inner]) * y.data()[base + i * s.inner];
                for (int64_t i = 0; i < s.n; ++i) {
                    int64_t at = base + i * s.inner;
                    dx.data()[at] = y.data()[at] * (dy.data()[at] - float(dot));
                }
            }
        accumulate_grad(x, std::move(dx));
    });
    return y;
}

// y_i = x_i - m - log sum_j e^(x_j - m)          dx = dy - softmax(x) * sum_j dy_j
Tensor log_softmax(const Tensor& x, int64_t dim) {
    int d = normalize_dim(dim, x.dim(), "log_softmax");
    Tensor y = Tensor::empty(x.shape());
    const float* px = x.data();
    float* py = y.data();
    softmax_rows(x, d, [&](int64_t base, int64_t n, int64_t step, float m, float log_z) {
        for (int64_t i = 0; i < n; ++i) py[base + i * step] = px[base + i * step] - m - log_z;
    });
    record("log_softmax", {x}, y, [x, d](const Tensor& dy, const Tensor& y) {
        DimSplit s = split_at(x.shape(), d);
        Tensor dx = Tensor::empty(x.shape());
        for (int64_t o = 0; o < s.outer; ++o)
            for (int64_t k = 0; k < s.inner; ++k) {
                int64_t base = o * s.n * s.inner + k;
                double total = 0.0;
                for (int64_t i = 0; i < s.n; ++i) total += dy.data()[base + i * s.inner];
                for (int64_t i = 0; i < s.n; ++i) {
                    int64_t at = base + i * s.inner;
                    dx.data()[at] = dy.data()[at] - std::exp(y.data()[at]) * float(total);
                }
            }
        accumulate_grad(x, std::move(dx));
    });
    return y;
}

// ---- argmax -----------------------------------------------------------------------

int64_t argmax(const Tensor& x) {
    FG_CHECK(x.numel() > 0, "argmax: tensor of shape ", x.shape(), " is empty");
    const float* p = x.data();
    int64_t best = 0;
    for (int64_t i = 1; i < x.numel() && !std::isnan(p[best]); ++i)
        if (p[i] > p[best] || std::isnan(p[i])) best = i;
    return best;
}

std::vector<int> argmax(const Tensor& x, int64_t dim) {
    int d = normalize_dim(dim, x.dim(), "argmax");
    DimSplit s = split_at(x.shape(), d);
    FG_CHECK(s.n > 0, "argmax: dimension ", d, " of shape ", x.shape(), " is empty");
    std::vector<int> where(size_t(s.outer * s.inner), 0);
    const float* p = x.data();
    for (int64_t o = 0; o < s.outer; ++o)
        for (int64_t k = 0; k < s.inner; ++k) {
            const float* row = p + o * s.n * s.inner + k;
            int64_t best = 0;
            for (int64_t i = 1; i < s.n && !std::isnan(row[best * s.inner]); ++i)
                if (row[i * s.inner] > row[best * s.inner] || std::isnan(row[i * s.inner])) best = i;
            where[size_t(o * s.inner + k)] = int(best);
        }
    return where;
}

}  // namespace focalgrad
