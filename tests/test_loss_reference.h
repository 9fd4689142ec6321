// test_loss_reference.h — double-precision references for the loss tests, written as plain
// loops straight from the formulas in the loss headers and sharing no code with losses/;
// and a 5-point-stencil numeric derivative, so that reference gradients do not depend on
// our derivations at all. Also: random test data and a runner that returns a loss's output
// and its gradient for a given upstream gradient.
#pragma once

#include <algorithm>
#include <cmath>
#include <doctest/doctest.h>
#include <functional>
#include <string>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/random.h>
#include <focalgrad/core/tensor.h>
#include <focalgrad/losses/reduction.h>

namespace lossref {

using Vec = std::vector<double>;
using focalgrad::Reduction;
using focalgrad::Tensor;

// ---- Formulas ------------------------------------------------------------------------

// log p_c = (z_c - m) - log Σ_j e^(z_j - m), m = max z. The sum is 1 + (the rest), and
// log1p of the rest keeps log p_c exact even when the rest is below double epsilon.
inline Vec log_softmax(const Vec& z) {
    size_t k = size_t(std::max_element(z.begin(), z.end()) - z.begin());
    double rest = 0.0;
    for (size_t c = 0; c < z.size(); ++c)
        if (c != k) rest += std::exp(z[c] - z[k]);
    Vec lp(z.size());
    for (size_t c = 0; c < z.size(); ++c) lp[c] = (z[c] - z[k]) - std::log1p(rest);
    return lp;
}

inline double weight_of(const Vec& w, size_t c) { return w.empty() ? 1.0 : w[c]; }

// ℓ = (1-ε) w_t (-log p_t) + (ε/C) Σ_c w_c (-log p_c)
inline double ce_row(const Vec& z, int t, const Vec& w, double eps) {
    Vec lp = log_softmax(z);
    double smooth = 0.0;
    for (size_t c = 0; c < z.size(); ++c) smooth += weight_of(w, c) * -lp[c];
    return (1.0 - eps) * weight_of(w, size_t(t)) * -lp[size_t(t)] + eps / double(z.size()) * smooth;
}

// ℓ = -Σ_c w_c ((1-ε) y_c + ε/C) log p_c
inline double soft_ce_row(const Vec& z, const Vec& y, const Vec& w, double eps) {
    Vec lp = log_softmax(z);
    double loss = 0.0;
    for (size_t c = 0; c < z.size(); ++c)
        loss -= weight_of(w, c) * ((1.0 - eps) * y[c] + eps / double(z.size())) * lp[c];
    return loss;
}

// ℓ = -α_t (1 - p_t)^γ log p_t, with 1 - p_t summed from the other classes.
inline double focal_row(const Vec& z, int t, double alpha_t, double gamma) {
    Vec lp = log_softmax(z);
    double one_minus_pt = 0.0;
    for (size_t c = 0; c < z.size(); ++c)
        if (int(c) != t) one_minus_pt += std::exp(lp[c]);
    return -alpha_t * std::pow(one_minus_pt, gamma) * lp[size_t(t)];
}

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Binary cross-entropy on a logit: softplus(x) - x y.
inline double bce(double x, double y) {
    return std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::fabs(x)));
}

inline double alpha_weight(double alpha, double y) {
    return alpha < 0 ? 1.0 : alpha * y + (1.0 - alpha) * (1.0 - y);
}

// torchvision.ops.sigmoid_focal_loss, per element.
inline double tv_focal(double x, double y, double alpha, double gamma) {
    double p = sigmoid(x);
    double pt = p * y + (1.0 - p) * (1.0 - y);
    return alpha_weight(alpha, y) * bce(x, y) * std::pow(1.0 - pt, gamma);
}

// segmentation_models_pytorch focal_loss_with_logits: the focal term and the unnormalized
// loss of one element (p_t = e^(-BCE); τ > 0 is the reduced focal loss).
inline double smp_focal_term(double x, double y, double gamma, double tau) {
    double pt = std::exp(-bce(x, y));
    if (tau > 0) return pt < tau ? 1.0 : std::pow((1.0 - pt) / tau, gamma);
    return std::pow(1.0 - pt, gamma);
}
inline double smp_focal(double x, double y, double alpha, double gamma, double tau) {
    return alpha_weight(alpha, y) * smp_focal_term(x, y, gamma, tau) * bce(x, y);
}

