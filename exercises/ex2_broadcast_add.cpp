// Exercise 2 — the backward of a broadcasting add.
//
//   forward    z = a + b, shapes aligned from the right; a size-1 or missing dimension of
//              an input is stretched to the other's size ([2, 3] + [3] -> [2, 3],
//              [4, 1] + [1, 5] -> [4, 5])
//   backward   da = dz summed over every dimension along which a was stretched, so that
//              da has a's shape (the same for db): each element of a was used once for
//              every output position it was stretched over, so its gradient is their sum
//
// Write sum_to_shape: dz has the output's shape, `shape` is the input's. Hint: walk over
// every element of dz; turn its flat index into a multi-index (row-major, last dimension
// fastest); drop the leading dimensions that `shape` does not have, and use 0 for every
// dimension where `shape` has size 1; add dz there. Test: make exercises N=2.
#include <focalgrad/core/tensor.h>

#include "exercise.h"

namespace exercises {

focalgrad::Tensor sum_to_shape(const focalgrad::Tensor& dz, const focalgrad::Shape& shape) {
    (void)dz, (void)shape;
    throw NotImplemented("exercise 2: sum_to_shape (exercises/ex2_broadcast_add.cpp)");
}

}  // namespace exercises
