// loader.cpp — uint8 -> float batch conversion, float datasets' per-channel
// standardisation, pixel statistics, epoch orders (permutations or balanced draws).
#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include <focalgrad/core/error.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/core/random.h>
#include <focalgrad/data/loader.h>
#include <focalgrad/data/sampling.h>
#include <focalgrad/data/tensor_dataset.h>

namespace focalgrad {

namespace detail {

// The pixel conversion x = (v / 255 - mean) / std, computed in double and rounded to
// float once. Done as v * A + B with A = 1 / (255 std) and B = -mean / std in double: the
// loop vectorises (about 3x faster than looking the 256 values up in a table), and A and
// B carry 29 more bits than the float result, so the rounding comes out the same. That
// is checked for all 256 byte values when the converter is built; on any difference the
// converter falls back to the exact table.
class PixelConverter {
public:
    explicit PixelConverter(const PixelStats& stats)
        : A_(1.0 / (255.0 * stats.std)), B_(-stats.mean / stats.std) {
        for (int v = 0; v < 256; ++v) {
            table_[v] = float((double(v) / 255.0 - stats.mean) / stats.std);
            if (float(double(v) * A_ + B_) != table_[v]) exact_ = false;
        }
    }

    void convert(const uint8_t* __restrict src, float* __restrict dst, int64_t n) const {
        if (exact_) {
            const double A = A_, B = B_;
            for (int64_t p = 0; p < n; ++p) dst[p] = float(double(src[p]) * A + B);
        } else {
            for (int64_t p = 0; p < n; ++p) dst[p] = table_[src[p]];
        }
    }

private:
    double A_, B_;
    bool exact_ = true;
    float table_[256];
};

}  // namespace detail

namespace {

// Pixels per parallel chunk of a batch conversion. Converting costs well under a
// nanosecond per pixel, so a 64-image MNIST batch takes a few tens of microseconds: less
// than waking a second thread costs on a busy machine (measured: 8x slower on 2 threads
// when the other core was taken). Only batches above ~670 MNIST images are split.
constexpr int64_t kConvertGrain = 16 * kGrain;
constexpr int64_t kPrefetchImages = 4;  // how far ahead the conversion asks for images
constexpr int64_t kImagesPerChunk = 4;  // a background batch's chunk: a few microseconds

void check_options(const LoaderOptions& options, const char* op) {
    FG_CHECK(options.batch_size >= 1, op, ": batch_size must be >= 1, got ", options.batch_size);
    FG_CHECK(std::isfinite(options.normalize.mean) && std::isfinite(options.normalize.std) &&
                 options.normalize.std > 0.0,
             op, ": normalize needs a finite mean and a finite std > 0, got mean ", options.normalize.mean,
             ", std ", options.normalize.std);
    for (size_t c = 0; c < options.per_channel.size(); ++c) {
        const PixelStats& s = options.per_channel[c];
        FG_CHECK(std::isfinite(s.mean) && std::isfinite(s.std) && s.std > 0.0, op, ": per_channel[", c,
                 "] needs a finite mean and a finite std > 0, got mean ", s.mean, ", std ", s.std);
    }
}

// A TensorDataset's options: per_channel has one entry or one per channel, and normalize
// (the uint8 conversion) is left at its default rather than silently ignored.
void check_tensor_options(const TensorDataset& data, const LoaderOptions& options, const char* op) {
    check_options(options, op);
    const size_t n = options.per_channel.size();
    FG_CHECK(n <= 1 || int64_t(n) == data.channels(), op, ": per_channel has ", n, " entries but ", data.name,
             " has ", data.channels(), " channels (items of shape ", data.item_shape,
             "): give one entry per channel, or one for all");
    FG_CHECK(options.normalize.mean == 0.0 && options.normalize.std == 1.0, op,
             ": normalize is for uint8 image datasets; a TensorDataset is standardised by per_channel");
}

template <class Data>
void check_index(const Data& data, int64_t i, const char* op) {
    FG_CHECK(i >= 0 && i < data.size(), op, ": index ", i, " is out of range for ", data.name, " (",
             data.size(), " items)");
}

}  // namespace

PixelStats pixel_stats(const Dataset& data, const std::vector<int64_t>& indices) {
    check_dataset(data, "pixel_stats");
    const int64_t D = data.image_size();
    int64_t histogram[256] = {};
    auto count = [&](int64_t i) {
        const uint8_t* img = data.image(i);
        for (int64_t p = 0; p < D; ++p) ++histogram[img[p]];
    };
    if (indices.empty()) {
        for (int64_t i = 0; i < data.size(); ++i) count(i);
    } else {
        for (int64_t i : indices) {
            check_index(data, i, "pixel_stats");
            count(i);
        }
    }
    int64_t n = 0;
    double sum = 0.0;
    for (int v = 0; v < 256; ++v) {
        n += histogram[v];
        sum += double(v) * double(histogram[v]);
    }
    FG_CHECK(n > 0, "pixel_stats: ", data.name, " has no pixels to average");
    double mean = sum / double(n) / 255.0;
    // Two passes over 256 bins, not over the pixels: var = sum_v h[v] (v/255 - mean)^2 / n.
    double var = 0.0;
    for (int v = 0; v < 256; ++v) {
        double d = double(v) / 255.0 - mean;
        var += d * d * double(histogram[v]);
    }
    return {mean, std::sqrt(var / double(n))};
}

namespace {

// A batch's indices and labels, each index checked; x is for the caller to fill. Both kinds
// of dataset hold `labels` and answer check_index.
template <class Data>
Batch batch_labels(const Data& data, const int64_t* indices, int64_t count) {
    FG_CHECK(count >= 1, "make_batch: a batch needs at least one item, got ", count);
    Batch batch;
    batch.indices.assign(indices, indices + count);
    batch.y.resize(size_t(count));
    for (int64_t b = 0; b < count; ++b) {
        check_index(data, indices[b], "make_batch");
        batch.y[size_t(b)] = data.labels[size_t(indices[b])];
    }
    return batch;
}

// A batch's indices, labels and x of shape [B, D] or [B, 1, H, W], its values not yet
// written: made on the thread that will free it, whose buffer pool x comes from.
Batch empty_batch(const Dataset& data, const int64_t* indices, int64_t count, const LoaderOptions& options) {
    Batch batch = batch_labels(data, indices, count);
    const int64_t D = data.image_size();
    batch.x = Tensor::empty(options.flatten ? Shape{count, D} : Shape{count, 1, data.rows, data.cols});
    return batch;
}

// x[b] = the converted pixels of image idx[b], for b < count (indices already checked).
void fill_images(const Dataset& data, const int64_t* idx, int64_t count, float* x,
                 const detail::PixelConverter& converter) {
    const int64_t D = data.image_size();
    // Rows are independent: chunks of whole images, about kConvertGrain pixels each.
    parallel_for(count, std::max<int64_t>(1, kConvertGrain / D), [&](int64_t begin, int64_t end) {
        // The images of a shuffled batch lie anywhere in the dataset, and the conversion
        // mostly waited for them to arrive from memory: ask for the next ones early.
        auto prefetch = [&](int64_t b) {
            const uint8_t* image = data.image(idx[b]);
            for (int64_t offset = 0; offset < D; offset += 64) __builtin_prefetch(image + offset);
        };
        for (int64_t b = begin; b < std::min(end, begin + kPrefetchImages); ++b) prefetch(b);
        for (int64_t b = begin; b < end; ++b) {
            if (b + kPrefetchImages < end) prefetch(b + kPrefetchImages);
            converter.convert(data.image(idx[b]), x + b * D, D);
        }
    });
}

// The same for a TensorDataset: [B, D] or [B, C, H, W].
Batch empty_batch(const TensorDataset& data, const int64_t* indices, int64_t count,
                  const LoaderOptions& options) {
    Batch batch = batch_labels(data, indices, count);
    Shape shape{count};
    if (options.flatten) {
        shape.push_back(data.item_size());
    } else {
        for (int64_t s : data.item_shape) shape.push_back(s);
    }
    batch.x = Tensor::empty(shape);
    return batch;
}

// x[b, c, ...] = (v - mean[c]) / std[c] for item idx[b], computed in double and rounded
// once, as the uint8 conversion is; without per_channel the values as stored.
// Float datasets are small (tables, toy image folders): the plain formula is fast enough.
void fill_items(const TensorDataset& data, const int64_t* idx, int64_t count, float* x,
                const LoaderOptions& options) {
    const int64_t D = data.item_size();
    const std::vector<PixelStats>& stats = options.per_channel;
    const int64_t C = data.channels(), plane = D / C;  // values per channel
    parallel_for(count, std::max<int64_t>(1, kConvertGrain / D), [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) {
            const float* src = data.item(idx[b]);
            float* dst = x + b * D;
            if (stats.empty()) {
                std::copy_n(src, D, dst);
                continue;
            }
            for (int64_t c = 0; c < C; ++c) {
                const double mean = stats[stats.size() == 1 ? 0 : size_t(c)].mean;
                const double sd = stats[stats.size() == 1 ? 0 : size_t(c)].std;
                for (int64_t p = c * plane; p < (c + 1) * plane; ++p)
                    dst[p] = float((double(src[p]) - mean) / sd);
            }
        }
    });
}

}  // namespace

