// synthetic.h — the classic 2-D toy datasets, generated, so that a classifier can be
// trained and looked at with no download: two interleaving moons (scikit-learn's
// make_moons) and intertwined spirals (the CS231n spiral data). Items are [2] points,
// in the order generated (class by class), so shuffle them with a DataLoader.
// Not here: higher-dimensional generators (blobs, make_classification).
#pragma once

#include <cstdint>

#include <focalgrad/data/tensor_dataset.h>

namespace focalgrad {

// n points, half on each moon (the first gets the odd one): class 0 on the upper half
// circle (cos t, sin t), class 1 on the lower one (1 - cos t, 1/2 - sin t), t evenly
// spaced on [0, pi]; then Gaussian noise of std `noise` on both coordinates (seeded).
TensorDataset make_moons(int64_t n, double noise, uint64_t seed);

// n_per_class points on each of `classes` spiral arms: point i of class c has radius
// r = i / (n - 1) and angle 4 (c + r) + noise * z (z standard normal, seeded), at
// (r sin angle, r cos angle). The arms wind about 0.64 turns each and interleave, which
// no linear model separates.
TensorDataset make_spirals(int64_t n_per_class, int classes, double noise, uint64_t seed);

}  // namespace focalgrad
