// core/tensor.h — this project's own "tensor": labelled 2-D points, and the spiral data set
// main.cpp trains on. The name is the same as focalgrad's core/tensor.h on purpose: the
// project is built with itself first on the include path (-I. in the Makefile), and still
// focalgrad's headers find theirs, because they include each other only as <focalgrad/...>.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace userproject {

struct Points {
    std::vector<float> xy;    // [n, 2], row-major
    std::vector<int> labels;  // [n], each in [0, classes)
    int classes = 0;

    int64_t size() const { return int64_t(labels.size()); }
};

// `classes` interleaved spiral arms of `per_class` points each, with Gaussian-ish jitter
// `noise` on the angle; a linear model cannot separate them, a small MLP can. Deterministic
// for a seed (its own LCG, so the data does not depend on focalgrad's generator).
inline Points spirals(int per_class, int classes, float noise, uint32_t seed) {
    Points p;
    p.classes = classes;
    auto uniform = [&seed] {  // in [0, 1)
        seed = seed * 1664525u + 1013904223u;
        return float(seed >> 8) / float(1u << 24);
    };
    for (int c = 0; c < classes; ++c)
        for (int i = 0; i < per_class; ++i) {
            float r = float(i) / float(per_class);  // radius from 0 to 1 along the arm
            float jitter = noise * (uniform() + uniform() + uniform() - 1.5f);
            float angle = 4.0f * r + 2.0f * 3.14159265f * float(c) / float(classes) + jitter;
            p.xy.push_back(r * std::sin(angle));
            p.xy.push_back(r * std::cos(angle));
            p.labels.push_back(c);
        }
    return p;
}

}  // namespace userproject
