// bench_core.cpp — the two costs the core engine answers for:
//  1. the overhead of one small op with tape recording (4 elements: all bookkeeping),
//  2. matmul / linear throughput next to a raw cblas_sgemm on the same sizes.
// Prints one markdown table; compare ratios, not absolute numbers.
#include <cblas.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/blas.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/parallel.h>

#include "bench_util.h"

using namespace focalgrad;
using fgbench::fmt;

namespace {

// Back to focalgrad's setting after a reference run: OpenBLAS single-threaded, and a
// pause so that its worker threads stop spin-waiting before the next measurement.
void quiet_openblas() {
    openblas_set_num_threads(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
}

void bench_small_op() {
    Tensor x = Tensor::from({1, 2, 3, 4}).set_requires_grad();
    const int ops = 1000;
    // y is dropped at once, as in the peers' loop: its node is dead, and the tape's
    // periodic sweep (core/autograd.cpp) removes it; that cost is part of the per-op cost.
    double t = fgbench::median_seconds(
                   [&] {
                       for (int i = 0; i < ops; ++i) {
                           Tensor y = mul(x, x);
                           (void)y;
                       }
                   },
                   300, 20) /
               ops;
    clear_tape();
    Tensor nx = Tensor::from({1, 2, 3, 4});
    double t_plain = fgbench::median_seconds(
                         [&] {
                             for (int i = 0; i < ops; ++i) {
                                 Tensor y = mul(nx, nx);
                                 (void)y;
                             }
                         },
                         300, 20) /
                     ops;
    fgbench::table_row("mul of two 4-element tensors, recorded on the tape", fmt("%.3f us", t * 1e6),
                       "libtorch ~4 us", fmt("%.2fx", t * 1e6 / 4.0), "<= 0.5 us");
    fgbench::table_row("the same mul, nothing requires grad (no tape)", fmt("%.3f us", t_plain * 1e6), "", "",
                       "");
}

void bench_gemm(const char* name, int64_t M, int64_t K, int64_t N, int reps) {
    Generator g(0);
    Tensor a = Tensor::randn({M, K}, g), b = Tensor::randn({K, N}, g), W = Tensor::randn({N, K}, g);
    Tensor c = Tensor::empty({M, N});
    double flops = 2.0 * double(M) * double(N) * double(K);
    // The reference: cblas_sgemm threaded by OpenBLAS itself with the same thread count
    // (focalgrad keeps OpenBLAS single-threaded and partitions the product itself).
    openblas_set_num_threads(num_threads());
    double raw = fgbench::median_seconds(
        [&] {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(M), int(N), int(K), 1.0f, a.data(),
                        int(K), b.data(), int(N), 0.0f, c.data(), int(N));
        },
        reps, 3);
    quiet_openblas();
    double mm = fgbench::median_seconds([&] { Tensor y = matmul(a, b); }, reps, 3);
    openblas_set_num_threads(num_threads());
    double raw_t = fgbench::median_seconds(
        [&] {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(N), int(K), 1.0f, a.data(),
                        int(K), W.data(), int(K), 0.0f, c.data(), int(N));
        },
        reps, 3);
    quiet_openblas();
    double lin = fgbench::median_seconds([&] { Tensor y = linear(a, W); }, reps, 3);
    fgbench::table_row(std::string("matmul ") + name, fmt("%.1f GFLOP/s", flops / mm / 1e9),
                       fmt("sgemm %.1f GFLOP/s", flops / raw / 1e9), fmt("%.1f %%", 100 * raw / mm),
                       ">= 95 % of sgemm");
    fgbench::table_row(std::string("linear (x W^T) ") + name, fmt("%.1f GFLOP/s", flops / lin / 1e9),
                       fmt("sgemm %.1f GFLOP/s", flops / raw_t / 1e9), fmt("%.1f %%", 100 * raw_t / lin),
                       ">= 95 % of sgemm");
}

}  // namespace

int main(int argc, char** argv) {
    if (fgbench::help_requested(argc, argv,
                                "bench_core: the cost of one recorded op, and matmul/linear throughput "
                                "beside raw cblas_sgemm.\nusage: bench_core [--threads N] [--no-header]"))
        return 0;
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) set_num_threads(std::atoi(argv[++i]));
    if (!fgbench::has_flag(argc, argv, "--no-header")) {
        std::printf("bench_core: %d thread(s)\n\n", num_threads());
        fgbench::table_header();
    }
    // Which OpenBLAS kernels every product below runs on (core/blas.h).
    fgbench::table_row("OpenBLAS kernels", blas_kernels(), "", "", "");
    bench_small_op();
    bench_gemm("512x512 by 512x512", 512, 512, 512, 50);
    bench_gemm("128x784 by 784x256", 128, 784, 256, 200);
    return 0;
}
