// Exercise 5, solved: per row one stable softmax, 1 - p_t as the sum of the other classes,
// and the factored gradient (1 - p_t)^γ (1 - γφ) (p - onehot).
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace exercises {

namespace {

// What one row needs: p_t, 1 - p_t and log p_t, computed without cancellation.
struct Row {
    double sum, others, e_t, p_t, one_minus_pt, log_pt;
};

Row row_stats(const float* row, int t, int64_t C) {
    const float m = *std::max_element(row, row + C);
    Row r{0, 0, 0, 0, 0, 0};
    for (int64_t j = 0; j < C; ++j) {
        double e = std::exp(double(row[j] - m));
        r.sum += e;
        if (j != t) r.others += e;
    }
    r.e_t = std::exp(double(row[t] - m));
    r.p_t = r.e_t / r.sum;
    r.one_minus_pt = r.others / r.sum;
    r.log_pt = double(row[t] - m) - std::log(r.sum);
    return r;
}

}  // namespace

float focal_loss_forward(const float* z, const int* targets, int64_t N, int64_t C, float gamma) {
    double total = 0.0;
    for (int64_t i = 0; i < N; ++i) {
        Row r = row_stats(z + i * C, targets[i], C);
        total += -std::pow(r.one_minus_pt, double(gamma)) * r.log_pt;
    }
    return float(total / double(N));
}

void focal_loss_backward(float* dz, const float* z, const int* targets, float dL, int64_t N, int64_t C,
                         float gamma) {
    for (int64_t i = 0; i < N; ++i) {
        const float* row = z + i * C;
        const int t = targets[i];
        Row r = row_stats(row, t, C);
        const double phi = r.others > 0 ? r.e_t * r.log_pt / r.others : -1.0;
        const double coef =
            double(dL) / double(N) * std::pow(r.one_minus_pt, double(gamma)) * (1 - gamma * phi);
        const float m = *std::max_element(row, row + C);
        for (int64_t j = 0; j < C; ++j) {
            // p_j - [j = t]; for j = t that is -(1 - p_t), taken from the other classes.
            double p_minus_onehot = j == t ? -r.one_minus_pt : std::exp(double(row[j] - m)) / r.sum;
            dz[i * C + j] += float(coef * p_minus_onehot);
        }
    }
}

}  // namespace exercises