Batch make_batch(const Dataset& data, const int64_t* indices, int64_t count, const LoaderOptions& options) {
    check_dataset(data, "make_batch");
    check_options(options, "make_batch");
    Batch batch = empty_batch(data, indices, count, options);
    fill_images(data, batch.indices.data(), count, batch.x.data(), detail::PixelConverter(options.normalize));
    return batch;
}

Batch make_batch(const TensorDataset& data, const int64_t* indices, int64_t count,
                 const LoaderOptions& options) {
    check_dataset(data, "make_batch");
    check_tensor_options(data, options, "make_batch");
    Batch batch = empty_batch(data, indices, count, options);
    fill_items(data, batch.indices.data(), count, batch.x.data(), options);
    return batch;
}

namespace {
std::vector<int64_t> all_indices(int64_t n) {
    std::vector<int64_t> all(static_cast<size_t>(n));
    std::iota(all.begin(), all.end(), int64_t(0));
    return all;
}
}  // namespace

DataLoader::DataLoader(const Dataset& data, std::vector<int64_t> indices, const LoaderOptions& options)
    : data_(&data), indices_(std::move(indices)), options_(options) {
    check_dataset(data, "DataLoader");
    check_options(options_, "DataLoader");
    converter_ = std::make_shared<const detail::PixelConverter>(options_.normalize);
    FG_CHECK(options_.per_channel.empty(), "DataLoader: per_channel is for a TensorDataset; ", data.name,
             " is a uint8 image dataset, standardised by normalize");
    init();
}

