// focal_loss.cpp — the softmax focal loss, in two forms that compute the same math: first
// reference::focal_loss, per-row loops in double with the factored backward written as the
// math reads; then the fast form, tiled and vectorised (losses/internal/softmax_tiles.h).
// Both are ops on the tape, and tests/test_loss_fast_vs_reference.cpp holds them together.
// The core case comes first; α, ignore_index, [N, C, d1, ...] and the reductions below it.
#include <algorithm>
#include <cmath>
#include <memory>
#include <type_traits>

#include <focalgrad/core/autograd.h>
#include <focalgrad/losses/focal_loss.h>
#include <focalgrad/losses/internal/focal_power.h>
#include <focalgrad/losses/internal/softmax_tiles.h>
#include <focalgrad/losses/loss_toolkit.h>

namespace focalgrad {

// ---- Reference form, the core case: [N, C] logits, class-index targets, no α, Mean ------
//   ℓ_i = -(1 - p_t)^γ log p_t,   log p_t = z_t - log Σ_j e^(z_j),   1 - p_t = Σ_{j≠t} p_j
//   dℓ_i/dz_ij = c_i (p_ij - [j = t_i]),   c_i = (1 - p_t)^γ (1 - γ φ_i),
//   φ_i = p_t log p_t / (1 - p_t), which goes to -1 as p_t -> 1.
// Factored so: the textbook (1 - p_t)^(γ-1) never appears (infinite at p_t = 1 for γ < 1).
Tensor reference::focal_loss(const Tensor& logits, const std::vector<int>& targets, float gamma) {
    constexpr const char* op = "reference::focal_loss";
    const ClassLayout layout = class_layout(op, logits);
    FG_CHECK(layout.positions == 1, op, ": this form takes [N, C] logits, got ", logits.shape(),
             "; pass FocalLossOptions for [N, C, d1, ...]");
    FG_CHECK(int64_t(targets.size()) == layout.rows(), op, ": ", targets.size(), " targets for ",
             logits.shape());
    FG_CHECK(std::isfinite(gamma) && gamma >= 0.0f, op, ": gamma must be a finite number >= 0, got ", gamma);
    check_finite(op, "logits", logits);
    const int64_t N = layout.rows(), C = layout.classes;
    struct Saved {
        std::vector<double> p, c;  // p [N, C] the softmax, c [N] the rows' coefficients
    };
    auto saved =
        std::make_shared<Saved>(Saved{std::vector<double>(size_t(N * C)), std::vector<double>(size_t(N))});
    auto& [p, c] = *saved;
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
        const double log_pt = one_minus_pt < 0.5 ? std::log1p(-one_minus_pt) : z[t] - log_sum;
        const double phi = one_minus_pt > 0.0 ? p[i * C + t] * log_pt / one_minus_pt : -1.0;
        const double focal = std::pow(one_minus_pt, double(gamma));  // (1 - p_t)^γ; 0^0 = 1
        total += -focal * log_pt;
        c[i] = focal * (1.0 - gamma * phi);
    }
    Tensor loss = Tensor::scalar(N > 0 ? float(total / double(N)) : 0.0f);
    record(op, {logits}, loss, [logits, targets, saved, N, C](const Tensor& dloss, const Tensor&) {
        const auto& [p, c] = *saved;
        const double g = double(dloss.item()) / double(N);
        Tensor dlogits = Tensor::empty(logits.shape());
        float* dz = dlogits.data();
        for (int64_t i = 0; i < N; ++i)
            for (int64_t j = 0; j < C; ++j)
                dz[i * C + j] = float(g * c[i] * (p[i * C + j] - (j == targets[i])));
        accumulate_grad(logits, std::move(dlogits));
    });
    return loss;
}

