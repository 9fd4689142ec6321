// parallel.h — how focalgrad uses the machine's cores: OpenMP threads run elementwise
// loops, reductions and the blocks of every matrix product (OpenBLAS runs each block
// single-threaded, see core/blas.cpp), so one pool of threads serves everything.
// Work is cut into chunks whose boundaries depend only on the problem size and the
// grain, never on the number of threads, and partial sums are combined in chunk order:
// results are bit-identical on 1 thread and on 16.
// Not here: nested parallelism (a parallel loop inside another runs serially).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace focalgrad {

// Threads used by every parallel loop and matrix product. The default is
// FOCALGRAD_NUM_THREADS if set, else the number of cores.
int num_threads();
void set_num_threads(int n);

// Elements per chunk for cheap elementwise work: below this, starting threads costs
// more than it saves.
constexpr int64_t kGrain = 32768;

// Calls body(begin, end) on consecutive chunks of [0, n) of `grain` elements each.
template <class Body>
void parallel_for(int64_t n, int64_t grain, Body&& body) {
    if (n <= 0) return;
    int64_t chunks = (n + grain - 1) / grain;
    if (chunks == 1) {
        body(int64_t(0), n);
        return;
    }
#pragma omp parallel for schedule(static) if (num_threads() > 1)
    for (int64_t c = 0; c < chunks; ++c) {
        int64_t begin = c * grain;
        body(begin, begin + grain < n ? begin + grain : n);
    }
}

// Sum over [0, n) of partial(begin, end) -> double, with the fixed chunking above and
// the partials added in chunk order, so the rounding is the same on any thread count.
template <class Partial>
double parallel_sum(int64_t n, int64_t grain, Partial&& partial) {
    if (n <= 0) return 0.0;
    int64_t chunks = (n + grain - 1) / grain;
    if (chunks == 1) return partial(int64_t(0), n);
    std::vector<double> sums(size_t(chunks), 0.0);
#pragma omp parallel for schedule(static) if (num_threads() > 1)
    for (int64_t c = 0; c < chunks; ++c) {
        int64_t begin = c * grain;
        sums[size_t(c)] = partial(begin, begin + grain < n ? begin + grain : n);
    }
    double total = 0.0;
    for (double s : sums) total += s;
    return total;
}

}  // namespace focalgrad
