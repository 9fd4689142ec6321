// bench_train.cpp — does a training epoch cost little beyond its matrix products?
// One MNIST epoch (SGD momentum 0.9, cross-entropy, shuffled batches) of each workload,
// the median of 3 epochs for the MLPs,
// against its floor measured in the same run (docs/performance.md, "The floors"):
//   MLP 784-256-128-10, batch 128, on 1 and 2 threads   the epoch's own gemm calls replayed
//   MLP 784-32-10, batch 32 (loader included)           alone on warm buffers (GEMM floor)
//   each MLP row is followed by its step split into phases (loader wait, forward,
//   backward, update) against its products alone
//   CNN of examples/mnist_cnn, batch 64                 its flop count at the sgemm rate
//                                                       of a 512 x 512 product
// Targets (issue 16): big MLP <= 1.3x on 2 threads, small MLP <= 2.0x, CNN <= 1.5x.
//   build/bin/bench_train [--quick] [--no-header]     (--quick: 100 batches per "epoch")
#include <cstdio>
#include <cstring>

#include <focalgrad/core/parallel.h>

#include "floors.h"
#include "workloads.h"

using namespace fgbench;

int main(int argc, char** argv) {
    if (fgbench::help_requested(argc, argv,
                                "bench_train: MNIST training epochs (random images without $MNIST_DIR) "
                                "against their floors.\nusage: bench_train [--quick] "
                                "[--no-header]   (--quick: 100 batches per epoch)"))
        return 0;
    bool quick = has_flag(argc, argv, "--quick");
    int64_t limit = quick ? 100 : 0;
    bool real = false;
    Dataset data = training_images(&real);
    if (!has_flag(argc, argv, "--no-header")) {
        std::printf("bench_train: %s, %lld images%s, %s, load average %.2f\n\n",
                    real ? "MNIST" : "random images (MNIST not found)", (long long)data.size(),
                    quick ? ", --quick: 100 batches per epoch" : "", build_isa(), load_average());
        table_header();
    }
    int saved = num_threads();
    for (int threads : {1, 2}) {
        set_num_threads(threads);
        auto mlp = bench_mlp({256, 128}, 0);
        EpochResult r = time_epochs(*mlp, data, 128, true, 3, 20, limit);
        double floor = gemm_floor_seconds(r.gemms, 3);
        double ratio = r.seconds / floor;
        table_row(str("MLP 784-256-128-10 epoch, batch 128, ", threads, " thread(s)"),
                  fmt("%.3f s", r.seconds), fmt("GEMM floor %.3f s", floor), fmt("%.2fx floor", ratio),
                  threads == 2 ? target_cell(ratio, 1.3) : "");
        table_row(describe_phases(r, floor), "", "", "", "");
    }
    set_num_threads(std::max(saved, 2));
    const int threads = num_threads();
    {
        auto small = bench_mlp({32}, 0);
        EpochResult r = time_epochs(*small, data, 32, true, 3, 20, limit);
        double floor = gemm_floor_seconds(r.gemms, 3);
        double loader = loader_epoch_seconds(data, 32, true, 3, limit);
        double ratio = r.seconds / floor;
        table_row(str("MLP 784-32-10 epoch, batch 32, ", threads, " threads, loader included"),
                  fmt("%.3f s", r.seconds), fmt("GEMM floor %.3f s", floor), fmt("%.2fx floor", ratio),
                  target_cell(ratio, 2.0));
        table_row(describe_phases(r, floor), "", "", "", "");
        table_row("  the loader alone (batch assembly, same epoch; during the step on 2 threads)",
                  fmt("%.3f s", loader), "", fmt("%.2fx floor", loader / floor), "");
    }
    {
        // The CNN's floor: its flops at the throughput of a large, efficient sgemm. Fixed by
        // the architecture, so no change in how conv2d calls gemm can move it.
        double gflops = gemm_gflops(512, 20);
        table_row(str("floor: sgemm 512 x 512 x 512, ", threads, " threads"), fmt("%.1f GFLOP/s", gflops),
                  "focalgrad's gemm (OpenBLAS blocks)", "", "");
        auto cnn = bench_cnn(0);
        EpochResult r = time_epochs(*cnn, data, 64, false, 1, 5, limit);
        int64_t images = limit > 0 ? std::min<int64_t>(data.size(), limit * 64) : data.size();
        double flops = training_flops(*cnn, Tensor::zeros({64, 1, 28, 28})) * double(images) / 64.0;
        double floor = flops / (gflops * 1e9);
        double ratio = r.seconds / floor;
        table_row(str("CNN (examples/mnist_cnn) epoch, batch 64, ", threads, " threads"),
                  fmt("%.2f s", r.seconds),
                  str("flop floor ", fmt("%.2f s", floor), " (", fmt("%.0f GFLOP", flops / 1e9), ")"),
                  fmt("%.2fx floor", ratio), target_cell(ratio, 1.5));
        double replay = gemm_floor_seconds(r.gemms, 1);
        table_row("  its own gemm calls replayed alone", fmt("%.2f s", replay), "",
                  fmt("%.2fx floor", replay / floor), "");
    }
    set_num_threads(saved);
    return 0;
}
