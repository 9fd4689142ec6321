// parallel.cpp — the thread count. It applies to OpenMP; OpenBLAS itself always runs
// single-threaded inside focalgrad's own partition of each product (see core/blas.cpp).
#include "core/parallel.h"

#include <cblas.h>

#include <cstdlib>
#include <thread>

#include "core/error.h"

namespace focalgrad {

namespace {

int initial_threads() {
    if (const char* env = std::getenv("FOCALGRAD_NUM_THREADS")) {
        char* end = nullptr;
        long n = std::strtol(env, &end, 10);
        FG_CHECK(end != env && *end == '\0' && n >= 1 && n <= 1024,
                 "FOCALGRAD_NUM_THREADS must be an integer in [1, 1024], got '", env, "'");
        return int(n);
    }
    unsigned hw = std::thread::hardware_concurrency();
    return hw ? int(hw) : 1;
}

struct Threads {
    int n;
    Threads() : n(initial_threads()) { apply(); }
    void apply() const {
        openblas_set_num_threads(1);
#ifdef _OPENMP
        omp_set_num_threads(n);
#endif
    }
};

Threads& threads() {
    static Threads t;
    return t;
}

}  // namespace

int num_threads() { return threads().n; }

void set_num_threads(int n) {
    FG_CHECK(n >= 1 && n <= 1024, "set_num_threads: expected 1 <= n <= 1024, got ", n);
    threads().n = n;
    threads().apply();
}

}  // namespace focalgrad
