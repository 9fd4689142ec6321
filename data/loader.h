// loader.h — batches for training and evaluation. Images stay uint8 in the Dataset and
// become float tensors one batch at a time, in a seeded order that changes every epoch.
// Shapes: B batch, H x W image, D = H * W features.
// Not here: augmentation, background prefetching threads, sampling with replacement.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <focalgrad/core/tensor.h>
#include <focalgrad/data/mnist.h>

namespace focalgrad {

// Pixel statistics as fractions of 255, for standardising: x = (pixel / 255 - mean) / std.
struct PixelStats {
    double mean = 0.0;
    double std = 1.0;
};

// The usual values for MNIST's training set (what pixel_stats gives, to 4 digits).
constexpr PixelStats kMnistStats = {0.1307, 0.3081};

// Mean and (population) standard deviation of every pixel of the given items (all items
// when `indices` is empty). Exact: summed from a 256-bin histogram of integer counts.
PixelStats pixel_stats(const Dataset& data, const std::vector<int64_t>& indices = {});

struct LoaderOptions {
    int64_t batch_size = 64;
    bool shuffle = true;   // a new seeded permutation every epoch; false: the given order
    uint64_t seed = 0;     // the shuffling seed; the loader's generator is its own
    bool flatten = true;   // x is [B, D]; false: [B, 1, H, W], for convolutions
    PixelStats normalize;  // the default {0, 1} leaves x in [0, 1]
};

struct Batch {
    Tensor x;                      // [B, D] or [B, 1, H, W], float
    std::vector<int> y;            // [B] labels
    std::vector<int64_t> indices;  // [B] where the items sit in the dataset
};

namespace detail {
class PixelConverter;  // bytes to normalised floats (loader.cpp)
}

// The batch of items indices[0 .. count). x is a new tensor every call, never a reused
// buffer: a batch the caller keeps (or the tape saved) is never overwritten later.
Batch make_batch(const Dataset& data, const int64_t* indices, int64_t count, const LoaderOptions& options);

class DataLoader {
public:
    // Batches over data[indices] (every item when indices is omitted). The loader keeps a
    // pointer to `data`, which must outlive it; binding a temporary is a compile error.
    DataLoader(const Dataset& data, std::vector<int64_t> indices, const LoaderOptions& options);
    DataLoader(const Dataset& data, const LoaderOptions& options);
    DataLoader(Dataset&& data, std::vector<int64_t> indices, const LoaderOptions& options) = delete;
    DataLoader(Dataset&& data, const LoaderOptions& options) = delete;

    int64_t size() const { return int64_t(indices_.size()); }  // items per epoch
    int64_t num_batches() const;  // ceil(size / batch_size): the last batch keeps the remainder
    const LoaderOptions& options() const { return options_; }

    // The order of epoch `epoch`: the indices shuffled by a generator seeded with
    // (seed, stream = epoch), so every epoch gets a new permutation and any epoch can be
    // replayed on its own. Without shuffling, the indices as given.
    std::vector<int64_t> epoch_order(int64_t epoch) const;

    // One epoch's batches, made one at a time as the loop advances:
    //   for (const Batch& batch : loader.epoch(e)) { ... }
    // An Epoch refers to its loader, so it is used while the loader lives.
    class Epoch {
    public:
        class Iterator {
        public:
            const Batch& operator*() const { return batch_; }
            const Batch* operator->() const { return &batch_; }
            Iterator& operator++();
            bool operator!=(const Iterator& o) const { return b_ != o.b_; }
            bool operator==(const Iterator& o) const { return b_ == o.b_; }

        private:
            friend class Epoch;
            Iterator(const Epoch* epoch, int64_t b);
            const Epoch* epoch_;
            int64_t b_;
            Batch batch_;
        };

        Iterator begin() const { return Iterator(this, 0); }
        Iterator end() const { return Iterator(this, num_batches()); }
        int64_t num_batches() const { return loader_->num_batches(); }
        Batch batch(int64_t b) const;  // batch b of this epoch, 0 <= b < num_batches()
        const std::vector<int64_t>& order() const { return order_; }

    private:
        friend class DataLoader;
        Epoch(const DataLoader* loader, std::vector<int64_t> order)
            : loader_(loader), order_(std::move(order)) {}
        const DataLoader* loader_;
        std::vector<int64_t> order_;
    };

    Epoch epoch(int64_t epoch) const& { return Epoch(this, epoch_order(epoch)); }
    // An Epoch of a temporary loader would outlive it: `for (b : DataLoader(...).epoch(0))`
    // does not compile; name the loader first.
    Epoch epoch(int64_t epoch) const&& = delete;

private:
    const Dataset* data_;
    std::vector<int64_t> indices_;
    LoaderOptions options_;
    std::shared_ptr<const detail::PixelConverter> converter_;  // for options_.normalize
};

}  // namespace focalgrad
