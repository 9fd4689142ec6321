// Exercise 1, solved: dx_i += dy_i (1 - y_i^2).
#include <cstdint>

namespace exercises {

void tanh_backward(float* dx, const float* y, const float* dy, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}

}  // namespace exercises
