// ops_conv.cpp — 2-D convolution and max pooling over [N, C, H, W] images.
// conv2d lowers the convolution to matrix products image by image (im2col): every
// receptive field of image n becomes a column of cols_n, so y[n] = W cols_n is one product
// straight into the output (conv_gemm, core/internal/conv_gemm.h); its backward is two more
// products per image (dW from cols_n and dy[n]; dx as the convolution of dy[n] with the
// flipped kernel, or col2im, the adjoint of im2col, for strides above 1). max_pool2d records
// where each maximum was and routes the gradient back there.
// Not here: dilation, groups, asymmetric padding or stride, average pooling, pool padding.
//
// Shape legend: N batch, C input channels, O output channels, H x W input image,
// kH x kW kernel, Ho x Wo output image, K = C kH kW (one receptive field), P = Ho Wo.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/blas.h>
#include <focalgrad/core/fastmath.h>
#include <focalgrad/core/im2col.h>
#include <focalgrad/core/internal/conv_gemm.h>
#include <focalgrad/core/internal/vec8.h>
#include <focalgrad/core/kernels.h>
#include <focalgrad/core/ops.h>

namespace focalgrad {

using detail::ConvGeometry;

namespace {

using namespace detail;

// Chunk size, in units of `unit_work` elements each, that gives a chunk about kGrain
// elements of work: small images are batched into one chunk, big ones get their own.
int64_t grain_for(int64_t unit_work) {
    return std::max<int64_t>(1, kGrain / std::max<int64_t>(1, unit_work));
}

// Images per chunk of conv2d's loops: about kChunkFlops of products per chunk, at most 8
// images. A function of the sizes only: the chunks fix the order in which the weight and
// bias gradients are summed, so the bits do not depend on the thread count.
constexpr double kChunkFlops = 8e6;
int64_t images_per_chunk(const ConvGeometry& g) {
    double per_image = 2.0 * double(g.O) * double(g.K()) * double(g.P());
    return std::clamp<int64_t>(int64_t(kChunkFlops / per_image), 1, 8);
}

// The scratch buffers of one parallel loop's chunks: one set for each chunk that can run at
// once (min(threads, chunks)), all allocated before the loop, so that the memory of a step
// does not depend on how the pool happened to schedule the chunks (train/memory.h measures
// it). A chunk borrows a free set for as long as it runs.
class ScratchSets {
public:
    ScratchSets(int64_t chunks, const std::function<std::vector<Tensor>()>& make) {
        const int64_t sets = std::min<int64_t>(chunks, num_threads());
        for (int64_t i = 0; i < sets; ++i) {
            sets_.push_back(make());
            free_.push_back(size_t(i));
        }
    }

    class Lease {
    public:
        Lease(ScratchSets& owner, size_t index) : owner_(owner), index_(index) {}
        ~Lease() {
            std::lock_guard<std::mutex> lock(owner_.mutex_);
            owner_.free_.push_back(index_);
        }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        float* operator[](size_t buffer) const {
            Tensor& t = owner_.sets_[index_][buffer];
            return t.defined() ? t.data() : nullptr;
        }

    private:
        ScratchSets& owner_;
        size_t index_;
    };

