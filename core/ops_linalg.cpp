// ops_linalg.cpp — matrix products through the BLAS wrapper: matmul (2-D and batched)
// and linear, the fused x W^T + b of a fully connected layer. Each gradient is itself
// one gemm, so a layer's backward costs two products (dX, dW) plus the bias sum.
#include <algorithm>
#include <utility>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/blas.h>
#include <focalgrad/core/kernels.h>
#include <focalgrad/core/ops.h>

namespace focalgrad {

namespace {

// C[M, P] = A[M, K] B[K, P] for `batch` consecutive matrices (stride 0 = shared).
void batched_gemm(bool ta, bool tb, int64_t batch, int64_t M, int64_t P, int64_t K, const float* A,
                  int64_t a_stride, const float* B, int64_t b_stride, float* C) {
    int64_t lda = ta ? M : K, ldb = tb ? K : P;
    for (int64_t i = 0; i < batch; ++i)
        gemm(ta, tb, M, P, K, 1.0f, A + i * a_stride, lda, B + i * b_stride, ldb, 0.0f, C + i * M * P, P);
}

}  // namespace

// C = A B                    dA = dC B^T,  dB = A^T dC
// Shapes: [M,K]x[K,P] -> [M,P];  [B,M,K]x[B,K,P] -> [B,M,P];  [B,M,K]x[K,P] -> [B,M,P].
Tensor matmul(const Tensor& a, const Tensor& b) {
    FG_CHECK((a.dim() == 2 || a.dim() == 3) && (b.dim() == 2 || (b.dim() == 3 && a.dim() == 3)),
             "matmul: supports [M, K] x [K, P], [B, M, K] x [B, K, P] and [B, M, K] x [K, P]; "
             "got a ",
             a.shape(), ", b ", b.shape());
    FG_CHECK(a.size(-1) == b.size(-2), "matmul: inner dimensions differ: a is ", a.shape(), ", b is ",
             b.shape());
    bool batched_b = b.dim() == 3;
    if (batched_b)
        FG_CHECK(a.size(0) == b.size(0), "matmul: batch sizes differ: a is ", a.shape(), ", b is ",
                 b.shape());
    // A 3-D a times a 2-D b is one big 2-D product: [B*M, K] x [K, P].
    int64_t batch = batched_b ? a.size(0) : 1;
    int64_t M = a.size(-2) * (a.dim() == 3 && !batched_b ? a.size(0) : 1);
    int64_t K = a.size(-1), P = b.size(-1);
    Shape out = a.shape();
    out.set(out.size() - 1, P, "matmul");

    Tensor c = Tensor::empty(out);
    batched_gemm(false, false, batch, M, P, K, a.data(), M * K, b.data(), batched_b ? K * P : 0, c.data());
    record("matmul", {a, b}, c, [a, b, batch, M, K, P, batched_b](const Tensor& dc, const Tensor&) {
        if (a.requires_grad()) {  // dA[M, K] = dC[M, P] B^T
            Tensor da = Tensor::empty(a.shape());
            batched_gemm(false, true, batch, M, K, P, dc.data(), M * P, b.data(), batched_b ? K * P : 0,
                         da.data());
            accumulate_grad(a, std::move(da));
        }
        if (b.requires_grad()) {  // dB[K, P] = A^T dC[M, P]
            Tensor db = Tensor::empty(b.shape());
            batched_gemm(true, false, batch, K, P, M, a.data(), M * K, dc.data(), M * P, db.data());
            accumulate_grad(b, std::move(db));
        }
    });
    return c;
}

// y = act(z), z = x W^T + b, x [N, D_in] (or [..., D_in]), W [D_out, D_in], b [D_out] or undefined
// dz = dy act'(z) (relu: dy where y > 0, else 0),  dx = dz W,  dW = dz^T x,  db = sum over rows of dz
// The bias and the activation are applied block by block inside gemm's partition, by the
// thread that computes the block, while the block is in its cache (GemmBlockHooks).
Tensor linear(const Tensor& x, const Tensor& W, const Tensor& b, Activation activation) {
    FG_CHECK(W.dim() == 2, "linear: weight must be [D_out, D_in], got ", W.shape());
    FG_CHECK(x.dim() >= 1 && x.size(-1) == W.size(1), "linear: input features differ: x is ", x.shape(),
             ", weight is ", W.shape(), " (expected x of shape [N, ", W.size(1), "])");
    int64_t D_out = W.size(0), D_in = W.size(1);
    if (b.defined())
        FG_CHECK(b.dim() == 1 && b.size(0) == D_out, "linear: bias must be [", D_out, "] for weight ",
                 W.shape(), ", got ", b.shape());
    int64_t N = 1;  // all leading dims of x act as the batch
    for (int d = 0; d + 1 < x.dim(); ++d) N *= x.shape()[d];
    Shape out = x.shape();
    out.set(out.size() - 1, D_out, "linear");
    const bool relu = activation == Activation::relu;

    Tensor y = Tensor::empty(out);  // [N, D_out]
    struct Block {
        float* y;
        const float* b;
        int64_t D_out;
    } block{y.data(), b.defined() ? b.data() : nullptr, D_out};
    GemmBlockHooks hooks;
    hooks.ctx = &block;
    if (b.defined())  // start every row of the block at b, then let gemm add x W^T on top
        hooks.before = [](void* ctx, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
            auto* k = static_cast<Block*>(ctx);
            for (int64_t i = r0; i < r1; ++i) std::copy(k->b + c0, k->b + c1, k->y + i * k->D_out + c0);
        };
    if (relu)
        hooks.after = [](void* ctx, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
            auto* k = static_cast<Block*>(ctx);
            for (int64_t i = r0; i < r1; ++i)
                for (float *v = k->y + i * k->D_out + c0, *end = v + (c1 - c0); v != end; ++v)
                    *v = relu_value(*v);
        };
    gemm(false, true, N, D_out, D_in, 1.0f, x.data(), D_in, W.data(), D_in, b.defined() ? 1.0f : 0.0f,
         y.data(), D_out, hooks);

    // The closure captures only what it cannot recompute: 56 bytes, kept inside the node.
    record(relu ? "linear_relu" : "linear", {x, W, b}, y, [x, W, b, relu](const Tensor& dy, const Tensor& y) {
        const int64_t D_out = W.size(0), D_in = W.size(1), N = x.numel() / D_in;
        // A lambda, not the function's address: gcc called relu_backward through the
        // pointer once per element (callgrind), where the lambda's loop vectorises.
        const Tensor dz =
            relu ? zip(dy, y, [](float d, float v) { return relu_backward(d, v); }) : dy;  // [N, D_out]
        if (x.requires_grad()) {  // dx[N, D_in] = dz[N, D_out] W[D_out, D_in]
            Tensor dx = Tensor::empty(x.shape());
            gemm(false, false, N, D_in, D_out, 1.0f, dz.data(), D_out, W.data(), D_in, 0.0f, dx.data(), D_in);
            accumulate_grad(x, std::move(dx));
        }
        if (W.requires_grad()) {  // dW[D_out, D_in] = dz^T[D_out, N] x[N, D_in]
            Tensor dW = Tensor::empty(W.shape());
            gemm(true, false, D_out, D_in, N, 1.0f, dz.data(), D_out, x.data(), D_in, 0.0f, dW.data(), D_in);
            accumulate_grad(W, std::move(dW));
        }
        if (b.defined() && b.requires_grad())  // db[D_out] = sum_n dz[n, :]
            accumulate_grad(b, sum_to(view(dz, Shape{N, D_out}), b.shape()));
    });
    return y;
}

}  // namespace focalgrad
