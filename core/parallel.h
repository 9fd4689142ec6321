// parallel.h — how focalgrad uses the machine's cores: one small pool of threads runs
// elementwise loops, reductions and the blocks of every matrix product (OpenBLAS runs
// each block single-threaded, see core/blas.cpp).
// Work is cut into chunks whose boundaries depend only on the problem size and the
// grain, never on the number of threads, and partial sums are combined in chunk order:
// results are bit-identical on 1 thread and on 16. Which thread runs a chunk does not
// change its bits: each thread starts with its own contiguous span of chunks (the same
// span of the data loop after loop, so it stays in that core's cache) and then takes
// what is left of the others' (a core shared with another program slows one chunk, not
// the whole loop). Why a pool of our own and not OpenMP: docs/performance.md.
// BackgroundTask hands one task to an idle thread of the same pool while the caller goes
// on (a loader assembling the next batch during this training step).
// Not here: nested parallelism (a parallel loop inside another runs serially).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace focalgrad {

// Threads used by every parallel loop and matrix product, the caller's included. The
// default is FOCALGRAD_NUM_THREADS if set, else available_cores(); a malformed variable
// throws, from the first call that needs the pool, an Error saying what is wrong with it.
// set_num_threads(n) before that first call builds the pool with n threads and never
// reads the variable, so an explicit count wins over it.
int num_threads();
void set_num_threads(int n);

// The most threads set_num_threads and FOCALGRAD_NUM_THREADS accept. More threads than
// cores are allowed (up to this bound) but make every loop slower: the threads take
// turns on the cores, and each loop waits for the one that is descheduled.
constexpr int kMaxThreads = 1024;

// The cores this process may run on (its CPU affinity mask, as `nproc` counts them),
// at least 1.
int available_cores();

// Elements per chunk for cheap elementwise work: below this, waking threads costs more
// than it saves.
constexpr int64_t kGrain = 32768;

namespace detail {
struct BackgroundState;  // parallel.cpp
}  // namespace detail

// A task run by idle pool threads while the caller does other work, cut into chunks:
// task(c) runs exactly once for every c in [0, chunks). A pool thread runs chunk after
// chunk, and between two it leaves the task for any loop that is published (a caller is
// waiting for the loop), coming back to it afterwards. wait() runs the chunks nobody has
// started on the calling thread, then waits for those in progress, so a busy pool (or a
// pool of 1 thread) makes the task serial, never late by more than a chunk. Inside a loop
// body the whole task runs at wait(), as nested loops run serially. Whatever it writes
// should be allocated by the caller, before: buffers are pooled per thread
// (core/memory.h), and one allocated on a pool thread and freed on the caller's would move
// from the one pool to the other at every call. The task is destroyed by wait().
class BackgroundTask {
public:
    BackgroundTask() = default;  // no task: wait() returns at once
    BackgroundTask(int64_t chunks, std::function<void(int64_t chunk)> task);
    explicit BackgroundTask(std::function<void()> task);  // one chunk
    ~BackgroundTask();                                    // waits (an exception of the task is then dropped)
    BackgroundTask(BackgroundTask&&) noexcept;
    BackgroundTask& operator=(BackgroundTask&&);  // waits for the task it replaces

    void wait();  // rethrows what a chunk threw (the first one); later calls return at once

private:
    std::shared_ptr<detail::BackgroundState> state_;
};

namespace detail {
// Runs task(ctx, c) for every c in [0, chunks), on the pool's threads and the caller's,
// and returns when all have finished. An exception thrown by a task is rethrown here.
void run_chunks(int64_t chunks, void (*task)(void* ctx, int64_t chunk), void* ctx);
}  // namespace detail

// Calls body(begin, end) on consecutive chunks of [0, n) of `grain` elements each.
template <class Body>
void parallel_for(int64_t n, int64_t grain, Body&& body) {
    if (n <= 0) return;
    int64_t chunks = (n + grain - 1) / grain;
    if (chunks == 1) {
        body(int64_t(0), n);
        return;
    }
    struct Context {
        Body* body;
        int64_t n, grain;
    } context{&body, n, grain};
    detail::run_chunks(
        chunks,
        [](void* ctx, int64_t c) {
            auto* x = static_cast<Context*>(ctx);
            int64_t begin = c * x->grain;
            (*x->body)(begin, std::min(begin + x->grain, x->n));
        },
        &context);
}

// K sums over [0, n) at once (a loss and its normaliser, say): partial(begin, end) returns
// a std::array<double, K> per chunk. The chunks are the fixed ones above and the partials are
// added in chunk order, so the rounding is the same on any thread count.
template <size_t K, class Partial>
std::array<double, K> parallel_sums(int64_t n, int64_t grain, Partial&& partial) {
    if (n <= 0) return {};
    int64_t chunks = (n + grain - 1) / grain;
    if (chunks == 1) return partial(int64_t(0), n);
    std::vector<std::array<double, K>> sums(static_cast<size_t>(chunks));
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
            int64_t begin = c * grain;
            sums[size_t(c)] = partial(begin, std::min(begin + grain, n));
        }
    });
    std::array<double, K> total{};
    for (const std::array<double, K>& s : sums)
        for (size_t k = 0; k < K; ++k) total[k] += s[k];
    return total;
}

// The sum over [0, n) of partial(begin, end) -> double, chunked and added as above.
template <class Partial>
double parallel_sum(int64_t n, int64_t grain, Partial&& partial) {
    return parallel_sums<1>(
        n, grain, [&](int64_t begin, int64_t end) { return std::array<double, 1>{partial(begin, end)}; })[0];
}

}  // namespace focalgrad
