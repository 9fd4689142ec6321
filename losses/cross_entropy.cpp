// cross_entropy.cpp — the fused forward passes and backward closures of cross_entropy, for
// class-index and for probability targets. The tile machinery is in loss_common.h.
#include <cmath>
#include <memory>
#include <utility>

#include <focalgrad/core/autograd.h>
#include <focalgrad/losses/cross_entropy.h>
#include <focalgrad/losses/loss_common.h>

namespace focalgrad {

using namespace detail;

namespace {

constexpr const char* kOp = "cross_entropy";

void check_options(const CrossEntropyOptions& options, int64_t classes) {
    FG_CHECK(options.label_smoothing >= 0.0f && options.label_smoothing < 1.0f, kOp,
             ": label_smoothing must be in [0, 1), got ", options.label_smoothing);
    check_class_vector(kOp, "weight", options.weight, classes);
}

}  // namespace

// ---- Class-index targets ----------------------------------------------------------------
//   ℓ = (1-ε) w_t (-log p_t) + (ε/C) Σ_c w_c (-log p_c)
//   dℓ/dz_j = a p_j - (ε/C) w_j - (1-ε) w_t [j = t],   a = (1-ε) w_t + (ε/C) Σ_c w_c
Tensor cross_entropy(const Tensor& logits, const std::vector<int>& targets,
                     const CrossEntropyOptions& options) {
    const ClassLayout L = class_layout(kOp, logits);
    check_options(options, L.classes);
    const float* w = options.weight.defined() ? options.weight.data() : nullptr;
    const double denominator = check_targets(kOp, targets, L, options.ignore_index, w);

    const int64_t C = L.classes;
    const float eps = options.label_smoothing;
    const float smooth = eps / float(C);
    // Σ_c log p_c needs Σ_c w_c (z_c - m): the tile computes it against v = w (or ones).
    std::vector<float> ones;
    const float* v = w;
    if (!v && eps > 0.0f) {
        ones.assign(size_t(C), 1.0f);
        v = ones.data();
    }
    float W = float(C);  // Σ_c w_c
    if (w) {
        double total_w = 0.0;
        for (int64_t c = 0; c < C; ++c) total_w += w[c];
        W = float(total_w);
    }

    const bool per_row = options.reduction == Reduction::None;
    Tensor losses = per_row ? Tensor::empty(row_shape(logits.shape())) : Tensor();  // [N, d1, ...]
    float* out = per_row ? losses.data() : nullptr;
    auto saved = needs_grad({logits}) ? std::make_shared<SoftmaxSaved>(L.rows()) : nullptr;
    if (saved) saved->b = smooth;

    double sum = softmax_loss_forward(
        kOp, logits, L, targets, options.ignore_index, w, eps > 0.0f ? v : nullptr, out, saved.get(),
        [&](const SoftmaxTile& tile, int r, const SoftmaxRow& row) {
            float smooth_loss = W * row.log_sum - tile.dot[r];  // Σ_c w_c (-log p_c)
            return SoftmaxRowLoss{
                (1.0f - eps) * row.weight * -row.log_pt + smooth * smooth_loss,
                (1.0f - eps) * row.weight + smooth * W,
                -(1.0f - eps) * row.weight * row.one_minus_pt + smooth * (W * row.pt - row.weight)};
        });

    Tensor y = reduced_output(options.reduction, sum, denominator, losses);
    if (!saved) return y;
    const float scale = options.reduction == Reduction::Mean ? mean_scale(denominator) : 1.0f;
    Tensor weight = options.weight;
    record(kOp, {logits}, y, [logits, L, saved, weight, per_row, scale](const Tensor& dy, const Tensor&) {
        const float* v = weight.defined() ? weight.data() : nullptr;
        accumulate_grad(logits, softmax_backward(logits, L, *saved, v, dy, per_row, scale));
    });
    return y;
}

// ---- Probability targets ----------------------------------------------------------------
//   ℓ = -Σ_c w_c y'_c log p_c = Wy log S - Σ_c w_c y'_c (z_c - m),   Wy = Σ_c w_c y'_c
//   dℓ/dz_j = Wy p_j - w_j y'_j,     y' = (1-ε) y + ε/C
namespace {

// Per row: the max and log-sum of the forward, and Wy.
struct SoftSaved {
    explicit SoftSaved(int64_t rows) : buffer(3 * rows), rows(rows) {}
    PooledFloats buffer;  // [3, rows]
    int64_t rows;
    float* max() const { return buffer.data(); }
    float* log_sum() const { return buffer.data() + rows; }
    float* wy() const { return buffer.data() + 2 * rows; }
};

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target_probs, const CrossEntropyOptions& options) {
    const ClassLayout L = class_layout(kOp, logits);
    check_options(options, L.classes);
    FG_CHECK(options.ignore_index < 0, kOp, ": ignore_index = ", options.ignore_index,
             " cannot be used with probability targets (no row can be ignored); leave it "
             "negative, as in PyTorch");
    check_target_tensor(kOp, logits, target_probs);

    const int64_t C = L.classes;
    const float* w = options.weight.defined() ? options.weight.data() : nullptr;
    const float keep = 1.0f - options.label_smoothing;
    const float smooth = options.label_smoothing / float(C);
    const bool per_row = options.reduction == Reduction::None;
    Tensor losses = per_row ? Tensor::empty(row_shape(logits.shape())) : Tensor();  // [N, d1, ...]
    float* out = per_row ? losses.data() : nullptr;
    auto saved = needs_grad({logits}) ? std::make_shared<SoftSaved>(L.rows()) : nullptr;
    const float* z = logits.data();
    const float* y = target_probs.data();

    double sum = parallel_sum(L.rows(), rows_per_chunk(C), [&](int64_t lo, int64_t hi) {
        std::vector<float> zt(size_t(C) * kTileRows), yt(size_t(C) * kTileRows);  // [C, kTileRows]
        alignas(64) float m[kTileRows], S[kTileRows], wy[kTileRows], dot[kTileRows], bad[kTileRows],
            log_sum[kTileRows], loss[kTileRows];
        double chunk_sum = 0.0;
        for (int64_t r0 = lo; r0 < hi; r0 += kTileRows) {
            int n = int(std::min<int64_t>(kTileRows, hi - r0));
            gather_rows(z, L, r0, n, zt.data());
            gather_rows(y, L, r0, n, yt.data());
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
            chunk_sum += block_sum(loss, n) + block_sum(bad, n);  // bad: 0, or NaN for a NaN/inf logit
            if (out) std::copy(loss, loss + n, out + r0);
            if (saved) {
                std::copy(m, m + n, saved->max() + r0);
                std::copy(log_sum, log_sum + n, saved->log_sum() + r0);
                std::copy(wy, wy + n, saved->wy() + r0);
            }
        }
        return chunk_sum;
    });
    if (!std::isfinite(sum)) throw_if_non_finite(kOp, "logits", logits);

    Tensor out_y = reduced_output(options.reduction, sum, double(L.rows()), losses);
    if (!saved) return out_y;
    const float scale = options.reduction == Reduction::Mean ? mean_scale(double(L.rows())) : 1.0f;
    Tensor weight = options.weight;
    record(kOp, {logits}, out_y,
           [logits, target_probs, L, saved, weight, keep, smooth, per_row, scale](const Tensor& dy,
                                                                                  const Tensor&) {
               const int64_t C = L.classes;
               const float* w = weight.defined() ? weight.data() : nullptr;
               const float* pdy = dy.data();
               Tensor dlogits = Tensor::empty(logits.shape());  // [N, C, d1, ...]
               parallel_for(L.rows(), rows_per_chunk(C), [&](int64_t lo, int64_t hi) {
                   std::vector<float> zt(size_t(C) * kTileRows), yt(size_t(C) * kTileRows);
                   alignas(64) float g[kTileRows], m[kTileRows], ls[kTileRows], wy[kTileRows];
                   for (int64_t r0 = lo; r0 < hi; r0 += kTileRows) {
                       int n = int(std::min<int64_t>(kTileRows, hi - r0));
                       gather_rows(logits.data(), L, r0, n, zt.data());
                       gather_rows(target_probs.data(), L, r0, n, yt.data());
                       for (int r = 0; r < kTileRows; ++r) {
                           size_t i = size_t(r0 + (r < n ? r : 0));
                           g[r] = r < n ? scale * (per_row ? pdy[i] : pdy[0]) : 0.0f;
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
                       scatter_rows(zt.data(), L, r0, n, dlogits.data());
                   }
               });
               accumulate_grad(logits, std::move(dlogits));  // moved: becomes the gradient, no copy
           });
    return out_y;
}

}  // namespace focalgrad
