// loss_toolkit.cpp — layout, argument checks and reductions shared by every loss.
#include <algorithm>
#include <cfloat>
#include <cmath>

#include <focalgrad/core/error.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/losses/loss_toolkit.h>

namespace focalgrad {

// ---- Layout ---------------------------------------------------------------------------

ClassLayout class_layout(const char* op, const Tensor& logits) {
    FG_CHECK(logits.defined(), op, ": logits is an undefined tensor");
    FG_CHECK(logits.dim() >= 2, op, ": expected logits of shape [N, C] or [N, C, d1, ...], got ",
             logits.shape(), " (for a single sample, reshape it to [1, C])");
    ClassLayout layout;
    layout.batch = logits.size(0);
    layout.classes = logits.size(1);
    FG_CHECK(layout.classes >= 1, op, ": logits of shape ", logits.shape(), " have no classes (C = 0)");
    for (int d = 2; d < logits.dim(); ++d) layout.positions *= logits.shape()[d];
    return layout;
}

Shape row_shape(const Shape& logits_shape) {
    Shape s;
    s.push_back(logits_shape[0]);
    for (int d = 2; d < logits_shape.size(); ++d) s.push_back(logits_shape[d]);
    return s;
}

// ---- Checks ---------------------------------------------------------------------------

double check_targets(const char* op, const std::vector<int>& targets, const ClassLayout& layout,
                     int ignore_index, const float* class_weights) {
    FG_CHECK(int64_t(targets.size()) == layout.rows(), op, ": got ", targets.size(),
             " targets for logits with ", layout.rows(), " rows (N = ", layout.batch,
             layout.positions > 1 ? " times the positions d1...dk" : "",
             "); expected one class index per row");
    const int* t = targets.data();
    const int64_t C = layout.classes;
    // A bad target turns its chunk's sum into NaN; only then do we look for it. Without
    // weights the rows that count are counted in an integer, which vectorises: 32-bit
    // counters, like the targets (a chunk has kGrain rows), and one unsigned comparison for
    // 0 <= t < C.
    const uint32_t classes = uint32_t(std::min<int64_t>(C, INT32_MAX));
    double total = parallel_sum(layout.rows(), kGrain, [&](int64_t lo, int64_t hi) {
        int32_t bad = 0, counted = 0;
        double sum = 0.0;
        for (int64_t i = lo; i < hi; ++i) {
            int32_t ignored = t[i] == ignore_index, in_range = uint32_t(t[i]) < classes;
            bad += (ignored | in_range) ^ 1;
            counted += in_range & (ignored ^ 1);
        }
        if (bad) return double(NAN);
        if (!class_weights) return double(counted);
        for (int64_t i = lo; i < hi; ++i)
            if (t[i] != ignore_index) sum += double(class_weights[t[i]]);
        return sum;
    });
    if (std::isnan(total)) {
        for (int64_t i = 0; i < layout.rows(); ++i)
            FG_CHECK(t[i] == ignore_index || (t[i] >= 0 && t[i] < C), op, ": target ", t[i], " at row ", i,
                     " is out of range for ", C, " classes (expected 0 <= target < ", C,
                     ", or ignore_index = ", ignore_index, ")");
    }
    return total;
}

void check_class_vector(const char* op, const char* name, const Tensor& values, int64_t classes,
                        float upper) {
    if (!values.defined()) return;
    FG_CHECK(values.dim() == 1 && values.size(0) == classes, op, ": ", name, " must have shape [", classes,
             "] (one entry per class), got ", values.shape());
    for (int64_t j = 0; j < classes; ++j) {
        float x = values.data()[j];
        if (std::isinf(upper))
            FG_CHECK(std::isfinite(x) && x >= 0.0f, op, ": ", name, "[", j, "] = ", x,
                     " (entries must be finite and >= 0)");
        else
            FG_CHECK(x >= 0.0f && x <= upper, op, ": ", name, "[", j, "] = ", x, " (entries must lie in [0, ",
                     upper, "])");
    }
}

void check_target_tensor(const char* op, const Tensor& logits, const Tensor& targets, bool values) {
    FG_CHECK(logits.defined() && targets.defined(), op, ": logits and targets must be defined");
    FG_CHECK(logits.shape() == targets.shape(), op, ": logits have shape ", logits.shape(),
             " but targets have shape ", targets.shape(), "; expected the same shape");
    if (!values) return;
    const float* y = targets.data();
    // The comparison is false for NaN, so a NaN target fails the check too. Counted in an
    // integer, which vectorises (a double running sum would not).
    double bad = parallel_sum(targets.numel(), kGrain, [y](int64_t lo, int64_t hi) {
        int64_t n = 0;
        for (int64_t i = lo; i < hi; ++i) n += !target_in_range(y[i]);
        return double(n);
    });
    if (bad == 0.0) return;
    for (int64_t i = 0; i < targets.numel(); ++i)
        FG_CHECK(target_in_range(y[i]), op, ": targets must lie in [0, 1], got ", y[i], " at flat index ", i);
}

void check_element_weights(const char* op, const Tensor& targets, const Tensor& weights, bool values) {
    if (!weights.defined()) return;
    FG_CHECK(weights.shape() == targets.shape(), op, ": element weights have shape ", weights.shape(),
             " but targets have shape ", targets.shape(),
             "; expected one weight per element (0 ignores an element)");
    if (!values) return;
    const float* w = weights.data();
    // As in check_target_tensor: false for NaN too, counted in an integer.
    double bad = parallel_sum(weights.numel(), kGrain, [w](int64_t lo, int64_t hi) {
        int64_t n = 0;
        for (int64_t i = lo; i < hi; ++i) n += !weight_in_range(w[i]);
        return double(n);
    });
    if (bad == 0.0) return;
    for (int64_t i = 0; i < weights.numel(); ++i)
        FG_CHECK(weight_in_range(w[i]), op, ": element weights must be finite and >= 0, got ", w[i],
                 " at flat index ", i, " (0 ignores an element)");
}

void check_finite(const char* op, const char* name, const Tensor& x) {
    const float* p = x.data();
    for (int64_t i = 0; i < x.numel(); ++i) {
        if (std::isfinite(p[i])) continue;
        // The multi-index of flat position i, e.g. [3, 7] for row 3, class 7.
        std::vector<int64_t> index(size_t(x.dim()));
        int64_t rest = i;
        for (int d = x.dim() - 1; d >= 0; --d) {
            index[size_t(d)] = rest % x.shape()[d];
            rest /= x.shape()[d];
        }
        Shape at(index);
        throw Error(str(op, ": ", name, " of shape ", x.shape(), " contain ", p[i], " at ", at,
                        "; losses need finite ", name,
                        " (a NaN or inf usually means the model "
                        "diverged: lower the learning rate, or use set_detect_anomaly(true) to "
                        "find the op that produced it)"));
    }
}

// ---- Reductions -----------------------------------------------------------------------

double mean_denominator(const char* op, Reduction reduction, const std::optional<double>& normalizer,
                        double otherwise) {
    if (!normalizer) return otherwise;
    FG_CHECK(reduction == Reduction::Mean, op,
             ": a normalizer divides the summed loss, so it needs Reduction::Mean, got Reduction::",
             reduction, " (drop the normalizer, or ask for Mean)");
    FG_CHECK(std::isfinite(*normalizer) && *normalizer >= 0.0, op,
             ": normalizer must be a finite number >= 0 (e.g. the number of positive anchors), got ",
             *normalizer);
    return std::max(*normalizer, 1.0);
}

Tensor reduce_losses(Reduction reduction, double sum, double denominator, Tensor per_row) {
    switch (reduction) {
        case Reduction::None: return per_row;
        case Reduction::Sum: return Tensor::scalar(float(sum));
        case Reduction::Mean: break;
    }
    return Tensor::scalar(denominator > 0 ? float(sum / denominator) : 0.0f);  // a mean over nothing is 0
}

Tensor reduce_losses(Reduction reduction, const std::vector<double>& losses, double denominator,
                     const Shape& shape) {
    Tensor per_row;
    if (reduction == Reduction::None) {
        per_row = Tensor::empty(shape);
        FG_CHECK(per_row.numel() == int64_t(losses.size()), "reduce_losses: ", losses.size(),
                 " losses for the shape ", shape);
        for (size_t i = 0; i < losses.size(); ++i) per_row.data()[i] = float(losses[i]);
    }
    double sum = 0.0;
    for (double loss : losses) sum += loss;
    return reduce_losses(reduction, sum, denominator, per_row);
}

UpstreamGrad::UpstreamGrad(Reduction reduction, const Tensor& dy, double denominator)
    : dy(dy.data()), per_row(reduction == Reduction::None), scale(scale_of(reduction, denominator)) {}

float UpstreamGrad::scale_of(Reduction reduction, double denominator) {
    if (reduction != Reduction::Mean) return 1.0f;
    return denominator > 0 ? float(1.0 / denominator) : 0.0f;
}

}  // namespace focalgrad
