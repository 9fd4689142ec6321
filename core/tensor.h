// tensor.h — the float32 tensor: a cheap, shared handle to a contiguous row-major buffer,
// its shape, and the autograd state (requires_grad, grad, which tape node made it).
// Copying a Tensor copies the handle, not the data (like torch.Tensor); reshape and
// detach share storage. Not here: other dtypes, strided views, devices. Every tensor
// is contiguous, so every kernel is a plain loop over memory.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include <focalgrad/core/random.h>

namespace focalgrad {

// ---- Shape -----------------------------------------------------------------------
// Up to kMaxDims sizes stored inline: creating a tensor never allocates for its shape.
constexpr int kMaxDims = 8;

// The most elements a tensor may have: 2^46, 256 TiB of float32, more than any machine
// holds. Every Shape keeps the product of its non-zero sizes within it (checked when it
// is built or changed), so numel(), every stride and every index product of a tensor
// fits in int64 with room to spare, and a size that would overflow is an Error naming
// the op and the shape instead of a tensor with a wrapped-around element count.
constexpr int64_t kMaxNumel = int64_t(1) << 46;

class Shape {
public:
    Shape() = default;
    Shape(std::initializer_list<int64_t> dims);
    explicit Shape(const std::vector<int64_t>& dims);
    // The same, with `op` naming the caller in an error ("matmul", "conv2d").
    Shape(std::initializer_list<int64_t> dims, const char* op);
    Shape(const std::vector<int64_t>& dims, const char* op);

    int size() const { return n_; }
    int64_t operator[](int i) const { return d_[i]; }
    const int64_t* begin() const { return d_; }
    const int64_t* end() const { return d_ + n_; }
    void push_back(int64_t v, const char* op = "Shape");
    void set(int i, int64_t v, const char* op = "Shape");  // the size of dim i, checked like push_back
    int64_t numel() const;                                 // product of the sizes; 1 for a 0-d shape
    std::vector<int64_t> vec() const { return {begin(), end()}; }

    bool operator==(const Shape& o) const;
    bool operator!=(const Shape& o) const { return !(*this == o); }

private:
    int64_t d_[kMaxDims] = {};
    int n_ = 0;
};

std::ostream& operator<<(std::ostream& os, const Shape& s);  // prints [2, 3]

// dim in [-ndim, ndim) -> [0, ndim); `op` names the caller in the error.
int normalize_dim(int64_t dim, int ndim, const char* op);

// The product of `sizes` (each >= 0), or an Error naming `op` and `what` ("the im2col
// buffer") when a product of its non-zero sizes exceeds kMaxNumel: for sizes an op
// multiplies before it builds a Shape.
int64_t checked_numel(std::initializer_list<int64_t> sizes, const char* op, const char* what);

// ---- Storage ---------------------------------------------------------------------
// One float buffer, freed (back to the pool) when the last tensor using it goes away.
struct Storage {
    float* data;
    int64_t size;
    explicit Storage(int64_t n);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;
};

struct TensorImpl {
    Shape shape;
    std::shared_ptr<Storage> storage;
    float* data = nullptr;  // storage->data, cached
    bool requires_grad = false;
    bool retains_grad = false;          // keep the gradient of a non-leaf after backward
    uint64_t creator = 0;               // id of the tape node that made it; 0 for a leaf
    std::shared_ptr<TensorImpl> grad;   // d(loss)/d(this), same shape; null until backward
    std::unique_ptr<std::string> name;  // null unless named: unnamed tensors pay nothing
};

// ---- Tensor ----------------------------------------------------------------------
class Tensor {
public:
    Tensor() = default;  // an undefined handle: defined() is false
    explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

    // Factories. `empty` leaves the values uninitialised; the random ones draw from
    // `gen` (default: the calling thread's generator, see core/random.h).
    static Tensor empty(const Shape& shape);
    static Tensor zeros(const Shape& shape);
    static Tensor ones(const Shape& shape);
    static Tensor full(const Shape& shape, float value);
    static Tensor scalar(float value);  // 0-d
    static Tensor from(const std::vector<float>& values, const Shape& shape);
    static Tensor from(std::initializer_list<float> values, const Shape& shape);
    static Tensor from(std::initializer_list<float> values);  // 1-D
    static Tensor arange(float stop);
    static Tensor arange(float start, float stop, float step = 1.0f);
    static Tensor rand(const Shape& shape, Generator& gen = default_generator());   // U[0, 1)
    static Tensor randn(const Shape& shape, Generator& gen = default_generator());  // N(0, 1)
    static Tensor uniform(const Shape& shape, float lo, float hi, Generator& gen = default_generator());
    static Tensor normal(const Shape& shape, float mean, float std, Generator& gen = default_generator());

    bool defined() const { return impl_ != nullptr; }
    const Shape& shape() const { return impl().shape; }
    int dim() const { return impl().shape.size(); }
    int64_t size(int64_t d) const;  // negative d counts from the end
    int64_t numel() const { return impl().shape.numel(); }

    float* data() { return impl().data; }
    const float* data() const { return impl().data; }
    float item() const;                                    // the value of a one-element tensor
    float at(std::initializer_list<int64_t> index) const;  // bounds-checked element read
    std::vector<float> to_vector() const;

    // Autograd state.
    bool requires_grad() const { return impl().requires_grad; }
    Tensor& set_requires_grad(bool on = true);  // only on leaves
    bool is_leaf() const { return impl().creator == 0; }
    bool has_grad() const { return impl().grad != nullptr; }
    Tensor grad() const;                       // throws if backward has not reached it
    void zero_grad() { impl().grad.reset(); }  // "no gradient", like set_to_none=True
    void retain_grad() { impl().retains_grad = true; }
    void backward() const;                  // scalar output: seeds d(this) = 1
    void backward(const Tensor& dy) const;  // any output: seeds d(this) = dy

    // A name, for pictures of the tape (core/tape_graph.h). Modules name their parameters
    // as named_parameters() does ("fc1.weight"); any tensor can be named. Views, clones
    // and op results start unnamed.
    Tensor& set_name(const std::string& name);
    const std::string& name() const;  // "" when unnamed

    Tensor detach() const;  // shares the data, cut off from autograd
    // The same data under another shape with as many elements, cut off from autograd
    // (the differentiable version is reshape in ops.h).
    Tensor view(const Shape& shape) const;
    Tensor clone() const;  // copies the data into a new leaf (not recorded)

    TensorImpl& impl() const {  // throws on an undefined handle
        if (!impl_) throw_undefined();
        return *impl_;
    }
    const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
    bool same(const Tensor& o) const { return impl_ == o.impl_; }

private:
    [[noreturn]] static void throw_undefined();
    std::shared_ptr<TensorImpl> impl_;
};

// Prints the shape and the values, numpy-style, eliding the middle of large tensors.
std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace focalgrad
