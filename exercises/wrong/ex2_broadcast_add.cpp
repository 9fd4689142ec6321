// Exercise 2, a plausible wrong solution: the gradient of an add "is just dz", passed on
// without reducing it to the input's shape.
#include <focalgrad/core/tensor.h>

namespace exercises {

focalgrad::Tensor sum_to_shape(const focalgrad::Tensor& dz, const focalgrad::Shape&) { return dz.clone(); }

}  // namespace exercises
