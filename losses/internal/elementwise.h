// elementwise.h — internal to the losses, not installed: what the fast forms of the
// elementwise (sigmoid) losses read per element, block by block: logits, targets, optional
// element weights, and the α of each element, which with a per-class α depends on its
// class (dim 1 of [N, C, d1...]). It holds no math: each loss's file has its formula.
#pragma once

#include <algorithm>
#include <cstdint>

namespace focalgrad {
namespace internal {

struct Elements {
    const float* x = nullptr;            // logits
    const float* y = nullptr;            // targets in [0, 1]
    const float* weight = nullptr;       // element weights, or nullptr: every weight is 1
    int64_t count = 0;                   // number of elements
    float alpha = 0.0f;                  // the α of every element, unless class_alpha is given
    const float* class_alpha = nullptr;  // [classes], or nullptr
    int64_t classes = 1, positions = 1;  // element e has class (e / positions) % classes

    // The α of elements begin ... begin + n - 1 into out[0 .. n). The class index steps
    // by counters rather than by a division per element.
    void alphas(int64_t begin, int n, float* out) const {
        if (!class_alpha) {
            std::fill(out, out + n, alpha);
            return;
        }
        int64_t c = (begin / positions) % classes, k = begin % positions;
        for (int i = 0; i < n; ++i) {
            out[i] = class_alpha[c];
            if (++k == positions) {
                k = 0;
                if (++c == classes) c = 0;
            }
        }
    }
};

}  // namespace internal
}  // namespace focalgrad
