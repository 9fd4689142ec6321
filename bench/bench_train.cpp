// bench_train.cpp — does a training step cost little beyond its matrix products?
// Trains the MLP 784-256-128-10 (batch 128, SGD momentum 0.9, cross-entropy) for one
// MNIST epoch on 1 and on 2 threads, and replays the same sequence of gemm calls alone
// (the GEMM floor) in the same run; prints epoch time, floor and their ratio. Also times
// an epoch of the small MLP 784-32-10 at batch 32 and of the CNN of examples/mnist_cnn.
//   build/bin/bench_train [--quick]     (--quick: 100 batches per "epoch")
#include <cstdio>
#include <cstring>

#include <focalgrad/core/parallel.h>

#include "workloads.h"

using namespace fgbench;

int main(int argc, char** argv) {
    if (fgbench::help_requested(argc, argv,
                                "bench_train: MNIST training epochs (random images without $MNIST_DIR) "
                                "against the time of their sgemm calls alone.\nusage: bench_train [--quick] "
                                "[--no-header]   (--quick: 100 batches per epoch)"))
        return 0;
    bool quick = has_flag(argc, argv, "--quick");
    int64_t limit = quick ? 100 : 0;
    bool real = false;
    Dataset data = training_images(&real);
    if (!has_flag(argc, argv, "--no-header")) {
        std::printf("bench_train: %s, %lld images%s\n\n", real ? "MNIST" : "random images (MNIST not found)",
                    (long long)data.size(), quick ? ", --quick: 100 batches per epoch" : "");
        table_header();
    }
    int saved = num_threads();
    for (int threads : {1, 2}) {
        set_num_threads(threads);
        auto mlp = bench_mlp({256, 128}, 0);
        EpochResult r = time_epochs(*mlp, data, 128, true, quick ? 3 : 2, 20, limit);
        double floor = gemm_floor_seconds(r.gemms, 3);
        table_row(str("MLP 784-256-128-10 epoch, batch 128, ", threads, " thread(s)"),
                  fmt("%.3f s", r.seconds), fmt("GEMM floor %.3f s", floor),
                  fmt("%.2fx floor", r.seconds / floor), threads == 2 ? "<= 1.6x floor" : "");
    }
    set_num_threads(std::max(saved, 2));
    {
        auto small = bench_mlp({32}, 0);
        EpochResult r = time_epochs(*small, data, 32, true, quick ? 3 : 2, 20, limit);
        double floor = gemm_floor_seconds(r.gemms, 3);
        table_row("MLP 784-32-10 epoch, batch 32, 2 threads", fmt("%.3f s", r.seconds),
                  fmt("GEMM floor %.3f s", floor), fmt("%.2fx floor", r.seconds / floor), "");
    }
    {
        auto cnn = bench_cnn(0);
        EpochResult r = time_epochs(*cnn, data, 64, false, 1, 5, limit);
        double floor = gemm_floor_seconds(r.gemms, 1);
        table_row("CNN (examples/mnist_cnn) epoch, batch 64, 2 threads", fmt("%.2f s", r.seconds),
                  fmt("GEMM floor %.2f s", floor), fmt("%.2fx floor", r.seconds / floor), "");
    }
    set_num_threads(saved);
    return 0;
}