// ---- Fast form: same math as reference::focal_loss, tiled and vectorised -----------------
// With α_t (the weight of the target class, 1 without α) the loss and c_i gain a factor α_t.
// In the engine's terms ("The gradient"): prob_coef = c, target_grad = -c (1 - p_t), no spread.
namespace {

constexpr const char* kOp = "focal_loss";

// α as one weight per class (empty when there is no α), after checking it.
std::vector<float> class_alpha(const char* op, const FocalLossOptions& options, int64_t classes) {
    const Tensor& alpha = options.alpha;
    if (!alpha.defined()) return {};
    if (alpha.dim() == 0) {
        float a = alpha.item();
        FG_CHECK(a >= 0.0f && a <= 1.0f, op, ": a scalar alpha must be in [0, 1], got ", a,
                 " (for other per-class weights pass a [C] vector)");
        FG_CHECK(options.background_class >= 0 && options.background_class < classes, op,
                 ": background_class = ", options.background_class, " is out of range for ", classes,
                 " classes (a scalar alpha gives it 1 - alpha, the others alpha)");
        std::vector<float> per_class(size_t(classes), a);
        per_class[size_t(options.background_class)] = 1.0f - a;
        return per_class;
    }
    FG_CHECK(alpha.dim() == 1, op, ": alpha must be undefined, a 0-d scalar or a [", classes,
             "] vector, got shape ", alpha.shape());
    check_class_vector(op, "alpha", alpha, classes);
    return std::vector<float>(alpha.data(), alpha.data() + classes);
}

void check_gamma(const char* op, float gamma) {
    FG_CHECK(std::isfinite(gamma) && gamma >= 0.0f, op, ": gamma must be a finite number >= 0, got ", gamma);
}

}  // namespace

Tensor focal_loss(const Tensor& logits, const std::vector<int>& targets, const FocalLossOptions& options) {
    const ClassLayout layout = class_layout(kOp, logits);
    const float gamma = options.gamma;
    check_gamma(kOp, gamma);
    const std::vector<float> alpha_c = class_alpha(kOp, options, layout.classes);
    const float* alpha = alpha_c.empty() ? nullptr : alpha_c.data();
    const double denominator = check_targets(kOp, targets, layout, options.ignore_index,
                                             options.normalize_by_alpha ? alpha : nullptr);

    const bool per_row = options.reduction == Reduction::None;
    Tensor losses = per_row ? Tensor::empty(row_shape(logits.shape())) : Tensor();  // [N, d1, ...]
    Tensor grad = needs_grad({logits}) ? Tensor::empty(logits.shape()) : Tensor();  // [N, C, d1, ...]

    internal::SoftmaxForward forward;
    forward.class_weights = alpha;
    forward.per_row_losses = per_row ? losses.data() : nullptr;
    forward.grad = grad.defined() ? grad.data() : nullptr;
    forward.grad_scale = UpstreamGrad::scale_of(options.reduction, denominator);
    // (1 - p_t)^γ: for a whole γ (γ = 2 by default) a few products (focal_power); otherwise
    // e^(γ log(1 - p_t)), log(1 - p_t) = log exp_others - log S, which at p_t = 1 is e^-inf = 0,
    // and γ = 0 is 1 exactly (where 0 * -inf would be NaN). A compile-time choice, so that the
    // vectorised loop over the rows evaluates only one of the two.
    const int whole = internal::whole_gamma(gamma);
    auto forward_pass = [&](auto whole_gamma) {
        return internal::softmax_loss_forward(
            kOp, logits, layout, targets, options.ignore_index, forward,
            [&](const internal::SoftmaxTile& tile, int r, const internal::SoftmaxRow& row) {
                float focal;
                if constexpr (decltype(whole_gamma)::value) {
                    focal = internal::focal_power(row.one_minus_pt, whole);
                } else {
                    focal = fastmath::select(gamma == 0.0f, 1.0f,
                                             fast_exp(gamma * (fast_log(tile.exp_others[r]) - row.log_sum)));
                }
                // φ = p_t log p_t / (1 - p_t) = e_t log p_t / e_others; its limit -1 when p_t = 1.
                float phi = fastmath::select(tile.exp_others[r] > 0.0f,
                                             tile.exp_target[r] * row.log_pt / tile.exp_others[r], -1.0f);
                float coef = row.weight * focal * (1.0f - gamma * phi);  // α_t (1-p_t)^γ (1 - γφ)
                return internal::SoftmaxRowResult{row.weight * focal * -row.log_pt, coef,
                                                  -coef * row.one_minus_pt};
            });
    };
    double sum = whole >= 0 ? forward_pass(std::true_type{}) : forward_pass(std::false_type{});
    // Not finite with finite logits: float overflowed (logits of one row more than FLT_MAX
    // apart, as in a diverged model, or a loss beyond 3.4e38). The reference form computes
    // in double and gives the exact loss (+inf only where it exceeds float) and a finite
    // gradient; such inputs are too rare to need speed.
    if (!std::isfinite(sum)) return reference::focal_loss(logits, targets, options);

    Tensor y = reduce_losses(options.reduction, sum, denominator, losses);
    if (!grad.defined()) return y;
    record(kOp, {logits}, y, [logits, layout, grad, per_row](const Tensor& dy, const Tensor&) mutable {
        internal::scale_by_upstream(grad.data(), layout, per_row, dy.data());
        accumulate_grad(logits, std::move(grad));  // moved: becomes the gradient, no copy
    });
    return y;
}

