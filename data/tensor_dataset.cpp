// tensor_dataset.cpp — the consistency check, per-channel statistics and subsets of a
// TensorDataset.
#include <cmath>

#include <focalgrad/core/error.h>
#include <focalgrad/data/tensor_dataset.h>

namespace focalgrad {

void check_dataset(const TensorDataset& data, const char* op) {
    const Shape& s = data.item_shape;
    FG_CHECK(s.size() >= 1 && s.size() <= 4, op, ": ", data.name,
             ": items must have 1 to 4 dims ({D} or {C, H, W}), got ", s);
    for (int64_t size : s)
        FG_CHECK(size >= 1, op, ": ", data.name, ": item shape ", s, " has a size below 1");
    FG_CHECK(data.num_classes() >= 1, op, ": ", data.name, " has no class names");
    FG_CHECK(int64_t(data.values.size()) == data.size() * data.item_size(), op, ": ", data.name, " has ",
             data.values.size(), " values, but ", data.size(), " items of shape ", s, " need ",
             data.size() * data.item_size());
    for (size_t i = 0; i < data.labels.size(); ++i)
        FG_CHECK(data.labels[i] >= 0 && data.labels[i] < data.num_classes(), op, ": ", data.name, ": item ",
                 i, " has label ", data.labels[i], ", outside [0, ", data.num_classes(), ")");
    for (size_t i = 0; i < data.values.size(); ++i)
        FG_CHECK(std::isfinite(data.values[i]), op, ": ", data.name, ": item ", int64_t(i) / data.item_size(),
                 " holds ", data.values[i], " at position ", int64_t(i) % data.item_size(),
                 " (values must be finite)");
}

// Per channel: mean = sum(v) / n, std = sqrt(sum((v - mean)^2) / n), two passes in double.
std::vector<PixelStats> channel_stats(const TensorDataset& data, const std::vector<int64_t>& indices) {
    check_dataset(data, "channel_stats");
    const int64_t C = data.channels(), plane = data.item_size() / C;
    std::vector<int64_t> items = indices;
    if (items.empty())
        for (int64_t i = 0; i < data.size(); ++i) items.push_back(i);
    FG_CHECK(!items.empty(), "channel_stats: ", data.name, " has no items to average");
    for (int64_t i : items)
        FG_CHECK(i >= 0 && i < data.size(), "channel_stats: index ", i, " is out of range for ", data.name,
                 " (", data.size(), " items)");
    std::vector<PixelStats> stats(static_cast<size_t>(C));
    const double n = double(items.size()) * double(plane);
    for (int64_t c = 0; c < C; ++c) {
        double sum = 0.0;
        for (int64_t i : items)
            for (int64_t p = 0; p < plane; ++p) sum += data.item(i)[c * plane + p];
        const double mean = sum / n;
        double sq = 0.0;
        for (int64_t i : items)
            for (int64_t p = 0; p < plane; ++p) {
                const double d = data.item(i)[c * plane + p] - mean;
                sq += d * d;
            }
        const double sd = std::sqrt(sq / n);
        stats[size_t(c)] = {mean, sd > 0.0 ? sd : 1.0};
    }
    return stats;
}

TensorDataset subset(const TensorDataset& data, const std::vector<int64_t>& indices) {
    TensorDataset out;
    out.name = data.name;
    out.item_shape = data.item_shape;
    out.class_names = data.class_names;
    const int64_t D = data.item_size();
    out.values.reserve(indices.size() * size_t(D));
    for (int64_t i : indices) {
        FG_CHECK(i >= 0 && i < data.size(), "subset: index ", i, " is out of range for ", data.name, " (",
                 data.size(), " items)");
        out.values.insert(out.values.end(), data.item(i), data.item(i) + D);
        out.labels.push_back(data.labels[size_t(i)]);
    }
    return out;
}

}  // namespace focalgrad
