// ops_conv.cpp — 2-D convolution and max pooling over [N, C, H, W] images.
// conv2d lowers the convolution to one matrix product (im2col): every receptive field
// becomes a column, so y = W cols is a single sgemm for the whole batch; its backward is
// two more products and col2im, the scatter-add that undoes im2col. max_pool2d records
// where each maximum was and routes the gradient back there.
// Not here: dilation, groups, asymmetric padding or stride, average pooling, pool padding.
//
// Shape legend: N batch, C input channels, O output channels, H x W input image,
// kH x kW kernel, Ho x Wo output image, K = C kH kW (one receptive field), P = Ho Wo.
#include <algorithm>
#include <cstdint>
#include <utility>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/blas.h>
#include <focalgrad/core/kernels.h>
#include <focalgrad/core/ops.h>

namespace focalgrad {

namespace {

struct ConvGeometry {
    int64_t N, C, H, W;  // input
    int64_t O, kH, kW;   // weight
    int64_t stride, pad;
    int64_t Ho, Wo;  // output
    int64_t K() const { return C * kH * kW; }
    int64_t P() const { return Ho * Wo; }
};

// Chunk size, in units of `unit_work` elements each, that gives a chunk about kGrain
// elements of work: small images are batched into one chunk, big ones get their own.
int64_t grain_for(int64_t unit_work) {
    return std::max<int64_t>(1, kGrain / std::max<int64_t>(1, unit_work));
}

// The output columns [lo, hi) of one kernel offset whose input column ow*stride - pad + j
// lies inside [0, W); every other output column reads padding.
void valid_range(int64_t W, int64_t Wo, int64_t stride, int64_t pad, int64_t j, int64_t& lo, int64_t& hi) {
    lo = pad - j <= 0 ? 0 : (pad - j + stride - 1) / stride;
    hi = W - 1 + pad - j < 0 ? 0 : std::min(Wo, (W - 1 + pad - j) / stride + 1);
    lo = std::min(lo, hi);
}

// cols[(c kH + i) kW + j, n P + oh Wo + ow] = x[n, c, oh s - pad + i, ow s - pad + j]
// (0 where that position is padding). cols is [K, N P]: image n owns the column block
// [n P, (n + 1) P), so the units (n, c) write disjoint memory and run in parallel.
void im2col(const float* x, const ConvGeometry& g, float* cols) {
    const int64_t P = g.P(), NP = g.N * P;
    parallel_for(g.N * g.C, grain_for(g.kH * g.kW * P), [&](int64_t begin, int64_t end) {
        for (int64_t u = begin; u < end; ++u) {
            int64_t n = u / g.C, c = u % g.C;
            const float* plane = x + u * g.H * g.W;
            for (int64_t i = 0; i < g.kH; ++i)
                for (int64_t j = 0; j < g.kW; ++j) {
                    float* row = cols + ((c * g.kH + i) * g.kW + j) * NP + n * P;
                    int64_t lo, hi;
                    valid_range(g.W, g.Wo, g.stride, g.pad, j, lo, hi);
                    for (int64_t oh = 0; oh < g.Ho; ++oh) {
                        float* out = row + oh * g.Wo;
                        int64_t ih = oh * g.stride - g.pad + i;
                        if (ih < 0 || ih >= g.H) {
                            std::fill_n(out, g.Wo, 0.0f);
                            continue;
                        }
                        const float* src = plane + ih * g.W - g.pad + j;  // src[ow s] = x[ih, ow s - pad + j]
                        std::fill(out, out + lo, 0.0f);
                        if (g.stride == 1) {
                            std::copy(src + lo, src + hi, out + lo);
                        } else {
                            for (int64_t ow = lo; ow < hi; ++ow) out[ow] = src[ow * g.stride];
                        }
                        std::fill(out + hi, out + g.Wo, 0.0f);
                    }
                }
        }
    });
}

// The adjoint of im2col: dx[n, c, ih, iw] = sum of the dcols entries im2col read it into.
// Each unit (n, c) sums into its own plane in a fixed order: no races, same bits always.
void col2im(const float* dcols, const ConvGeometry& g, float* dx) {
    const int64_t P = g.P(), NP = g.N * P;
    parallel_for(g.N * g.C, grain_for(g.kH * g.kW * P), [&](int64_t begin, int64_t end) {
        for (int64_t u = begin; u < end; ++u) {
            int64_t n = u / g.C, c = u % g.C;
            float* plane = dx + u * g.H * g.W;
            std::fill_n(plane, g.H * g.W, 0.0f);
            for (int64_t i = 0; i < g.kH; ++i)
                for (int64_t j = 0; j < g.kW; ++j) {
                    const float* row = dcols + ((c * g.kH + i) * g.kW + j) * NP + n * P;
                    int64_t lo, hi;
                    valid_range(g.W, g.Wo, g.stride, g.pad, j, lo, hi);
                    for (int64_t oh = 0; oh < g.Ho; ++oh) {
                        int64_t ih = oh * g.stride - g.pad + i;
                        if (ih < 0 || ih >= g.H) continue;
                        const float* in = row + oh * g.Wo;
                        float* dst = plane + ih * g.W - g.pad + j;
                        for (int64_t ow = lo; ow < hi; ++ow) dst[ow * g.stride] += in[ow];
                    }
                }
        }
    });
}

// The max_pool2d forward of one H x W plane into Ho x Wo outputs (and, if `where` is not
// null, the flat index of each maximum, as a float: exact below 2^24). Each window keeps its first maximum, comparing
// with a plain `>` and selecting: no data-dependent branch, so random inputs cost no
// mispredictions. A NaN, which `>` cannot see, only makes it return true; the caller then
// redoes the plane with NanAware, under which a NaN replaces the maximum and nothing
// replaces a NaN. Kernel > 0 fixes kernel and stride at compile time: the 2x2, stride 2
// windows of most CNNs then vectorise across windows and run about four times faster.
template <bool NanAware, int Kernel>
bool max_pool_plane(const float* plane, int64_t W, int64_t runtime_kernel, int64_t runtime_stride, int64_t Ho,
                    int64_t Wo, float* out, float* where) {
    const int64_t kernel = Kernel > 0 ? Kernel : runtime_kernel;
    const int64_t stride = Kernel > 0 ? Kernel : runtime_stride;
    bool nan_seen = false;
    for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
            int32_t best = int32_t(oh * stride * W + ow * stride);
            float m = plane[best];
            for (int64_t i = 0; i < kernel; ++i)
                for (int64_t j = 0; j < kernel; ++j) {
                    int32_t at = int32_t((oh * stride + i) * W + ow * stride + j);
                    float v = plane[at];
                    nan_seen |= v != v;
                    bool take = v > m || (NanAware && v != v && m == m);
                    m = take ? v : m;
                    best = take ? at : best;
                }
            out[oh * Wo + ow] = m;
            if (where) where[oh * Wo + ow] = float(best);
        }
    return nan_seen;
}

}  // namespace