// α y (-log σ(x)) + (1-α)(1-y)(-log(1 - σ(x)))
inline double balanced_bce(double x, double y, double alpha) {
    double log_p = -bce(x, 1.0), log_1mp = -bce(x, 0.0);
    return -(alpha * y * log_p + (1.0 - alpha) * (1.0 - y) * log_1mp);
}

// ---- Dense prediction --------------------------------------------------------------------

// The elementwise losses with element weights w, per-element α and the options of
// sigmoid_focal_loss.h, straight from its header: per element w α_y f ℓ_CE / Z (Z = max(Σ w f,
// 1e-6) when normalized, else 1), reduced to None (per element), Sum, or Mean (the sum over
// Σ w, or over max(normalizer, 1) when normalizer >= 0). smp picks p_t = e^(-BCE), τ the
// reduced threshold; γ = 0 and a hard target give the α-balanced BCE.
struct DenseOptions {
    double gamma = 2.0, tau = 0.0;
    bool normalized = false, smp = false;
    Reduction reduction = Reduction::Mean;
    double normalizer = -1.0;  // < 0: none
};

inline Vec dense_focal(const Vec& x, const Vec& y, const Vec& w, const Vec& alpha, const DenseOptions& o) {
    const size_t n = x.size();
    Vec loss(n);
    double focal_sum = 0.0, weight_sum = 0.0;
    for (size_t e = 0; e < n; ++e) {
        double pt_tv = sigmoid(x[e]) * y[e] + (1.0 - sigmoid(x[e])) * (1.0 - y[e]);
        double f = o.smp ? smp_focal_term(x[e], y[e], o.gamma, o.tau) : std::pow(1.0 - pt_tv, o.gamma);
        loss[e] = w[e] * alpha_weight(alpha[e], y[e]) * f * bce(x[e], y[e]);
        focal_sum += w[e] * f;
        weight_sum += w[e];
    }
    const double Z = o.normalized ? std::max(focal_sum, 1e-6) : 1.0;
    double total = 0.0;
    for (double& l : loss) total += (l /= Z);
    if (o.reduction == Reduction::None) return loss;
    if (o.reduction == Reduction::Sum) return {total};
    const double denominator = o.normalizer >= 0 ? std::max(o.normalizer, 1.0) : weight_sum;
    return {denominator > 0 ? total / denominator : 0.0};
}

// segmentation_models_pytorch's focal_loss_with_logits, transcribed line by line, on a flat
// vector that stands for a tensor [rows, cols] (rows = the batch; one_d: a 1-d tensor, so that
// sum(0) is a scalar). alpha < 0 is SMP's alpha=None; tau = 0 its reduced_threshold=None.
inline Vec smp_focal_loss_with_logits(const Vec& output, const Vec& target, size_t cols, bool one_d,
                                      double gamma, double alpha, const std::string& reduction,
                                      bool normalized, double tau) {
    Vec loss(output.size());
    double norm_factor = 0.0;
    for (size_t i = 0; i < output.size(); ++i) {
        double logpt = bce(output[i], target[i]);  // F.binary_cross_entropy_with_logits, "none"
        double pt = std::exp(-logpt);
        double focal_term = tau == 0.0 ? std::pow(1.0 - pt, gamma) : std::pow((1.0 - pt) / tau, gamma);
        if (tau != 0.0 && pt < tau) focal_term = 1.0;
        loss[i] = focal_term * logpt;
        if (alpha >= 0) loss[i] *= alpha * target[i] + (1.0 - alpha) * (1.0 - target[i]);
        norm_factor += focal_term;
    }
    if (normalized)
        for (double& l : loss) l /= std::max(norm_factor, 1e-6);  // .clamp_min(eps)
    double sum = 0.0;
    for (double l : loss) sum += l;
    if (reduction == "mean") return {sum / double(loss.size())};  // NaN for no element, as torch
    if (reduction == "sum") return {sum};
    if (reduction == "batchwise_mean") {  // loss.sum(0)
        if (one_d) return {sum};
        Vec by_column(cols, 0.0);
        for (size_t i = 0; i < loss.size(); ++i) by_column[i % cols] += loss[i];
        return by_column;
    }
    return loss;  // "none"
}

