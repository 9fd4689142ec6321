// synthetic.cpp — make_moons and make_spirals, computed in double and stored as float.
#include <cmath>

#include <focalgrad/core/error.h>
#include <focalgrad/core/random.h>
#include <focalgrad/data/synthetic.h>

namespace focalgrad {

namespace {
constexpr double kPi = 3.14159265358979323846;
constexpr int64_t kMaxPoints = int64_t(1) << 26;
}  // namespace

TensorDataset make_moons(int64_t n, double noise, uint64_t seed) {
    FG_CHECK(n >= 2 && n <= kMaxPoints, "make_moons: n must be in [2, ", kMaxPoints, "], got ", n);
    FG_CHECK(std::isfinite(noise) && noise >= 0, "make_moons: noise must be finite and >= 0, got ", noise);
    TensorDataset d;
    d.name = "two moons";
    d.item_shape = Shape{2};
    d.class_names = {"upper moon", "lower moon"};
    Generator gen(seed);
    const int64_t upper = n - n / 2, lower = n / 2;
    for (int c = 0; c < 2; ++c) {
        const int64_t m = c == 0 ? upper : lower;
        for (int64_t i = 0; i < m; ++i) {
            const double t = m > 1 ? kPi * double(i) / double(m - 1) : 0.0;
            double x = c == 0 ? std::cos(t) : 1.0 - std::cos(t);
            double y = c == 0 ? std::sin(t) : 0.5 - std::sin(t);
            x += noise * gen.normal();
            y += noise * gen.normal();
            d.values.push_back(float(x));
            d.values.push_back(float(y));
            d.labels.push_back(c);
        }
    }
    return d;
}

TensorDataset make_spirals(int64_t n_per_class, int classes, double noise, uint64_t seed) {
    FG_CHECK(n_per_class >= 2 && n_per_class <= kMaxPoints, "make_spirals: n_per_class must be in [2, ",
             kMaxPoints, "], got ", n_per_class);
    FG_CHECK(classes >= 2 && classes <= 64, "make_spirals: classes must be in [2, 64], got ", classes);
    FG_CHECK(std::isfinite(noise) && noise >= 0, "make_spirals: noise must be finite and >= 0, got ", noise);
    TensorDataset d;
    d.name = str(classes, " spirals");
    d.item_shape = Shape{2};
    for (int c = 0; c < classes; ++c) d.class_names.push_back(str("arm ", c));
    Generator gen(seed);
    for (int c = 0; c < classes; ++c)
        for (int64_t i = 0; i < n_per_class; ++i) {
            const double r = double(i) / double(n_per_class - 1);
            const double angle = 4.0 * (double(c) + r) + noise * gen.normal();
            d.values.push_back(float(r * std::sin(angle)));
            d.values.push_back(float(r * std::cos(angle)));
            d.labels.push_back(c);
        }
    return d;
}

}  // namespace focalgrad