    // At most one chunk per thread runs at a time, so a set is always free.
    Lease borrow() {
        std::lock_guard<std::mutex> lock(mutex_);
        size_t index = free_.back();
        free_.pop_back();
        return Lease(*this, index);
    }

private:
    std::mutex mutex_;
    std::vector<std::vector<Tensor>> sets_;
    std::vector<size_t> free_;
};

// The sum of p[0 .. n) in double, in eight interleaved lanes (a single chain of dependent
// adds would wait on each add's latency), lanes added in a fixed order.
double sum_lanes(const float* p, int64_t n) {
    double lane[8] = {};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) lane[l] += double(p[i + l]);
    for (; i < n; ++i) lane[0] += double(p[i]);
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// out[r] += sum_lanes(p + r n, n) for each of `rows` rows: the same sums, four rows at a
// time, so that their adds do not wait on one another's. Each row's eight lanes are two
// vectors of four doubles (gcc's vector extension: written as loops, gcc left them scalar).
void add_row_sums(const float* __restrict p, int64_t rows, int64_t n, double* __restrict out) {
    typedef float F4 __attribute__((vector_size(16)));
    typedef double D4 __attribute__((vector_size(32)));
    auto lanes = [](const float* q) {  // q[0 .. 4) as doubles
        F4 f;
        std::memcpy(&f, q, sizeof(f));
        return __builtin_convertvector(f, D4);
    };
    auto total = [](D4 lo, D4 hi) {
        return ((lo[0] + lo[1]) + (lo[2] + lo[3])) + ((hi[0] + hi[1]) + (hi[2] + hi[3]));
    };
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        const float* q[4] = {p + r * n, p + (r + 1) * n, p + (r + 2) * n, p + (r + 3) * n};
        D4 lo[4] = {}, hi[4] = {};  // lanes 0-3 and 4-7 of each row
        int64_t i = 0;
        for (; i + 8 <= n; i += 8)
            for (int k = 0; k < 4; ++k) {
                lo[k] += lanes(q[k] + i);
                hi[k] += lanes(q[k] + i + 4);
            }
        for (; i < n; ++i)
            for (int k = 0; k < 4; ++k) lo[k][0] += double(q[k][i]);
        for (int k = 0; k < 4; ++k) out[r + k] += total(lo[k], hi[k]);
    }
    for (; r < rows; ++r) out[r] += sum_lanes(p + r * n, n);
}

// cols_n = im2col(x_n) [K, P] into `cols`, by the fast path when the stride is 1.
void lower(const float* xn, const ConvGeometry& g, float* scratch, float* cols) {
    if (g.stride == 1)
        im2col_stride1(xn, g, scratch, cols);
    else
        im2col(xn, g, cols);
}

// A zeroed scratch for lower() (one float when it needs none), and a cols buffer with
// the slack it needs.
Tensor lowering_scratch(const ConvGeometry& g) {
    return Tensor::zeros(Shape{g.stride == 1 ? im2col_stride1_scratch(g) : 1});
}
Tensor cols_buffer(const ConvGeometry& g) { return Tensor::empty(Shape{g.K() * g.P() + kIm2colSlack}); }

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

// The same for 2x2 windows with stride 2, the pooling of most CNNs, written so that it
// vectorises across windows: the window at (oh, ow) is r0[2 ow], r0[2 ow + 1], r1[2 ow],
// r1[2 ow + 1] of the rows r0 = 2 oh, r1 = 2 oh + 1, scanned in that (row-major) order.
// Returns whether a NaN was seen, as max_pool_plane does.
template <bool KeepWhere>
bool max_pool_2x2(const float* plane, int64_t W, int64_t Ho, int64_t Wo, float* out, float* where) {
    int nan_seen = 0;
    for (int64_t oh = 0; oh < Ho; ++oh) {
        const float* r0 = plane + 2 * oh * W;
        const float* r1 = r0 + W;
        float* o = out + oh * Wo;
        float* at = where + oh * Wo;
        const float row_start = float(2 * oh * W), below = float(W);
        for (int64_t ow = 0; ow < Wo; ++ow) {
            const float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
            nan_seen |= (a != a) | (b != b) | (c != c) | (d != d);
            // Selects through bit masks (fastmath::select): a ?: on floats may become a branch.
            float m = a, offset = 0.0f;
            bool take = b > m;
            m = fastmath::select(take, b, m);
            offset = fastmath::select(take, 1.0f, offset);
            take = c > m;
            m = fastmath::select(take, c, m);
            offset = fastmath::select(take, below, offset);
            take = d > m;
            m = fastmath::select(take, d, m);
            offset = fastmath::select(take, below + 1.0f, offset);
            o[ow] = m;
            // (int32_t: int64 -> float has no AVX2 instruction and would stop vectorisation.)
            if (KeepWhere) at[ow] = row_start + float(int32_t(2 * ow)) + offset;
        }
    }
    return nan_seen != 0;
}

// max_pool2d's backward for 2x2 windows with stride 2: every input position belongs to at
// most one window, so each is written once, dy where it held its window's maximum and 0
// elsewhere (no zero fill first, no scatter). Rows and columns no window covers get 0.
void max_pool_2x2_backward(const float* dy, const float* where, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                           float* dx) {
    for (int64_t oh = 0; oh < Ho; ++oh) {
        // __restrict: without it gcc does not vectorise the four interleaved stores.
        float* __restrict r0 = dx + 2 * oh * W;
        float* __restrict r1 = r0 + W;
        const float* __restrict g = dy + oh * Wo;
        const float* __restrict at = where + oh * Wo;
        const float row_start = float(2 * oh * W), below = float(W);
        for (int64_t ow = 0; ow < Wo; ++ow) {
            const float offset = at[ow] - (row_start + float(int32_t(2 * ow)));  // 0, 1, W or W + 1: exact
            r0[2 * ow] = fastmath::select(offset == 0.0f, g[ow], 0.0f);
            r0[2 * ow + 1] = fastmath::select(offset == 1.0f, g[ow], 0.0f);
            r1[2 * ow] = fastmath::select(offset == below, g[ow], 0.0f);
            r1[2 * ow + 1] = fastmath::select(offset == below + 1.0f, g[ow], 0.0f);
        }
        if (W > 2 * Wo) r0[W - 1] = r1[W - 1] = 0.0f;  // odd W: the last column is in no window
    }
    if (H > 2 * Ho) std::fill_n(dx + (H - 1) * W, W, 0.0f);  // odd H: nor is the last row
}

// The activation conv2d applies to z = W cols before pooling: v = relu(z + bias), z + bias,
// or z, written as conv2d's unpooled path writes it, so that both give the same bits.
template <bool Relu, bool Bias>
inline float activate(float z, float bias) {
    return Relu ? relu_value(z + bias) : Bias ? z + bias : z;
}

// Eight 2x2 windows of one row pair at once, in registers: r0 and r1 are the top and bottom
// rows' first column of the block (16 columns each; where fewer are left, the loads run on
// into the next rows, and the windows made of them are garbage that the caller's next
// stores overwrite). The first maximum in the order a, b, c, d wins, as in max_pool_2x2:
// max(max(a, b), max(c, d)) with ties to the left and to the top is the same choice.
// Deinterleaving each row into its a's (even columns) and b's (odd) with one shuffle per
// half (vshufps) leaves the windows in the lane order 0 1 4 5 2 3 6 7, which one permute
// puts right before the stores. The NaN test is nan += v * 0 on z + bias (an infinity
// counts too: the caller then redoes the planes, NaN-aware, with the same result).
template <bool Relu, bool Bias>
inline void pool_block8(const float* r0, const float* r1, internal::Vec8 bias, float below,
                        internal::Vec8& nan, float* out, float* where) {
    using internal::Lanes8;
    using internal::Vec8;
    const Vec8 zero = internal::splat8(0.0f), one = internal::splat8(1.0f);
    Vec8 v[4] = {internal::load8(r0), internal::load8(r0 + 8), internal::load8(r1), internal::load8(r1 + 8)};
    for (Vec8& x : v) {
        if (Bias) x += bias;
        nan = internal::fma8(x, zero, nan);
        if (Relu) x = x > zero ? x : zero;
    }
    const Lanes8 even = {0, 2, 8, 10, 4, 6, 12, 14}, odd = {1, 3, 9, 11, 5, 7, 13, 15};
    const Vec8 a = __builtin_shuffle(v[0], v[1], even), b = __builtin_shuffle(v[0], v[1], odd);
    const Vec8 c = __builtin_shuffle(v[2], v[3], even), d = __builtin_shuffle(v[2], v[3], odd);
    const Lanes8 b_won = b > a, d_won = d > c;
    const Vec8 top = b_won ? b : a, bottom = d_won ? d : c;
    const Lanes8 bottom_won = bottom > top;
    const Lanes8 in_order = {0, 1, 4, 5, 2, 3, 6, 7};
    internal::store8(out, __builtin_shuffle(bottom_won ? bottom : top, in_order));
    if (where) {
        const Vec8 top_at = b_won ? one : zero, bottom_at = internal::splat8(below) + (d_won ? one : zero);
        internal::store8(where, __builtin_shuffle(bottom_won ? bottom_at : top_at, in_order));
    }
}

// conv2d's fused 2x2 pooling of `planes` consecutive Ho x Wo planes of z = W cols, with Wo
// even: adds each plane's bias, applies the relu, and pools, eight windows at a time
// (pool_block8). where[u, oh, ow] is the offset of the window's maximum from its top-left
// corner: 0, 1, Wo or Wo + 1. A row pair's last block of fewer than 8 windows spills into
// the next row pair's outputs, written afterwards; near the end of the image's outputs,
// where a block would spill out of them, the rest goes window by window. Returns whether a
// NaN (or an infinity) was seen; the caller then redoes the planes NaN-aware, overwriting
// `out` and `where`.
template <bool Relu, bool Bias>
bool activate_pool_2x2_planes(const float* __restrict z, const float* __restrict bias, int64_t planes,
                              int64_t Ho, int64_t Wo, float* __restrict out, float* __restrict where) {
    const int64_t Wp = Wo / 2, Hp = Ho / 2, outputs = planes * Hp * Wp;
    const float below = float(Wo);
    internal::Vec8 nan = internal::splat8(0.0f);
    float nan_scalar = 0.0f;
    for (int64_t u = 0; u < planes; ++u) {
        const float bu = Bias ? bias[u] : 0.0f;
        for (int64_t oh = 0; oh < Hp; ++oh) {
            const float* r0 = z + (u * Ho + 2 * oh) * Wo;
            const float* r1 = r0 + Wo;
            const int64_t m = u * Hp + oh;  // the output row
            int64_t ow = 0;
            for (; ow < Wp && m * Wp + ow + 8 <= outputs; ow += 8)
                pool_block8<Relu, Bias>(r0 + 2 * ow, r1 + 2 * ow, internal::splat8(bu), below, nan,
                                        out + m * Wp + ow, where ? where + m * Wp + ow : nullptr);
            for (; ow < Wp; ++ow) {  // window by window, as pool_block8 does it
                const float a = activate<Relu, Bias>(r0[2 * ow], bu),
                            b = activate<Relu, Bias>(r0[2 * ow + 1], bu);
                const float c = activate<Relu, Bias>(r1[2 * ow], bu),
                            d = activate<Relu, Bias>(r1[2 * ow + 1], bu);
                nan_scalar += (a + b + c + d) * 0.0f;
                const float top = fastmath::select(b > a, b, a), bottom = fastmath::select(d > c, d, c);
                const bool bottom_won = bottom > top;
                out[m * Wp + ow] = fastmath::select(bottom_won, bottom, top);
                if (where)
                    where[m * Wp + ow] =
                        fastmath::select(bottom_won, below + fastmath::select(d > c, 1.0f, 0.0f),
                                         fastmath::select(b > a, 1.0f, 0.0f));
            }
        }
    }
    bool nan_seen = nan_scalar != nan_scalar;
    for (int l = 0; l < 8; ++l) nan_seen |= nan[l] != nan[l];
    return nan_seen;
}

// One row of dz for eight windows, in registers: window k's gradient g[k] goes to its left
// place where offset[k] == left, to its right place where offset[k] == left + 1, and 0 to
// both otherwise; row[0 .. 16) = (l0 r0 l1 r1 ... l7 r7), which past a row's last window runs
// on into the next row (written afterwards).
inline void unpool_row8(internal::Vec8 g, internal::Vec8 offset, float left, float* row) {
    using internal::Vec8;
    const Vec8 zero = internal::splat8(0.0f);
    const Vec8 l = offset == internal::splat8(left) ? g : zero;
    const Vec8 r = offset == internal::splat8(left + 1.0f) ? g : zero;
    const internal::Lanes8 first = {0, 8, 1, 9, 2, 10, 3, 11}, second = {4, 12, 5, 13, 6, 14, 7, 15};
    internal::store8(row, __builtin_shuffle(l, r, first));
    internal::store8(row + 8, __builtin_shuffle(l, r, second));
}

// The backward of conv2d's fused relu and 2x2 pooling for one image's O planes: dz is dy
// (through relu's mask at the pooled value y, if relu) where a window had its maximum and
// 0 elsewhere; rows and columns no window covers get 0. `where` holds the offsets
// activate_pool_2x2_planes writes. With Wo even, eight windows at a time (unpool_row8), each
// row pair's top row, then its bottom row, so that a block's spill into the next row is
// overwritten; near the end of the image's windows, where a block would read past them,
// window by window. If `dpooled` is not null (relu only), each window's dy through relu's
// mask goes there too, [planes, Hp, Wp]: a plane of dz sums to its plane of dpooled, a
// quarter of the elements to add up for db.
void unpool_2x2_planes(const float* __restrict dy, const float* __restrict y, const float* __restrict where,
                       int64_t planes, int64_t Ho, int64_t Wo, float* __restrict dz,
                       float* __restrict dpooled) {
    const int64_t Hp = Ho / 2, Wp = Wo / 2, windows = planes * Hp * Wp;
    const float below = float(Wo);
    if (Wo % 2 != 0) {  // odd Wo: window by window, the last column 0
        for (int64_t u = 0; u < planes; ++u) {
            for (int64_t oh = 0; oh < Hp; ++oh) {
                float* r0 = dz + (u * Ho + 2 * oh) * Wo;
                float* r1 = r0 + Wo;
                for (int64_t ow = 0; ow < Wp; ++ow) {
                    const int64_t q = (u * Hp + oh) * Wp + ow;
                    const float g = y ? relu_backward(dy[q], y[q]) : dy[q], offset = where[q];
                    if (dpooled) dpooled[q] = g;
                    r0[2 * ow] = fastmath::select(offset == 0.0f, g, 0.0f);
                    r0[2 * ow + 1] = fastmath::select(offset == 1.0f, g, 0.0f);
                    r1[2 * ow] = fastmath::select(offset == below, g, 0.0f);
                    r1[2 * ow + 1] = fastmath::select(offset == below + 1.0f, g, 0.0f);
                }
                r0[Wo - 1] = r1[Wo - 1] = 0.0f;
            }
            if (Ho > 2 * Hp) std::fill_n(dz + (u * Ho + Ho - 1) * Wo, Wo, 0.0f);
        }
        return;
    }
    using internal::Vec8;
    const Vec8 zero = internal::splat8(0.0f);
    for (int64_t u = 0; u < planes; ++u) {
        for (int64_t oh = 0; oh < Hp; ++oh) {
            const int64_t q0 = (u * Hp + oh) * Wp;  // the row pair's first window
            for (int64_t row = 0; row < 2; ++row) {
                float* r = dz + (u * Ho + 2 * oh + row) * Wo;
                const float left = row == 0 ? 0.0f : below;  // the offset of this row's left place
                int64_t ow = 0;
                for (; ow < Wp && q0 + ow + 8 <= windows; ow += 8) {
                    const int64_t q = q0 + ow;
                    Vec8 g = internal::load8(dy + q);
                    if (y) {  // relu_backward
                        const Vec8 yq = internal::load8(y + q);
                        g = (yq > zero) | (yq != yq) ? g : zero;
                    }
                    if (dpooled && row == 0) internal::store8(dpooled + q, g);
                    unpool_row8(g, internal::load8(where + q), left, r + 2 * ow);
                }
                for (; ow < Wp; ++ow) {
                    const int64_t q = q0 + ow;
                    const float g = y ? relu_backward(dy[q], y[q]) : dy[q], offset = where[q];
                    if (dpooled && row == 0) dpooled[q] = g;
                    r[2 * ow] = fastmath::select(offset == left, g, 0.0f);
                    r[2 * ow + 1] = fastmath::select(offset == left + 1.0f, g, 0.0f);
                }
            }
        }
        if (Ho > 2 * Hp) std::fill_n(dz + (u * Ho + Ho - 1) * Wo, Wo, 0.0f);
    }
}

// One plane's max pooling as max_pool2d computes it: the 2x2 stride-2 kernel where it
// applies, else the general one, and the NaN-aware general one when a NaN was seen.
void pool_plane(const float* plane, int64_t W, int64_t kernel, int64_t stride, int64_t Ho, int64_t Wo,
                float* out, float* where) {
    bool nan_seen = !(kernel == 2 && stride == 2)
                        ? max_pool_plane<false, 0>(plane, W, kernel, stride, Ho, Wo, out, where)
                    : where ? max_pool_2x2<true>(plane, W, Ho, Wo, out, where)
                            : max_pool_2x2<false>(plane, W, Ho, Wo, out, nullptr);
    if (nan_seen) max_pool_plane<true, 0>(plane, W, kernel, stride, Ho, Wo, out, where);
}

}  // namespace

