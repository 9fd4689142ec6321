// tensor_dataset.h — a dataset of float items with integer labels: feature vectors
// [N, D] (a CSV table) or images [N, C, H, W] (an image folder). DataLoader batches it
// exactly as it batches MNIST (data/loader.h), with the same seeded orders.
// Not here: lazy loading from disk (every item is in memory), non-float features.
// Shapes: N items, D features, C channels, H x W image.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <focalgrad/core/tensor.h>
#include <focalgrad/data/loader.h>

namespace focalgrad {

struct TensorDataset {
    std::string name;                      // "moons.csv", used in messages
    Shape item_shape;                      // one item: {D} or {C, H, W}
    std::vector<float> values;             // [N, item_shape.numel()], row-major
    std::vector<int> labels;               // [N], each in [0, num_classes)
    std::vector<std::string> class_names;  // class_names[label]

    int64_t size() const { return int64_t(labels.size()); }
    int64_t item_size() const { return item_shape.numel(); }
    int num_classes() const { return int(class_names.size()); }
    // Channels: an image's C, a feature vector's D (each feature standardised on its own).
    int64_t channels() const { return item_shape.size() > 0 ? item_shape[0] : 1; }
    const float* item(int64_t i) const { return values.data() + i * item_size(); }
};

// Throws an Error naming `op` and the dataset unless it is consistent: an item shape of
// 1 to 4 dims with no zero size, values.size() == N * item_size(), every value finite,
// at least one class and every label in [0, num_classes).
void check_dataset(const TensorDataset& data, const char* op);

// The mean and (population) standard deviation of each channel over the given items (all
// items when `indices` is empty): an image's channel c pools every pixel of plane c, a
// feature vector's channel d is feature d. Summed in double. A channel whose values are
// all equal gets std 1, so standardising it leaves it centred instead of dividing by 0.
std::vector<PixelStats> channel_stats(const TensorDataset& data, const std::vector<int64_t>& indices = {});

// The items data[indices], in that order, as a new dataset (name, shape, classes kept).
TensorDataset subset(const TensorDataset& data, const std::vector<int64_t>& indices);

}  // namespace focalgrad
