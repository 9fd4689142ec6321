// main.cpp — a project of its own on top of an installed focalgrad. It brings its own loss
// (generalized_ce.h), checks that loss's gradient against central differences and its two
// limits against focalgrad's, then trains a small MLP with it on spirals made by its own
// core/tensor.h. Built by the Makefile (pkg-config only) or CMakeLists.txt (find_package
// only), as focalgrad's README shows under "Use focalgrad in your own project". A failed
// check exits 1.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>

#include <focalgrad/focalgrad.h>

#include "core/tensor.h"  // the project's own core/tensor.h, next to focalgrad's without a clash
#include "generalized_ce.h"

using namespace focalgrad;
using userproject::generalized_cross_entropy;

namespace {

// The fraction of rows of `logits` [N, C] whose largest entry is the label.
double accuracy(const Tensor& logits, const std::vector<int>& labels) {
    std::vector<int> predicted = argmax(logits, 1);
    int64_t right = 0;
    for (size_t i = 0; i < labels.size(); ++i) right += predicted[i] == labels[i];
    return double(right) / double(labels.size());
}

void check_loss() {
    Generator gen(7);
    Tensor z = Tensor::randn({5, 4}, gen);
    const std::vector<int> y = {0, 3, 1, 1, 2};
    for (float q : {0.3f, 0.7f, 1.0f}) {
        GradcheckResult r = gradcheck(
            [&](const std::vector<Tensor>& in) { return generalized_cross_entropy(in[0], y, q); }, {z});
        std::printf("gradcheck, q = %.1f: %s\n", q, r.message().c_str());
        FG_CHECK(r.ok, "generalized_cross_entropy: the backward disagrees with central differences");
    }

    // q -> 0 is cross-entropy: the gap is about q/2 (log p_t)^2 per row.
    const float ce = cross_entropy(z, y).item(), gce0 = generalized_cross_entropy(z, y, 1e-4f).item();
    std::printf("q = 0.0001: %.6f, cross_entropy: %.6f\n", gce0, ce);
    FG_CHECK(std::fabs(gce0 - ce) <= 1e-3f * ce,
             "generalized_cross_entropy(q -> 0) must approach cross_entropy");

    // q = 1 is the mean of 1 - p_t, with p from focalgrad's softmax.
    Tensor p = softmax(z, 1);
    double mae = 0;
    for (size_t i = 0; i < y.size(); ++i) mae += 1.0 - p.data()[i * 4 + size_t(y[i])];
    mae /= double(y.size());
    const float gce1 = generalized_cross_entropy(z, y, 1.0f).item();
    std::printf("q = 1: %.6f, mean of 1 - p_t: %.6f\n", gce1, mae);
    FG_CHECK(std::fabs(gce1 - mae) <= 1e-6, "generalized_cross_entropy(q = 1) must be the mean of 1 - p_t");
}

void train() {
    const userproject::Points train = userproject::spirals(100, 3, 0.3f, 1);
    const userproject::Points test = userproject::spirals(100, 3, 0.3f, 2);
    Tensor x = Tensor::from(train.xy, {train.size(), 2});
    Tensor x_test = Tensor::from(test.xy, {test.size(), 2});

    Generator gen(0);
    Sequential net(Linear(2, 32, true, gen), ReLU(), Linear(32, 32, true, gen), ReLU(),
                   Linear(32, train.classes, true, gen));
    Adam opt(net.parameters(), 0.01);
    for (int step = 1; step <= 400; ++step) {
        opt.zero_grad();
        Tensor loss = generalized_cross_entropy(net(x), train.labels, 0.7f);
        loss.backward();
        opt.step();
        if (step % 100 == 0) std::printf("step %d: loss %.4f\n", step, loss.item());
    }
    NoGradGuard no_grad;
    const double train_acc = accuracy(net(x), train.labels), test_acc = accuracy(net(x_test), test.labels);
    std::printf("MLP 2-32-32-3 on %lld spiral points: train accuracy %.3f, test accuracy %.3f\n",
                static_cast<long long>(train.size()), train_acc, test_acc);
    FG_CHECK(test_acc >= 0.9, "the MLP should separate the spirals, test accuracy is only ", test_acc);
}

}  // namespace

int main() {
    try {
        std::printf("focalgrad %s (headers %s)\n", version(), FOCALGRAD_VERSION);
        check_loss();
        train();
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "user_project: %s\n", e.what());
        return 1;
    }
}
