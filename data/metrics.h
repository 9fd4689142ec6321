// metrics.h — how good a classifier is, per class and overall: the confusion matrix and
// what is read off it (precision, recall, F1, accuracy, balanced accuracy, macro-F1),
// and plain-text tables of both. Shapes: N items, C classes.
// Not here: probabilistic metrics (log-loss, AUC, calibration), top-k accuracy.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <focalgrad/core/tensor.h>

namespace focalgrad {

// counts[t][p] = items of true class t predicted as p.
class ConfusionMatrix {
public:
    explicit ConfusionMatrix(int num_classes);
    void add(int truth, int predicted);
    void add(const std::vector<int>& truth, const std::vector<int>& predicted);

    int num_classes() const { return num_classes_; }
    int64_t operator()(int truth, int predicted) const;
    int64_t total() const { return total_; }
    int64_t support(int c) const;          // row sum: items whose true class is c
    int64_t predicted_count(int c) const;  // column sum: items predicted as c

private:
    int num_classes_;
    int64_t total_ = 0;
    std::vector<int64_t> counts_;  // [C, C], row = true class
};

// The predicted class of each row of [N, C] logits (or probabilities): the index of its
// largest value, the first one on ties. A NaN anywhere is an error, not a silent class.
std::vector<int> argmax_rows(const Tensor& logits);

// With TP, FP, FN counted for one class c: a 0/0 is defined as 0, as scikit-learn does
// with zero_division=0, and is flagged by the zero support/predicted count.
struct ClassMetrics {
    int64_t support = 0;     // TP + FN: items of class c
    int64_t predicted = 0;   // TP + FP: items predicted as c
    double precision = 0.0;  // TP / (TP + FP); 0 when c is never predicted
    double recall = 0.0;     // TP / (TP + FN); 0 when c has no items
    double f1 = 0.0;         // 2TP / (2TP + FP + FN), the harmonic mean of the two; 0 if 0/0
};

struct Metrics {
    std::vector<ClassMetrics> per_class;  // [C]
    int64_t total = 0;
    double accuracy = 0.0;           // trace / total
    double balanced_accuracy = 0.0;  // mean recall over the classes that have items
    double macro_f1 = 0.0;           // mean F1 over the classes that have items or predictions
};

// The averages skip the classes that cannot be scored (scikit-learn's convention): a class
// with no items has no recall, and a class absent from both truth and predictions has no
// F1. A class with no items that is predicted anyway has F1 = 0 and counts in macro-F1.
// An empty matrix is an error.
Metrics compute_metrics(const ConfusionMatrix& cm);

// Plain-text tables, one row per class, named by class_names (or by index when empty):
//   class  precision  recall      f1  support
//   0         0.9912  0.9980  0.9946      980
//   ...
//   accuracy                  0.9850    10000
std::string format_metrics(const Metrics& metrics, const std::vector<std::string>& class_names = {});
std::string format_confusion_matrix(const ConfusionMatrix& cm,
                                    const std::vector<std::string>& class_names = {});

}  // namespace focalgrad
