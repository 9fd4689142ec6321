// test_loss_threads.cpp — the fused losses give bit-identical outputs and gradients on 1, 2
// and 3 threads, for every reduction, with dy = 1 (the gradient the forward wrote, used as
// it is) and with a random upstream gradient (multiplied in by the backward). The inputs span
// several parallel chunks. Not here: the values themselves (test_loss_fast_vs_reference.cpp).
#include <functional>
#include <string>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/core/random.h>
#include <focalgrad/losses/losses.h>

#include "helpers.h"
#include "test_loss_reference.h"

using namespace focalgrad;

namespace {

using Loss = std::function<Tensor(const Tensor&)>;

// Output and gradient of `loss` at x: with dy = 1 for a scalar output, else with a random dy.
lossref::Run run_plain(const Loss& loss, const Tensor& x) {
    Tensor leaf = x.clone().set_requires_grad(true);
    Tensor y = loss(leaf);
    if (y.numel() == 1)
        y.backward();
    else
        y.backward(Tensor::ones(y.shape()));
    return {y.to_vector(), leaf.grad().to_vector(), {}};
}

// Both runs of `loss` on 1, 2 and 3 threads, compared bit for bit with the first.
void check_threads(const Loss& loss, const Tensor& x, const std::string& what) {
    const int threads = num_threads();
    std::vector<lossref::Run> plain, random_dy;
    for (int n : {1, 2, 3}) {
        set_num_threads(n);
        plain.push_back(run_plain(loss, x));
        random_dy.push_back(lossref::run(loss, x, 9));
    }
    set_num_threads(threads);
    for (size_t k = 1; k < plain.size(); ++k) {
        INFO(what, ", ", k + 1, " threads against 1");
        CHECK(plain[k].out == plain[0].out);
        CHECK(plain[k].grad == plain[0].grad);
        CHECK(random_dy[k].out == random_dy[0].out);
        CHECK(random_dy[k].grad == random_dy[0].grad);
    }
}

}  // namespace

TEST_CASE("the fused losses are bit-identical on 1, 2 and 3 threads, forward and backward") {
    const int64_t N = 12000, C = 10;  // 120000 logits: several chunks of rows and of elements
    Tensor logits = lossref::random_logits(N, C, 21);
    const std::vector<int> t = lossref::random_targets(N, C, 22, 0.1);
    Generator gen(23);
    Tensor y01 = Tensor::empty({N, C});
    for (int64_t e = 0; e < N * C; ++e) y01.data()[e] = float(gen.below(2));
    Tensor w = Tensor::uniform({N, C}, 0.0f, 2.0f, gen);
    for (Reduction reduction : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
        CrossEntropyOptions ce;
        ce.reduction = reduction;
        check_threads([&](const Tensor& x) { return cross_entropy(x, t, ce); }, logits, "cross_entropy");
        ce.label_smoothing = 0.1f;
        check_threads([&](const Tensor& x) { return cross_entropy(x, t, ce); }, logits, "cross_entropy, ε");
        for (float gamma : {2.0f, 0.5f}) {
            FocalLossOptions fo;
            fo.reduction = reduction;
            fo.gamma = gamma;
            check_threads([&](const Tensor& x) { return focal_loss(x, t, fo); }, logits, "focal_loss");
            SigmoidFocalLossOptions so;
            so.reduction = reduction;
            so.gamma = gamma;
            check_threads([&](const Tensor& x) { return sigmoid_focal_loss(x, y01, so); }, logits,
                          "sigmoid_focal_loss");
            so.weight = w;  // Mean: the denominator Σ w is known only after the forward
            check_threads([&](const Tensor& x) { return sigmoid_focal_loss(x, y01, so); }, logits,
                          "sigmoid_focal_loss, weights");
        }
    }
}
