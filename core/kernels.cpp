// kernels.cpp — broadcasting and dimension bookkeeping shared by the ops.
#include <vector>

#include <focalgrad/core/kernels.h>

namespace focalgrad {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
    int nd = a.size() > b.size() ? a.size() : b.size();
    Shape out;
    for (int d = 0; d < nd; ++d) {
        // Align from the right: dimension d of the output is a's (d - nd + a.size()).
        int da = d - nd + a.size(), db = d - nd + b.size();
        int64_t sa = da >= 0 ? a[da] : 1, sb = db >= 0 ? b[db] : 1;
        FG_CHECK(sa == sb || sa == 1 || sb == 1, op, ": shapes ", a, " and ", b,
                 " cannot be broadcast (dimension ", d, " of the result: ", sa, " vs ", sb,
                 "; sizes must match or be 1)");
        out.push_back(sa == 1 ? sb : sa);
    }
    return out;
}

void broadcast_strides(const Shape& s, const Shape& out, int64_t* strides) {
    int nd = out.size();
    int64_t stride = 1;
    for (int d = nd - 1; d >= 0; --d) {
        int ds = d - nd + s.size();
        if (ds < 0 || s[ds] == 1) {
            strides[d] = 0;
        } else {
            strides[d] = stride;
            stride *= s[ds];
        }
    }
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
    if (g.shape() == shape) return g;
    FG_CHECK(broadcast_shapes(shape, g.shape(), "sum_to") == g.shape(), "sum_to: shape ", shape,
             " does not broadcast to the gradient's shape ", g.shape());
    const Shape& out = g.shape();
    int nd = out.size();
    int64_t st[kMaxDims];
    broadcast_strides(shape, out, st);
    // Accumulate in double, row by row in a fixed order: exact enough and deterministic.
    std::vector<double> acc(size_t(shape.numel()), 0.0);
    int64_t inner = out[nd - 1];
    int64_t rows = inner ? g.numel() / inner : 0;
    int64_t is = st[nd - 1];
    const float* pg = g.data();
    for (int64_t r = 0; r < rows; ++r) {
        int64_t off = 0, rem = r;
        for (int d = nd - 2; d >= 0; --d) {
            off += (rem % out[d]) * st[d];
            rem /= out[d];
        }
        const float* row = pg + r * inner;
        double* dst = acc.data() + off;
        if (is == 0) {
            double s = 0.0;
            for (int64_t j = 0; j < inner; ++j) s += row[j];
            dst[0] += s;
        } else {
            for (int64_t j = 0; j < inner; ++j) dst[j] += row[j];
        }
    }
    Tensor y = Tensor::empty(shape);
    for (size_t i = 0; i < acc.size(); ++i) y.data()[i] = float(acc[i]);
    return y;
}

DimSplit split_at(const Shape& shape, int dim) {
    DimSplit s{1, shape[dim], 1};
    for (int d = 0; d < dim; ++d) s.outer *= shape[d];
    for (int d = dim + 1; d < shape.size(); ++d) s.inner *= shape[d];
    return s;
}

Shape reduced_shape(const Shape& shape, int dim, bool keepdim) {
    Shape out;
    for (int d = 0; d < shape.size(); ++d) {
        if (d != dim)
            out.push_back(shape[d]);
        else if (keepdim)
            out.push_back(1);
    }
    return out;
}

}  // namespace focalgrad
