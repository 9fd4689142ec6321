// im2col.cpp — one image's receptive fields as the columns of a matrix, and back
// (the declarations in im2col.h say what each computes).
#include <algorithm>
#include <cstring>

#include <focalgrad/core/im2col.h>

namespace focalgrad::detail {

namespace {

// The output columns [lo, hi) of one kernel offset whose input column ow*stride - pad + j
// lies inside [0, W); every other output column reads padding.
void valid_range(int64_t W, int64_t Wo, int64_t stride, int64_t pad, int64_t j, int64_t& lo, int64_t& hi) {
    lo = pad - j <= 0 ? 0 : (pad - j + stride - 1) / stride;
    hi = W - 1 + pad - j < 0 ? 0 : std::min(Wo, (W - 1 + pad - j) / stride + 1);
    lo = std::min(lo, hi);
}

// Row length of im2col_stride1's padded plane: the padded row, rounded up to whole blocks,
// and one more block, so that a block read starting anywhere in the padded row stays in it.
int64_t padded_row(const ConvGeometry& g) {
    return (g.W + 2 * g.pad + kIm2colSlack - 1) / kIm2colSlack * kIm2colSlack + kIm2colSlack;
}

// One block of kIm2colSlack floats, dst = src, as one vector load and store: gcc expands a
// 32-byte memcpy into two 16-byte moves under its generic tuning, twice the instructions
// (a vector type of 8 floats is one AVX move in the default build, two SSE moves in the
// PORTABLE one). may_alias and aligned(4): it reads and writes plain float arrays.
typedef float Block __attribute__((vector_size(kIm2colSlack * sizeof(float)), aligned(4), may_alias));
inline void copy_block(const float* src, float* dst) {
    *reinterpret_cast<Block*>(dst) = *reinterpret_cast<const Block*>(src);
}

// dst[0 .. n) = src[0 .. n), neither read nor written beyond: whole blocks, the last one
// ending exactly at n (overlapping the one before, which it rewrites with the same values).
// For the short rows of small images this beats a call to memmove (what std::copy_n is).
void copy_exact(const float* src, int64_t n, float* dst) {
    if (n < kIm2colSlack) {
        for (int64_t w = 0; w < n; ++w) dst[w] = src[w];
        return;
    }
    for (int64_t w = 0; w + kIm2colSlack < n; w += kIm2colSlack) copy_block(src + w, dst + w);
    copy_block(src + n - kIm2colSlack, dst + n - kIm2colSlack);
}

}  // namespace

void im2col(const float* x, const ConvGeometry& g, float* cols) {
    const int64_t P = g.P();
    for (int64_t c = 0; c < g.C; ++c) {
        const float* plane = x + c * g.H * g.W;
        for (int64_t i = 0; i < g.kH; ++i)
            for (int64_t j = 0; j < g.kW; ++j) {
                float* row = cols + ((c * g.kH + i) * g.kW + j) * P;
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
                    for (int64_t ow = lo; ow < hi; ++ow) out[ow] = src[ow * g.stride];
                    std::fill(out + hi, out + g.Wo, 0.0f);
                }
            }
    }
}

void col2im(const float* dcols, const ConvGeometry& g, float* dx) {
    const int64_t P = g.P();
    std::fill_n(dx, g.C * g.H * g.W, 0.0f);
    for (int64_t c = 0; c < g.C; ++c) {
        float* plane = dx + c * g.H * g.W;
        for (int64_t i = 0; i < g.kH; ++i)
            for (int64_t j = 0; j < g.kW; ++j) {
                const float* row = dcols + ((c * g.kH + i) * g.kW + j) * P;
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
}

int64_t im2col_stride1_scratch(const ConvGeometry& g) { return (g.H + 2 * g.pad) * padded_row(g); }

// The Ho segments of one cols row under stride 1: segment oh is Wo consecutive floats of
// the padded plane from row oh + i, column j, copied in `blocks` whole blocks. Blocks > 0
// fixes the count at compile time, so that the copies of a short row are straight-line
// code rather than a loop of one or two turns.
template <int Blocks>
void copy_segments(const float* src, int64_t Wq, int64_t Ho, int64_t Wo, int64_t blocks, float* out) {
    const int64_t n = Blocks > 0 ? Blocks : blocks;
    for (int64_t oh = 0; oh < Ho; ++oh, src += Wq, out += Wo)
        for (int64_t b = 0; b < n; ++b) copy_block(src + b * kIm2colSlack, out + b * kIm2colSlack);
}

// With stride 1 the segment oh of cols row (c, i, j) is Wo consecutive floats of the
// zero-padded plane, starting at row oh + i, column j: a plain copy, no bounds to check.
// The plane is copied in once per channel; the segments are then copied in whole blocks
// (one vector load and store each), the last block of a segment spilling into the start of
// the next, which is written afterwards.
void im2col_stride1(const float* x, const ConvGeometry& g, float* scratch, float* cols) {
    // Sizes in locals: the block copies write through char-typed memcpy, which may alias
    // anything, so fields read through `g` would be reloaded after every copy.
    const int64_t C = g.C, H = g.H, W = g.W, kH = g.kH, kW = g.kW, pad = g.pad, Ho = g.Ho, Wo = g.Wo;
    const int64_t P = g.P(), Wq = padded_row(g), blocks = (Wo + kIm2colSlack - 1) / kIm2colSlack;
    auto copy = blocks == 1   ? copy_segments<1>
                : blocks == 2 ? copy_segments<2>
                : blocks == 3 ? copy_segments<3>
                : blocks == 4 ? copy_segments<4>
                              : copy_segments<0>;
    for (int64_t c = 0; c < C; ++c) {
        const float* plane = x + c * H * W;
        for (int64_t ih = 0; ih < H; ++ih) copy_exact(plane + ih * W, W, scratch + (ih + pad) * Wq + pad);
        for (int64_t i = 0; i < kH; ++i)
            for (int64_t j = 0; j < kW; ++j)
                copy(scratch + i * Wq + j, Wq, Ho, Wo, blocks, cols + ((c * kH + i) * kW + j) * P);
    }
}

}  // namespace focalgrad::detail
