// box_regression.cpp — l1_loss and smooth_l1_loss, in two forms that compute the same math:
// first reference::smooth_l1_loss, one loop over the elements in double with the backward
// written as the math reads; then the fast form, one branch-free vectorised pass. l1_loss is
// smooth_l1_loss at β = 0 in both. tests/test_loss_box_regression.cpp holds them together.
#include <array>
#include <cfloat>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/fastmath.h>
#include <focalgrad/losses/box_regression.h>
#include <focalgrad/losses/internal/block_sums.h>
#include <focalgrad/losses/loss_toolkit.h>

namespace focalgrad {

namespace {

void check_arguments(const char* op, const Tensor& input, const Tensor& target, float beta,
                     const RegressionLossOptions& o) {
    FG_CHECK(input.defined() && target.defined(), op, ": input and target must be defined");
    FG_CHECK(input.shape() == target.shape(), op, ": input has shape ", input.shape(),
             " but target has shape ", target.shape(), "; expected the same shape");
    FG_CHECK(std::isfinite(beta) && beta >= 0.0f, op, ": beta must be a finite number >= 0, got ", beta);
    mean_denominator(op, o.reduction, o.normalizer, 0.0);  // checks the normalizer
    if (!o.weight.defined()) return;
    FG_CHECK(o.weight.shape() == input.shape(), op, ": weight has shape ", o.weight.shape(),
             " but input has shape ", input.shape(), "; expected the same shape");
    // One branch-free pass (NaN fails the comparison), then a second one to name the culprit.
    const float* w = o.weight.data();
    const int64_t n = o.weight.numel();
    int bad = 0;
    for (int64_t i = 0; i < n; ++i) bad |= !((w[i] >= 0.0f) & (w[i] <= FLT_MAX));
    if (!bad) return;
    for (int64_t i = 0; i < n; ++i)
        FG_CHECK(w[i] >= 0.0f && w[i] <= FLT_MAX, op, ": weight[", i, "] = ", w[i],
                 " (weights must be finite and >= 0; 0 ignores an element)");
}

// ---- Reference form ------------------------------------------------------------------------
//   d = x - y
//   ℓ = d² / (2β)  where |d| < β,   |d| - β/2  elsewhere          (β = 0: ℓ = |d|)
//     (computed as (d / β) d / 2, which cannot overflow: |d / β| < 1 there)
//   dℓ/dx = d / β  where |d| < β,   sign(d)    elsewhere,          dℓ/dy = -dℓ/dx
//   output: w ℓ per element (None), Σ w ℓ (Sum), Σ w ℓ / D (Mean), D = max(normalizer, 1) or Σ w
Tensor reference_loss(const char* op, const Tensor& input, const Tensor& target, double beta,
                      const RegressionLossOptions& options) {
    check_arguments(op, input, target, float(beta), options);
    check_finite(op, "input", input);
    check_finite(op, "target", target);
    const int64_t count = input.numel();
    const bool weighted = options.weight.defined();
    auto saved_dloss = std::make_shared<std::vector<double>>(size_t(count));  // w dℓ/dx per element
    std::vector<double>& dloss = *saved_dloss;
    std::vector<double> losses(static_cast<size_t>(count));
    double weight_sum = 0.0;
    for (int64_t e = 0; e < count; ++e) {
        const double d = double(input.data()[e]) - double(target.data()[e]);
        const double w = weighted ? double(options.weight.data()[e]) : 1.0;
        const double sign = d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0;
        const bool quadratic = std::fabs(d) < beta;
        losses[size_t(e)] = w * (quadratic ? 0.5 * (d / beta) * d : std::fabs(d) - beta / 2);
        dloss[size_t(e)] = w * (quadratic ? d / beta : sign);
        weight_sum += w;
    }
    double total = 0.0;
    for (double loss : losses) total += loss;
    FG_CHECK(std::isfinite(float(total)), op, ": the loss (", total,
             ") overflows float; scale the offsets down");
    const double denominator = mean_denominator(op, options.reduction, options.normalizer, weight_sum);
    Tensor out = reduce_losses(options.reduction, losses, denominator, input.shape());
    const Reduction reduction = options.reduction;
    record(op, {input, target}, out,
           [input, target, saved_dloss, reduction, denominator](const Tensor& dy, const Tensor&) {
               const std::vector<double>& dloss = *saved_dloss;
               const UpstreamGrad u(reduction, dy, denominator);  // u(e): what reaches element e's loss
               Tensor dinput = Tensor::empty(input.shape()), dtarget = Tensor::empty(input.shape());
               for (int64_t e = 0; e < input.numel(); ++e) {
                   dinput.data()[e] = float(u(e) * dloss[size_t(e)]);
                   dtarget.data()[e] = -dinput.data()[e];
               }
               accumulate_grad(input, std::move(dinput));
               accumulate_grad(target, std::move(dtarget));
           });
    return out;
}

}  // namespace

Tensor reference::smooth_l1_loss(const Tensor& input, const Tensor& target, float beta,
                                 const RegressionLossOptions& options) {
    return reference_loss("reference::smooth_l1_loss", input, target, beta, options);
}

Tensor reference::l1_loss(const Tensor& input, const Tensor& target, const RegressionLossOptions& options) {
    return reference_loss("reference::l1_loss", input, target, 0.0, options);
}

// ---- Fast form: the same math, branch-free and vectorised ----------------------------------
// One function gives an element's loss and derivative, for the forward pass and the backward
// closure alike; the derivative is recomputed from input and target rather than stored.
namespace {

struct Terms {
    float loss, dloss;  // ℓ and dℓ/dd, unweighted
};

// The quadratic piece as (d / β) d / 2: |d / β| < 1 there, so nothing overflows for any β
// (d² / (2β) would, for |d| > 1.8e19 under a larger β). `safe_beta` is β, or 1 for β = 0,
// whose quadratic piece is never taken (|d| < 0 is false) and must not divide by 0.
inline Terms smooth_l1_terms(float d, float beta, float safe_beta) {
    const float a = std::fabs(d);
    const float ratio = d / safe_beta;
    const float sign = float(d > 0.0f) - float(d < 0.0f);
    const bool quadratic = a < beta;
    return {fastmath::select(quadratic, 0.5f * ratio * d, a - 0.5f * beta),
            fastmath::select(quadratic, ratio, sign)};
}

struct Params {
    float beta, safe_beta;
};

// Σ w ℓ and Σ w over all elements (w ℓ also into `out` when given).
template <bool kWeighted>
std::array<double, 2> forward_pass(const float* x, const float* y, const float* w, int64_t count,
                                   const Params& p, float* out) {
    return internal::sum_over_blocks<2>(count, [&](int64_t begin, int n, float(*values)[internal::kBlock]) {
        float* loss = values[0];
        float* weight = values[1];
        for (int i = 0; i < n; ++i) {
            const int64_t e = begin + i;
            const float we = kWeighted ? w[e] : 1.0f;
            loss[i] = we * smooth_l1_terms(x[e] - y[e], p.beta, p.safe_beta).loss;
            weight[i] = we;
        }
        if (out) std::copy(loss, loss + n, out + begin);
    });
}

// dx_e = u_e w_e dℓ/dd at element e, with u the upstream gradient of the reduction.
template <bool kWeighted>
void backward_pass(const float* x, const float* y, const float* w, int64_t count, const Params& p,
                   const UpstreamGrad& upstream, float* dx) {
    // Two loops rather than `per_row ? dy[e] : dy[0]`, which would keep the loop from
    // vectorising (dy[e] may not exist).
    const float* dy = upstream.dy;
    const float scale = upstream.scale;
    parallel_for(count, kGrain, [&](int64_t lo, int64_t hi) {
        if (upstream.per_row) {
            for (int64_t e = lo; e < hi; ++e) {
                const float we = kWeighted ? w[e] : 1.0f;
                dx[e] = scale * dy[e] * we * smooth_l1_terms(x[e] - y[e], p.beta, p.safe_beta).dloss;
            }
        } else {
            const float u = scale * dy[0];
            for (int64_t e = lo; e < hi; ++e) {
                const float we = kWeighted ? w[e] : 1.0f;
                dx[e] = u * we * smooth_l1_terms(x[e] - y[e], p.beta, p.safe_beta).dloss;
            }
        }
    });
}

Tensor fast_loss(const char* op, const Tensor& input, const Tensor& target, float beta,
                 const RegressionLossOptions& options) {
    check_arguments(op, input, target, beta, options);
    const Params params{beta, beta > 0.0f ? beta : 1.0f};
    const int64_t count = input.numel();
    const bool weighted = options.weight.defined();
    const float* x = input.data();
    const float* y = target.data();
    const float* w = weighted ? options.weight.data() : nullptr;
    const bool per_element = options.reduction == Reduction::None;
    Tensor losses = per_element ? Tensor::empty(input.shape()) : Tensor();
    float* out = per_element ? losses.data() : nullptr;
    const std::array<double, 2> sums = weighted ? forward_pass<true>(x, y, w, count, params, out)
                                                : forward_pass<false>(x, y, w, count, params, out);
    if (!std::isfinite(sums[0])) {
        check_finite(op, "input", input);
        check_finite(op, "target", target);
        throw Error(str(op,
                        ": the loss overflows float (|input - target| or their sum above 3.4e38); "
                        "scale the offsets down"));
    }
    const double denominator = mean_denominator(op, options.reduction, options.normalizer, sums[1]);
    Tensor result = reduce_losses(options.reduction, sums[0], denominator, losses);
    const Reduction reduction = options.reduction;
    const Tensor weight = options.weight;
    record(op, {input, target}, result,
           [input, target, weight, params, reduction, denominator](const Tensor& dy, const Tensor&) {
               const UpstreamGrad upstream(reduction, dy, denominator);
               const int64_t count = input.numel();
               const float* w = weight.defined() ? weight.data() : nullptr;
               Tensor dinput = Tensor::empty(input.shape());
               float* dx = dinput.data();
               if (w)
                   backward_pass<true>(input.data(), target.data(), w, count, params, upstream, dx);
               else
                   backward_pass<false>(input.data(), target.data(), w, count, params, upstream, dx);
               if (target.requires_grad()) {
                   Tensor dtarget = Tensor::empty(input.shape());
                   float* dt = dtarget.data();
                   parallel_for(count, kGrain, [&](int64_t lo, int64_t hi) {
                       for (int64_t e = lo; e < hi; ++e) dt[e] = -dx[e];
                   });
                   accumulate_grad(target, std::move(dtarget));
               }
               accumulate_grad(input, std::move(dinput));
           });
    return result;
}

}  // namespace

// d = x - y:  ℓ = d² / (2β) or |d| - β/2,   dℓ/dx = d / β or sign(d) = -dℓ/dy
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, float beta,
                      const RegressionLossOptions& options) {
    return fast_loss("smooth_l1_loss", input, target, beta, options);
}

