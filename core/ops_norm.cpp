// ops_norm.cpp — batch normalisation and layer normalisation, each one op with an
// analytic backward (nn/ only calls them). Statistics and gradient sums accumulate in
// double in a fixed order per channel or row (LaneSum), so the bits do not depend on the
// thread count; the elementwise passes run in float with per-channel constants. The
// double-precision definitions they are tested against are in tests/test_norm.cpp.
// Not here: group and instance normalisation, cuDNN's saved-variance conventions.
//
// Both normalise a set of M values with its mean and (biased) variance, then scale and shift:
//   xhat = (x - mean) rstd,   rstd = 1 / sqrt(var + eps),   y = gamma xhat + beta
// and share the backward of that (g = dy gamma, sums over the same M values):
//   dx = rstd (g - mean(g) - xhat mean(g xhat)),   dgamma = sum(dy xhat),   dbeta = sum(dy)
// The two mean terms are the gradient flowing through mean and var: shifting every x
// moves nothing, and scaling them only rescales xhat.
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/error.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/parallel.h>

namespace focalgrad {

namespace {

// Sums in double over 8 interleaved lanes (term i of each run added goes to lane i % 8),
// added up in a fixed order at the end. One running sum cannot be vectorised (the
// compiler may not reorder its adds); eight can, and the result still depends only on the
// data, never on the thread count.
struct LaneSum {
    double lane[8] = {};
    template <class Term>
    void add(int64_t n, Term&& term) {
        int64_t i = 0;
        for (; i + 8 <= n; i += 8)
            for (int j = 0; j < 8; ++j) lane[j] += term(i + j);
        for (; i < n; ++i) lane[i % 8] += term(i);
    }
    double total() const {
        return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    }
};

void check_affine(const Tensor& t, const Shape& expected, const char* op, const char* what) {
    FG_CHECK(!t.defined() || t.shape() == expected, op, ": ", what, " must have shape ", expected, ", got ",
             t.shape());
}

}  // namespace

// x [N, C, *] (C = dim 1; * any number of spatial dims, S values each), per channel c over
// its M = N S values. training: mean and var from the batch, and the running statistics
// (when given) move towards them:
//   running_mean = (1 - momentum) running_mean + momentum mean
//   running_var  = (1 - momentum) running_var  + momentum var M / (M - 1)   (unbiased, as PyTorch)
// eval: mean = running_mean, var = running_var, constants, so dx = dy gamma rstd.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                  Tensor running_var, bool training, float momentum, float eps) {
    FG_CHECK(x.dim() >= 2, "batch_norm: input must be [N, C, ...], got ", x.shape());
    FG_CHECK(std::isfinite(eps) && eps > 0.0f, "batch_norm: eps must be finite and > 0, got ", eps);
    FG_CHECK(momentum >= 0.0f && momentum <= 1.0f, "batch_norm: momentum must be in [0, 1], got ", momentum);
    const int64_t N = x.size(0), C = x.size(1), S = C > 0 && N > 0 ? x.numel() / (N * C) : 0;
    const int64_t M = N * S;
    const Shape channels{C};
    check_affine(weight, channels, "batch_norm", "weight");
    check_affine(bias, channels, "batch_norm", "bias");
    check_affine(running_mean, channels, "batch_norm", "running_mean");
    check_affine(running_var, channels, "batch_norm", "running_var");
    FG_CHECK(running_mean.defined() == running_var.defined(),
             "batch_norm: give both running_mean and running_var, or neither");
    FG_CHECK(training || running_mean.defined(),
             "batch_norm: eval mode needs running_mean and running_var (the statistics of training)");
    FG_CHECK(!training || M > 1, "batch_norm: training needs more than one value per channel, got input ",
             x.shape(), " (batch statistics of one value are meaningless)");
    FG_CHECK(!(training && running_mean.defined() &&
               (running_mean.requires_grad() || running_var.requires_grad())),
             "batch_norm: the running statistics are updated in place and must not require grad");

