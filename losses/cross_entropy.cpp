// cross_entropy.cpp — softmax cross-entropy, in two forms that compute the same math: first
// reference::cross_entropy, per-row loops in double with the backward written as the math
// reads; then the fast form, tiled and vectorised (losses/internal/softmax_tiles.h). Both are
// ops on the tape, and tests/test_loss_fast_vs_reference.cpp holds them together. The core
// case comes first; weights, label smoothing, ignore_index, [N, C, d1, ...], the other
// reductions and probability targets follow below it.
#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include <focalgrad/core/autograd.h>
#include <focalgrad/losses/cross_entropy.h>
#include <focalgrad/losses/internal/softmax_tiles.h>
#include <focalgrad/losses/loss_toolkit.h>

namespace focalgrad {

// ---- Reference form, the core case: [N, C] logits, class-index targets, Mean ------------
//   ℓ_i = -log p_it,   log p_it = z_it - log Σ_j e^(z_ij)           (log-sum-exp)
//   L = (1/N) Σ_i ℓ_i                dL/dz_ij = (1/N) (p_ij - [j = t_i])
Tensor reference::cross_entropy(const Tensor& logits, const std::vector<int>& targets) {
    constexpr const char* op = "reference::cross_entropy";
    const ClassLayout layout = class_layout(op, logits);
    FG_CHECK(layout.positions == 1, op, ": this form takes [N, C] logits, got ", logits.shape(),
             "; pass CrossEntropyOptions for [N, C, d1, ...]");
    FG_CHECK(int64_t(targets.size()) == layout.rows(), op, ": ", targets.size(), " targets for ",
             logits.shape());
    check_finite(op, "logits", logits);
    const int64_t N = layout.rows(), C = layout.classes;
    auto saved_p = std::make_shared<std::vector<double>>(size_t(N * C));  // [N, C] the softmax
    std::vector<double>& p = *saved_p;
    double total = 0.0;
    for (int64_t i = 0; i < N; ++i) {
        const int t = targets[i];
        FG_CHECK(t >= 0 && t < C, op, ": target ", t, " of row ", i, " is outside [0, ", C, ")");
        const float* z = logits.data() + i * C;
        double m = z[0];  // every exponent is <= 0 after subtracting the max: nothing overflows
        for (int64_t j = 1; j < C; ++j) m = std::max(m, double(z[j]));
        double sum = 0.0;
        for (int64_t j = 0; j < C; ++j) sum += std::exp(z[j] - m);
        const double log_sum = m + std::log(sum);  // log Σ_j e^(z_j)
        double one_minus_pt = 0.0;                 // Σ_{j != t} p_j
        for (int64_t j = 0; j < C; ++j) {
            p[i * C + j] = std::exp(z[j] - log_sum);
            if (j != t) one_minus_pt += p[i * C + j];
        }
        // Near p_t = 1, z_t - log_sum subtracts nearly equal numbers; log1p(-(1 - p_t)) is exact.
        total -= one_minus_pt < 0.5 ? std::log1p(-one_minus_pt) : z[t] - log_sum;
    }
    Tensor loss = Tensor::scalar(N > 0 ? float(total / double(N)) : 0.0f);
    record(op, {logits}, loss, [logits, targets, saved_p, N, C](const Tensor& dloss, const Tensor&) {
        const std::vector<double>& p = *saved_p;
        const double g = double(dloss.item()) / double(N);
        Tensor dlogits = Tensor::empty(logits.shape());
        float* dz = dlogits.data();
        for (int64_t i = 0; i < N; ++i)
            for (int64_t j = 0; j < C; ++j) dz[i * C + j] = float(g * (p[i * C + j] - (j == targets[i])));
        accumulate_grad(logits, std::move(dlogits));
    });
    return loss;
}

// ---- Fast form: same math as reference::cross_entropy, tiled and vectorised --------------
// With every option (weights w, smoothing ε, ignore_index, [N, C, d1, ...], each reduction):
//   ℓ = (1-ε) w_t (-log p_t) + (ε/C) Σ_c w_c (-log p_c)
//   dℓ/dz_j = a p_j - (ε/C) w_j - (1-ε) w_t [j = t],   a = (1-ε) w_t + (ε/C) Σ_c w_c
// In the engine's terms ("The gradient"): prob_coef = a, spread = ε/C over the weights w, and
// target_grad = dℓ/dz_t = -(1-ε) w_t (1 - p_t) + (ε/C)(Σ_c w_c p_t - w_t), where 1 - p_t is
// the sum of the other classes' e^z over the sum of all: no cancellation as p_t -> 1.
namespace {

constexpr const char* kOp = "cross_entropy";

void check_options(const char* op, const CrossEntropyOptions& options, int64_t classes) {
    FG_CHECK(options.label_smoothing >= 0.0f && options.label_smoothing < 1.0f, op,
             ": label_smoothing must be in [0, 1), got ", options.label_smoothing);
    check_class_vector(op, "weight", options.weight, classes);
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const std::vector<int>& targets,
                     const CrossEntropyOptions& options) {
    const ClassLayout layout = class_layout(kOp, logits);
    check_options(kOp, options, layout.classes);
    const float* w = options.weight.defined() ? options.weight.data() : nullptr;
    const double denominator = check_targets(kOp, targets, layout, options.ignore_index, w);

    const int64_t C = layout.classes;
    const float eps = options.label_smoothing;
    const float smooth = eps / float(C);
    // Σ_c log p_c needs Σ_c w_c (z_c - m): the tile computes it against the weights (or ones).
    std::vector<float> ones;
    const float* smoothing_weights = w;
    if (!smoothing_weights && eps > 0.0f) {
        ones.assign(size_t(C), 1.0f);
        smoothing_weights = ones.data();
    }
    float weight_sum = float(C);  // Σ_c w_c
    if (w) {
        double total_w = 0.0;
        for (int64_t c = 0; c < C; ++c) total_w += w[c];
        weight_sum = float(total_w);
    }

    const bool per_row = options.reduction == Reduction::None;
    Tensor losses = per_row ? Tensor::empty(row_shape(logits.shape())) : Tensor();  // [N, d1, ...]
    Tensor grad = needs_grad({logits}) ? Tensor::empty(logits.shape()) : Tensor();  // [N, C, d1, ...]

    internal::SoftmaxForward forward;
    forward.class_weights = w;
    forward.dot_weights = eps > 0.0f ? smoothing_weights : nullptr;
    forward.per_row_losses = per_row ? losses.data() : nullptr;
    forward.grad = grad.defined() ? grad.data() : nullptr;
    forward.grad_scale = UpstreamGrad::scale_of(options.reduction, denominator);
    forward.spread = smooth;
    forward.spread_weights = w;
    double sum = internal::softmax_loss_forward(
        kOp, logits, layout, targets, options.ignore_index, forward,
        [&](const internal::SoftmaxTile& tile, int r, const internal::SoftmaxRow& row) {
            float smooth_loss = weight_sum * row.log_sum - tile.shifted_dot[r];  // Σ_c w_c (-log p_c)
            return internal::SoftmaxRowResult{
                (1.0f - eps) * row.weight * -row.log_pt + smooth * smooth_loss,
                (1.0f - eps) * row.weight + smooth * weight_sum,
                -(1.0f - eps) * row.weight * row.one_minus_pt + smooth * (weight_sum * row.pt - row.weight)};
        });
    // Not finite with finite logits: float overflowed (logits of one row more than FLT_MAX
    // apart, as in a diverged model, or a loss beyond 3.4e38). The reference form computes
    // in double and gives the exact loss (+inf only where it exceeds float) and a finite
    // gradient; such inputs are too rare to need speed.
    if (!std::isfinite(sum)) return reference::cross_entropy(logits, targets, options);

    Tensor y = reduce_losses(options.reduction, sum, denominator, losses);
    if (!grad.defined()) return y;
    record(kOp, {logits}, y, [logits, layout, grad, per_row](const Tensor& dy, const Tensor&) mutable {
        internal::scale_by_upstream(grad.data(), layout, per_row, dy.data());
        accumulate_grad(logits, std::move(grad));  // moved: becomes the gradient, no copy
    });
    return y;
}

// ---- Reference form with every option ------------------------------------------------------
// Both target kinds are a weighted sum of -log p_c over the classes, with per-row weights w':
//   class indices:  w'_c = (1-ε) w_t [c = t] + (ε/C) w_c     (ignored rows: w' = 0)
//   probabilities:  w'_c = w_c ((1-ε) y_c + ε/C)
//   ℓ_i = Σ_c w'_c (-log p_c)        dℓ_i/dz_j = Σ_c w'_c (p_j - [j = c]) = (Σ_c w'_c) p_j - w'_j
namespace {

// The loss of that form, given the class weights w' of every row (`coef`, laid out like the
// logits), and the denominator of its mean.
Tensor weighted_log_softmax_loss(const char* op, const Tensor& logits, std::vector<double> coef,
                                 Reduction reduction, double denominator) {
    check_finite(op, "logits", logits);
    const ClassLayout layout = class_layout(op, logits);
    const int64_t N = layout.rows(), C = layout.classes;
    struct Saved {
        std::vector<double> p, coef;  // [N, C] the softmax, and w' (row i's entries at i C + j)
    };
    auto saved = std::make_shared<Saved>(
        Saved{std::vector<double>(size_t(N * C)), std::vector<double>(size_t(N * C))});
    auto& [p, w] = *saved;
    std::vector<double> losses(static_cast<size_t>(N)), z(static_cast<size_t>(C));
    for (int64_t i = 0; i < N; ++i) {
        for (int64_t j = 0; j < C; ++j) {
            z[j] = logits.data()[layout.index(i, j)];
            w[i * C + j] = coef[layout.index(i, j)];
        }
        const double m = *std::max_element(z.begin(), z.end());
        double sum = 0.0;
        for (double zj : z) sum += std::exp(zj - m);
        const double log_sum = m + std::log(sum);
        for (int64_t j = 0; j < C; ++j) {
            p[i * C + j] = std::exp(z[j] - log_sum);
            losses[i] -= w[i * C + j] * (z[j] - log_sum);  // w'_j (-log p_j)
        }
    }
    Tensor y = reduce_losses(reduction, losses, denominator, row_shape(logits.shape()));
    record(op, {logits}, y, [logits, layout, saved, reduction, denominator](const Tensor& dy, const Tensor&) {
        const auto& [p, w] = *saved;
        const UpstreamGrad g(reduction, dy, denominator);  // g(i): what reaches row i's loss
        const int64_t C = layout.classes;
        Tensor dlogits = Tensor::empty(logits.shape());
        float* dz = dlogits.data();
        for (int64_t i = 0; i < layout.rows(); ++i) {
            double w_sum = 0.0;
            for (int64_t c = 0; c < C; ++c) w_sum += w[i * C + c];
            for (int64_t j = 0; j < C; ++j)
                dz[layout.index(i, j)] = float(g(i) * (w_sum * p[i * C + j] - w[i * C + j]));
        }
        accumulate_grad(logits, std::move(dlogits));
    });
    return y;
}

}  // namespace

Tensor reference::cross_entropy(const Tensor& logits, const std::vector<int>& targets,
                                const CrossEntropyOptions& options) {
    constexpr const char* op = "reference::cross_entropy";
    const ClassLayout layout = class_layout(op, logits);
    check_options(op, options, layout.classes);
    const float* weight = options.weight.defined() ? options.weight.data() : nullptr;
    const double denominator = check_targets(op, targets, layout, options.ignore_index, weight);
    const int64_t C = layout.classes;
    const double eps = options.label_smoothing;
    std::vector<double> coef(size_t(logits.numel()), 0.0);  // w', laid out like the logits
    for (int64_t i = 0; i < layout.rows(); ++i) {
        const int t = targets[i];
        if (t == options.ignore_index) continue;
        for (int64_t j = 0; j < C; ++j) {
            const double w_j = weight ? weight[j] : 1.0, w_t = weight ? weight[t] : 1.0;
            coef[layout.index(i, j)] = (1.0 - eps) * w_t * (j == t) + eps / double(C) * w_j;
        }
    }
    return weighted_log_softmax_loss(op, logits, std::move(coef), options.reduction, denominator);
}

// ---- Probability targets ------------------------------------------------------------------
//   w'_c = w_c y'_c,  y' = (1-ε) y + ε/C;   Mean: Σ ℓ / (number of rows), as in PyTorch
Tensor reference::cross_entropy(const Tensor& logits, const Tensor& target_probs,
                                const CrossEntropyOptions& options) {
    constexpr const char* op = "reference::cross_entropy";
    const ClassLayout layout = class_layout(op, logits);
    check_options(op, options, layout.classes);
    FG_CHECK(options.ignore_index < 0, op, ": ignore_index = ", options.ignore_index,
             " cannot be used with probability targets (no row can be ignored)");
    check_target_tensor(op, logits, target_probs);
    const double eps = options.label_smoothing;
    std::vector<double> coef(size_t(logits.numel()));  // w', laid out like the logits
    for (int64_t i = 0; i < layout.rows(); ++i)
        for (int64_t j = 0; j < layout.classes; ++j) {
            const double w_j = options.weight.defined() ? options.weight.data()[j] : 1.0;
            const double y_j = target_probs.data()[layout.index(i, j)];
            coef[layout.index(i, j)] = w_j * ((1.0 - eps) * y_j + eps / double(layout.classes));
        }
    return weighted_log_softmax_loss(op, logits, std::move(coef), options.reduction, double(layout.rows()));
}

// Fast form: same math as reference::cross_entropy with probability targets, tiled and
// vectorised:
//   ℓ = Wy log S - Σ_c w'_c (z_c - m),   Wy = Σ_c w'_c,     dℓ/dz_j = Wy p_j - w'_j
// Per row it keeps the max, the log-sum and Wy for the backward, which recomputes p.
namespace {

struct SoftSaved {
    explicit SoftSaved(int64_t rows) : buffer(Tensor::empty({3, rows})), values(buffer.data()), rows(rows) {}
    Tensor buffer;  // [3, rows], from the tensor pool
    float* values;  // buffer.data()
    int64_t rows;
    float* max() const { return values; }
    float* log_sum() const { return values + rows; }
    float* wy() const { return values + 2 * rows; }
};

constexpr int kTileRows = internal::kTileRows;

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target_probs, const CrossEntropyOptions& options) {
    const ClassLayout layout = class_layout(kOp, logits);
    check_options(kOp, options, layout.classes);
    FG_CHECK(options.ignore_index < 0, kOp, ": ignore_index = ", options.ignore_index,
             " cannot be used with probability targets (no row can be ignored); leave it "
             "negative, as in PyTorch");
    check_target_tensor(kOp, logits, target_probs);

    const int64_t C = layout.classes;
    const float* w = options.weight.defined() ? options.weight.data() : nullptr;
    const float keep = 1.0f - options.label_smoothing;
    const float smooth = options.label_smoothing / float(C);
    const bool per_row = options.reduction == Reduction::None;
    Tensor losses = per_row ? Tensor::empty(row_shape(logits.shape())) : Tensor();  // [N, d1, ...]
    float* out = per_row ? losses.data() : nullptr;
    auto saved = needs_grad({logits}) ? std::make_shared<SoftSaved>(layout.rows()) : nullptr;
    const float* z = logits.data();
    const float* y = target_probs.data();

    double sum = parallel_sum(layout.rows(), internal::rows_per_chunk(C), [&](int64_t lo, int64_t hi) {
        Tensor tiles = Tensor::empty({2, C, kTileRows});  // logits and targets, class-major
        float* zt = tiles.data();
        float* yt = zt + C * kTileRows;
        alignas(64) float m[kTileRows], S[kTileRows], wy[kTileRows], dot[kTileRows], bad[kTileRows],
            log_sum[kTileRows], loss[kTileRows];
        double chunk_sum = 0.0;
        for (int64_t r0 = lo; r0 < hi; r0 += kTileRows) {
            int n = int(std::min<int64_t>(kTileRows, hi - r0));
            internal::gather_rows(z, layout, r0, n, zt);
            internal::gather_rows(y, layout, r0, n, yt);
            for (int r = 0; r < kTileRows; ++r) {
                m[r] = zt[size_t(r)];
                S[r] = wy[r] = dot[r] = bad[r] = 0.0f;
            }
            for (int64_t j = 1; j < C; ++j) {
                const float* zj = &zt[size_t(j) * kTileRows];
                for (int r = 0; r < kTileRows; ++r) m[r] = zj[r] > m[r] ? zj[r] : m[r];
            }
            for (int64_t j = 0; j < C; ++j) {
                const float wj = w ? w[j] : 1.0f;
                const float* zj = &zt[size_t(j) * kTileRows];
                const float* yj = &yt[size_t(j) * kTileRows];
                for (int r = 0; r < kTileRows; ++r) {
                    float d = zj[r] - m[r];
                    float wyj = wj * (keep * yj[r] + smooth);
                    S[r] += fast_exp(d);
                    wy[r] += wyj;
                    dot[r] += wyj * d;
                    bad[r] += 0.0f * d;
                }
            }
            for (int r = 0; r < kTileRows; ++r) {
                log_sum[r] = fast_log(S[r]);
                loss[r] = wy[r] * log_sum[r] - dot[r];
            }
            // bad: 0, or NaN for a NaN/inf logit
            chunk_sum += internal::block_sum(loss, n) + internal::block_sum(bad, n);
            if (out) std::copy(loss, loss + n, out + r0);
            if (saved) {
                std::copy(m, m + n, saved->max() + r0);
                std::copy(log_sum, log_sum + n, saved->log_sum() + r0);
                std::copy(wy, wy + n, saved->wy() + r0);
            }
        }
        return chunk_sum;
    });
    if (!std::isfinite(sum)) check_finite(kOp, "logits", logits);
    // Finite logits and still not finite: float overflowed, as in the class-index form above.
    if (!std::isfinite(sum)) return reference::cross_entropy(logits, target_probs, options);

    Tensor out_y = reduce_losses(options.reduction, sum, double(layout.rows()), losses);
    if (!saved) return out_y;
    Tensor weight = options.weight;
    const Reduction reduction = options.reduction;
    record(kOp, {logits}, out_y,
           [logits, target_probs, layout, saved, weight, keep, smooth, reduction](const Tensor& dy,
                                                                                  const Tensor&) {
               const int64_t C = layout.classes;
               const float* w = weight.defined() ? weight.data() : nullptr;
               const UpstreamGrad upstream(reduction, dy, double(layout.rows()));
               Tensor dlogits = Tensor::empty(logits.shape());  // [N, C, d1, ...]
               parallel_for(layout.rows(), internal::rows_per_chunk(C), [&](int64_t lo, int64_t hi) {
                   Tensor tiles = Tensor::empty({2, C, kTileRows});  // logits and targets, class-major
                   float* zt = tiles.data();
                   float* yt = zt + C * kTileRows;
                   alignas(64) float g[kTileRows], m[kTileRows], ls[kTileRows], wy[kTileRows];
                   for (int64_t r0 = lo; r0 < hi; r0 += kTileRows) {
                       int n = int(std::min<int64_t>(kTileRows, hi - r0));
                       internal::gather_rows(logits.data(), layout, r0, n, zt);
                       internal::gather_rows(target_probs.data(), layout, r0, n, yt);
                       for (int r = 0; r < kTileRows; ++r) {
                           size_t i = size_t(r0 + (r < n ? r : 0));
                           g[r] = r < n ? upstream(int64_t(i)) : 0.0f;
                           m[r] = saved->max()[i];
                           ls[r] = saved->log_sum()[i];
                           wy[r] = saved->wy()[i];
                       }
                       for (int64_t j = 0; j < C; ++j) {
                           const float wj = w ? w[j] : 1.0f;
                           float* zj = &zt[size_t(j) * kTileRows];
                           const float* yj = &yt[size_t(j) * kTileRows];
                           for (int r = 0; r < kTileRows; ++r) {
                               float p = fast_exp((zj[r] - m[r]) - ls[r]);
                               zj[r] = g[r] * (wy[r] * p - wj * (keep * yj[r] + smooth));
                           }
                       }
                       internal::scatter_rows(zt, layout, r0, n, dlogits.data());
                   }
               });
               accumulate_grad(logits, std::move(dlogits));  // moved: becomes the gradient, no copy
           });
    return out_y;
}

}  // namespace focalgrad
