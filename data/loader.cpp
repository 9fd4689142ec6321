// loader.cpp — uint8 -> float batch conversion, pixel statistics, epoch orders.
#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include <focalgrad/core/error.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/core/random.h>
#include <focalgrad/data/loader.h>

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

void check_options(const LoaderOptions& options, const char* op) {
    FG_CHECK(options.batch_size >= 1, op, ": batch_size must be >= 1, got ", options.batch_size);
    FG_CHECK(std::isfinite(options.normalize.mean) && std::isfinite(options.normalize.std) &&
                 options.normalize.std > 0.0,
             op, ": normalize needs a finite mean and a finite std > 0, got mean ", options.normalize.mean,
             ", std ", options.normalize.std);
}

void check_index(const Dataset& data, int64_t i, const char* op) {
    FG_CHECK(i >= 0 && i < data.size(), op, ": index ", i, " is out of range for ", data.name, " (",
             data.size(), " items)");
}

}  // namespace

PixelStats pixel_stats(const Dataset& data, const std::vector<int64_t>& indices) {
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

// make_batch with the converter for options.normalize already built: a DataLoader builds
// its converter once, not once per batch.
Batch assemble_batch(const Dataset& data, const int64_t* indices, int64_t count, const LoaderOptions& options,
                     const detail::PixelConverter& converter) {
    FG_CHECK(count >= 1, "make_batch: a batch needs at least one item, got ", count);
    const int64_t D = data.image_size();
    Batch batch;
    batch.indices.assign(indices, indices + count);
    batch.y.resize(size_t(count));
    for (int64_t b = 0; b < count; ++b) {
        check_index(data, indices[b], "make_batch");
        batch.y[size_t(b)] = data.labels[size_t(indices[b])];
    }

    Shape shape = options.flatten ? Shape{count, D} : Shape{count, 1, data.rows, data.cols};
    batch.x = Tensor::empty(shape);  // [B, D] or [B, 1, H, W]
    float* x = batch.x.data();
    const int64_t* idx = batch.indices.data();
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
    return batch;
}

}  // namespace

Batch make_batch(const Dataset& data, const int64_t* indices, int64_t count, const LoaderOptions& options) {
    check_options(options, "make_batch");
    return assemble_batch(data, indices, count, options, detail::PixelConverter(options.normalize));
}

DataLoader::DataLoader(const Dataset& data, std::vector<int64_t> indices, const LoaderOptions& options)
    : data_(&data), indices_(std::move(indices)), options_(options) {
    check_options(options_, "DataLoader");
    converter_ = std::make_shared<const detail::PixelConverter>(options_.normalize);
    FG_CHECK(!indices_.empty(), "DataLoader: no items to load from ", data.name,
             " (the index list is empty)");
    for (int64_t i : indices_) check_index(data, i, "DataLoader");
}

DataLoader::DataLoader(const Dataset& data, const LoaderOptions& options)
    : DataLoader(
          data,
          [&] {
              std::vector<int64_t> all(size_t(data.size()));
              std::iota(all.begin(), all.end(), int64_t(0));
              return all;
          }(),
          options) {}

int64_t DataLoader::num_batches() const { return (size() + options_.batch_size - 1) / options_.batch_size; }

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
    FG_CHECK(epoch >= 0, "DataLoader::epoch_order: epoch must be >= 0, got ", epoch);
    std::vector<int64_t> order = indices_;
    if (options_.shuffle) {
        Generator gen(options_.seed, uint64_t(epoch));
        shuffle(order, gen);
    }
    return order;
}

Batch DataLoader::Epoch::batch(int64_t b) const {
    FG_CHECK(b >= 0 && b < num_batches(), "DataLoader: batch ", b, " is out of range (", num_batches(),
             " batches per epoch)");
    const int64_t B = loader_->options_.batch_size;
    const int64_t begin = b * B;
    const int64_t count = std::min<int64_t>(B, int64_t(order_.size()) - begin);
    return assemble_batch(*loader_->data_, order_.data() + begin, count, loader_->options_,
                          *loader_->converter_);
}

DataLoader::Epoch::Iterator::Iterator(const Epoch* epoch, int64_t b) : epoch_(epoch), b_(b) {
    if (b_ < epoch_->num_batches()) batch_ = epoch_->batch(b_);
}

DataLoader::Epoch::Iterator& DataLoader::Epoch::Iterator::operator++() {
    ++b_;
    batch_ = b_ < epoch_->num_batches() ? epoch_->batch(b_) : Batch{};
    return *this;
}

}  // namespace focalgrad