// SMP's FocalLoss(mode="multiclass").forward, transcribed: logits [N, C, d1...] (z, flat),
// targets [N, d1...]; has_ignore = SMP's ignore_index is not None.
inline Vec smp_multiclass_focal(const Vec& z, const std::vector<int64_t>& shape,
                                const std::vector<int>& y_true, bool has_ignore, int ignore_index,
                                double gamma, double alpha, const std::string& reduction, bool normalized,
                                double tau) {
    const size_t N = size_t(shape[0]), C = size_t(shape[1]);
    size_t P = 1;
    for (size_t d = 2; d < shape.size(); ++d) P *= size_t(shape[d]);
    Vec loss;
    for (size_t cls = 0; cls < C; ++cls) {
        Vec cls_y_pred, cls_y_true;  // y_pred[:, cls, ...] and (y_true == cls), [N, d1...]
        for (size_t n = 0; n < N; ++n)
            for (size_t k = 0; k < P; ++k) {
                int t = y_true[n * P + k];
                if (has_ignore && t == ignore_index) continue;  // [not_ignored]: flattens to 1-d
                cls_y_pred.push_back(z[(n * C + cls) * P + k]);
                cls_y_true.push_back(t == int(cls) ? 1.0 : 0.0);
            }
        const bool one_d = has_ignore || shape.size() == 2;
        Vec l = smp_focal_loss_with_logits(cls_y_pred, cls_y_true, P, one_d, gamma, alpha, reduction,
                                           normalized, tau);
        if (loss.empty()) loss.assign(l.size(), 0.0);
        for (size_t i = 0; i < l.size(); ++i) loss[i] += l[i];  // loss += ...
    }
    return loss;
}

// d/dz_j Σ_k u_k out_k(z) for every j, by the 5-point stencil: the gradient a loss with
// output out(z) receives for the upstream gradient u.
template <class Out>
Vec numeric_gradient(Out&& out, const Vec& z, const Vec& u, double h = 1e-3) {
    auto contracted = [&](const Vec& v) {
        Vec o = out(v);
        double s = 0.0;
        for (size_t k = 0; k < o.size(); ++k) s += u[k] * o[k];
        return s;
    };
    Vec g(z.size());
    for (size_t j = 0; j < z.size(); ++j) g[j] = derivative(contracted, z, j, h);
    return g;
}

// doctest::Approx is absolute below 1 (its scale is 1); this one is relative everywhere.
inline doctest::Approx rel(double value, double eps) {
    return doctest::Approx(value).epsilon(eps).scale(1e-300);  // scale > 0 so that 0 == rel(0)
}

// ---- Numeric derivative ------------------------------------------------------------------

// d f / d z_j by the 5-point stencil [-f(+2h) + 8 f(+h) - 8 f(-h) + f(-2h)] / 12h: error
// O(h^4), ~1e-13 here, far below the 1e-5 the tests ask for.
template <class F>
double derivative(F&& f, Vec z, size_t j, double h = 1e-3) {
    const double z0 = z[j];
    auto at = [&](double dz) {
        z[j] = z0 + dz;
        return f(z);
    };
    return (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h);
}

// ---- Data --------------------------------------------------------------------------------

inline Tensor random_logits(int64_t N, int64_t C, uint64_t seed, float scale = 2.5f) {
    focalgrad::Generator gen(seed);
    return Tensor::normal({N, C}, 0.0f, scale, gen);
}

// Random class indices; about `ignored` of them (a fraction) set to ignore_index.
inline std::vector<int> random_targets(int64_t N, int64_t C, uint64_t seed, double ignored = 0.0,
                                       int ignore_index = -100) {
    focalgrad::Generator gen(seed + 1000);
    std::vector<int> t(static_cast<size_t>(N));
    for (auto& v : t) {
        v = int(gen.below(uint32_t(C)));
        if (gen.uniform() < ignored) v = ignore_index;
    }
    return t;
}

inline Vec row_of(const Tensor& x, int64_t i) {
    int64_t C = x.size(1);
    return Vec(x.data() + i * C, x.data() + (i + 1) * C);
}

