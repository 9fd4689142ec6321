// custom_loss.cpp — using a loss of your own: Poly-1 (Leng et al. 2022), cross-entropy plus a
// term that keeps pushing p_t up after the sample is classified, defined in poly1_loss.h as
// one op with its hand-written backward on top of the public loss toolkit (ignore_index, the
// reductions). This program checks it the quick way (gradcheck with a random upstream
// gradient, ε = 0 against cross_entropy), then trains the same MLP with CE and with Poly-1.
// tests/test_loss_poly1.cpp is the loss's real test; docs/extending.md walks through both.
#include <cmath>
#include <cstdio>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/gradcheck.h>
#include <focalgrad/data/loader.h>
#include <focalgrad/data/metrics.h>
#include <focalgrad/data/mnist.h>
#include <focalgrad/losses/cross_entropy.h>
#include <focalgrad/optim/optimizer.h>

#include "cli.h"
#include "models.h"
#include "poly1_loss.h"
#include "train.h"

using namespace focalgrad;
using examples::poly1_loss;
using examples::Poly1Options;

// ---- Checks and a training comparison -----------------------------------------------

void check(float epsilon) {
    Generator g(1);
    Tensor z = Tensor::randn({6, 4}, g);
    std::vector<int> y = {0, 3, 1, 1, 2, 0};
    GradcheckResult r = gradcheck(
        [&](const std::vector<Tensor>& in) { return poly1_loss(in[0], y, Poly1Options{epsilon}); }, {z});
    std::printf("gradcheck of poly1_loss (epsilon %.1f): %s\n", epsilon, r.message().c_str());
    FG_CHECK(r.ok, "poly1_loss: the backward disagrees with central differences");
    float ce = cross_entropy(z, y).item(), poly0 = poly1_loss(z, y, Poly1Options{0.0f}).item();
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
                    return std::string(name) == "poly1" ? poly1_loss(z, y, Poly1Options{float(epsilon)})
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
