// test_data_metrics.cpp — the confusion matrix and every score read off it, against a
// small example worked out by hand (fractions in the comments), the 0/0 conventions,
// argmax ties and NaN, and the text tables.
#include <cmath>
#include <doctest/doctest.h>

#include <focalgrad/data/metrics.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

void check_eq(double got, double expected) { CHECK(got == doctest::Approx(expected).epsilon(1e-15)); }

}  // namespace

TEST_CASE("metrics of a hand-computed 3-class confusion matrix") {
    std::vector<int> truth = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2};
    std::vector<int> pred = {0, 0, 1, 2, 1, 1, 0, 2, 2, 1};
    ConfusionMatrix cm(3);
    cm.add(truth, pred);
    //            predicted 0  1  2
    //   true 0             2  1  1
    //   true 1             1  2  0
    //   true 2             0  1  2
    const int64_t expected[3][3] = {{2, 1, 1}, {1, 2, 0}, {0, 1, 2}};
    for (int t = 0; t < 3; ++t)
        for (int p = 0; p < 3; ++p) CHECK(cm(t, p) == expected[t][p]);
    CHECK(cm.total() == 10);
    CHECK(cm.support(0) == 4);
    CHECK(cm.predicted_count(1) == 4);

    Metrics m = compute_metrics(cm);
    // class 0: TP 2, FP 1, FN 2 -> P 2/3, R 2/4, F1 4/7
    // class 1: TP 2, FP 2, FN 1 -> P 2/4, R 2/3, F1 4/7
    // class 2: TP 2, FP 1, FN 1 -> P 2/3, R 2/3, F1 4/6
    const double P[3] = {2.0 / 3, 2.0 / 4, 2.0 / 3}, R[3] = {2.0 / 4, 2.0 / 3, 2.0 / 3},
                 F[3] = {4.0 / 7, 4.0 / 7, 4.0 / 6};
    const int64_t support[3] = {4, 3, 3}, predicted[3] = {3, 4, 3};
    for (int c = 0; c < 3; ++c) {
        CAPTURE(c);
        check_eq(m.per_class[size_t(c)].precision, P[c]);
        check_eq(m.per_class[size_t(c)].recall, R[c]);
        check_eq(m.per_class[size_t(c)].f1, F[c]);
        // F1 is the harmonic mean of precision and recall.
        check_eq(m.per_class[size_t(c)].f1, 2 * P[c] * R[c] / (P[c] + R[c]));
        CHECK(m.per_class[size_t(c)].support == support[c]);
        CHECK(m.per_class[size_t(c)].predicted == predicted[c]);
    }
    CHECK(m.total == 10);
    check_eq(m.accuracy, 6.0 / 10);
    check_eq(m.balanced_accuracy, (2.0 / 4 + 2.0 / 3 + 2.0 / 3) / 3);
    check_eq(m.macro_f1, (4.0 / 7 + 4.0 / 7 + 4.0 / 6) / 3);
}

TEST_CASE("metrics: 0/0 is 0, and the averages skip classes that cannot be scored") {
    // 4 classes. Class 2 is predicted but has no items; class 3 appears nowhere.
    ConfusionMatrix cm(4);
    cm.add({0, 0, 0, 1, 1, 1}, {0, 0, 2, 1, 1, 0});
    Metrics m = compute_metrics(cm);
    // class 0: TP 2, FP 1, FN 1 -> P 2/3, R 2/3, F1 4/6
    // class 1: TP 2, FP 0, FN 1 -> P 1,   R 2/3, F1 4/5
    // class 2: TP 0, FP 1, FN 0 -> P 0/1 = 0, R 0/0 := 0, F1 0/1 = 0 (counts in macro-F1)
    // class 3: nothing           -> P, R, F1 all 0/0 := 0 (skipped by both averages)
    check_eq(m.per_class[0].f1, 4.0 / 6);
    check_eq(m.per_class[1].precision, 1.0);
    check_eq(m.per_class[1].f1, 4.0 / 5);
    for (int c : {2, 3}) {
        CHECK(m.per_class[size_t(c)].precision == 0.0);
        CHECK(m.per_class[size_t(c)].recall == 0.0);
        CHECK(m.per_class[size_t(c)].f1 == 0.0);
        CHECK(m.per_class[size_t(c)].support == 0);
    }
    CHECK(m.per_class[2].predicted == 1);
    check_eq(m.accuracy, 4.0 / 6);
    check_eq(m.balanced_accuracy, (2.0 / 3 + 2.0 / 3) / 2);  // classes 0 and 1 have items
    check_eq(m.macro_f1, (4.0 / 6 + 4.0 / 5 + 0.0) / 3);     // classes 0, 1, 2 occur

    // A perfect classifier scores 1 everywhere; one class only is fine too.
    ConfusionMatrix perfect(2);
    perfect.add({0, 1, 1}, {0, 1, 1});
    Metrics p = compute_metrics(perfect);
    CHECK(p.accuracy == 1.0);
    CHECK(p.balanced_accuracy == 1.0);
    CHECK(p.macro_f1 == 1.0);
}

TEST_CASE("metrics: bad input is a clear error") {
    ConfusionMatrix cm(3);
    CHECK_ERROR(compute_metrics(cm), "compute_metrics: the confusion matrix is empty");
    CHECK_ERROR(cm.add(3, 0), "classes must be in [0, 2], got truth 3, predicted 0");
    CHECK_ERROR(cm.add(0, -1), "got truth 0, predicted -1");
    CHECK_ERROR(cm.add({0, 1}, {0}), "2 true labels but 1 predictions");
    CHECK_ERROR(cm(0, 5), "entry (0, 5) is out of range for 3 classes");
    CHECK_ERROR(ConfusionMatrix(0), "num_classes must be between 1 and 100000, got 0");
    CHECK(cm.total() == 0);  // the failed adds added nothing
}

TEST_CASE("argmax_rows: the largest value, the first on ties; NaN is an error") {
    Tensor z = Tensor::from({1, 3, 2, 5, 5, -1, -2, -3, -1}, {3, 3});
    CHECK(argmax_rows(z) == std::vector<int>{1, 0, 2});
    CHECK(argmax_rows(Tensor::from({-INFINITY, -INFINITY}, {1, 2})) == std::vector<int>{0});
    CHECK_ERROR(argmax_rows(Tensor::from({0, NAN, 1}, {1, 3})), "row 0", "NaN at column 1");
    CHECK_ERROR(argmax_rows(Tensor::zeros({4})), "expected [N, C] logits", "[4]");
}

TEST_CASE("format_metrics and format_confusion_matrix print aligned plain-text tables") {
    ConfusionMatrix cm(2);
    cm.add({0, 0, 0, 1}, {0, 0, 1, 1});
    Metrics m = compute_metrics(cm);
    // class 0: P 2/2, R 2/3, F1 4/5; class 1: P 1/2, R 1/1, F1 2/3.
    std::string table = format_metrics(m, {"cat", "dog"});
    CHECK(table ==
          "class              precision  recall      f1  support\n"
          "cat                   1.0000  0.6667  0.8000        3\n"
          "dog                   0.5000  1.0000  0.6667        1\n"
          "accuracy                              0.7500        4\n"
          "balanced accuracy                     0.8333\n"
          "macro F1                              0.7333\n");
    CHECK(format_metrics(m).find("\n0  ") != std::string::npos);  // unnamed: by index
    CHECK(format_confusion_matrix(cm, {"cat", "dog"}) ==
          "true \\ predicted  cat  dog\n"
          "cat                 2    1\n"
          "dog                 0    1\n");
}
