// custom_loss.cpp — adding a loss to focalgrad, in one file: Poly-1 (Leng et al. 2022),
// cross-entropy plus a term that keeps pushing p_t up after the sample is classified:
//
//   ℓ = -log p_t + ε (1 - p_t),       p = softmax(z), t the target class
//   dℓ/dz_j = (p_j - [j = t]) + ε p_t (p_j - [j = t]) = (1 + ε p_t) (p_j - [j = t])
//
// The file defines the fused op, checks it (gradcheck with a random upstream gradient,
// and ε = 0 against cross_entropy), then trains the same MLP with CE and with Poly-1.
// docs/extending.md walks through it step by step.
#include <cmath>
#include <cstdio>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/gradcheck.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/data/loader.h>
#include <focalgrad/data/metrics.h>
#include <focalgrad/data/mnist.h>
#include <focalgrad/losses/cross_entropy.h>
#include <focalgrad/optim/optimizer.h>

#include "cli.h"
#include "models.h"
#include "train.h"

using namespace focalgrad;

// ---- The loss ------------------------------------------------------------------------

// Poly-1 on logits [N, C] with class targets [N], mean over the batch. One fused op: the
// forward saves p (the softmax) and the backward is the factored formula above.
Tensor poly1_loss(const Tensor& logits, const std::vector<int>& targets, float epsilon) {
    FG_CHECK(logits.dim() == 2, "poly1_loss: logits must be [N, C], got ", logits.shape());
    const int64_t N = logits.size(0), C = logits.size(1);
    FG_CHECK(int64_t(targets.size()) == N, "poly1_loss: ", targets.size(), " targets for logits ",
             logits.shape(), " (expected one per row)");
    for (int64_t i = 0; i < N; ++i)
        FG_CHECK(targets[size_t(i)] >= 0 && targets[size_t(i)] < C, "poly1_loss: target ", targets[size_t(i)],
                 " of row ", i, " is outside [0, ", C, ")");

    Tensor p = Tensor::empty(logits.shape());  // [N, C] softmax, kept for the backward
    std::vector<double> row_loss(static_cast<size_t>(N));
    const float* z = logits.data();
    parallel_for(N, 1024, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) {
            const float* zi = z + i * C;
            float m = zi[0];  // subtract the row max: every exponent is <= 0, nothing overflows
            for (int64_t j = 1; j < C; ++j) m = std::max(m, zi[j]);
            double sum = 0;
            for (int64_t j = 0; j < C; ++j) sum += std::exp(double(zi[j]) - m);
            double log_sum = std::log(sum);
            for (int64_t j = 0; j < C; ++j)
                p.data()[i * C + j] = float(std::exp(double(zi[j]) - m - log_sum));
            int t = targets[size_t(i)];
            double log_pt = double(zi[t]) - m - log_sum;
            row_loss[size_t(i)] = -log_pt + epsilon * (1.0 - std::exp(log_pt));
        }
    });
    double total = 0;
    for (double l : row_loss) total += l;
    Tensor loss = Tensor::scalar(float(total / double(N)));

    record("poly1_loss", {logits}, loss,
           [logits, p, targets, epsilon, N, C](const Tensor& dloss, const Tensor&) {
               // dlogits[i, j] = dloss / N * (1 + ε p_t) (p_j - [j = t])
               Tensor dlogits = Tensor::empty(logits.shape());
               const float scale = dloss.item() / float(N);
               for (int64_t i = 0; i < N; ++i) {
                   const float* pi = p.data() + i * C;
                   int t = targets[size_t(i)];
                   float coef = scale * (1.0f + epsilon * pi[t]);
                   for (int64_t j = 0; j < C; ++j)
                       dlogits.data()[i * C + j] = coef * (pi[j] - (j == t ? 1.0f : 0.0f));
               }
               accumulate_grad(logits, std::move(dlogits));
           });
    return loss;
}

// ---- Checks and a training comparison -----------------------------------------------

void check(float epsilon) {
    Generator g(1);
    Tensor z = Tensor::randn({6, 4}, g);
    std::vector<int> y = {0, 3, 1, 1, 2, 0};
    GradcheckResult r =
        gradcheck([&](const std::vector<Tensor>& in) { return poly1_loss(in[0], y, epsilon); }, {z});
    std::printf("gradcheck of poly1_loss (epsilon %.1f): %s\n", epsilon, r.message().c_str());
    FG_CHECK(r.ok, "poly1_loss: the backward disagrees with central differences");
    float ce = cross_entropy(z, y).item(), poly0 = poly1_loss(z, y, 0.0f).item();
    std::printf("epsilon 0 equals cross_entropy: %.7f vs %.7f\n", poly0, ce);
    FG_CHECK(std::fabs(ce - poly0) <= 1e-6f * std::fabs(ce),
             "poly1_loss with epsilon 0 must equal cross_entropy");
}

void run(int argc, char** argv) {
    cli::Args args(argc, argv, "Poly-1 loss as a custom fused op: gradcheck, then CE vs Poly-1 on MNIST.");
    std::string data_dir = args.str("data", "", "MNIST directory (else $MNIST_DIR, datasets/mnist/)");
    double epsilon = args.real("epsilon", 1.0, "Poly-1 epsilon", -1, 100);
    int64_t epochs = args.integer("epochs", 2, "training epochs per loss", 0, 1000);
    bool quiet = args.flag("quiet", "no progress lines");
    args.finish();
    check(float(epsilon));
    if (epochs == 0) return;

    std::string dir = find_mnist_dir(data_dir);
    Dataset train = load_mnist(dir, Split::train), test = load_mnist(dir, Split::test);
    LoaderOptions lo;
    lo.batch_size = 128;
    lo.normalize = kMnistStats;
    DataLoader loader(train, lo);
    for (const char* name : {"cross_entropy", "poly1"}) {
        Generator gen(0);  // the same initialisation for both losses
        auto model = examples::mlp({256, 128}, gen);
        SGD opt(model->parameters(), 0.05, 0.9);
        for (int64_t e = 0; e < epochs; ++e)
            examples::train_epoch(
                *model, opt, loader, e,
                [&](const Tensor& z, const std::vector<int>& y) {
                    return std::string(name) == "poly1" ? poly1_loss(z, y, float(epsilon))
                                                        : cross_entropy(z, y);
                },
                str(name, " epoch ", e + 1), quiet);
        Metrics m = compute_metrics(examples::confusion(examples::predict_logits(*model, test, lo), test));
        std::printf("%-14s test accuracy %.2f %%\n", name, 100 * m.accuracy);
    }
}

int main(int argc, char** argv) {
    return cli::run_main("custom_loss", [&] { run(argc, argv); });
}
