// test_parallel.cpp — the thread pool: every chunk runs exactly once, on any thread count;
// sums are bit-identical across thread counts; exceptions reach the caller; resizing,
// nesting and loops started from two threads at once neither lose work nor deadlock.
#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include <focalgrad/core/parallel.h>

#include "helpers.h"

using namespace focalgrad;

namespace {
struct ThreadCount {  // restores the thread count at scope end
    int saved = num_threads();
    ~ThreadCount() { set_num_threads(saved); }
};
}  // namespace

TEST_CASE("parallel_for visits every index exactly once, in chunks of the grain") {
    ThreadCount restore;
    for (int threads : {1, 2, 3, 5}) {
        set_num_threads(threads);
        CHECK(num_threads() == threads);
        for (int64_t n : {1, 7, 100, 1000, 65537}) {
            for (int64_t grain : {1, 3, 64, 100000}) {
                std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
                std::atomic<int> bad_chunks{0};
                parallel_for(n, grain, [&](int64_t begin, int64_t end) {
                    if (begin % grain != 0 || end - begin > grain || end > n) ++bad_chunks;
                    for (int64_t i = begin; i < end; ++i) ++hits[size_t(i)];
                });
                CHECK(bad_chunks == 0);
                int wrong = 0;
                for (auto& h : hits) wrong += h != 1;
                CHECK(wrong == 0);
            }
        }
    }
}

TEST_CASE("parallel_sum gives the same bits on any thread count") {
    ThreadCount restore;
    std::vector<float> v(1000003);
    Generator g(3);
    for (float& x : v) x = g.normal() * 1e3f;
    auto sum = [&] {
        return parallel_sum(int64_t(v.size()), 4096, [&](int64_t b, int64_t e) {
            double s = 0;
            for (int64_t i = b; i < e; ++i) s += v[size_t(i)];
            return s;
        });
    };
    set_num_threads(1);
    double one = sum();
    for (int threads : {2, 3, 4}) {
        set_num_threads(threads);
        CHECK(sum() == one);
    }
}

TEST_CASE("an exception thrown in a chunk reaches the caller; the pool keeps working") {
    ThreadCount restore;
    set_num_threads(2);
    CHECK_THROWS_AS(parallel_for(100, 1,
                                 [](int64_t begin, int64_t) {
                                     if (begin == 37) throw std::runtime_error("chunk 37");
                                 }),
                    std::runtime_error);
    std::atomic<int64_t> total{0};
    parallel_for(100, 1, [&](int64_t begin, int64_t) { total += begin; });
    CHECK(total == 4950);
}

TEST_CASE("resizing between loops, nested loops, and loops from two threads at once") {
    ThreadCount restore;
    for (int round = 0; round < 200; ++round) {
        set_num_threads(1 + round % 3);
        std::atomic<int64_t> total{0};
        parallel_for(64, 1, [&](int64_t begin, int64_t) { total += begin; });
        REQUIRE(total == 2016);
    }
    set_num_threads(2);
    std::atomic<int64_t> nested{0};
    parallel_for(8, 1, [&](int64_t, int64_t) {
        parallel_for(10, 1, [&](int64_t, int64_t) { ++nested; });  // runs serially inside
    });
    CHECK(nested == 80);
    std::atomic<int64_t> a{0}, b{0};
    auto loop = [](std::atomic<int64_t>& out) {
        for (int k = 0; k < 300; ++k) parallel_for(50, 1, [&](int64_t begin, int64_t) { out += begin; });
    };
    std::thread ta([&] { loop(a); });
    std::thread tb([&] { loop(b); });
    ta.join();
    tb.join();
    CHECK(a == 300 * 1225);
    CHECK(b == 300 * 1225);
}

TEST_CASE(
    "BackgroundTask: every chunk runs exactly once, by pool threads or by wait(), on any thread count") {
    ThreadCount restore;
    for (int threads : {1, 2, 3}) {
        set_num_threads(threads);
        CAPTURE(threads);
        constexpr int kTasks = 60, kChunks = 37;
        std::vector<std::atomic<int>> runs(size_t(kTasks * kChunks));
        std::vector<int> out(size_t(kTasks * kChunks), 0);
        {
            // Tasks started one after another while the caller runs loops of its own, which
            // the workers leave the tasks for, as a loader's next batch is assembled during a
            // training step.
            std::vector<BackgroundTask> tasks;
            for (int k = 0; k < kTasks; ++k) {
                tasks.emplace_back(kChunks, [&, k](int64_t c) {
                    const size_t i = size_t(k * kChunks + c);
                    out[i] = k * 1000 + int(c);
                    ++runs[i];
                });
                std::atomic<int64_t> total{0};
                parallel_for(64, 1, [&](int64_t begin, int64_t) { total += begin; });
                REQUIRE(total == 2016);
            }
            for (int k = 0; k < kTasks / 2; ++k) {
                tasks[size_t(k)].wait();
                for (int c = 0; c < kChunks; ++c)  // what the chunks wrote is visible after wait()
                    CHECK(out[size_t(k * kChunks + c)] == k * 1000 + c);
                tasks[size_t(k)].wait();  // a second wait returns at once
            }
        }  // the other half are waited for by their destructors
        int wrong = 0;
        for (size_t i = 0; i < out.size(); ++i)
            wrong += runs[i] != 1 || out[i] != int(i / kChunks) * 1000 + int(i % kChunks);
        CHECK(wrong == 0);
    }
}

TEST_CASE("BackgroundTask: an exception reaches wait(); moves and nesting keep one run each") {
    ThreadCount restore;
    set_num_threads(2);
    BackgroundTask failing([] { throw std::runtime_error("task failed"); });
    CHECK_THROWS_WITH_AS(failing.wait(), "task failed", std::runtime_error);
    failing.wait();  // the error was reported once

    std::atomic<int> runs{0};
    BackgroundTask a([&] { ++runs; });
    BackgroundTask b(std::move(a));
    a.wait();  // moved from: nothing to wait for
    BackgroundTask c([&] { ++runs; });
    c = std::move(b);  // waits for c's own task first
    CHECK(runs >= 1);
    c.wait();
    CHECK(runs == 2);

    // Started inside a loop body, a task runs at wait(), as nested loops run serially.
    std::atomic<int> nested{0};
    parallel_for(4, 1, [&](int64_t, int64_t) {
        BackgroundTask inner([&] { ++nested; });
        inner.wait();
    });
    CHECK(nested == 4);
}