// ---- Reference gradients of softmax losses ----------------------------------------------

struct Ref {
    Vec out, grad;
};

// The reference output and gradient of a softmax loss for upstream gradient u:
// row_loss(z, i) is ℓ_i as a function of row i's logits z; row_weight(i) is row i's share
// of the mean's denominator (0 for ignored rows). The gradient is the 5-point derivative of
// each ℓ_i, times u (and 1/denominator for a mean).
template <class RowLoss, class RowWeight>
inline Ref reduce_reference(const Tensor& logits, RowLoss row_loss, RowWeight row_weight, Reduction reduction,
                            const Vec& u) {
    const int64_t N = logits.size(0), C = logits.size(1);
    Vec losses(static_cast<size_t>(N), 0.0);
    double total = 0.0, denominator = 0.0;
    for (int64_t i = 0; i < N; ++i) {
        losses[size_t(i)] = row_loss(row_of(logits, i), i);
        total += losses[size_t(i)];
        denominator += row_weight(i);
    }
    Ref ref;
    if (reduction == Reduction::None) ref.out = losses;
    if (reduction == Reduction::Sum) ref.out = {total};
    if (reduction == Reduction::Mean) ref.out = {denominator > 0 ? total / denominator : 0.0};
    ref.grad.assign(size_t(N * C), 0.0);
    for (int64_t i = 0; i < N; ++i) {
        double g = reduction == Reduction::None ? u[size_t(i)] : u[0];
        if (reduction == Reduction::Mean) g = denominator > 0 ? g / denominator : 0.0;
        Vec z = row_of(logits, i);
        for (int64_t j = 0; j < C; ++j)
            ref.grad[size_t(i * C + j)] =
                g * derivative([&](const Vec& zz) { return row_loss(zz, i); }, z, size_t(j));
    }
    return ref;
}

inline Vec random_weights(int64_t C, uint64_t seed) {
    focalgrad::Generator gen(seed + 500);
    Vec w(static_cast<size_t>(C), 0.0);
    for (auto& v : w) v = gen.uniform(0.2f, 3.0f);
    return w;
}

inline Tensor to_tensor(const Vec& v) {
    std::vector<float> f(v.begin(), v.end());
    return Tensor::from(f, focalgrad::Shape{int64_t(f.size())});
}

// The output of f(x) and dL/dx for L = Σ u * output, u a random upstream gradient (one
// value per output element).
struct Run {
    std::vector<float> out, grad;
    Vec upstream;
};

inline Run run(const std::function<Tensor(const Tensor&)>& f, const Tensor& x, uint64_t seed) {
    Tensor leaf = x.clone().set_requires_grad(true);
    Tensor y = f(leaf);
    focalgrad::Generator gen(seed + 77);
    Tensor u = Tensor::randn(y.shape(), gen);
    y.backward(u);
    Run r;
    r.out = y.to_vector();
    r.grad = leaf.grad().to_vector();
    for (float v : u.to_vector()) r.upstream.push_back(v);
    return r;
}

// |got - ref| <= rtol (|ref| + 0.01 max|ref|) + floor[i] element by element: relative, with
// a floor at 1% of the largest entry for entries that are (nearly) zero, and an optional
// per-element floor for values that are a difference of larger terms (the float result
// can only be as exact as those terms).
inline void check_rel(const std::vector<float>& got, const Vec& ref, double rtol, const char* what,
                      const Vec& floor = {}) {
    REQUIRE(got.size() == ref.size());
    double scale = 0.0;
    for (double r : ref) scale = std::max(scale, std::fabs(r));
    int reported = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        double err = std::fabs(double(got[i]) - ref[i]);
        double allowed = rtol * (std::fabs(ref[i]) + 0.01 * scale) + (floor.empty() ? 0.0 : floor[i]);
        bool ok = err <= allowed && std::isfinite(got[i]);
        if (!ok && reported++ < 5)
            FAIL_CHECK(std::string(what), " element ", i, ": got ", got[i], ", reference ", ref[i],
                       " (relative error ", err / std::max(std::fabs(ref[i]), 1e-300), ")");
    }
    CHECK_MESSAGE(reported == 0, std::string(what), ": ", reported, " elements off");
}

}  // namespace lossref
