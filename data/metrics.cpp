// metrics.cpp — counting into the confusion matrix, the scores read off it, and tables.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <focalgrad/core/error.h>
#include <focalgrad/data/metrics.h>

namespace focalgrad {

ConfusionMatrix::ConfusionMatrix(int num_classes) : num_classes_(num_classes) {
    FG_CHECK(num_classes >= 1 && num_classes <= 100000,
             "ConfusionMatrix: num_classes must be "
             "between 1 and 100000, got ",
             num_classes);
    allocating(
        "ConfusionMatrix",
        [&] {
            return str(num_classes, " x ", num_classes, " counts (",
                       byte_size(8.0 * double(num_classes) * double(num_classes)), ")");
        },
        [&] { counts_.assign(size_t(num_classes) * size_t(num_classes), 0); });
}

void ConfusionMatrix::add(int truth, int predicted) {
    FG_CHECK(truth >= 0 && truth < num_classes_ && predicted >= 0 && predicted < num_classes_,
             "ConfusionMatrix::add: classes must be in [0, ", num_classes_ - 1, "], got truth ", truth,
             ", predicted ", predicted);
    ++counts_[size_t(truth) * size_t(num_classes_) + size_t(predicted)];
    ++total_;
}

void ConfusionMatrix::add(const std::vector<int>& truth, const std::vector<int>& predicted) {
    FG_CHECK(truth.size() == predicted.size(), "ConfusionMatrix::add: ", truth.size(), " true labels but ",
             predicted.size(), " predictions");
    for (size_t i = 0; i < truth.size(); ++i) add(truth[i], predicted[i]);
}

int64_t ConfusionMatrix::operator()(int truth, int predicted) const {
    FG_CHECK(truth >= 0 && truth < num_classes_ && predicted >= 0 && predicted < num_classes_,
             "ConfusionMatrix: entry (", truth, ", ", predicted, ") is out of range for ", num_classes_,
             " classes");
    return counts_[size_t(truth) * size_t(num_classes_) + size_t(predicted)];
}

int64_t ConfusionMatrix::support(int c) const {
    int64_t s = 0;
    for (int p = 0; p < num_classes_; ++p) s += (*this)(c, p);
    return s;
}

int64_t ConfusionMatrix::predicted_count(int c) const {
    int64_t s = 0;
    for (int t = 0; t < num_classes_; ++t) s += (*this)(t, c);
    return s;
}

std::vector<int> argmax_rows(const Tensor& logits) {
    FG_CHECK(logits.dim() == 2 && logits.size(1) >= 1,
             "argmax_rows: expected [N, C] logits "
             "with C >= 1, got ",
             logits.shape());
    const int64_t N = logits.size(0), C = logits.size(1);
    const float* z = logits.data();
    std::vector<int> out(static_cast<size_t>(N));
    for (int64_t i = 0; i < N; ++i) {
        const float* row = z + i * C;
        int64_t best = 0;
        for (int64_t j = 0; j < C; ++j) {
            FG_CHECK(!std::isnan(row[j]), "argmax_rows: row ", i, " of ", logits.shape(),
                     " holds a NaN at column ", j, "; the model has diverged");
            if (row[j] > row[best]) best = j;
        }
        out[size_t(i)] = int(best);
    }
    return out;
}

Metrics compute_metrics(const ConfusionMatrix& cm) {
    FG_CHECK(cm.total() > 0,
             "compute_metrics: the confusion matrix is empty (no predictions "
             "were added)");
    const int C = cm.num_classes();
    Metrics m;
    m.total = cm.total();
    m.per_class.resize(size_t(C));
    int64_t correct = 0;
    double recall_sum = 0.0, f1_sum = 0.0;
    int with_items = 0, scored_f1 = 0;
    for (int c = 0; c < C; ++c) {
        ClassMetrics& k = m.per_class[size_t(c)];
        const int64_t tp = cm(c, c);
        k.support = cm.support(c);
        k.predicted = cm.predicted_count(c);
        const int64_t fn = k.support - tp, fp = k.predicted - tp;
        correct += tp;
        if (k.predicted > 0) k.precision = double(tp) / double(k.predicted);
        if (k.support > 0) {
            k.recall = double(tp) / double(k.support);
            recall_sum += k.recall;
            ++with_items;
        }
        // F1 from counts, not from the rounded precision and recall.
        if (k.support > 0 || k.predicted > 0) {
            k.f1 = double(2 * tp) / double(2 * tp + fp + fn);
            f1_sum += k.f1;
            ++scored_f1;
        }
    }
    m.accuracy = double(correct) / double(m.total);
    m.balanced_accuracy = recall_sum / with_items;  // total > 0, so some class has items
    m.macro_f1 = f1_sum / scored_f1;
    return m;
}

namespace {

std::string class_name(const std::vector<std::string>& names, int c) {
    return c < int(names.size()) ? names[size_t(c)] : std::to_string(c);
}

int name_width(const std::vector<std::string>& names, int C, int at_least) {
    int w = at_least;
    for (int c = 0; c < C; ++c) w = std::max(w, int(class_name(names, c).size()));
    return w;
}

}  // namespace

std::string format_metrics(const Metrics& m, const std::vector<std::string>& class_names) {
    const int C = int(m.per_class.size());
    const int w = name_width(class_names, C, int(std::string("balanced accuracy").size()));
    std::string out;
    char line[512];
    std::snprintf(line, sizeof line, "%-*s  %9s  %6s  %6s  %7s\n", w, "class", "precision", "recall", "f1",
                  "support");
    out += line;
    for (int c = 0; c < C; ++c) {
        const ClassMetrics& k = m.per_class[size_t(c)];
        std::snprintf(line, sizeof line, "%-*s  %9.4f  %6.4f  %6.4f  %7lld\n", w,
                      class_name(class_names, c).c_str(), k.precision, k.recall, k.f1,
                      static_cast<long long>(k.support));
        out += line;
    }
    std::snprintf(line, sizeof line, "%-*s  %9s  %6s  %6.4f  %7lld\n", w, "accuracy", "", "", m.accuracy,
                  static_cast<long long>(m.total));
    out += line;
    std::snprintf(line, sizeof line, "%-*s  %9s  %6s  %6.4f\n", w, "balanced accuracy", "", "",
                  m.balanced_accuracy);
    out += line;
    std::snprintf(line, sizeof line, "%-*s  %9s  %6s  %6.4f\n", w, "macro F1", "", "", m.macro_f1);
    out += line;
    return out;
}

std::string format_confusion_matrix(const ConfusionMatrix& cm, const std::vector<std::string>& class_names) {
    const int C = cm.num_classes();
    const int w = name_width(class_names, C, int(std::string("true \\ predicted").size()));
    int cell = 1;  // wide enough for the largest count and every column name
    for (int t = 0; t < C; ++t) {
        cell = std::max(cell, int(class_name(class_names, t).size()));
        for (int p = 0; p < C; ++p) cell = std::max(cell, int(std::to_string(cm(t, p)).size()));
    }
    std::string out;
    char buf[512];
    std::snprintf(buf, sizeof buf, "%-*s", w, "true \\ predicted");
    out += buf;
    for (int p = 0; p < C; ++p) {
        std::snprintf(buf, sizeof buf, "  %*s", cell, class_name(class_names, p).c_str());
        out += buf;
    }
    out += '\n';
    for (int t = 0; t < C; ++t) {
        std::snprintf(buf, sizeof buf, "%-*s", w, class_name(class_names, t).c_str());
        out += buf;
        for (int p = 0; p < C; ++p) {
            std::snprintf(buf, sizeof buf, "  %*lld", cell, static_cast<long long>(cm(t, p)));
            out += buf;
        }
        out += '\n';
    }
    return out;
}

}  // namespace focalgrad
