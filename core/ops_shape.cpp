// ops_shape.cpp — ops that move elements without changing them: reshape (shares
// storage), transpose / permute (copy into the new order), concat, index_select, gather.
// Each backward moves the gradient back the same way, in reverse.
#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/internal/conv_gemm.h>
#include <focalgrad/core/kernels.h>
#include <focalgrad/core/ops.h>

namespace focalgrad {

namespace {

// The shape `sizes` describes for x's element count, with at most one -1 inferred.
Shape infer_shape(const Tensor& x, const std::vector<int64_t>& sizes, const char* op) {
    int infer = -1;
    std::vector<int64_t> given = sizes;  // with the -1 as 0, which the product skips
    for (size_t d = 0; d < sizes.size(); ++d) {
        if (sizes[d] == -1) {
            FG_CHECK(infer < 0, op, ": only one size may be -1 (dims ", infer, " and ", d, " are)");
            infer = int(d);
            given[d] = 0;
        } else {
            FG_CHECK(sizes[d] >= 0, op, ": sizes must be >= 0 or -1, got ", sizes[d], " at dim ", d);
        }
    }
    // Checked before any product: sizes like [2^62 + 1, 4] would wrap around to 4 elements.
    Shape out(given, op);
    if (infer >= 0) {
        int64_t known = 1;
        for (size_t d = 0; d < sizes.size(); ++d)
            if (int(d) != infer) known *= sizes[d];
        FG_CHECK(known > 0 && x.numel() % known == 0, op, ": cannot infer the -1 size when reshaping ",
                 x.shape(), " (", x.numel(), " elements) into ", Shape(given, op), " with dim ", infer,
                 " inferred");
        out.set(infer, x.numel() / known, op);
    }
    FG_CHECK(out.numel() == x.numel(), op, ": cannot reshape ", x.shape(), " (", x.numel(),
             " elements) into ", out, " (", out.numel(), " elements)");
    return out;
}

}  // namespace

// y = x seen as another shape (same elements, same order)     dx = dy seen as x's shape
Tensor reshape(const Tensor& x, const std::vector<int64_t>& sizes) {
    Tensor y = view(x, infer_shape(x, sizes, "reshape"));
    record("reshape", {x}, y,
           [x](const Tensor& dy, const Tensor&) { accumulate_grad(x, view(dy, x.shape())); });
    return y;
}

// Merges dims start_dim..end_dim into one: [N, C, H, W] -> [N, C*H*W] for start_dim = 1.
Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
    if (x.dim() == 0) return reshape(x, {1});
    int s = normalize_dim(start_dim, x.dim(), "flatten");
    int e = normalize_dim(end_dim, x.dim(), "flatten");
    FG_CHECK(s <= e, "flatten: start_dim (", start_dim, ") must not come after end_dim (", end_dim,
             ") for shape ", x.shape());
    std::vector<int64_t> sizes;
    int64_t merged = 1;
    for (int d = 0; d < x.dim(); ++d) {
        if (d < s || d > e) {
            sizes.push_back(x.shape()[d]);
        } else {
            merged *= x.shape()[d];
            if (d == e) sizes.push_back(merged);
        }
    }
    return reshape(x, sizes);
}

