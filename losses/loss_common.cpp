// loss_common.cpp — layout, argument checks, tile copies and the shared softmax backward.
#include <cmath>

#include <focalgrad/losses/loss_common.h>

namespace focalgrad {
namespace detail {

// ---- Layout and checks ----------------------------------------------------------------

ClassLayout class_layout(const char* op, const Tensor& logits) {
    FG_CHECK(logits.defined(), op, ": logits is an undefined tensor");
    FG_CHECK(logits.dim() >= 2, op, ": expected logits of shape [N, C] or [N, C, d1, ...], got ",
             logits.shape(), " (for a single sample, reshape it to [1, C])");
    ClassLayout L;
    L.outer = logits.size(0);
    L.classes = logits.size(1);
    FG_CHECK(L.classes >= 1, op, ": logits of shape ", logits.shape(), " have no classes (C = 0)");
    for (int d = 2; d < logits.dim(); ++d) L.inner *= logits.shape()[d];
    return L;
}

Shape row_shape(const Shape& logits_shape) {
    Shape s;
    s.push_back(logits_shape[0]);
    for (int d = 2; d < logits_shape.size(); ++d) s.push_back(logits_shape[d]);
    return s;
}

double check_targets(const char* op, const std::vector<int>& targets, const ClassLayout& L, int ignore_index,
                     const float* weight) {
    FG_CHECK(int64_t(targets.size()) == L.rows(), op, ": got ", targets.size(), " targets for logits with ",
             L.rows(), " rows (N = ", L.outer, L.inner > 1 ? " times the positions d1...dk" : "",
             "); expected one class index per row");
    const int* t = targets.data();
    const int64_t C = L.classes;
    // A bad target turns its chunk's sum into NaN; only then do we look for it. Without
    // weights the rows that count are counted in an integer, which vectorises.
    double total = parallel_sum(L.rows(), kGrain, [&](int64_t lo, int64_t hi) {
        int64_t bad = 0, counted = 0;
        double sum = 0.0;
        for (int64_t i = lo; i < hi; ++i) {
            bool ignored = t[i] == ignore_index, in_range = t[i] >= 0 && t[i] < C;
            bad += !ignored && !in_range;
            counted += !ignored && in_range;
        }
        if (bad) return double(NAN);
        if (!weight) return double(counted);
        for (int64_t i = lo; i < hi; ++i)
            if (t[i] != ignore_index) sum += double(weight[t[i]]);
        return sum;
    });
    if (std::isnan(total)) {
        for (int64_t i = 0; i < L.rows(); ++i)
            FG_CHECK(t[i] == ignore_index || (t[i] >= 0 && t[i] < C), op, ": target ", t[i], " at row ", i,
                     " is out of range for ", C, " classes (expected 0 <= target < ", C,
                     ", or ignore_index = ", ignore_index, ")");
    }
    return total;
}

void check_class_vector(const char* op, const char* name, const Tensor& v, int64_t classes) {
    if (!v.defined()) return;
    FG_CHECK(v.dim() == 1 && v.size(0) == classes, op, ": ", name, " must have shape [", classes,
             "] (one entry per class), got ", v.shape());
    for (int64_t j = 0; j < classes; ++j) {
        float x = v.data()[j];
        FG_CHECK(std::isfinite(x) && x >= 0.0f, op, ": ", name, "[", j, "] = ", x,
                 " (entries must be finite and >= 0)");
    }
}

void throw_if_non_finite(const char* op, const char* name, const Tensor& x) {
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

void check_target_tensor(const char* op, const Tensor& logits, const Tensor& targets) {
    FG_CHECK(logits.defined() && targets.defined(), op, ": logits and targets must be defined");
    FG_CHECK(logits.shape() == targets.shape(), op, ": logits have shape ", logits.shape(),
             " but targets have shape ", targets.shape(), "; expected the same shape");
    const float* y = targets.data();
    // The comparison is false for NaN, so a NaN target fails the check too. Counted in an
    // integer, which vectorises (a double running sum would not).
    double bad = parallel_sum(targets.numel(), kGrain, [y](int64_t lo, int64_t hi) {
        int64_t n = 0;
        for (int64_t i = lo; i < hi; ++i) n += !(y[i] >= 0.0f) | !(y[i] <= 1.0f);  // | not ||: no branch
        return double(n);
    });
    if (bad == 0.0) return;
    for (int64_t i = 0; i < targets.numel(); ++i)
        FG_CHECK(y[i] >= 0.0f && y[i] <= 1.0f, op, ": targets must lie in [0, 1], got ", y[i],
                 " at flat index ", i);
}

// ---- Tiles ----------------------------------------------------------------------------

void gather_rows(const float* src, const ClassLayout& L, int64_t row0, int n, float* dst) {
    const int64_t C = L.classes, inner = L.inner;
    if (inner == 1) {  // [N, C]: the n rows are one contiguous n x C block to transpose
        const float* block = src + row0 * C;
        for (int r = 0; r < n; ++r)
            for (int64_t j = 0; j < C; ++j) dst[j * kTileRows + r] = block[r * C + j];
    } else {
        int64_t o = row0 / inner, k = row0 % inner;
        for (int r = 0; r < n; ++r) {
            const float* row = src + o * C * inner + k;
            for (int64_t j = 0; j < C; ++j) dst[j * kTileRows + r] = row[j * inner];
            if (++k == inner) k = 0, ++o;
        }
    }
    for (int64_t j = 0; j < C; ++j)
        for (int r = n; r < kTileRows; ++r) dst[j * kTileRows + r] = 0.0f;
}

void scatter_rows(const float* src, const ClassLayout& L, int64_t row0, int n, float* dst) {
    const int64_t C = L.classes, inner = L.inner;
    if (inner == 1) {
        float* block = dst + row0 * C;
        for (int r = 0; r < n; ++r)
            for (int64_t j = 0; j < C; ++j) block[r * C + j] = src[j * kTileRows + r];
        return;
    }
    int64_t o = row0 / inner, k = row0 % inner;
    for (int r = 0; r < n; ++r) {
        float* row = dst + o * C * inner + k;
        for (int64_t j = 0; j < C; ++j) row[j * inner] = src[j * kTileRows + r];
        if (++k == inner) k = 0, ++o;
    }
}

void load_tile(const float* logits, const ClassLayout& L, int64_t row0, int n,
               const std::vector<int>& targets, int ignore_index, SoftmaxTile& tile) {
    gather_rows(logits, L, row0, n, tile.z.data());
    for (int r = 0; r < kTileRows; ++r) {
        int t = r < n ? targets[size_t(row0 + r)] : -1;
        tile.target[r] = t == ignore_index ? -1 : t;
    }
}

// ---- The shared softmax backward --------------------------------------------------------

namespace {

// What every tile of the backward reads and writes.
struct BackwardPass {
    const float* z;
    const ClassLayout& L;
    const SoftmaxSaved& saved;
    const float* v;   // [C] or null (all ones)
    const float* dy;  // one value per row, or one in all
    bool per_row;
    float scale;
    float* dz;

    float g(int64_t i) const { return scale * (per_row ? dy[i] : dy[0]); }
    float b(int64_t i) const { return saved.target()[i] >= 0.0f ? saved.b : 0.0f; }
};

// A tile of [N, C] logits, computed in place in dz's own memory: the rows are contiguous,
// so no class-major copy is needed (it would cost two transposes). Three passes over the
// tile's n x C values, all in L1: shift, one flat vectorised exp, scale.
void contiguous_tile_backward(const BackwardPass& P, int64_t row0, int n) {
    const int64_t C = P.L.classes;
    const float* in = P.z + row0 * C;
    float* out = P.dz + row0 * C;
    for (int r = 0; r < n; ++r) {
        const float m = P.saved.max()[row0 + r], ls = P.saved.log_sum()[row0 + r];
        for (int64_t j = 0; j < C; ++j) out[r * C + j] = (in[r * C + j] - m) - ls;
    }
    for (int64_t k = 0; k < n * C; ++k) out[k] = fast_exp(out[k]);  // p
    for (int r = 0; r < n; ++r) {
        const int64_t i = row0 + r;
        const float g = P.g(i), ga = g * P.saved.a()[i], gb = g * P.b(i);
        float* row = out + r * C;
        if (P.v) {
            for (int64_t j = 0; j < C; ++j) row[j] = ga * row[j] - gb * P.v[j];
        } else {
            for (int64_t j = 0; j < C; ++j) row[j] = ga * row[j] - gb;
        }
        const int t = int(P.saved.target()[i]);
        if (t >= 0) row[t] = g * P.saved.dt()[i];
    }
}

// A tile of [N, C, d1, ...] logits, whose rows are strided: through a class-major copy.
void strided_tile_backward(const BackwardPass& P, int64_t row0, int n, float* tile) {
    alignas(64) float g[kTileRows], a[kTileRows], b[kTileRows], m[kTileRows], ls[kTileRows];
    gather_rows(P.z, P.L, row0, n, tile);
    for (int r = 0; r < kTileRows; ++r) {
        const bool real = r < n;
        const int64_t i = row0 + (real ? r : 0);
        g[r] = real ? P.g(i) : 0.0f;
        a[r] = real ? P.saved.a()[i] : 0.0f;
        b[r] = real ? P.b(i) : 0.0f;
        m[r] = P.saved.max()[i];
        ls[r] = P.saved.log_sum()[i];
    }
    for (int64_t j = 0; j < P.L.classes; ++j) {
        float* zj = tile + j * kTileRows;
        const float vj = P.v ? P.v[j] : 1.0f;
        for (int r = 0; r < kTileRows; ++r)
            zj[r] = g[r] * (a[r] * fast_exp((zj[r] - m[r]) - ls[r]) - b[r] * vj);
    }
    for (int r = 0; r < n; ++r) {
        const int t = int(P.saved.target()[row0 + r]);
        if (t >= 0) tile[t * kTileRows + r] = g[r] * P.saved.dt()[row0 + r];
    }
    scatter_rows(tile, P.L, row0, n, P.dz);
}

}  // namespace

Tensor softmax_backward(const Tensor& logits, const ClassLayout& L, const SoftmaxSaved& saved, const float* v,
                        const Tensor& dy, bool per_row, float scale) {
    Tensor dlogits = Tensor::empty(logits.shape());  // [N, C, d1, ...]
    const BackwardPass P{logits.data(), L, saved, v, dy.data(), per_row, scale, dlogits.data()};
    parallel_for(L.rows(), rows_per_chunk(L.classes), [&](int64_t lo, int64_t hi) {
        std::vector<float> tile(L.inner == 1 ? 0 : size_t(L.classes) * kTileRows);  // [C, kTileRows]
        for (int64_t r0 = lo; r0 < hi; r0 += kTileRows) {
            int n = int(std::min<int64_t>(kTileRows, hi - r0));
            if (L.inner == 1)
                contiguous_tile_backward(P, r0, n);
            else
                strided_tile_backward(P, r0, n, tile.data());
        }
    });
    return dlogits;
}

}  // namespace detail
}  // namespace focalgrad
