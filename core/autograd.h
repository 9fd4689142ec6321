// autograd.h — the tape. Every differentiable op, when grad mode is on and one of its
// inputs requires grad, appends one node: its name, a weak link to its output, and a
// backward closure holding what the forward saved. Creation order is a valid
// topological order (an op can only consume tensors that already exist), so
// backward(loss) seeds d(loss) = 1 and replays the tape in reverse, calling each node
// whose output received a gradient. Then the tape is cleared. See docs/autograd.md;
// core/tape_graph.h keeps a copy of the graph (TapeRecorder) and draws it.
// Not here: higher-order gradients (backward closures are not recorded), retain_graph.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include <focalgrad/core/tensor.h>

namespace focalgrad {

// A backward closure receives the output's gradient dy and the output y itself (so it
// never has to capture y: a node must not keep its own output alive, see autograd.cpp).
// BackwardFn holds one: a move-only std::function that keeps up to 64 bytes of captures
// (a few tensor handles and numbers) inside itself, so that recording an op allocates
// nothing for its closure. Larger closures go to the heap, as with std::function.
class BackwardFn {
public:
    BackwardFn() = default;
    template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, BackwardFn>>>
    BackwardFn(F&& f) {  // NOLINT: implicit, like std::function
        using Fn = std::decay_t<F>;
        if constexpr (sizeof(Fn) <= kInlineBytes && alignof(Fn) <= alignof(std::max_align_t) &&
                      std::is_nothrow_move_constructible_v<Fn>) {
            new (buf_) Fn(std::forward<F>(f));
            ops_ = &kInlineOps<Fn>;
        } else {
            *reinterpret_cast<Fn**>(buf_) = new Fn(std::forward<F>(f));
            ops_ = &kHeapOps<Fn>;
        }
    }
    BackwardFn(BackwardFn&& o) noexcept : ops_(o.ops_) {
        if (ops_) ops_->move(buf_, o.buf_);
        o.ops_ = nullptr;
    }
    BackwardFn& operator=(BackwardFn&& o) noexcept {
        if (this != &o) {
            reset();
            ops_ = o.ops_;
            if (ops_) ops_->move(buf_, o.buf_);
            o.ops_ = nullptr;
        }
        return *this;
    }
    ~BackwardFn() { reset(); }

    void operator()(const Tensor& dy, const Tensor& y) { ops_->call(buf_, dy, y); }
    explicit operator bool() const { return ops_ != nullptr; }
    void reset() {  // destroys the closure and what it captured
        if (ops_) ops_->destroy(buf_);
        ops_ = nullptr;
    }

private:
    static constexpr size_t kInlineBytes = 64;
    struct Ops {
        void (*call)(void* self, const Tensor& dy, const Tensor& y);
        void (*move)(void* to, void* from);  // move-constructs at `to`, destroys `from`
        void (*destroy)(void* self);
    };
    template <class Fn>
    static constexpr Ops kInlineOps = {
        [](void* self, const Tensor& dy, const Tensor& y) { (*static_cast<Fn*>(self))(dy, y); },
        [](void* to, void* from) {
            new (to) Fn(std::move(*static_cast<Fn*>(from)));
            static_cast<Fn*>(from)->~Fn();
        },
        [](void* self) { static_cast<Fn*>(self)->~Fn(); }};
    template <class Fn>
    static constexpr Ops kHeapOps = {
        [](void* self, const Tensor& dy, const Tensor& y) { (**static_cast<Fn**>(self))(dy, y); },
        [](void* to, void* from) { *static_cast<Fn**>(to) = *static_cast<Fn**>(from); },
        [](void* self) { delete *static_cast<Fn**>(self); }};

    alignas(std::max_align_t) unsigned char buf_[kInlineBytes];
    const Ops* ops_ = nullptr;
};

// ---- Grad mode -------------------------------------------------------------------
bool grad_enabled();

// RAII: no op records anything while a NoGradGuard is alive (evaluation, optimizer steps).
class NoGradGuard {
public:
    NoGradGuard();
    ~NoGradGuard();
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool previous_;
};

// ---- Anomaly detection -------------------------------------------------------------
// When on, every op output and every gradient produced in backward is checked for NaN
// and inf; the first offender throws an Error naming the op, the tensor, and the
// op's position on the tape. Off by default; when off it costs one predictable branch.
void set_detect_anomaly(bool on);
bool detect_anomaly();

class DetectAnomalyGuard {
public:
    explicit DetectAnomalyGuard(bool on = true);
    ~DetectAnomalyGuard();
    DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
    DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

private:
    bool previous_;
};

// ---- Recording (used by ops) -----------------------------------------------------
class TapeRecorder;  // core/tape_graph.h

namespace detail {
// While a TapeRecorder is alive, push_node also hands it every node (one predictable
// branch when none is). Returns the previous recorder, which the new one restores.
TapeRecorder* set_tape_recorder(TapeRecorder* recorder);
bool should_record(const Tensor* begin, const Tensor* end);
void check_output(const char* op, const Tensor& y);
void push_node(const char* op, const Tensor* begin, const Tensor* end, Tensor& y, BackwardFn&& fn);

template <class Fn>
void record(const char* op, const Tensor* begin, const Tensor* end, Tensor& y, Fn&& backward) {
    if (detect_anomaly()) check_output(op, y);
    if (!should_record(begin, end)) return;
    push_node(op, begin, end, y, BackwardFn(std::forward<Fn>(backward)));
}
}  // namespace detail

// Called by every op after its forward: checks the output under anomaly detection and,
// if grad mode is on and some input requires grad, marks y as requiring grad and
// appends (op, y, backward) to this thread's tape. The closure is only turned into a
// BackwardFn when it is actually recorded.
template <class Fn>
void record(const char* op, std::initializer_list<Tensor> inputs, Tensor& y, Fn&& backward) {
    detail::record(op, inputs.begin(), inputs.end(), y, std::forward<Fn>(backward));
}
template <class Fn>
void record(const char* op, const std::vector<Tensor>& inputs, Tensor& y, Fn&& backward) {
    detail::record(op, inputs.data(), inputs.data() + inputs.size(), y, std::forward<Fn>(backward));
}

// True when a forward with these inputs would be recorded: ops use it to skip saving
// what only backward needs.
inline bool needs_grad(std::initializer_list<Tensor> inputs) {
    return detail::should_record(inputs.begin(), inputs.end());
}

// Adds dx into x's gradient (x.grad += dx). Backward closures only ever accumulate, so
// a tensor used twice receives both contributions. Checks the shape and, under anomaly
// detection, the values. Does nothing when x does not require grad.
// A gradient you just computed is passed by moving it, accumulate_grad(x, std::move(dx)):
// if x has no gradient yet, dx's buffer then becomes the gradient without a copy. A
// gradient someone else still holds (the dy a closure received) is passed as it is, and
// copied if needed. Passing a named local without std::move does not compile — it
// would silently cost a copy of every gradient.
void accumulate_grad(const Tensor& x, Tensor&& dx);
void accumulate_grad(const Tensor& x, const Tensor& dx);
void accumulate_grad(const Tensor& x, Tensor& dx) = delete;  // write std::move(dx)

// ---- Backward --------------------------------------------------------------------
// Replays the tape from y's node back to the start, then clears the tape. Without dy,
// y must have one element and is seeded with 1.
void backward(const Tensor& y);
void backward(const Tensor& y, const Tensor& dy);

// Introspection, for tests and for docs/autograd.md.
size_t tape_size();
void clear_tape();  // drops every recorded node (e.g. after an exception mid-forward)

}  // namespace focalgrad
