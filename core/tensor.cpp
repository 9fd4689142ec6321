// tensor.cpp — Shape, Storage, Tensor factories, accessors and printing.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/error.h>
#include <focalgrad/core/memory.h>
#include <focalgrad/core/tensor.h>

namespace focalgrad {

// ---- Shape -----------------------------------------------------------------------

namespace {

// Shapes are built for every op's output: these checks read the sizes in place and never
// allocate (except for the message of an error).
struct Sizes {
    const int64_t* p;
    size_t n;
    const int64_t* begin() const { return p; }
    const int64_t* end() const { return p + n; }
};

// The sizes as an error shows them, e.g. [4611686018427387905, 4].
std::string sizes_text(Sizes sizes) {
    std::string out = "[";
    for (int64_t v : sizes) out += (out.size() > 1 ? ", " : "") + std::to_string(v);
    return out + "]";
}

// The product of the non-zero sizes (each >= 0), or -1 once it passes kMaxNumel.
int64_t nonzero_product(Sizes sizes) {
    int64_t p = 1;
    for (int64_t v : sizes) {
        if (v == 0) continue;
        if (v > kMaxNumel / p) return -1;
        p *= v;
    }
    return p;
}

void check_sizes(Sizes sizes, const char* op) {
    FG_CHECK(sizes.n <= size_t(kMaxDims), op, ": at most ", kMaxDims, " dimensions are supported, got ",
             sizes_text(sizes));
    for (size_t d = 0; d < sizes.n; ++d)
        FG_CHECK(sizes.p[d] >= 0, op, ": sizes must be >= 0, got ", sizes.p[d], " in dimension ", d, " of ",
                 sizes_text(sizes));
    FG_CHECK(nonzero_product(sizes) >= 0, op, ": shape ", sizes_text(sizes),
             " has more than kMaxNumel = 2^46 (", kMaxNumel, ") elements, the most a tensor may have");
}

}  // namespace

Shape::Shape(std::initializer_list<int64_t> dims) : Shape(dims, "Shape") {}

Shape::Shape(const std::vector<int64_t>& dims) : Shape(dims, "Shape") {}

Shape::Shape(std::initializer_list<int64_t> dims, const char* op) {
    check_sizes({dims.begin(), dims.size()}, op);
    for (int64_t v : dims) d_[n_++] = v;
}

Shape::Shape(const std::vector<int64_t>& dims, const char* op) {
    check_sizes({dims.data(), dims.size()}, op);
    for (int64_t v : dims) d_[n_++] = v;
}

void Shape::push_back(int64_t v, const char* op) {
    int64_t sizes[kMaxDims + 1];
    std::copy(begin(), end(), sizes);
    sizes[n_] = v;
    check_sizes({sizes, size_t(n_) + 1}, op);
    d_[n_++] = v;
}

void Shape::set(int i, int64_t v, const char* op) {
    FG_CHECK(i >= 0 && i < n_, op, ": dim ", i, " is out of range for shape ", *this);
    int64_t sizes[kMaxDims];
    std::copy(begin(), end(), sizes);
    sizes[i] = v;
    check_sizes({sizes, size_t(n_)}, op);
    d_[i] = v;
}

int64_t Shape::numel() const {
    int64_t n = 1;
    for (int i = 0; i < n_; ++i) n *= d_[i];
    return n;
}

int64_t checked_numel(std::initializer_list<int64_t> sizes, const char* op, const char* what) {
    const Sizes all{sizes.begin(), sizes.size()};
    for (int64_t v : sizes) FG_CHECK(v >= 0, op, ": ", what, " ", sizes_text(all), " has a negative size");
    FG_CHECK(nonzero_product(all) >= 0, op, ": ", what, " ", sizes_text(all),
             " has more than kMaxNumel = 2^46 (", kMaxNumel, ") elements, the most a tensor may have");
    int64_t n = 1;
    for (int64_t v : sizes) n *= v;
    return n;
}

bool Shape::operator==(const Shape& o) const { return n_ == o.n_ && std::equal(begin(), end(), o.begin()); }

std::ostream& operator<<(std::ostream& os, const Shape& s) {
    os << '[';
    for (int i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
    return os << ']';
}

int normalize_dim(int64_t dim, int ndim, const char* op) {
    FG_CHECK(dim >= -ndim && dim < ndim, op, ": dim ", dim, " is out of range for a ", ndim,
             "-d tensor (expected ", -ndim, " <= dim < ", ndim, ")");
    return static_cast<int>(dim < 0 ? dim + ndim : dim);
}

// ---- Storage ---------------------------------------------------------------------

Storage::Storage(int64_t n) : data(alloc_floats(n)), size(n) {}
Storage::~Storage() { free_floats(data, size); }

// ---- Factories -------------------------------------------------------------------

namespace {

// A tensor header over `storage`. Headers and storage records come from the per-thread
// block free lists (core/memory.h): recording an op makes a few of them.
Tensor make_tensor(const Shape& shape, std::shared_ptr<Storage> storage, float* data) {
    auto impl = std::allocate_shared<TensorImpl>(BlockAllocator<TensorImpl>());
    impl->shape = shape;
    impl->storage = std::move(storage);
    impl->data = data;
    return Tensor(std::move(impl));
}

}  // namespace

Tensor Tensor::empty(const Shape& shape) {
    auto storage = allocating(
        "Tensor::empty",
        [&] { return str("a tensor of shape ", shape, " (", byte_size(4.0 * double(shape.numel())), ")"); },
        [&] { return std::allocate_shared<Storage>(BlockAllocator<Storage>(), shape.numel()); });
    float* data = storage->data;
    return make_tensor(shape, std::move(storage), data);
}

Tensor Tensor::full(const Shape& shape, float value) {
    Tensor t = empty(shape);
    std::fill_n(t.data(), t.numel(), value);
    return t;
}

Tensor Tensor::zeros(const Shape& shape) { return full(shape, 0.0f); }
Tensor Tensor::ones(const Shape& shape) { return full(shape, 1.0f); }
Tensor Tensor::scalar(float value) { return full(Shape{}, value); }

Tensor Tensor::from(const std::vector<float>& values, const Shape& shape) {
    FG_CHECK(int64_t(values.size()) == shape.numel(), "Tensor::from: ", values.size(),
             " values cannot fill shape ", shape, " (", shape.numel(), " elements)");
    Tensor t = empty(shape);
    std::copy(values.begin(), values.end(), t.data());
    return t;
}

Tensor Tensor::from(std::initializer_list<float> values, const Shape& shape) {
    return from(std::vector<float>(values), shape);
}

Tensor Tensor::from(std::initializer_list<float> values) {
    return from(std::vector<float>(values), Shape{int64_t(values.size())});
}

Tensor Tensor::arange(float stop) { return arange(0.0f, stop, 1.0f); }

Tensor Tensor::arange(float start, float stop, float step) {
    FG_CHECK(step != 0 && std::isfinite(start) && std::isfinite(stop) && std::isfinite(step),
             "arange: start, stop, step must be finite and step non-zero, got ", start, ", ", stop, ", ",
             step);
    // Same count rule as numpy: ceil((stop - start) / step), never negative; compared with
    // kMaxNumel as a double, before it becomes an integer (too large a double has none).
    double count = std::ceil((double(stop) - double(start)) / double(step));
    FG_CHECK(count <= double(kMaxNumel), "arange: [", start, ", ", stop, ") in steps of ", step, " has ",
             count, " elements, more than kMaxNumel = 2^46 (", kMaxNumel, ")");
    Tensor t = empty(Shape{count > 0 ? int64_t(count) : 0});
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = float(double(start) + double(i) * step);
    return t;
}

Tensor Tensor::rand(const Shape& shape, Generator& gen) { return uniform(shape, 0.0f, 1.0f, gen); }

Tensor Tensor::uniform(const Shape& shape, float lo, float hi, Generator& gen) {
    FG_CHECK(lo <= hi, "Tensor::uniform: lo must be <= hi, got lo=", lo, " hi=", hi);
    Tensor t = empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = gen.uniform(lo, hi);
    return t;
}

Tensor Tensor::randn(const Shape& shape, Generator& gen) { return normal(shape, 0.0f, 1.0f, gen); }

Tensor Tensor::normal(const Shape& shape, float mean, float std, Generator& gen) {
    FG_CHECK(std >= 0, "Tensor::normal: std must be >= 0, got ", std);
    Tensor t = empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = mean + std * gen.normal();
    return t;
}

// ---- Accessors -------------------------------------------------------------------

void Tensor::throw_undefined() {
    throw Error("Tensor: use of an undefined tensor (a default-constructed handle)");
}

int64_t Tensor::size(int64_t d) const { return shape()[normalize_dim(d, dim(), "Tensor::size")]; }

float Tensor::item() const {
    FG_CHECK(numel() == 1, "item: tensor of shape ", shape(), " has ", numel(),
             " elements; item() needs exactly one");
    return data()[0];
}

float Tensor::at(std::initializer_list<int64_t> index) const {
    FG_CHECK(int(index.size()) == dim(), "at: ", index.size(), " indices for a tensor of shape ", shape());
    int64_t offset = 0;
    int d = 0;
    for (int64_t i : index) {
        FG_CHECK(i >= 0 && i < shape()[d], "at: index ", i, " is out of range for dimension ", d,
                 " of shape ", shape());
        offset = offset * shape()[d] + i;
        ++d;
    }
    return data()[offset];
}

std::vector<float> Tensor::to_vector() const { return {data(), data() + numel()}; }

Tensor& Tensor::set_requires_grad(bool on) {
    FG_CHECK(is_leaf(),
             "set_requires_grad: only leaf tensors can change requires_grad; this one "
             "was computed by an op (use detach() to get a leaf)");
    impl().requires_grad = on;
    return *this;
}

Tensor Tensor::grad() const {
    FG_CHECK(has_grad(), "grad: this tensor of shape ", shape(), " has no gradient",
             requires_grad() ? " yet (call backward() on a loss that depends on it)"
                             : " (it does not require grad)");
    return Tensor(impl().grad);
}

Tensor& Tensor::set_name(const std::string& name) {
    impl().name = name.empty() ? nullptr : std::make_unique<std::string>(name);
    return *this;
}

const std::string& Tensor::name() const {
    static const std::string unnamed;
    return impl().name ? *impl().name : unnamed;
}

void Tensor::backward() const { focalgrad::backward(*this); }
void Tensor::backward(const Tensor& dy) const { focalgrad::backward(*this, dy); }

Tensor Tensor::view(const Shape& shape) const {
    FG_CHECK(shape.numel() == numel(), "view: cannot view ", this->shape(), " as ", shape);
    return make_tensor(shape, impl().storage, impl().data);
}

Tensor Tensor::detach() const { return view(shape()); }

Tensor Tensor::clone() const {
    Tensor t = empty(shape());
    std::copy_n(data(), numel(), t.data());
    return t;
}

// ---- Printing --------------------------------------------------------------------
namespace {

constexpr int64_t kPrintThreshold = 1000;  // above this many elements, elide
constexpr int64_t kEdgeItems = 3;          // values kept at each end of an elided dim

void print_dim(std::ostream& os, const float* data, const Shape& shape, int d, int64_t offset, bool elide,
               int indent) {
    int64_t n = shape[d];
    int64_t stride = 1;
    for (int k = d + 1; k < shape.size(); ++k) stride *= shape[k];
    os << '[';
    for (int64_t i = 0; i < n; ++i) {
        if (elide && n > 2 * kEdgeItems && i == kEdgeItems) {
            os << (d + 1 == shape.size() ? "..., " : "...,\n" + std::string(indent + 1, ' '));
            i = n - kEdgeItems;
        }
        if (d + 1 == shape.size()) {
            os << std::setw(9) << data[offset + i];
        } else {
            print_dim(os, data, shape, d + 1, offset + i * stride, elide, indent + 1);
        }
        if (i + 1 < n) os << (d + 1 == shape.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
    }
    os << ']';
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
    if (!t.defined()) return os << "Tensor(undefined)";
    std::ostringstream body;
    body << std::setprecision(4);
    if (t.dim() == 0) {
        body << t.data()[0];
    } else {
        bool elide = t.numel() > kPrintThreshold;
        print_dim(body, t.data(), t.shape(), 0, 0, elide, int(sizeof("tensor(") - 1));
    }
    os << "tensor(" << body.str() << ", shape=" << t.shape();
    if (t.requires_grad()) os << ", requires_grad";
    return os << ')';
}

}  // namespace focalgrad