// y[n, o] = b[o] + sum_{c, i, j} W[o, c, i, j] x[n, c, oh s - pad + i, ow s - pad + j]
// As matrices, with cols = im2col(x) [K, N P] and Y = y seen as [O, N P]:
//   Y = W cols + b        dW = dY cols^T,   dcols = W^T dY,   dx = col2im(dcols),
//   db[o] = sum of dY's row o.
Tensor conv2d(const Tensor& x, const Tensor& W, const Tensor& b, int64_t stride, int64_t padding) {
    FG_CHECK(x.dim() == 4, "conv2d: input must be [N, C, H, W], got ", x.shape());
    FG_CHECK(W.dim() == 4, "conv2d: weight must be [O, C, kH, kW], got ", W.shape());
    FG_CHECK(x.size(1) == W.size(1), "conv2d: input has ", x.size(1), " channels but the weight ", W.shape(),
             " expects ", W.size(1), " (input ", x.shape(), ")");
    FG_CHECK(stride >= 1 && padding >= 0, "conv2d: stride must be >= 1 and padding >= 0, got stride ", stride,
             ", padding ", padding);
    FG_CHECK(padding <= kMaxNumel, "conv2d: padding ", padding, " is more than kMaxNumel (", kMaxNumel,
             "): no padded image could be held");
    ConvGeometry g{x.size(0), x.size(1), x.size(2), x.size(3), W.size(0), W.size(2),
                   W.size(3), stride,    padding,   0,         0};
    FG_CHECK(g.kH >= 1 && g.kW >= 1 && g.H + 2 * padding >= g.kH && g.W + 2 * padding >= g.kW,
             "conv2d: kernel ", g.kH, "x", g.kW, " does not fit the padded input ", g.H + 2 * padding, "x",
             g.W + 2 * padding, " (input ", x.shape(), ", padding ", padding, ")");
    if (b.defined())
        FG_CHECK(b.dim() == 1 && b.size(0) == g.O, "conv2d: bias must be [", g.O, "] for weight ", W.shape(),
                 ", got ", b.shape());
    g.Ho = (g.H + 2 * padding - g.kH) / stride + 1;
    g.Wo = (g.W + 2 * padding - g.kW) / stride + 1;
    // Every product below is checked once here: the output and the im2col buffer.
    checked_numel({g.N, g.O, g.Ho, g.Wo}, "conv2d", "the output");
    checked_numel({g.K(), g.N, g.Ho, g.Wo}, "conv2d", "the im2col buffer [K = C kH kW, N, Ho, Wo]");
    const int64_t K = g.K(), P = g.P(), NP = g.N * P;

    // An allocation that fails is reported with the geometry that asked for it.
    auto buffer = [&](const Shape& shape) {
        try {
            return Tensor::empty(shape);
        } catch (const OutOfMemory& e) {
            throw OutOfMemory(str("conv2d: input ", x.shape(), ", weight ", W.shape(), ", stride ", stride,
                                  ", padding ", padding, ": ", e.what()));
        }
    };
    Tensor cols = buffer(Shape{K, NP});
    im2col(x.data(), g, cols.data());
    Tensor Y = buffer(Shape{g.O, NP});  // W cols, image n in columns [n P, (n + 1) P)
    gemm(false, false, g.O, NP, K, 1.0f, W.data(), K, cols.data(), NP, 0.0f, Y.data(), NP);

    // [O, N P] -> [N, O, P], adding the bias on the way.
    Tensor y = buffer(Shape{g.N, g.O, g.Ho, g.Wo});
    {
        const float* pY = Y.data();
        const float* pb = b.defined() ? b.data() : nullptr;
        float* py = y.data();
        parallel_for(g.N * g.O, grain_for(P), [&](int64_t begin, int64_t end) {
            for (int64_t u = begin; u < end; ++u) {
                int64_t n = u / g.O, o = u % g.O;
                const float* src = pY + o * NP + n * P;
                float* dst = py + u * P;
                float bias = pb ? pb[o] : 0.0f;
                for (int64_t p = 0; p < P; ++p) dst[p] = src[p] + bias;
            }
        });
    }
    Y = Tensor();  // release the buffer before backward-only data is kept

    // cols is what dW needs; keep it only when the weight will receive a gradient.
    if (!(needs_grad({x, W, b}) && W.requires_grad())) cols = Tensor();
    record("conv2d", {x, W, b}, y, [x, W, b, g, cols](const Tensor& dy, const Tensor&) {
        const int64_t K = g.K(), P = g.P(), NP = g.N * P;
        // dY: dy [N, O, P] -> [O, N P], the layout the products below want.
        Tensor dY = Tensor::empty(Shape{g.O, NP});
        const float* pdy = dy.data();
        float* pdY = dY.data();
        parallel_for(g.N * g.O, grain_for(P), [&](int64_t begin, int64_t end) {
            for (int64_t u = begin; u < end; ++u) {
                int64_t n = u / g.O, o = u % g.O;
                std::copy_n(pdy + u * P, P, pdY + o * NP + n * P);
            }
        });
        if (b.defined() && b.requires_grad()) {  // db[o] = sum_{n, p} dy[n, o, p]
            Tensor db = Tensor::empty(b.shape());
            for (int64_t o = 0; o < g.O; ++o) {
                const float* row = pdY + o * NP;
                double s = 0.0;
                for (int64_t q = 0; q < NP; ++q) s += row[q];
                db.data()[o] = float(s);
            }
            accumulate_grad(b, std::move(db));
        }
        if (W.requires_grad()) {  // dW[O, K] = dY[O, N P] cols^T[N P, K]
            Tensor dW = Tensor::empty(W.shape());
            gemm(false, true, g.O, K, NP, 1.0f, pdY, NP, cols.data(), NP, 0.0f, dW.data(), K);
            accumulate_grad(W, std::move(dW));
        }
        if (x.requires_grad()) {  // dcols[K, N P] = W^T[K, O] dY[O, N P]; dx = col2im(dcols)
            Tensor dcols = Tensor::empty(Shape{K, NP});
            gemm(true, false, K, NP, g.O, 1.0f, W.data(), K, pdY, NP, 0.0f, dcols.data(), NP);
            Tensor dx = Tensor::empty(x.shape());
            col2im(dcols.data(), g, dx.data());
            accumulate_grad(x, std::move(dx));
        }
    });
    return y;
}

