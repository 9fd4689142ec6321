// im2col.h — internal to conv2d (core/ops_conv.cpp): the lowering of one image's
// convolution to a matrix product, and its adjoint. No math of its own beyond gathering
// and scattering; the convolution's formulas are in ops_conv.cpp.
//   im2col   (reference, any stride) cols[(c kH + i) kW + j, oh Wo + ow] = x[c, oh s - pad + i, ow s - pad + j]
//   col2im   (reference, any stride) its adjoint: dx[c, ih, iw] = sum of the cols entries read from there
//   im2col_stride1  the same as im2col for stride 1, several times faster (tests/test_conv.cpp
//                   holds the two equal, bit for bit)
// Shapes: one image x [C, H, W]; cols [K, P] with K = C kH kW, P = Ho Wo.
#pragma once

#include <cstdint>

namespace focalgrad::detail {

struct ConvGeometry {
    int64_t N, C, H, W;  // input
    int64_t O, kH, kW;   // weight
    int64_t stride, pad;
    int64_t Ho, Wo;  // output
    int64_t K() const { return C * kH * kW; }
    int64_t P() const { return Ho * Wo; }
};

void im2col(const float* x, const ConvGeometry& g, float* cols);
void col2im(const float* dcols, const ConvGeometry& g, float* dx);

// im2col_stride1 copies rows in blocks of this many floats, which may run past a row's end
// into the next row (which then overwrites them): `cols` needs this many floats of slack
// after its K P.
constexpr int64_t kIm2colSlack = 8;
// The scratch im2col_stride1 needs: a zero-padded copy of one channel plane.
int64_t im2col_stride1_scratch(const ConvGeometry& g);
// g.stride must be 1. `scratch` holds im2col_stride1_scratch(g) floats, all zero before
// the first call (the calls keep its padding zero, so it can be reused as it is).
void im2col_stride1(const float* x, const ConvGeometry& g, float* scratch, float* cols);

}  // namespace focalgrad::detail
