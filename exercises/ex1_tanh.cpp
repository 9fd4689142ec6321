// Exercise 1 — the backward of an elementwise op: tanh.
//
//   forward    y_i = tanh(x_i)
//   backward   dx_i += dy_i * (1 - y_i^2)        (d tanh(x)/dx = 1 - tanh(x)^2)
//
// dx is x's gradient buffer: it may already hold the gradient from another op that read
// x, so add to it, never overwrite it. y is the forward's output, so no tanh is needed.
// n is the number of elements. Test: make exercises N=1. Help: docs/exercises.md.
#include <cstdint>

#include "exercise.h"

namespace exercises {

void tanh_backward(float* dx, const float* y, const float* dy, int64_t n) {
    (void)dx, (void)y, (void)dy, (void)n;
    throw NotImplemented("exercise 1: tanh_backward (exercises/ex1_tanh.cpp)");
}

}  // namespace exercises
