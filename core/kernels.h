// kernels.h — the loops that ops are written with: elementwise map/zip, broadcasting,
// reducing a broadcast gradient back to an input's shape, and the [outer, n, inner]
// split that every "along a dim" op uses. None of these record anything on the tape;
// ops call them in their forward and in their backward closures.
// Not here: anything differentiable (that is ops.h).
#pragma once

#include <cstdint>
#include <vector>

#include <focalgrad/core/error.h>
#include <focalgrad/core/fastmath.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/core/tensor.h>

namespace focalgrad {

// y[i] = f(x[i])
template <class F>
Tensor map(const Tensor& x, F f) {
    Tensor y = Tensor::empty(x.shape());
    const float* px = x.data();
    float* py = y.data();
    parallel_for(x.numel(), kGrain, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) py[i] = f(px[i]);
    });
    return y;
}

// y[i] = f(a[i], b[i]); a and b have the same shape.
template <class F>
Tensor zip(const Tensor& a, const Tensor& b, F f) {
    Tensor y = Tensor::empty(a.shape());
    const float* pa = a.data();
    const float* pb = b.data();
    float* py = y.data();
    parallel_for(a.numel(), kGrain, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) py[i] = f(pa[i], pb[i]);
    });
    return y;
}

// y[i] = f(a[i], b[i], c[i]); all three have the same shape.
template <class F>
Tensor zip(const Tensor& a, const Tensor& b, const Tensor& c, F f) {
    Tensor y = Tensor::empty(a.shape());
    const float* pa = a.data();
    const float* pb = b.data();
    const float* pc = c.data();
    float* py = y.data();
    parallel_for(a.numel(), kGrain, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) py[i] = f(pa[i], pb[i], pc[i]);
    });
    return y;
}

// relu's forward and backward as relu() computes them (core/ops_elementwise.cpp), for the
// ops that fuse it (linear, conv2d with Activation::relu): max(v, 0) with NaN kept, and dy
// where the output y is positive or NaN. tests/test_ops_linalg.cpp and test_conv.cpp hold
// the fused ops to relu's bits. Bit-mask selects, so that loops over them vectorise (see
// fastmath::select).
inline float relu_value(float v) { return fastmath::select((v > 0) | (v != v), v, 0.0f); }
inline float relu_backward(float dy, float y) { return fastmath::select((y > 0) | (y != y), dy, 0.0f); }

// A tensor sharing x's data under another shape with the same element count.
inline Tensor view(const Tensor& x, const Shape& shape) { return x.view(shape); }

// The NumPy broadcast of two shapes; `op` names the caller in the error.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Strides (in elements) of a row-major tensor of shape `s`, aligned to the last
// `out.size()` dims of `out`, with 0 where `s` is broadcast (missing or size 1).
void broadcast_strides(const Shape& s, const Shape& out, int64_t* strides);

// z = f(a, b) with broadcasting.
template <class F>
Tensor broadcast_zip(const char* op, const Tensor& a, const Tensor& b, F f) {
    if (a.shape() == b.shape()) return zip(a, b, f);
    Shape out = broadcast_shapes(a.shape(), b.shape(), op);
    Tensor z = Tensor::empty(out);
    const float* pa = a.data();
    const float* pb = b.data();
    float* pz = z.data();
    if (b.numel() == 1) {
        float s = pb[0];
        parallel_for(z.numel(), kGrain, [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) pz[i] = f(pa[i], s);
        });
        return z;
    }
    if (a.numel() == 1) {
        float s = pa[0];
        parallel_for(z.numel(), kGrain, [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) pz[i] = f(s, pb[i]);
        });
        return z;
    }
    // General case: walk the output row by row (last dim contiguous); each row finds its
    // offsets in a and b from its own index, so rows can run in parallel.
    int nd = out.size();
    int64_t sa[kMaxDims], sb[kMaxDims];
    broadcast_strides(a.shape(), out, sa);
    broadcast_strides(b.shape(), out, sb);
    int64_t inner = nd ? out[nd - 1] : 1;
    int64_t rows = inner ? z.numel() / inner : 0;
    int64_t ia = nd ? sa[nd - 1] : 0, ib = nd ? sb[nd - 1] : 0;
    int64_t grain = inner >= kGrain ? 1 : kGrain / (inner ? inner : 1);
    parallel_for(rows, grain, [&](int64_t lo, int64_t hi) {
        for (int64_t r = lo; r < hi; ++r) {
            int64_t oa = 0, ob = 0, rem = r;
            for (int d = nd - 2; d >= 0; --d) {
                int64_t idx = rem % out[d];
                rem /= out[d];
                oa += idx * sa[d];
                ob += idx * sb[d];
            }
            const float* ra = pa + oa;
            const float* rb = pb + ob;
            float* rz = pz + r * inner;
            for (int64_t j = 0; j < inner; ++j) rz[j] = f(ra[j * ia], rb[j * ib]);
        }
    });
    return z;
}

// The gradient of a broadcast: sums g (shaped like the broadcast output) over the dims
// along which `shape` was stretched. Returns g itself when no reduction is needed.
Tensor sum_to(const Tensor& g, const Shape& shape);

// A shape seen as [outer, n, inner] around dimension `dim`: the layout every
// "along a dim" op (sum, max, softmax, concat, index_select) loops over.
struct DimSplit {
    int64_t outer, n, inner;
};
DimSplit split_at(const Shape& shape, int dim);

// `shape` with dimension `dim` removed (keepdim = false) or set to 1 (keepdim = true).
Shape reduced_shape(const Shape& shape, int dim, bool keepdim);

namespace detail {
// permute's copy in its plain form: an odometer over every dim, one element at a time, y's
// dim d being x's dim p[d]. permute itself merges dims and copies blocks (core/ops_shape.cpp);
// the tests hold the two equal.
Tensor permuted_copy_reference(const Tensor& x, const std::vector<int>& p);
}  // namespace detail

}  // namespace focalgrad