    // Per channel: the mean and rstd used, in double.
    std::vector<double> mean(static_cast<size_t>(C)), rstd(static_cast<size_t>(C));
    const float* px = x.data();
    const int64_t channel_grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, M));
    parallel_for(C, channel_grain, [&](int64_t lo, int64_t hi) {
        for (int64_t c = lo; c < hi; ++c) {
            double m, var;
            if (training) {
                LaneSum sum, sq;
                for (int64_t n = 0; n < N; ++n) {
                    const float* p = px + (n * C + c) * S;
                    sum.add(S, [p](int64_t i) { return double(p[i]); });
                }
                m = sum.total() / double(M);
                for (int64_t n = 0; n < N; ++n) {
                    const float* p = px + (n * C + c) * S;
                    sq.add(S, [p, m](int64_t i) { return (double(p[i]) - m) * (double(p[i]) - m); });
                }
                var = sq.total() / double(M);
            } else {
                m = running_mean.data()[c];
                var = running_var.data()[c];
            }
            mean[size_t(c)] = m;
            rstd[size_t(c)] = 1.0 / std::sqrt(var + double(eps));
            if (training && running_mean.defined()) {
                float* rm = running_mean.data();
                float* rv = running_var.data();
                const double unbiased = var * double(M) / double(M - 1);
                rm[c] = float((1.0 - momentum) * rm[c] + momentum * m);
                rv[c] = float((1.0 - momentum) * rv[c] + momentum * unbiased);
            }
        }
    });

    // y = (x - mean) (gamma rstd) + beta, in float once the channel's constants are known.
    Tensor y = Tensor::empty(x.shape());
    float* py = y.data();
    const float* pw = weight.defined() ? weight.data() : nullptr;
    const float* pb = bias.defined() ? bias.data() : nullptr;
    parallel_for(N * C, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, S)), [&](int64_t lo, int64_t hi) {
        for (int64_t u = lo; u < hi; ++u) {
            const size_t c = size_t(u % C);
            const float m = float(mean[c]), scale = float((pw ? pw[c] : 1.0) * rstd[c]);
            const float shift = pb ? pb[c] : 0.0f;
            const float* src = px + u * S;
            float* dst = py + u * S;
            for (int64_t s = 0; s < S; ++s) dst[s] = (src[s] - m) * scale + shift;
        }
    });

    record("batch_norm", {x, weight, bias}, y,
           [x, weight, bias, mean = std::move(mean), rstd = std::move(rstd), training, N, C, S](
               const Tensor& dy, const Tensor&) {
               const int64_t M = N * S;
               const float* px = x.data();
               const float* pdy = dy.data();
               const float* pw = weight.defined() ? weight.data() : nullptr;
               // Per channel: sum(dy) and sum(dy xhat) = rstd sum(dy (x - mean)), which every
               // gradient below needs.
               std::vector<double> sum_dy(static_cast<size_t>(C)), sum_dy_xhat(static_cast<size_t>(C));
               parallel_for(
                   C, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, M)), [&](int64_t lo, int64_t hi) {
                       for (int64_t c = lo; c < hi; ++c) {
                           const double m = mean[size_t(c)];
                           LaneSum a, b;
                           for (int64_t n = 0; n < N; ++n) {
                               const float* g = pdy + (n * C + c) * S;
                               const float* p = px + (n * C + c) * S;
                               a.add(S, [g](int64_t i) { return double(g[i]); });
                               b.add(S, [g, p, m](int64_t i) { return double(g[i]) * (double(p[i]) - m); });
                           }
                           sum_dy[size_t(c)] = a.total();
                           sum_dy_xhat[size_t(c)] = b.total() * rstd[size_t(c)];
                       }
                   });
               if (bias.defined() && bias.requires_grad()) {  // dbeta = sum(dy)
                   Tensor db = Tensor::empty(bias.shape());
                   for (int64_t c = 0; c < C; ++c) db.data()[c] = float(sum_dy[size_t(c)]);
                   accumulate_grad(bias, std::move(db));
               }
               if (weight.defined() && weight.requires_grad()) {  // dgamma = sum(dy xhat)
                   Tensor dw = Tensor::empty(weight.shape());
                   for (int64_t c = 0; c < C; ++c) dw.data()[c] = float(sum_dy_xhat[size_t(c)]);
                   accumulate_grad(weight, std::move(dw));
               }
               if (!x.requires_grad()) return;
               // training: dx = k (dy - sum(dy) / M - xhat sum(dy xhat) / M),  k = gamma rstd
               //         = k dy - (k rstd sum(dy xhat) / M) (x - mean) - k sum(dy) / M
               // eval:     dx = k dy  (mean and var are constants)
               // Per channel that is dx = A dy + B (x - mean) + D, in float.
               Tensor dx = Tensor::empty(x.shape());
               float* pdx = dx.data();
               parallel_for(N * C, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, S)),
                            [&](int64_t lo, int64_t hi) {
                                for (int64_t u = lo; u < hi; ++u) {
                                    const size_t c = size_t(u % C);
                                    const double r = rstd[c], k = (pw ? pw[c] : 1.0) * r;
                                    const float A = float(k), m = float(mean[c]);
                                    const float B =
                                        training ? float(-k * r * sum_dy_xhat[c] / double(M)) : 0.0f;
                                    const float D = training ? float(-k * sum_dy[c] / double(M)) : 0.0f;
                                    const float* g = pdy + u * S;
                                    const float* p = px + u * S;
                                    float* out = pdx + u * S;
                                    for (int64_t s = 0; s < S; ++s) out[s] = A * g[s] + B * (p[s] - m) + D;
                                }
                            });
               accumulate_grad(x, std::move(dx));
           });
    return y;
}