// ℓ = |x - y|,   dℓ/dx = sign(x - y) = -dℓ/dy
Tensor l1_loss(const Tensor& input, const Tensor& target, const RegressionLossOptions& options) {
    return fast_loss("l1_loss", input, target, 0.0f, options);
}

// ---- GIoU loss: one plain loop in double (no fast form needed) ------------------------------
namespace {

constexpr double kGiouEps = 1e-7;  // torchvision's

struct GiouTerms {
    double loss;
    double d[4];  // dℓ / d(x1, y1, x2, y2) of the first box
};

// ℓ(p, g) = 1 - I / (U + ε) + (C - U) / (C + ε), and its gradient with respect to p.
GiouTerms giou_terms(const double* p, const double* g) {
    const double iw = std::min(p[2], g[2]) - std::max(p[0], g[0]),
                 ih = std::min(p[3], g[3]) - std::max(p[1], g[1]);
    const bool overlap = iw > 0 && ih > 0;
    const double I = overlap ? iw * ih : 0.0;
    const double area = (p[2] - p[0]) * (p[3] - p[1]), area_g = (g[2] - g[0]) * (g[3] - g[1]);
    const double U = area + area_g - I;
    const double cw = std::max(p[2], g[2]) - std::min(p[0], g[0]),
                 ch = std::max(p[3], g[3]) - std::min(p[1], g[1]);
    const double C = cw * ch;
    GiouTerms t;
    t.loss = 1.0 - I / (U + kGiouEps) + (C - U) / (C + kGiouEps);
    const double a_area = I / ((U + kGiouEps) * (U + kGiouEps)) - 1.0 / (C + kGiouEps);
    const double a_inter = -1.0 / (U + kGiouEps) - a_area;
    const double a_enclose = (U + kGiouEps) / ((C + kGiouEps) * (C + kGiouEps));
    // dI: the intersection's edges that are the box's own (0 without overlap).
    const double dI[4] = {overlap && p[0] >= g[0] ? -ih : 0.0, overlap && p[1] >= g[1] ? -iw : 0.0,
                          overlap && p[2] <= g[2] ? ih : 0.0, overlap && p[3] <= g[3] ? iw : 0.0};
    const double dA[4] = {-(p[3] - p[1]), -(p[2] - p[0]), p[3] - p[1], p[2] - p[0]};
    // dC: the enclosing box's edges that are the box's own.
    const double dC[4] = {p[0] <= g[0] ? -ch : 0.0, p[1] <= g[1] ? -cw : 0.0, p[2] >= g[2] ? ch : 0.0,
                          p[3] >= g[3] ? cw : 0.0};
    for (int k = 0; k < 4; ++k) t.d[k] = a_inter * dI[k] + a_area * dA[k] + a_enclose * dC[k];
    return t;
}

void check_giou_boxes(const char* op, const char* name, const Tensor& b) {
    const float* p = b.data();
    for (int64_t i = 0; i < b.numel() / 4; ++i) {
        const float* q = p + 4 * i;
        bool finite =
            std::isfinite(q[0]) && std::isfinite(q[1]) && std::isfinite(q[2]) && std::isfinite(q[3]);
        FG_CHECK(finite && q[0] <= q[2] && q[1] <= q[3], op, ": ", name, " box ", i, " = (", q[0], ", ", q[1],
                 ", ", q[2], ", ", q[3], ") is not a box: expected finite x1 <= x2, y1 <= y2");
    }
}

}  // namespace