DataLoader::DataLoader(const Dataset& data, const LoaderOptions& options)
    : DataLoader(data, all_indices(data.size()), options) {}

DataLoader::DataLoader(const TensorDataset& data, std::vector<int64_t> indices, const LoaderOptions& options)
    : tensors_(&data), indices_(std::move(indices)), options_(options) {
    check_dataset(data, "DataLoader");
    check_tensor_options(data, options_, "DataLoader");
    init();
}

DataLoader::DataLoader(const TensorDataset& data, const LoaderOptions& options)
    : DataLoader(data, all_indices(data.size()), options) {}

DataLoader::~DataLoader() = default;
DataLoader::DataLoader(DataLoader&&) noexcept = default;

void DataLoader::init() {
    const std::string& name = data_ ? data_->name : tensors_->name;
    FG_CHECK(!indices_.empty(), "DataLoader: no items to load from ", name, " (the index list is empty)");
    for (int64_t i : indices_)
        if (data_)
            check_index(*data_, i, "DataLoader");
        else
            check_index(*tensors_, i, "DataLoader");
    if (options_.sampler == Sampler::balanced)
        sampler_ = std::make_unique<BalancedSampler>(data_ ? data_->labels : tensors_->labels, indices_);
}

Batch DataLoader::empty(const int64_t* indices, int64_t count) const {
    return data_ ? empty_batch(*data_, indices, count, options_)
                 : empty_batch(*tensors_, indices, count, options_);
}

void DataLoader::fill(const int64_t* indices, int64_t count, float* x) const {
    if (data_)
        fill_images(*data_, indices, count, x, *converter_);
    else
        fill_items(*tensors_, indices, count, x, options_);
}

int64_t DataLoader::num_batches() const { return (size() + options_.batch_size - 1) / options_.batch_size; }

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
    FG_CHECK(epoch >= 0, "DataLoader::epoch_order: epoch must be >= 0, got ", epoch);
    if (sampler_) return sampler_->epoch_order(options_.seed, epoch);
    std::vector<int64_t> order = indices_;
    if (options_.shuffle) {
        Generator gen(options_.seed, uint64_t(epoch));
        shuffle(order, gen);
    }
    return order;
}

Batch DataLoader::Epoch::empty(int64_t b) const {
    const int64_t B = loader_->options_.batch_size;
    const int64_t begin = b * B;
    const int64_t count = std::min<int64_t>(B, int64_t(order_.size()) - begin);
    return loader_->empty(order_.data() + begin, count);
}

Batch DataLoader::Epoch::batch(int64_t b) const {
    FG_CHECK(b >= 0 && b < num_batches(), "DataLoader: batch ", b, " is out of range (", num_batches(),
             " batches per epoch)");
    Batch batch = empty(b);
    loader_->fill(batch.indices.data(), int64_t(batch.y.size()), batch.x.data());
    return batch;
}

DataLoader::Epoch::Iterator::Iterator(const Epoch* epoch, int64_t b) : epoch_(epoch), b_(b) {
    if (b_ < epoch_->num_batches()) batch_ = epoch_->batch(b_);
    start_next();
}

// Batch b_ + 1 is assembled by an idle pool thread while the caller trains on batch b_,
// kImagesPerChunk items at a time, so that the thread can leave it for the step's own
// loops. Its x is allocated here, on the caller's thread, which frees it; the task only
// writes the values, through pointers into buffers that stay put when the iterator moves.
void DataLoader::Epoch::Iterator::start_next() {
    if (b_ + 1 >= epoch_->num_batches()) return;
    next_ = epoch_->empty(b_ + 1);
    const DataLoader* loader = epoch_->loader_;
    const int64_t* indices = next_.indices.data();
    const int64_t count = int64_t(next_.y.size()), D = next_.x.numel() / count;
    float* x = next_.x.data();
    filling_ = BackgroundTask((count + kImagesPerChunk - 1) / kImagesPerChunk, [=](int64_t c) {
        const int64_t begin = c * kImagesPerChunk, n = std::min(kImagesPerChunk, count - begin);
        loader->fill(indices + begin, n, x + begin * D);
    });
}

DataLoader::Epoch::Iterator& DataLoader::Epoch::Iterator::operator++() {
    ++b_;
    filling_.wait();
    batch_ = std::move(next_);  // the old batch goes back to the pool first: next_ reuses it
    next_ = Batch{};
    start_next();
    return *this;
}

}  // namespace focalgrad
