// loader.h — batches for training and evaluation, from a uint8 image Dataset (MNIST: the
// images stay uint8 and become float one batch at a time) or a float TensorDataset
// (data/tensor_dataset.h: CSV tables, image folders), in a seeded order that changes
// every epoch: a permutation, or class-balanced oversampling (data/sampling.h).
// Shapes: B batch, H x W image, D features (H * W for MNIST), C channels.
// While a training step runs on one batch, an idle thread of the pool (core/parallel.h)
// assembles the next. Not here: augmentation, prefetching more than one batch ahead.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <focalgrad/core/parallel.h>
#include <focalgrad/core/tensor.h>
#include <focalgrad/data/mnist.h>

namespace focalgrad {

struct TensorDataset;   // data/tensor_dataset.h
class BalancedSampler;  // data/sampling.h

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

// How an epoch's items are chosen.
enum class Sampler {
    permutation,  // every item once, in a new seeded order each epoch (or as given: shuffle false)
    balanced,     // class-balanced oversampling: as many draws as items, classes equally often
};

struct LoaderOptions {
    int64_t batch_size = 64;
    bool shuffle = true;   // a new seeded permutation every epoch; false: the given order
    uint64_t seed = 0;     // the shuffling seed; the loader's generator is its own
    bool flatten = true;   // x is [B, D]; false: [B, 1, H, W] (or [B, C, H, W]), for convolutions
    PixelStats normalize;  // uint8 Dataset: the default {0, 1} leaves x in [0, 1]
    // TensorDataset: x = (v - mean[c]) / std[c] for channel c (an item's first dim), one
    // entry per channel or a single one for every value; empty leaves the values as stored.
    std::vector<PixelStats> per_channel;
    Sampler sampler = Sampler::permutation;  // balanced ignores `shuffle`: its draws are random
};

struct Batch {
    Tensor x;                      // [B, D], [B, 1, H, W] or [B, C, H, W], float
    std::vector<int> y;            // [B] labels
    std::vector<int64_t> indices;  // [B] where the items sit in the dataset
};

namespace detail {
class PixelConverter;  // bytes to normalised floats (loader.cpp)
}

// The batch of items indices[0 .. count). x is a new tensor every call, never a reused
// buffer: a batch the caller keeps (or the tape saved) is never overwritten later.
Batch make_batch(const Dataset& data, const int64_t* indices, int64_t count, const LoaderOptions& options);
Batch make_batch(const TensorDataset& data, const int64_t* indices, int64_t count,
                 const LoaderOptions& options);

class DataLoader {
public:
    // Batches over data[indices] (every item when indices is omitted). The loader keeps a
    // pointer to `data`, which must outlive it; binding a temporary is a compile error.
    DataLoader(const Dataset& data, std::vector<int64_t> indices, const LoaderOptions& options);
    DataLoader(const Dataset& data, const LoaderOptions& options);
    DataLoader(Dataset&& data, std::vector<int64_t> indices, const LoaderOptions& options) = delete;
    DataLoader(Dataset&& data, const LoaderOptions& options) = delete;
    // The same over a float dataset; it is checked (check_dataset) when the loader is built.
    DataLoader(const TensorDataset& data, std::vector<int64_t> indices, const LoaderOptions& options);
    DataLoader(const TensorDataset& data, const LoaderOptions& options);
    DataLoader(TensorDataset&& data, std::vector<int64_t> indices, const LoaderOptions& options) = delete;
    DataLoader(TensorDataset&& data, const LoaderOptions& options) = delete;
    ~DataLoader();
    DataLoader(DataLoader&&) noexcept;

    int64_t size() const { return int64_t(indices_.size()); }  // items (and draws) per epoch
    int64_t num_batches() const;  // ceil(size / batch_size): the last batch keeps the remainder
    const LoaderOptions& options() const { return options_; }

    // The order of epoch `epoch`: the indices shuffled by a generator seeded with
    // (seed, stream = epoch), so every epoch gets a new permutation and any epoch can be
    // replayed on its own. Without shuffling, the indices as given. With
    // Sampler::balanced, BalancedSampler::epoch_order(epoch) (also seeded by (seed, epoch)).
    std::vector<int64_t> epoch_order(int64_t epoch) const;

    // One epoch's batches, made one at a time as the loop advances:
    //   for (const Batch& batch : loader.epoch(e)) { ... }
    // Batch b + 1 is assembled on an idle pool thread while the loop body runs on batch b
    // (the same values as batch(b + 1); on the caller's thread when no other is free).
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
            void start_next();  // starts assembling batch b_ + 1 into next_
            const Epoch* epoch_;
            int64_t b_;
            Batch batch_;
            Batch next_;              // batch b_ + 1, while filling_ writes its x
            BackgroundTask filling_;  // last: destroyed (waited for) before next_
        };

        Iterator begin() const { return Iterator(this, 0); }
        Iterator end() const { return Iterator(this, num_batches()); }
        int64_t num_batches() const { return loader_->num_batches(); }
        Batch batch(int64_t b) const;  // batch b of this epoch, 0 <= b < num_batches()
        const std::vector<int64_t>& order() const { return order_; }

    private:
        friend class DataLoader;
        Batch empty(int64_t b) const;  // batch b with x allocated, not yet written
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
    void init();  // checks the options and indices, builds the converter and the sampler
    // A batch in two parts: indices, labels and an unwritten x on the calling thread, then
    // the values of x, which any thread may write.
    Batch empty(const int64_t* indices, int64_t count) const;
    void fill(const int64_t* indices, int64_t count, float* x) const;

    const Dataset* data_ = nullptr;  // one of the two is set
    const TensorDataset* tensors_ = nullptr;
    std::vector<int64_t> indices_;
    LoaderOptions options_;
    std::shared_ptr<const detail::PixelConverter> converter_;  // for options_.normalize
    std::unique_ptr<BalancedSampler> sampler_;                 // for Sampler::balanced
};

}  // namespace focalgrad
