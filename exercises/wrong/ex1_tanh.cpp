// Exercise 1, a plausible wrong solution: it assigns instead of accumulating, so when x
// feeds two ops the contribution of the first one to reach x is lost.
#include <cstdint>

namespace exercises {

void tanh_backward(float* dx, const float* y, const float* dy, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

}  // namespace exercises