namespace {

// The walk of permute's copy, y's dim d being x's dim p[d]: y's shape, and for each of y's
// dims the stride of the source along it.
struct PermutedWalk {
    Shape out;
    int64_t step[kMaxDims];
};
PermutedWalk permuted_walk(const Tensor& x, const std::vector<int>& p) {
    const int n = x.dim();
    int64_t src_stride[kMaxDims];
    for (int64_t d = n - 1, stride = 1; d >= 0; --d) {
        src_stride[d] = stride;
        stride *= x.shape()[int(d)];
    }
    PermutedWalk w;
    for (int d = 0; d < n; ++d) {
        w.out.push_back(x.shape()[p[size_t(d)]]);
        w.step[d] = src_stride[p[size_t(d)]];
    }
    return w;
}

// permute's copy: y = x with its dims in the order p (y's dim d is x's dim p[d]).
//
// Out dims that walk the source as one dim are merged first: out dims a, b (b right after a)
// are one when a full sweep of b is one step of a (step_a = step_b size_b). [B, C, H, W] ->
// [B, H, W, C] becomes [B, H W, C] over a source [B, C, H W]: a batch of 2-D transposes,
// which run in 8 x 8 register blocks (transpose_floats). A last group of source stride 1 is
// a run of contiguous floats; anything else walks its last group with a stride. The outer
// groups are counted by an odometer. Per element, the plain odometer over every dim
// (permuted_copy_reference, which the tests hold this to) took 2 ns: 0.7 ms for one of
// dense_digits' heads, [16, 90, 16, 16] -> [16, 16, 16, 90].
Tensor permuted_copy(const Tensor& x, const std::vector<int>& p) {
    const PermutedWalk walk = permuted_walk(x, p);
    Tensor y = Tensor::empty(walk.out);
    if (y.numel() == 0) return y;
    int64_t size[kMaxDims], step[kMaxDims];  // the merged groups: extent, source stride
    int m = 0;
    for (int d = 0; d < x.dim(); ++d) {
        const int64_t extent = walk.out[d], stride = walk.step[d];
        if (extent == 1) continue;  // moves nothing
        if (m > 0 && step[m - 1] == stride * extent) {
            size[m - 1] *= extent;
            step[m - 1] = stride;
        } else {
            size[m] = extent, step[m] = stride, ++m;
        }
    }
    const float* src = x.data();
    float* dst = y.data();
    if (m == 0) {  // one element
        dst[0] = src[0];
        return y;
    }
    // The inner block: a transpose of the last two groups, a contiguous run, or a strided walk.
    const bool transposed = m >= 2 && step[m - 1] == size[m - 2] && step[m - 2] == 1;
    const int inner = transposed ? 2 : 1;                                   // groups the inner block covers
    const int64_t rows = size[m - 1], cols = transposed ? size[m - 2] : 1;  // the block's source shape
    const int64_t block = rows * cols, last_step = step[m - 1];
    int64_t index[kMaxDims] = {}, offset = 0;  // the odometer over groups [0, m - inner)
    for (int64_t start = 0, total = y.numel(); start < total; start += block) {
        if (transposed) {
            detail::transpose_floats(src + offset, rows, cols, dst + start);
        } else if (last_step == 1) {
            std::copy(src + offset, src + offset + rows, dst + start);
        } else {
            for (int64_t i = 0; i < rows; ++i) dst[start + i] = src[offset + i * last_step];
        }
        for (int g = m - inner - 1; g >= 0; --g) {
            offset += step[g];
            if (++index[g] < size[g]) break;
            offset -= step[g] * size[g];
            index[g] = 0;
        }
    }
    return y;
}

}  // namespace

Tensor detail::permuted_copy_reference(const Tensor& x, const std::vector<int>& p) {
    const int n = x.dim();
    const PermutedWalk walk = permuted_walk(x, p);
    const Shape& out = walk.out;
    const int64_t* step = walk.step;  // step[d]: src stride of out dim d
    Tensor y = Tensor::empty(out);
    const float* src = x.data();
    float* dst = y.data();
    int64_t index[kMaxDims] = {};
    int64_t offset = 0;  // src offset of the current out element
    for (int64_t i = 0, total = y.numel(); i < total; ++i) {
        dst[i] = src[offset];
        for (int d = n - 1; d >= 0; --d) {  // odometer increment of the out index
            offset += step[d];
            if (++index[d] < out[d]) break;
            offset -= step[d] * out[d];
            index[d] = 0;
        }
    }
    return y;
}

// y[perm] = x: y's dim d is x's dim dims[d]          dx = dy permuted by the inverse
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
    int nd = x.dim();
    FG_CHECK(int(dims.size()) == nd, "permute: ", dims.size(), " dims given for a tensor of shape ",
             x.shape());
    std::vector<int> perm(static_cast<size_t>(nd)), inverse(static_cast<size_t>(nd), -1);
    for (int d = 0; d < nd; ++d) {
        perm[size_t(d)] = normalize_dim(dims[size_t(d)], nd, "permute");
        FG_CHECK(inverse[size_t(perm[size_t(d)])] < 0, "permute: dim ", dims[size_t(d)],
                 " appears twice; dims must be a permutation of 0..", nd - 1);
        inverse[size_t(perm[size_t(d)])] = d;
    }
    Tensor y = permuted_copy(x, perm);
    record("permute", {x}, y,
           [x, inverse](const Tensor& dy, const Tensor&) { accumulate_grad(x, permuted_copy(dy, inverse)); });
    return y;
}

// y = x^T for 2-D x                                   dx = dy^T
Tensor transpose(const Tensor& x) {
    FG_CHECK(x.dim() == 2, "transpose: expected a 2-D tensor, got shape ", x.shape(),
             " (use permute for other ranks)");
    return permute(x, {1, 0});
}

