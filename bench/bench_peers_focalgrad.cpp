// bench_peers_focalgrad.cpp — focalgrad's side of `make bench-peers`: the workloads of
// bench/peers/ (see run_peers.py for the contract), one JSON line per result:
//   {"peer": "focalgrad", "workload": "mlp_epoch", "value": 0.61, "unit": "s", "detail": "..."}
// Usage: bench_peers_focalgrad --only NAME [--quick] | --rss | --blas-kernels
// (--blas-kernels prints the OpenBLAS kernels focalgrad runs on, core/blas.h's blas_kernels()).
#include <cstdio>
#include <cstring>
#include <string>

#include <focalgrad/core/blas.h>
#include <focalgrad/core/parallel.h>

#include "workloads.h"

using namespace fgbench;

namespace {

void emit(const char* peer, const char* workload, double value, const char* unit, const std::string& detail) {
    std::printf(
        "{\"peer\": \"%s\", \"workload\": \"%s\", \"value\": %.6g, \"unit\": \"%s\", \"detail\": \"%s\"}\n",
        peer, workload, value, unit, detail.c_str());
    std::fflush(stdout);
}

// An MLP epoch, or with `hidden` empty the CNN of examples/mnist_cnn.
void epoch(const char* name, const std::vector<int64_t>& hidden, int64_t batch, bool quick) {
    bool real = false;
    Dataset data = training_images(&real);
    const bool cnn = hidden.empty();
    auto model = cnn ? bench_cnn(0) : bench_mlp(hidden, 0);
    // --quick: one whole epoch, as the peers do, so that a quick run's ratios compare like with like.
    const int epochs = quick ? 1 : 3;
    EpochResult r = time_epochs(*model, data, batch, !cnn, epochs, 20);
    std::string arch = cnn ? "CNN of examples/mnist_cnn" : "MLP 784";
    for (int64_t h : hidden) arch += "-" + std::to_string(h);
    if (!cnn) arch += "-10";
    emit("focalgrad", name, r.seconds, "s",
         str(arch, ", batch ", batch, ", median of ", epochs, " epoch(s)", "; last-epoch mean loss ", r.loss,
             real ? "" : "; random images: MNIST not found"));
    if (!cnn)
        emit("sgemm_floor", name, gemm_floor_seconds(r.gemms, 3), "s",
             "the epoch's gemm calls replayed alone through focalgrad's gemm");
}

}  // namespace

int main(int argc, char** argv) {
    std::string only;
    bool quick = false, rss = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (std::strcmp(argv[i], "--quick") == 0)
            quick = true;
        else if (std::strcmp(argv[i], "--rss") == 0)
            rss = true;
        else if (std::strcmp(argv[i], "--blas-kernels") == 0) {
            std::printf("%s\n", blas_kernels().c_str());
            return 0;
        } else {
            std::fprintf(stderr,
                         "usage: bench_peers_focalgrad --only NAME [--quick] | --rss | --blas-kernels\n");
            return 2;
        }
    }
    set_num_threads(2);
    if (rss) {
        bool real = false;
        Dataset data = training_images(&real);
        auto mlp = bench_mlp({256, 128}, 0);
        EpochResult r = time_epochs(*mlp, data, 128, true, 1, 0);
        emit("focalgrad", "peak_rss_mb", peak_rss_mb(), "MB",
             str("ru_maxrss of a process that loaded MNIST and trained the 784-256-128-10 MLP for one epoch; "
                 "loss ",
                 r.loss));
        return 0;
    }
    int reps = quick ? 3 : 10;
    if (only.empty() || only == "mlp_epoch") epoch("mlp_epoch", {256, 128}, 128, quick);
    if (only.empty() || only == "small_mlp_epoch") epoch("small_mlp_epoch", {32}, 32, quick);
    if (only.empty() || only == "focal_fused_1m") {
        FocalLossOptions o;
        o.gamma = 2;
        double t = time_loss(1000000, 10, reps,
                             [&](const Tensor& z, const std::vector<int>& y) { return focal_loss(z, y, o); });
        emit("focalgrad", "focal_fused_1m", t * 1e3, "ms",
             "fused focal_loss (gamma 2) forward+backward on [1000000, 10]");
    }
    if (only.empty() || only == "cnn_epoch") epoch("cnn_epoch", {}, 64, quick);
    if (only.empty() || only == "sigmoid_focal_1m") {
        // torchvision's defaults (alpha 0.25, gamma 2, mean) on 0/1 targets, as the peers.
        Generator g(1);
        Tensor targets = Tensor::empty({1000000, 10});  // [N, C]
        for (int64_t i = 0; i < targets.numel(); ++i) targets.data()[i] = float(g.below(2));
        double t = time_loss(1000000, 10, reps, [&](const Tensor& z, const std::vector<int>&) {
            return sigmoid_focal_loss(z, targets);
        });
        emit("focalgrad", "sigmoid_focal_1m", t * 1e3, "ms",
             "fused sigmoid_focal_loss (alpha 0.25, gamma 2, mean) forward+backward on [1000000, 10], 0/1 "
             "targets");
    }
    if (only.empty() || only == "ce_fused_1m") {
        double t = time_loss(1000000, 10, reps,
                             [](const Tensor& z, const std::vector<int>& y) { return cross_entropy(z, y); });
        emit("focalgrad", "ce_fused_1m", t * 1e3, "ms",
             "fused cross_entropy forward+backward on [1000000, 10]");
    }
    if (only.empty() || only == "small_op_us") {
        Tensor x = Tensor::from({1, 2, 3, 4}).set_requires_grad();
        double t = median_seconds(
                       [&] {
                           for (int i = 0; i < 1000; ++i) {
                               Tensor y = mul(x, x);
                               (void)y;
                           }
                       },
                       300, 20) /
                   1000;
        emit("focalgrad", "small_op_us", t * 1e6, "us",
             "y = x * x on 4 elements with requires_grad, median over 300 batches of 1000 ops");
    }
    return 0;
}
