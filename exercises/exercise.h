// exercise.h — what the exercises share: the error an untouched exercise throws, so that
// `make exercises` can tell "not started" from "wrong", and the small ops the tests build
// around your functions (each hands your backward the gradient buffer of its input, as
// llm.c does: your code must add into it). See docs/exercises.md.
#pragma once

#include <stdexcept>
#include <string>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/tensor.h>

namespace exercises {

struct NotImplemented : std::logic_error {
    explicit NotImplemented(const std::string& what) : std::logic_error(what + ": not implemented yet") {}
};

// The buffer your backward adds into: x's gradient so far, or zeros when it has none yet
// (then it becomes x's gradient once your code has run, see adopt_grad).
inline focalgrad::Tensor grad_buffer(const focalgrad::Tensor& x) {
    return x.has_grad() ? x.grad() : focalgrad::Tensor::zeros(x.shape());
}

// Makes a buffer from grad_buffer x's gradient, if it was not already.
inline void adopt_grad(const focalgrad::Tensor& x, focalgrad::Tensor&& dx) {
    if (!x.has_grad()) focalgrad::accumulate_grad(x, std::move(dx));
}

}  // namespace exercises
