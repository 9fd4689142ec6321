// ops.h — the differentiable primitives. Each is a free function whose forward is
// followed, in its .cpp, directly by its backward closure; the math sits above each.
// Semantics follow NumPy/PyTorch: binary ops broadcast (shapes are aligned from the
// right; a size-1 or missing dimension stretches), reductions take an optional dim
// (negative counts from the end) and keepdim.
// Files: ops_elementwise.cpp, ops_reduce.cpp, ops_sort.cpp, ops_shape.cpp, ops_linalg.cpp,
// ops_conv.cpp.
// Shape legend: N batch, C classes/channels, D features, M/K/P matrix sizes.
#pragma once

#include <cstdint>
#include <vector>

#include <focalgrad/core/tensor.h>

namespace focalgrad {

// ---- Elementwise, binary (broadcasting) -------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);

// With a scalar: x + s, x - s, s - x, x * s, x / s, s / x.
Tensor add(const Tensor& x, float s);
Tensor sub(const Tensor& x, float s);
Tensor rsub(float s, const Tensor& x);
Tensor mul(const Tensor& x, float s);
Tensor div(const Tensor& x, float s);
Tensor rdiv(float s, const Tensor& x);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& x, float s) { return add(x, s); }
inline Tensor operator+(float s, const Tensor& x) { return add(x, s); }
inline Tensor operator-(const Tensor& x, float s) { return sub(x, s); }
inline Tensor operator-(float s, const Tensor& x) { return rsub(s, x); }
inline Tensor operator*(const Tensor& x, float s) { return mul(x, s); }
inline Tensor operator*(float s, const Tensor& x) { return mul(x, s); }
inline Tensor operator/(const Tensor& x, float s) { return div(x, s); }
inline Tensor operator/(float s, const Tensor& x) { return rdiv(s, x); }

// ---- Elementwise, unary -----------------------------------------------------------
Tensor neg(const Tensor& x);
inline Tensor operator-(const Tensor& x) { return neg(x); }
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor pow(const Tensor& x, float p);
Tensor abs(const Tensor& x);
Tensor clamp(const Tensor& x, float lo, float hi);  // lo <= hi; use +-INFINITY for one side
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, float negative_slope = 0.01f);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);

// ---- Reductions --------------------------------------------------------------------
Tensor sum(const Tensor& x);  // over all elements -> 0-d
Tensor mean(const Tensor& x);
Tensor max(const Tensor& x);
Tensor sum(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor mean(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
// Not differentiable: indices of the maxima (first one on ties).
int64_t argmax(const Tensor& x);                        // flat index over all elements
std::vector<int> argmax(const Tensor& x, int64_t dim);  // one per position of the other dims

// ---- Selection (ops_sort.cpp) --------------------------------------------------------
// The selected values (differentiable: the gradient goes back to where each came from,
// zero elsewhere) and their positions along dim, both shaped like x with dim -> k.
// The order is total: NaN ranks above every number, and equal values come in index
// order, so ties are deterministic. Selecting k of n costs O(n + k log k) per line.
struct ValuesIndices {
    Tensor values;
    std::vector<int64_t> indices;  // row-major like values; each in [0, x.size(dim))
};
// The k largest (largest = false: smallest) along dim, largest (smallest) first; 0 <= k <= n.
ValuesIndices topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true);
// Every element of each line along dim, ascending (descending = true: largest first).
ValuesIndices sort(const Tensor& x, int64_t dim = -1, bool descending = false);

// ---- Shape -------------------------------------------------------------------------
Tensor reshape(const Tensor& x, const std::vector<int64_t>& sizes);  // one may be -1; shares data
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor transpose(const Tensor& x);  // 2-D: [M, K] -> [K, M]
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor concat(const std::vector<Tensor>& xs, int64_t dim = 0);
Tensor index_select(const Tensor& x, int64_t dim, const std::vector<int64_t>& index);
Tensor gather(const Tensor& x, const std::vector<int>& index);  // [N, C] -> [N]: x[i, index[i]]

// ---- Linear algebra ---------------------------------------------------------------
// An activation fused into linear or conv2d: relu(linear(x, W, b)) has the same values and
// gradients, bit for bit, as linear(x, W, b, Activation::relu), which saves a pass over
// the output forward and backward and a node on the tape (nn's Sequential uses it for a
// Linear or Conv2d followed by a ReLU).
enum class Activation { none, relu };

Tensor matmul(const Tensor& a, const Tensor& b);  // [M,K]x[K,P]; [B,M,K]x[B,K,P]; [B,M,K]x[K,P]
Tensor linear(const Tensor& x, const Tensor& W, const Tensor& b = Tensor(),
              Activation activation = Activation::none);  // act(x W^T + b)

// ---- Convolution (ops_conv.cpp) ---------------------------------------------------
// x [N, C, H, W], W [O, C, kH, kW], b [O] or undefined -> [N, O, Ho, Wo] with
// Ho = (H + 2 padding - kH) / stride + 1 (likewise Wo); zero padding on all four sides.
// With `activation` and pool = 2 the output is max_pool2d(act(conv2d(x, W, b)), 2, 2), the
// same values and gradients bit for bit, computed image by image without the full-size
// activations leaving the cache (nn's Sequential uses it for Conv2d, ReLU, MaxPool2d(2)).
// pool is 1 (none) or 2.
Tensor conv2d(const Tensor& x, const Tensor& W, const Tensor& b, int64_t stride = 1, int64_t padding = 0,
              Activation activation = Activation::none, int64_t pool = 1);
// x [N, C, H, W] -> [N, C, (H - kernel) / stride + 1, (W - kernel) / stride + 1]: the
// maximum of each kernel x kernel window (no padding; a window must fit the image).
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride);

// ---- Normalisation (ops_norm.cpp) -------------------------------------------------
// x [N, C, *] -> same shape: each channel c normalised over its N x * values,
// y = gamma (x - mean) / sqrt(var + eps) + beta. training: the batch's mean and biased var,
// and running_mean / running_var (if defined, shape [C]) updated in place with `momentum`
// (var unbiased there, as PyTorch). eval: the running statistics. weight (gamma) and bias
// (beta) are [C] or undefined (1 and 0).
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                  Tensor running_var, bool training, float momentum = 0.1f, float eps = 1e-5f);
// x [..., normalized_shape] -> same shape: each row of the trailing dims normalised with
// its own mean and biased var; weight and bias have normalized_shape, or are undefined.
Tensor layer_norm(const Tensor& x, const std::vector<int64_t>& normalized_shape,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), float eps = 1e-5f);

}  // namespace focalgrad
