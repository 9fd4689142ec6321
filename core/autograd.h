// autograd.h — the tape. Every differentiable op, when grad mode is on and one of its
// inputs requires grad, appends one node: its name, a weak link to its output, and a
// backward closure holding what the forward saved. Creation order is a valid
// topological order (an op can only consume tensors that already exist), so
// backward(loss) seeds d(loss) = 1 and replays the tape in reverse, calling each node
// whose output received a gradient. Then the tape is cleared. See docs/autograd.md.
// Not here: higher-order gradients (backward closures are not recorded), retain_graph.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace focalgrad {

// A backward closure receives the output's gradient dy and the output y itself (so it
// never has to capture y: a node must not keep its own output alive, see autograd.cpp).
using BackwardFn = std::function<void(const Tensor& dy, const Tensor& y)>;

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
namespace detail {
bool should_record(const Tensor* begin, const Tensor* end);
void check_output(const char* op, const Tensor& y);
void push_node(const char* op, const Tensor* begin, const Tensor* end, Tensor& y, BackwardFn fn);

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
// std::function when it is actually recorded.
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
