// focal_loss.cpp — the fused softmax focal loss: forward over class-major tiles, the shared
// softmax backward (loss_common.h) with the focal coefficient.
#include <cmath>
#include <memory>

#include <focalgrad/core/autograd.h>
#include <focalgrad/losses/focal_loss.h>
#include <focalgrad/losses/loss_common.h>

namespace focalgrad {

using namespace detail;

namespace {

constexpr const char* kOp = "focal_loss";

// α as one weight per class (empty when there is no α), after checking it.
std::vector<float> class_alpha(const FocalLossOptions& options, int64_t classes) {
    const Tensor& alpha = options.alpha;
    if (!alpha.defined()) return {};
    if (alpha.dim() == 0) {
        float a = alpha.item();
        FG_CHECK(a >= 0.0f && a <= 1.0f, kOp, ": a scalar alpha must be in [0, 1], got ", a,
                 " (for other per-class weights pass a [C] vector)");
        FG_CHECK(options.background_class >= 0 && options.background_class < classes, kOp,
                 ": background_class = ", options.background_class, " is out of range for ", classes,
                 " classes (a scalar alpha gives it 1 - alpha, the others alpha)");
        std::vector<float> per_class(size_t(classes), a);
        per_class[size_t(options.background_class)] = 1.0f - a;
        return per_class;
    }
    FG_CHECK(alpha.dim() == 1, kOp, ": alpha must be undefined, a 0-d scalar or a [", classes,
             "] vector, got shape ", alpha.shape());
    check_class_vector(kOp, "alpha", alpha, classes);
    return std::vector<float>(alpha.data(), alpha.data() + classes);
}

}  // namespace

//   ℓ = -α_t (1 - p_t)^γ log p_t
//   dℓ/dz_j = c (p_j - [j = t]),   c = α_t (1 - p_t)^γ (1 - γ φ),   φ = p_t log p_t / (1 - p_t)
Tensor focal_loss(const Tensor& logits, const std::vector<int>& targets, const FocalLossOptions& options) {
    const ClassLayout L = class_layout(kOp, logits);
    const float gamma = options.gamma;
    FG_CHECK(std::isfinite(gamma) && gamma >= 0.0f, kOp, ": gamma must be a finite number >= 0, got ", gamma);
    const std::vector<float> alpha_c = class_alpha(options, L.classes);
    const float* alpha = alpha_c.empty() ? nullptr : alpha_c.data();
    const double denominator =
        check_targets(kOp, targets, L, options.ignore_index, options.normalize_by_alpha ? alpha : nullptr);

    const bool per_row = options.reduction == Reduction::None;
    Tensor losses = per_row ? Tensor::empty(row_shape(logits.shape())) : Tensor();  // [N, d1, ...]
    float* out = per_row ? losses.data() : nullptr;
    auto saved = needs_grad({logits}) ? std::make_shared<SoftmaxSaved>(L.rows()) : nullptr;

    double sum = softmax_loss_forward(
        kOp, logits, L, targets, options.ignore_index, alpha, nullptr, out, saved.get(),
        [&](const SoftmaxTile& tile, int r, const SoftmaxRow& row) {
            // (1 - p_t)^γ = e^(γ log(1 - p_t)), log(1 - p_t) = log e_others - log S; at p_t = 1
            // that is e^-inf = 0, and γ = 0 is 1 exactly (where 0 * -inf would be NaN).
            float focal = fastmath::select(gamma == 0.0f, 1.0f,
                                           fast_exp(gamma * (fast_log(tile.e_others[r]) - row.log_sum)));
            // φ = p_t log p_t / (1 - p_t) = e_t log p_t / e_others; its limit -1 when p_t = 1.
            float phi = fastmath::select(tile.e_others[r] > 0.0f,
                                         tile.e_target[r] * row.log_pt / tile.e_others[r], -1.0f);
            float coef = row.weight * focal * (1.0f - gamma * phi);  // α_t (1-p_t)^γ (1 - γφ)
            return SoftmaxRowLoss{row.weight * focal * -row.log_pt, coef, -coef * row.one_minus_pt};
        });

    Tensor y = reduced_output(options.reduction, sum, denominator, losses);
    if (!saved) return y;
    const float scale = options.reduction == Reduction::Mean ? mean_scale(denominator) : 1.0f;
    record(kOp, {logits}, y, [logits, L, saved, per_row, scale](const Tensor& dy, const Tensor&) {
        accumulate_grad(logits, softmax_backward(logits, L, *saved, nullptr, dy, per_row, scale));
    });
    return y;
}

}  // namespace focalgrad