// y[n, o] = act(z[n, o]),  z[n, o] = b[o] + sum_{c, i, j} W[o, c, i, j] x[n, c, oh s - pad + i, ow s - pad + j]
// As matrices, image by image, with cols_n = im2col(x[n]) [K, P], Z_n = z[n] as [O, P]
// and dY_n = dz[n] = dy[n] act'(z[n]) (relu: dy where y > 0, else 0):
//   Z_n = W cols_n + b        dW = sum_n dY_n cols_n^T,   db[o] = sum_n of dY_n's row o,
//   dx[n] = col2im(W^T dY_n), or for stride 1 (a square kernel, pad < k) the same as a
//   convolution of dy[n] with the flipped kernel: dx[n] = W~ im2col(dy[n]) with padding
//   k - 1 - pad and W~[c, (o, i, j)] = W[o, c, k - 1 - i, k - 1 - j].
// Each image's cols live in a scratch buffer the size of one image's (in L2 for small
// images), and backward recomputes them rather than keeping the whole batch's: an
// im2col from cache costs less than writing cols for the batch and reading it back.
// The products are conv_product's (conv_gemm's chains of multiply-adds in k order, or
// OpenBLAS's AVX-512 kernels where it has them: core/internal/conv_gemm.h), dW's as
// dW^T += cols_n dY_n^T with dY_n transposed first, all but col2im's W^T dY_n, which
// stays OpenBLAS's (strides above 1 only).
Tensor conv2d(const Tensor& x, const Tensor& W, const Tensor& b, int64_t stride, int64_t padding,
              Activation activation, int64_t pool) {
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
    FG_CHECK(pool == 1 || pool == 2, "conv2d: the fused pooling must be 1 (none) or 2 (2x2, stride 2), got ",
             pool, "; use max_pool2d for other windows");
    FG_CHECK(pool == 1 || (g.Ho >= 2 && g.Wo >= 2),
             "conv2d: the fused 2x2 pooling needs an output of at least 2x2, got ", g.Ho, "x", g.Wo,
             " (input ", x.shape(), ")");
    // Every product below is checked once here: the output and one image's im2col buffer.
    checked_numel({g.N, g.O, g.Ho, g.Wo}, "conv2d", "the output");
    checked_numel({g.K(), g.Ho, g.Wo}, "conv2d", "one image's im2col buffer [K = C kH kW, Ho, Wo]");
    const int64_t K = g.K(), P = g.P(), CHW = g.C * g.H * g.W;
    const int64_t per_chunk = images_per_chunk(g), chunks = (g.N + per_chunk - 1) / per_chunk;
    const bool relu = activation == Activation::relu, pooled = pool == 2;
    // An allocation that fails is reported with the geometry that asked for it.
    auto buffer = [&](const Shape& shape) {
        try {
            return Tensor::empty(shape);
        } catch (const OutOfMemory& e) {
            throw OutOfMemory(str("conv2d: input ", x.shape(), ", weight ", W.shape(), ", stride ", stride,
                                  ", padding ", padding, ": ", e.what()));
        }
    };
    const int64_t Hp = g.Ho / 2, Wp = g.Wo / 2, Pp = Hp * Wp;  // the pooled output, if pooled

    // With pooling, Z_n goes to a scratch buffer and only its pooled planes to y; where[n, o]
    // holds the offset of each window's maximum from the window's top-left corner in its
    // Ho x Wo plane (0, 1, Wo or Wo + 1), which backward compares with without arithmetic.
    Tensor y = pooled ? buffer(Shape{g.N, g.O, Hp, Wp}) : buffer(Shape{g.N, g.O, g.Ho, g.Wo});
    const bool keep_where = pooled && needs_grad({x, W, b});
    Tensor where = keep_where ? buffer(y.shape()) : Tensor();
    const float* px = x.data();
    const float* pW = W.data();
    const float* pb = b.defined() ? b.data() : nullptr;
    float* py = y.data();
    // Each chunk's scratch: cols_n, lower()'s, Z_n before pooling.
    enum { kCols, kLowering, kZ };
    ScratchSets scratch(chunks, [&] {
        return std::vector<Tensor>{cols_buffer(g), lowering_scratch(g),
                                   pooled ? Tensor::empty(Shape{g.O, P}) : Tensor()};
    });
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
        ScratchSets::Lease s = scratch.borrow();
        for (int64_t n = c0 * per_chunk; n < std::min(g.N, c1 * per_chunk); ++n) {
            lower(px + n * CHW, g, s[kLowering], s[kCols]);
            float* Zn = pooled ? s[kZ] : py + n * g.O * P;  // [O, P]
            conv_product(g.O, P, K, pW, K, s[kCols], P, false, Zn, P);
            float* yn = py + n * g.O * Pp;
            float* wn = keep_where ? where.data() + n * g.O * Pp : nullptr;
            // The bias, the activation and the pooling in one pass over all O planes when the
            // rows pair up and no NaN was seen; else in steps, with the same result.
            if (pooled && g.Wo % 2 == 0) {
                auto fused =
                    relu ? (pb ? activate_pool_2x2_planes<true, true> : activate_pool_2x2_planes<true, false>)
                         : (pb ? activate_pool_2x2_planes<false, true>
                               : activate_pool_2x2_planes<false, false>);
                if (!fused(Zn, pb, g.O, g.Ho, g.Wo, yn, wn)) continue;
            }
            for (int64_t o = 0; o < g.O; ++o) {  // the bias and the activation, while Z_n is in cache
                const float bias = pb ? pb[o] : 0.0f;
                float* row = Zn + o * P;
                if (relu)
                    for (int64_t p = 0; p < P; ++p) row[p] = relu_value(row[p] + bias);
                else if (pb)
                    for (int64_t p = 0; p < P; ++p) row[p] += bias;
            }
            if (!pooled) continue;
            for (int64_t o = 0; o < g.O; ++o) {  // plane by plane, NaN-aware where a NaN was seen
                pool_plane(Zn + o * P, g.Wo, 2, 2, Hp, Wp, yn + o * Pp, wn ? wn + o * Pp : nullptr);
                if (wn)  // pool_plane's flat indices as offsets from each window's top-left corner
                    for (int64_t q = 0; q < Pp; ++q)
                        wn[o * Pp + q] -= float(2 * (q / Wp) * g.Wo + 2 * (q % Wp));
            }
        }
    });

    static const char* const kNames[2][2] = {{"conv2d", "conv2d_maxpool"},
                                             {"conv2d_relu", "conv2d_relu_maxpool"}};
    record(kNames[relu][pooled], {x, W, b}, y,
           [x, W, b, g, per_chunk, chunks, relu, where](const Tensor& dy_out, const Tensor& y) {
               const int64_t K = g.K(), P = g.P(), CHW = g.C * g.H * g.W, OP = g.O * P;
               const bool pooled = where.defined();
               const int64_t Hp = g.Ho / 2, Wp = g.Wo / 2, Pp = Hp * Wp;
               const bool need_dW = W.requires_grad(), need_db = b.defined() && b.requires_grad();
               const bool need_dx = x.requires_grad();
               // dx as the convolution of dy with the flipped kernel: dy[n] [O, Ho, Wo] is its input.
               const bool transposed = g.stride == 1 && g.kH == g.kW && g.pad <= g.kH - 1;
               const ConvGeometry gt{g.N, g.O, g.Ho, g.Wo, g.C, g.kH, g.kW, 1, g.kH - 1 - g.pad, g.H, g.W};
               Tensor flipped;  // W~ [C, O kH kW]
               if (need_dx && transposed) {
                   flipped = Tensor::empty(Shape{g.C, g.O * g.kH * g.kW});
                   for (int64_t o = 0; o < g.O; ++o)
                       for (int64_t c = 0; c < g.C; ++c)
                           for (int64_t i = 0; i < g.kH; ++i)
                               for (int64_t j = 0; j < g.kW; ++j)
                                   flipped.data()[c * gt.K() + (o * g.kH + i) * g.kW + j] =
                                       W.data()[((o * g.C + c) * g.kH + g.kH - 1 - i) * g.kW + g.kW - 1 - j];
               }
               // One partial sum of dW^T [K, O] and of db [O] per chunk, added in chunk order below.
               Tensor dWt_parts = need_dW ? Tensor::empty(Shape{chunks, K, g.O}) : Tensor();
               std::vector<double> db_parts(size_t(need_db ? chunks * g.O : 0), 0.0);
               Tensor dx = need_dx ? Tensor::empty(x.shape()) : Tensor();
               const float* px = x.data();
               const float* pW = W.data();
               const float* pdy = dy_out.data();
               const float* py = y.data();
               // Each chunk's scratch: dY_n (dy[n] through the pooling's routing and relu's mask,
               // when fused), cols_n and lower()'s, dcols_n and lower()'s, dY_n transposed for
               // dW's product, and with pooling and relu the windows' gradients for db.
               enum { kDz, kCols, kLowering, kDcols, kDlowering, kDyT, kDpooled };
               ScratchSets scratch(chunks, [&] {
                   return std::vector<Tensor>{
                       relu || pooled ? Tensor::empty(Shape{g.O * P}) : Tensor(),
                       need_dW ? cols_buffer(g) : Tensor(),
                       need_dW ? lowering_scratch(g) : Tensor(),
                       need_dx ? (transposed ? cols_buffer(gt) : cols_buffer(g)) : Tensor(),
                       need_dx && transposed ? lowering_scratch(gt) : Tensor(),
                       need_dW ? Tensor::empty(Shape{P, g.O}) : Tensor(),
                       pooled && relu && need_db ? Tensor::empty(Shape{g.O * Pp}) : Tensor()};
               });
               parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
                   ScratchSets::Lease s = scratch.borrow();
                   for (int64_t c = c0; c < c1; ++c) {
                       const int64_t first = c * per_chunk, last = std::min(g.N, first + per_chunk);
                       for (int64_t n = first; n < last; ++n) {
                           const float* dYn = pdy + n * OP;  // [O, P]
                           if (pooled) {  // dz = dy through relu's mask at each window's maximum, 0 elsewhere
                               float* dz = s[kDz];
                               const float* dyn = pdy + n * g.O * Pp;  // [O, Pp]
                               float* dpooled = relu && need_db ? s[kDpooled] : nullptr;
                               unpool_2x2_planes(dyn, relu ? py + n * g.O * Pp : nullptr,
                                                 where.data() + n * g.O * Pp, g.O, g.Ho, g.Wo, dz, dpooled);
                               // db[o] = sum of dz's plane o = sum of its windows' gradients
                               if (need_db)
                                   add_row_sums(dpooled ? dpooled : dyn, g.O, Pp, db_parts.data() + c * g.O);
                               dYn = dz;
                           } else if (relu) {
                               float* __restrict mask = s[kDz];
                               const float* __restrict yn = py + n * OP;
                               for (int64_t q = 0; q < OP; ++q) mask[q] = relu_backward(dYn[q], yn[q]);
                               dYn = mask;
                           }
                           if (need_db && !pooled) add_row_sums(dYn, g.O, P, db_parts.data() + c * g.O);
                           if (need_dW) {  // dW^T[K, O] += cols_n[K, P] dY_n^T[P, O]
                               lower(px + n * CHW, g, s[kLowering], s[kCols]);
                               conv_product_bt(K, g.O, P, s[kCols], P, dYn, s[kDyT], n != first,
                                               dWt_parts.data() + c * K * g.O, g.O);
                           }
                           if (need_dx && transposed) {  // dx[n][C, H W] = W~[C, O kH kW] im2col(dy[n])
                               lower(dYn, gt, s[kDlowering], s[kDcols]);
                               conv_product(g.C, g.H * g.W, gt.K(), flipped.data(), gt.K(), s[kDcols],
                                            g.H * g.W, false, dx.data() + n * CHW, g.H * g.W);
                           } else if (
                               need_dx) {  // dcols_n[K, P] = W^T[K, O] dY_n[O, P];  dx[n] = col2im(dcols_n)
                               gemm(true, false, K, P, g.O, 1.0f, pW, K, dYn, P, 0.0f, s[kDcols], P);
                               col2im(s[kDcols], g, dx.data() + n * CHW);
                           }
                       }
                   }
               });
               if (need_db) {
                   Tensor db = Tensor::empty(b.shape());
                   for (int64_t o = 0; o < g.O; ++o) {
                       double s = 0.0;
                       for (int64_t c = 0; c < chunks; ++c) s += db_parts[size_t(c * g.O + o)];
                       db.data()[o] = float(s);
                   }
                   accumulate_grad(b, std::move(db));
               }
               if (need_dW) {  // dW[o, k] = sum over chunks of dW^T[k, o], in chunk order
                   float* __restrict total = dWt_parts.data();  // chunk 0's part, then the running sum
                   for (int64_t c = 1; c < chunks; ++c) {
                       const float* __restrict part = dWt_parts.data() + c * K * g.O;
                       for (int64_t i = 0; i < K * g.O; ++i) total[i] += part[i];
                   }
                   Tensor dW = Tensor::empty(W.shape());
                   for (int64_t o = 0; o < g.O; ++o)
                       for (int64_t k = 0; k < K; ++k) dW.data()[o * K + k] = total[k * g.O + o];
                   accumulate_grad(W, std::move(dW));
               }
               if (need_dx) accumulate_grad(x, std::move(dx));
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
            pool_plane(px + u * H * W, W, kernel, stride, Ho, Wo, py + u * P, pw ? pw + u * P : nullptr);
        }
    });

    record("max_pool2d", {x}, y,
           [x, where, planes, P, kernel, stride, Ho, Wo](const Tensor& dy, const Tensor&) {
               const int64_t H = x.size(2), W = x.size(3), HW = H * W;
               Tensor dx = Tensor::empty(x.shape());
               const float* pdy = dy.data();
               const float* pw = where.data();
               float* pdx = dx.data();
               parallel_for(planes, grain_for(HW + P), [&](int64_t begin, int64_t end) {
                   for (int64_t u = begin; u < end; ++u) {
                       float* plane = pdx + u * HW;
                       if (kernel == 2 && stride == 2) {
                           max_pool_2x2_backward(pdy + u * P, pw + u * P, H, W, Ho, Wo, plane);
                           continue;
                       }
                       std::fill_n(plane, HW, 0.0f);
                       for (int64_t p = 0; p < P; ++p) plane[int64_t(pw[u * P + p])] += pdy[u * P + p];
                   }
               });
               accumulate_grad(x, std::move(dx));
           });
    return y;
}

}  // namespace focalgrad