// x [..., D1, ..., Dk] with normalized_shape = [D1, ..., Dk]: each row of D = D1 ... Dk
// values is normalised on its own (the statistics are the row's, in training and eval
// alike); weight and bias, when given, have normalized_shape.
Tensor layer_norm(const Tensor& x, const std::vector<int64_t>& normalized_shape, const Tensor& weight,
                  const Tensor& bias, float eps) {
    const int k = int(normalized_shape.size());
    FG_CHECK(k >= 1 && k <= x.dim(), "layer_norm: normalized_shape ", Shape(normalized_shape),
             " must name 1 to ", x.dim(), " trailing dims of the input ", x.shape());
    for (int d = 0; d < k; ++d)
        FG_CHECK(x.size(x.dim() - k + d) == normalized_shape[size_t(d)], "layer_norm: normalized_shape ",
                 Shape(normalized_shape), " does not match the trailing dims of the input ", x.shape());
    FG_CHECK(std::isfinite(eps) && eps > 0.0f, "layer_norm: eps must be finite and > 0, got ", eps);
    check_affine(weight, Shape(normalized_shape), "layer_norm", "weight");
    check_affine(bias, Shape(normalized_shape), "layer_norm", "bias");
    const int64_t D = Shape(normalized_shape).numel(), R = D > 0 ? x.numel() / D : 0;
    FG_CHECK(D >= 1, "layer_norm: normalized_shape ", Shape(normalized_shape), " has no elements");

    std::vector<double> mean(static_cast<size_t>(R)), rstd(static_cast<size_t>(R));
    Tensor y = Tensor::empty(x.shape());
    const float* px = x.data();
    float* py = y.data();
    const float* pw = weight.defined() ? weight.data() : nullptr;
    const float* pb = bias.defined() ? bias.data() : nullptr;
    parallel_for(R, std::max<int64_t>(1, kGrain / D), [&](int64_t lo, int64_t hi) {
        for (int64_t r = lo; r < hi; ++r) {
            const float* row = px + r * D;
            LaneSum sum, sq;
            sum.add(D, [row](int64_t j) { return double(row[j]); });
            const double m = sum.total() / double(D);
            sq.add(D, [row, m](int64_t j) { return (double(row[j]) - m) * (double(row[j]) - m); });
            const double rs = 1.0 / std::sqrt(sq.total() / double(D) + double(eps));
            mean[size_t(r)] = m;
            rstd[size_t(r)] = rs;
            for (int64_t j = 0; j < D; ++j)
                py[r * D + j] = float((row[j] - m) * rs * (pw ? pw[j] : 1.0) + (pb ? pb[j] : 0.0));
        }
    });

    record("layer_norm", {x, weight, bias}, y,
           [x, weight, bias, mean = std::move(mean), rstd = std::move(rstd), R, D](const Tensor& dy,
                                                                                   const Tensor&) {
               const float* px = x.data();
               const float* pdy = dy.data();
               const float* pw = weight.defined() ? weight.data() : nullptr;
               auto xhat = [&](int64_t r, int64_t j) {
                   return (px[r * D + j] - mean[size_t(r)]) * rstd[size_t(r)];
               };
               // dgamma[j] = sum_r dy[r, j] xhat[r, j], dbeta[j] = sum_r dy[r, j]: rows in order, per column.
               const bool dw_needed = weight.defined() && weight.requires_grad();
               const bool db_needed = bias.defined() && bias.requires_grad();
               if (dw_needed || db_needed) {
                   std::vector<double> dw(static_cast<size_t>(D)), db(static_cast<size_t>(D));
                   for (int64_t r = 0; r < R; ++r)
                       for (int64_t j = 0; j < D; ++j) {
                           dw[size_t(j)] += pdy[r * D + j] * xhat(r, j);
                           db[size_t(j)] += pdy[r * D + j];
                       }
                   if (dw_needed) {
                       Tensor t = Tensor::empty(weight.shape());
                       for (int64_t j = 0; j < D; ++j) t.data()[j] = float(dw[size_t(j)]);
                       accumulate_grad(weight, std::move(t));
                   }
                   if (db_needed) {
                       Tensor t = Tensor::empty(bias.shape());
                       for (int64_t j = 0; j < D; ++j) t.data()[j] = float(db[size_t(j)]);
                       accumulate_grad(bias, std::move(t));
                   }
               }
               if (!x.requires_grad()) return;
               // dx = rstd (g - mean(g) - xhat mean(g xhat)),  g = dy gamma, means over the row
               Tensor dx = Tensor::empty(x.shape());
               float* pdx = dx.data();
               parallel_for(R, std::max<int64_t>(1, kGrain / D), [&](int64_t lo, int64_t hi) {
                   for (int64_t r = lo; r < hi; ++r) {
                       LaneSum sum_g, sum_g_xhat;
                       sum_g.add(D, [&](int64_t j) { return pdy[r * D + j] * (pw ? pw[j] : 1.0); });
                       sum_g_xhat.add(
                           D, [&](int64_t j) { return pdy[r * D + j] * (pw ? pw[j] : 1.0) * xhat(r, j); });
                       const double a = sum_g.total() / double(D), b = sum_g_xhat.total() / double(D);
                       for (int64_t j = 0; j < D; ++j) {
                           const double g = pdy[r * D + j] * (pw ? pw[j] : 1.0);
                           pdx[r * D + j] = float(rstd[size_t(r)] * (g - a - xhat(r, j) * b));
                       }
                   }
               });
               accumulate_grad(x, std::move(dx));
           });
    return y;
}

}  // namespace focalgrad