// y[n, c, oh, ow] = max over the kernel x kernel window at (oh s, ow s) of x[n, c]
// dx[n, c, argmax] += dy[n, c, oh, ow]   (windows overlap when stride < kernel, so +=)
// A NaN in a window wins, as in PyTorch: the output says the input was bad.
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride) {
    FG_CHECK(x.dim() == 4, "max_pool2d: input must be [N, C, H, W], got ", x.shape());
    FG_CHECK(kernel >= 1 && stride >= 1, "max_pool2d: kernel and stride must be >= 1, got kernel ", kernel,
             ", stride ", stride);
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    FG_CHECK(H >= kernel && W >= kernel, "max_pool2d: kernel ", kernel, " is larger than the input image ", H,
             "x", W, " (input ", x.shape(), ")");
    FG_CHECK(H * W <= (int64_t(1) << 24), "max_pool2d: images of ", H, "x", W,
             " pixels are too large (at most 2^24 pixels, so that float indices stay exact)");
    const int64_t Ho = (H - kernel) / stride + 1, Wo = (W - kernel) / stride + 1;
    const int64_t planes = N * C, P = Ho * Wo;

    Tensor y = Tensor::empty(Shape{N, C, Ho, Wo});
    // where[n, c, oh, ow]: the flat index, within its H x W plane, of that window's maximum,
    // for backward. Kept in a float tensor (exact below 2^24) so that it comes from the
    // buffer pool like every other tensor: no allocation or page faults per step.
    bool keep = needs_grad({x});
    Tensor where = keep ? Tensor::empty(y.shape()) : Tensor();
    const float* px = x.data();
    float* py = y.data();
    float* pw = keep ? where.data() : nullptr;
    parallel_for(planes, grain_for(P * kernel * kernel), [&](int64_t begin, int64_t end) {
        for (int64_t u = begin; u < end; ++u) {
            float* out_arg = pw ? pw + u * P : nullptr;
            const float* plane = px + u * H * W;
            bool nan_seen =
                kernel == 2 && stride == 2
                    ? max_pool_plane<false, 2>(plane, W, kernel, stride, Ho, Wo, py + u * P, out_arg)
                    : max_pool_plane<false, 0>(plane, W, kernel, stride, Ho, Wo, py + u * P, out_arg);
            if (nan_seen) max_pool_plane<true, 0>(plane, W, kernel, stride, Ho, Wo, py + u * P, out_arg);
        }
    });

    record("max_pool2d", {x}, y, [x, where, planes, P](const Tensor& dy, const Tensor&) {
        const int64_t HW = x.size(2) * x.size(3);
        Tensor dx = Tensor::empty(x.shape());
        const float* pdy = dy.data();
        const float* pw = where.data();
        float* pdx = dx.data();
        parallel_for(planes, grain_for(HW + P), [&](int64_t begin, int64_t end) {
            for (int64_t u = begin; u < end; ++u) {
                float* plane = pdx + u * HW;
                std::fill_n(plane, HW, 0.0f);
                for (int64_t p = 0; p < P; ++p) plane[int64_t(pw[u * P + p])] += pdy[u * P + p];
            }
        });
        accumulate_grad(x, std::move(dx));
    });
    return y;
}

}  // namespace focalgrad