// y = [x_0, x_1, ...] joined along dim               dx_j = the slice of dy that x_j filled
Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
    FG_CHECK(!xs.empty(), "concat: needs at least one tensor");
    const Shape& first = xs[0].shape();
    int d = normalize_dim(dim, first.size(), "concat");
    Shape out = first;
    out.set(d, 0, "concat");
    for (size_t j = 0; j < xs.size(); ++j) {
        const Shape& s = xs[j].shape();
        bool ok = s.size() == first.size();
        for (int k = 0; ok && k < s.size(); ++k) ok = k == d || s[k] == first[k];
        FG_CHECK(ok, "concat: tensor ", j, " has shape ", s, " but tensor 0 has shape ", first,
                 "; all sizes except dim ", d, " must match");
        FG_CHECK(out[d] <= kMaxNumel - s[d], "concat: the sizes along dim ", d,
                 " add up to more than kMaxNumel");
        out.set(d, out[d] + s[d], "concat");
    }
    DimSplit so = split_at(out, d);
    Tensor y = Tensor::empty(out);
    int64_t at = 0;  // where along dim the current input starts
    for (const Tensor& x : xs) {
        int64_t chunk = x.shape()[d] * so.inner;  // contiguous run per outer index
        for (int64_t o = 0; o < so.outer; ++o)
            std::copy_n(x.data() + o * chunk, chunk, y.data() + (o * so.n + at) * so.inner);
        at += x.shape()[d];
    }
    record("concat", xs, y, [inputs = xs, d, so](const Tensor& dy, const Tensor&) {
        int64_t at = 0;
        for (const Tensor& x : inputs) {
            int64_t chunk = x.shape()[d] * so.inner;
            if (x.requires_grad()) {
                Tensor dx = Tensor::empty(x.shape());
                for (int64_t o = 0; o < so.outer; ++o)
                    std::copy_n(dy.data() + (o * so.n + at) * so.inner, chunk, dx.data() + o * chunk);
                accumulate_grad(x, std::move(dx));
            }
            at += x.shape()[d];
        }
    });
    return y;
}

// y = x with dim restricted to `index` (in that order, repeats allowed)
// dx[.., index[j], ..] += dy[.., j, ..]   (repeated indices accumulate)
Tensor index_select(const Tensor& x, int64_t dim, const std::vector<int64_t>& index) {
    int d = normalize_dim(dim, x.dim(), "index_select");
    DimSplit s = split_at(x.shape(), d);
    for (size_t j = 0; j < index.size(); ++j)
        FG_CHECK(index[j] >= 0 && index[j] < s.n, "index_select: index[", j, "] = ", index[j],
                 " is out of range for dim ", d, " of shape ", x.shape(), " (expected 0 <= i < ", s.n, ")");
    Shape out = x.shape();
    out.set(d, int64_t(index.size()), "index_select");
    int64_t m = int64_t(index.size());
    Tensor y = Tensor::empty(out);
    for (int64_t o = 0; o < s.outer; ++o)
        for (int64_t j = 0; j < m; ++j)
            std::copy_n(x.data() + (o * s.n + index[size_t(j)]) * s.inner, s.inner,
                        y.data() + (o * m + j) * s.inner);
    auto saved = std::make_shared<std::vector<int64_t>>(index);
    record("index_select", {x}, y, [x, s, m, saved](const Tensor& dy, const Tensor&) {
        Tensor dx = Tensor::zeros(x.shape());
        for (int64_t o = 0; o < s.outer; ++o)
            for (int64_t j = 0; j < m; ++j) {
                const float* src = dy.data() + (o * m + j) * s.inner;
                float* dst = dx.data() + (o * s.n + (*saved)[size_t(j)]) * s.inner;
                for (int64_t k = 0; k < s.inner; ++k) dst[k] += src[k];
            }
        accumulate_grad(x, std::move(dx));
    });
    return y;
}

// y[i] = x[i, index[i]] for x [N, C]                  dx[i, index[i]] = dy[i], 0 elsewhere
Tensor gather(const Tensor& x, const std::vector<int>& index) {
    FG_CHECK(x.dim() == 2, "gather: expected x of shape [N, C], got ", x.shape());
    int64_t N = x.shape()[0], C = x.shape()[1];
    FG_CHECK(int64_t(index.size()) == N, "gather: x has shape ", x.shape(), " but ", index.size(),
             " indices were given (expected one per row, ", N, ")");
    for (int64_t i = 0; i < N; ++i)
        FG_CHECK(index[size_t(i)] >= 0 && index[size_t(i)] < C, "gather: index[", i, "] = ", index[size_t(i)],
                 " is out of range for x of shape ", x.shape(), " (expected 0 <= index < ", C, ")");
    Tensor y = Tensor::empty(Shape{N});
    for (int64_t i = 0; i < N; ++i) y.data()[i] = x.data()[i * C + index[size_t(i)]];
    auto saved = std::make_shared<std::vector<int>>(index);
    record("gather", {x}, y, [x, saved](const Tensor& dy, const Tensor&) {
        int64_t C = x.shape()[1];
        Tensor dx = Tensor::zeros(x.shape());
        for (int64_t i = 0; i < x.shape()[0]; ++i) dx.data()[i * C + (*saved)[size_t(i)]] = dy.data()[i];
        accumulate_grad(x, std::move(dx));
    });
    return y;
}

}  // namespace focalgrad