//   ℓ = 1 - I / (U + ε) + (C - U) / (C + ε)        dℓ = a_I dI + a_A dA + a_C dC (header)
Tensor giou_loss(const Tensor& boxes, const Tensor& target, const RegressionLossOptions& options) {
    constexpr const char* op = "giou_loss";
    FG_CHECK(boxes.defined() && target.defined(), op, ": boxes and target must be defined");
    FG_CHECK(boxes.shape() == target.shape(), op, ": boxes have shape ", boxes.shape(),
             " but target has shape ", target.shape(), "; expected the same shape");
    FG_CHECK(boxes.dim() >= 1 && boxes.shape()[boxes.dim() - 1] == 4, op,
             ": boxes must be [..., 4] (x1, y1, x2, y2), got ", boxes.shape());
    Shape per_box;
    for (int d = 0; d + 1 < boxes.dim(); ++d) per_box.push_back(boxes.shape()[d]);
    FG_CHECK(!options.weight.defined() || options.weight.shape() == per_box, op, ": weight has shape ",
             options.weight.defined() ? options.weight.shape() : Shape{}, "; expected one weight per box, ",
             per_box);
    check_arguments(op, boxes, target, 0.0f,
                    RegressionLossOptions{options.reduction, Tensor(), options.normalizer});
    if (options.weight.defined())
        for (int64_t i = 0; i < options.weight.numel(); ++i)
            FG_CHECK(options.weight.data()[i] >= 0.0f && std::isfinite(options.weight.data()[i]), op,
                     ": weight[", i, "] = ", options.weight.data()[i],
                     " (weights must be finite and >= 0; 0 ignores a box)");
    check_giou_boxes(op, "boxes", boxes);
    check_giou_boxes(op, "target", target);
    const int64_t n = boxes.numel() / 4;
    struct Saved {
        std::vector<double> dboxes, dtarget;  // w dℓ per coordinate, [n, 4] each
    };
    auto saved = std::make_shared<Saved>(Saved{std::vector<double>(static_cast<size_t>(4 * n)),
                                               std::vector<double>(static_cast<size_t>(4 * n))});
    std::vector<double> losses(static_cast<size_t>(n));
    double weight_sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        double p[4], g[4];
        for (int k = 0; k < 4; ++k) p[k] = boxes.data()[4 * i + k], g[k] = target.data()[4 * i + k];
        const double w = options.weight.defined() ? double(options.weight.data()[i]) : 1.0;
        const GiouTerms forward = giou_terms(p, g), backward = giou_terms(g, p);  // ℓ is symmetric
        losses[size_t(i)] = w * forward.loss;
        for (int k = 0; k < 4; ++k) {
            saved->dboxes[size_t(4 * i + k)] = w * forward.d[k];
            saved->dtarget[size_t(4 * i + k)] = w * backward.d[k];
        }
        weight_sum += w;
    }
    const double denominator = mean_denominator(op, options.reduction, options.normalizer, weight_sum);
    Tensor out = reduce_losses(options.reduction, losses, denominator, per_box);
    const Reduction reduction = options.reduction;
    record(op, {boxes, target}, out,
           [boxes, target, saved, reduction, denominator](const Tensor& dy, const Tensor&) {
               const UpstreamGrad u(reduction, dy, denominator);  // u(i): what reaches box i's loss
               Tensor db = Tensor::empty(boxes.shape()), dt = Tensor::empty(boxes.shape());
               for (int64_t e = 0; e < boxes.numel(); ++e) {
                   db.data()[e] = float(u(e / 4) * saved->dboxes[size_t(e)]);
                   dt.data()[e] = float(u(e / 4) * saved->dtarget[size_t(e)]);
               }
               accumulate_grad(boxes, std::move(db));
               accumulate_grad(target, std::move(dt));
           });
    return out;
}

}  // namespace focalgrad
