// ops_sort.cpp — topk and sort along one dimension: the selected values (differentiable)
// and where they came from. Hard-example mining is built on topk (losses/hard_mining.h).
// The order is total and deterministic: NaN ranks above every number (as in PyTorch),
// and equal values keep their index order, so ties never depend on the algorithm.
// Not here: sorting by several keys, integer tensors, a k chosen per line.
#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/kernels.h>
#include <focalgrad/core/ops.h>

namespace focalgrad {

namespace {

struct Keyed {
    float value;
    int64_t index;
};

// a ranks before b in descending order: NaN first, then larger values, ties by index.
inline bool before_descending(const Keyed& a, const Keyed& b) {
    bool na = std::isnan(a.value), nb = std::isnan(b.value);
    if (na || nb) return na && (!nb || a.index < b.index);
    return a.value > b.value || (a.value == b.value && a.index < b.index);
}

// a ranks before b in ascending order: smaller values first, NaN last, ties by index.
inline bool before_ascending(const Keyed& a, const Keyed& b) {
    bool na = std::isnan(a.value), nb = std::isnan(b.value);
    if (na || nb) return nb && (!na || a.index < b.index);
    return a.value < b.value || (a.value == b.value && a.index < b.index);
}

// The first k of each [outer, ·, inner] line of x in the order above. Selecting k of n
// costs O(n + k log k) per line: nth_element partitions, then only the k are sorted.
ValuesIndices select_along(const char* op, const Tensor& x, int64_t k, int d, bool descending) {
    DimSplit s = split_at(x.shape(), d);
    FG_CHECK(k >= 0 && k <= s.n, op, ": k = ", k, " is out of range for dim ", d, " of shape ", x.shape(),
             " (expected 0 <= k <= ", s.n, ")");
    Shape out = x.shape();
    out.set(d, k, op);
    Tensor values = Tensor::empty(out);  // [outer, k, inner]
    std::vector<int64_t> indices(size_t(values.numel()));
    const float* px = x.data();
    float* pv = values.data();
    auto before = descending ? before_descending : before_ascending;
    int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, s.n));
    parallel_for(s.outer * s.inner, grain, [&](int64_t lo, int64_t hi) {
        std::vector<Keyed> line(size_t(s.n));
        for (int64_t r = lo; r < hi; ++r) {
            int64_t o = r / s.inner, kk = r % s.inner;
            const float* src = px + o * s.n * s.inner + kk;  // element i is src[i * inner]
            for (int64_t i = 0; i < s.n; ++i) line[size_t(i)] = {src[i * s.inner], i};
            if (k < s.n) std::nth_element(line.begin(), line.begin() + k, line.end(), before);
            std::sort(line.begin(), line.begin() + k, before);
            for (int64_t j = 0; j < k; ++j) {
                int64_t at = (o * k + j) * s.inner + kk;
                pv[at] = line[size_t(j)].value;
                indices[size_t(at)] = line[size_t(j)].index;
            }
        }
    });
    return {values, std::move(indices)};
}

// The gradient of a selection goes back to where each value came from:
// dx[o, index[o, j, k], k] += dy[o, j, k], zero for the elements not selected.
void record_selection(const char* op, const Tensor& x, int d, ValuesIndices& r) {
    if (!needs_grad({x})) return;
    DimSplit s = split_at(x.shape(), d);
    int64_t k = r.values.shape()[d];
    auto saved = std::make_shared<std::vector<int64_t>>(r.indices);
    record(op, {x}, r.values, [x, s, k, saved](const Tensor& dy, const Tensor&) {
        Tensor dx = Tensor::zeros(x.shape());
        const float* pdy = dy.data();
        float* pdx = dx.data();
        for (int64_t o = 0; o < s.outer; ++o)
            for (int64_t j = 0; j < k; ++j)
                for (int64_t kk = 0; kk < s.inner; ++kk) {
                    int64_t at = (o * k + j) * s.inner + kk;
                    pdx[(o * s.n + (*saved)[size_t(at)]) * s.inner + kk] += pdy[at];
                }
        accumulate_grad(x, std::move(dx));
    });
}

}  // namespace

// values[o, j, k] = x[o, index[o, j, k], k], the k largest (smallest) along dim, in order
//                   dx[o, index[o, j, k], k] += dvalues[o, j, k]
ValuesIndices topk(const Tensor& x, int64_t k, int64_t dim, bool largest) {
    int d = normalize_dim(dim, x.dim(), "topk");
    ValuesIndices r = select_along("topk", x, k, d, largest);
    record_selection("topk", x, d, r);
    return r;
}

// topk with k = the whole dimension: a permutation of each line
ValuesIndices sort(const Tensor& x, int64_t dim, bool descending) {
    int d = normalize_dim(dim, x.dim(), "sort");
    ValuesIndices r = select_along("sort", x, x.shape()[d], d, descending);
    record_selection("sort", x, d, r);
    return r;
}

}  // namespace focalgrad