// ---- Reference form with every option ------------------------------------------------------
// The core case's loops with α_t in ℓ_i and c_i, rows laid out as [N, C, d1, ...], ignored
// rows giving 0, and the reduction's denominator: N_valid, or Σ α_t with normalize_by_alpha.
Tensor reference::focal_loss(const Tensor& logits, const std::vector<int>& targets,
                             const FocalLossOptions& options) {
    constexpr const char* op = "reference::focal_loss";
    const ClassLayout layout = class_layout(op, logits);
    check_gamma(op, options.gamma);
    const std::vector<float> alpha = class_alpha(op, options, layout.classes);
    const double denominator =
        check_targets(op, targets, layout, options.ignore_index,
                      options.normalize_by_alpha && !alpha.empty() ? alpha.data() : nullptr);
    check_finite(op, "logits", logits);
    const int64_t N = layout.rows(), C = layout.classes;
    const double gamma = options.gamma;
    struct Saved {
        std::vector<double> p, c;  // p [N, C] the softmax, c [N] the rows' coefficients (0: ignored)
    };
    auto saved =
        std::make_shared<Saved>(Saved{std::vector<double>(size_t(N * C)), std::vector<double>(size_t(N))});
    auto& [p, c] = *saved;
    std::vector<double> losses(static_cast<size_t>(N)), z(static_cast<size_t>(C));
    for (int64_t i = 0; i < N; ++i) {
        const int t = targets[i];
        if (t == options.ignore_index) continue;
        for (int64_t j = 0; j < C; ++j) z[j] = logits.data()[layout.index(i, j)];
        const double m = *std::max_element(z.begin(), z.end());
        double sum = 0.0;
        for (double zj : z) sum += std::exp(zj - m);
        const double log_sum = m + std::log(sum);
        double one_minus_pt = 0.0;
        for (int64_t j = 0; j < C; ++j) {
            p[i * C + j] = std::exp(z[j] - log_sum);
            if (j != t) one_minus_pt += p[i * C + j];
        }
        const double log_pt = one_minus_pt < 0.5 ? std::log1p(-one_minus_pt) : z[t] - log_sum;
        const double phi = one_minus_pt > 0.0 ? p[i * C + t] * log_pt / one_minus_pt : -1.0;
        const double focal = std::pow(one_minus_pt, gamma);
        const double alpha_t = alpha.empty() ? 1.0 : alpha[t];
        losses[i] = -alpha_t * focal * log_pt;
        c[i] = alpha_t * focal * (1.0 - gamma * phi);
    }
    Tensor y = reduce_losses(options.reduction, losses, denominator, row_shape(logits.shape()));
    const Reduction reduction = options.reduction;
    record(op, {logits}, y,
           [logits, targets, layout, saved, reduction, denominator](const Tensor& dy, const Tensor&) {
               const auto& [p, c] = *saved;
               const UpstreamGrad g(reduction, dy, denominator);  // g(i): what reaches row i's loss
               const int64_t C = layout.classes;
               Tensor dlogits = Tensor::empty(logits.shape());
               float* dz = dlogits.data();
               for (int64_t i = 0; i < layout.rows(); ++i)
                   for (int64_t j = 0; j < C; ++j)
                       dz[layout.index(i, j)] = float(g(i) * c[i] * (p[i * C + j] - (j == targets[i])));
               accumulate_grad(logits, std::move(dlogits));
           });
    return y;
}

}  // namespace focalgrad
