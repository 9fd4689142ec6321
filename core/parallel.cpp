// parallel.cpp — the thread pool behind parallel_for, and the thread count.
//
// A loop is published as a job: a task, its context and a chunk count, cut into one
// span of chunks per thread. Every thread, the caller included, takes chunk numbers from
// its own span's atomic counter, then from the other spans' counters until none is left,
// so the chunks go to whichever threads are running. The caller returns when every
// chunk has finished; it never waits for a thread that took no chunk.
//
// A BackgroundTask waits in a queue of its own; an idle worker takes the oldest one when
// no loop is published (loops come first: a caller is waiting for them). Whoever moves a
// task from "waiting" to "running" runs it, the worker or the waiting caller, so each
// task runs exactly once, and a caller never waits for a worker that has not started it.
// After a background task a worker spins the usual time only when a loop ended moments
// ago (a step's products are under way), else briefly (kBackgroundSpinTime), then sleeps.
//
// Idle workers spin for a few tens of microseconds (the next loop of a training step
// usually comes sooner) and then sleep on a condition variable. Sleeping matters on a
// shared machine: a thread that spins while another program wants its core steals the
// time slices the other threads of the same loop need (docs/performance.md).
// OpenBLAS always runs single-threaded inside this partition (core/blas.cpp).
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

#include <focalgrad/core/blas.h>
#include <focalgrad/core/error.h>
#include <focalgrad/core/parallel.h>

namespace focalgrad {

namespace {

// How long an idle worker spins before it sleeps, and how long the caller spins before
// it yields while other threads finish their chunks. Long enough to bridge the serial
// code between the loops of a training step, short enough not to steal much from other
// programs when the machine is shared.
constexpr std::chrono::microseconds kSpinTime{200};
// After a background task with no loop running around it, a worker spins only this long:
// about one small training step (the MLP 784-32-10's takes ~40 us), so that the next
// step's task finds it awake, but not between steps that are far apart.
constexpr std::chrono::microseconds kBackgroundSpinTime{40};

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    std::this_thread::yield();
#endif
}

thread_local bool t_in_parallel = false;  // set inside a loop: nested loops run serially

// Spins until done() or how_long has passed; returns done().
template <class Done>
bool spin_until(Done done, std::chrono::microseconds how_long = kSpinTime) {
    auto deadline = std::chrono::steady_clock::now() + how_long;
    for (;;) {
        for (int i = 0; i < 64; ++i) {
            if (done()) return true;
            cpu_relax();
        }
        if (std::chrono::steady_clock::now() >= deadline) return done();
    }
}

// The chunks are cut into one contiguous span per thread, and thread t starts with
// span t: consecutive loops over tensors of the same size then give each thread the
// same part of the data, which is still in that core's cache from the previous loop
// (handing chunks out round-robin made im2col and col2im twice as slow). A thread whose
// span is done takes the remaining chunks of the others' spans, so a thread that is late
// or descheduled delays nothing.
struct Job {
    struct alignas(64) Span {  // one cache line each: the threads' counters never share one
        std::atomic<int64_t> next{0};
        int64_t end = 0;
    };

    void (*task)(void*, int64_t) = nullptr;
    void* ctx = nullptr;
    int64_t chunks = 0;
    int parts = 0;
    std::unique_ptr<Span[]> spans;
    std::atomic<int64_t> done{0};
    std::mutex error_mutex;
    std::exception_ptr error;

    Job(void (*task_)(void*, int64_t), void* ctx_, int64_t chunks_, int parts_)
        : task(task_), ctx(ctx_), chunks(chunks_), parts(parts_), spans(new Span[size_t(parts_)]) {
        for (int p = 0; p < parts; ++p) {
            spans[p].next.store(chunks * p / parts, std::memory_order_relaxed);
            spans[p].end = chunks * (p + 1) / parts;
        }
    }

    // Thread `self` runs the chunks of its own span, then whatever is left in the others.
    void work(int self) {
        for (int k = 0; k < parts; ++k) {
            Span& span = spans[(self + k) % parts];
            for (int64_t c; (c = span.next.fetch_add(1, std::memory_order_relaxed)) < span.end;) {
                try {
                    task(ctx, c);
                } catch (...) {
                    std::lock_guard<std::mutex> lock(error_mutex);
                    if (!error) error = std::current_exception();
                }
                done.fetch_add(1, std::memory_order_release);
            }
        }
    }
};

}  // namespace

namespace detail {

struct BackgroundState {
    std::function<void(int64_t)> task;
    int64_t chunks = 0;
    std::atomic<int64_t> next{0};  // the next chunk to hand out
    std::atomic<int64_t> done{0};  // chunks finished
    std::mutex error_mutex;
    std::exception_ptr error;  // the first chunk's exception

    // Runs chunks until none is left to start (then true) or stop() says to leave (false).
    template <class Stop>
    bool run(Stop stop) {
        while (!stop()) {
            const int64_t c = next.fetch_add(1, std::memory_order_acq_rel);
            if (c >= chunks) return true;
            try {
                task(c);
            } catch (...) {
                std::lock_guard<std::mutex> lock(error_mutex);
                if (!error) error = std::current_exception();
            }
            done.fetch_add(1, std::memory_order_release);
        }
        return next.load(std::memory_order_acquire) >= chunks;
    }
    bool finished() const { return done.load(std::memory_order_acquire) == chunks; }
};

}  // namespace detail

namespace {

class Pool {
public:
    explicit Pool(int threads) { start(threads); }
    ~Pool() { stop(); }
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    int threads() const { return int(workers_.size()) + 1; }

    void resize(int threads) {
        stop();
        start(threads);
    }

    void run(int64_t chunks, void (*task)(void*, int64_t), void* ctx) {
        // The job lives on the heap: a worker that wakes late may still look at it after
        // this call returned, and must find it alive (and finished).
        auto job = std::make_shared<Job>(task, ctx, chunks, threads());
        {
            std::lock_guard<std::mutex> lock(mutex_);
            job_ = job;
            generation_.fetch_add(1, std::memory_order_release);
        }
        if (sleeping_.load(std::memory_order_acquire) > 0) wake_.notify_all();

        t_in_parallel = true;
        job->work(0);
        t_in_parallel = false;
        // The remaining chunks are running on other threads; wait for them.
        auto finished = [&] { return job->done.load(std::memory_order_acquire) == chunks; };
        if (!spin_until(finished))
            while (!finished()) std::this_thread::yield();
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (job_ == job) job_.reset();
        }
        if (job->error) std::rethrow_exception(job->error);
    }

    // Queues a background task for the workers; false when there are none to take it.
    bool submit(std::shared_ptr<detail::BackgroundState> task) {
        if (workers_.empty()) return false;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            background_.push_back(std::move(task));
            background_count_.fetch_add(1, std::memory_order_release);
        }
        if (sleeping_.load(std::memory_order_acquire) > 0) wake_.notify_one();
        return true;
    }

private:
    void start(int threads) {
        stopping_ = false;
        // The generation a worker starts from is read here, not in the new thread: a stop()
        // that comes before the thread runs must still look like news to it.
        uint64_t now = generation_.load(std::memory_order_acquire);
        for (int i = 1; i < threads; ++i) {
            try {
                workers_.emplace_back([this, now, i] { worker(i, now); });
            } catch (const std::system_error& e) {
                // Out of threads (ulimit -u) or of address space for their stacks: run on
                // the calling thread alone rather than on a part of the pool.
                stop();
                throw Error(str("set_num_threads: cannot start thread ", i + 1, " of ", threads, ": ",
                                e.what(), "; focalgrad now runs on 1 thread"));
            }
        }
    }

    void stop() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
            generation_.fetch_add(1, std::memory_order_release);
        }
        wake_.notify_all();
        for (std::thread& t : workers_) t.join();
        workers_.clear();
    }

    void worker(int self, uint64_t seen) {
        t_in_parallel = true;
        auto news = [&] {
            return generation_.load(std::memory_order_acquire) != seen ||
                   background_count_.load(std::memory_order_acquire) > 0;
        };
        auto spin = kSpinTime;                                    // how long to spin before sleeping
        auto last_job = std::chrono::steady_clock::time_point{};  // when the last loop ended
        for (;;) {
            spin_until(news, spin);
            std::shared_ptr<Job> job;
            std::shared_ptr<detail::BackgroundState> task;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                if (!news()) {
                    sleeping_.fetch_add(1, std::memory_order_acq_rel);
                    wake_.wait(lock, news);
                    sleeping_.fetch_sub(1, std::memory_order_acq_rel);
                }
                if (generation_.load(std::memory_order_acquire) != seen) {
                    seen = generation_.load(std::memory_order_acquire);
                    if (stopping_) return;
                    job = job_;  // the newest job; older ones were finished by their callers
                } else {
                    task = std::move(background_.front());
                    background_.pop_front();
                    background_count_.fetch_sub(1, std::memory_order_release);
                }
            }
            if (job) {
                job->work(self);
                last_job = std::chrono::steady_clock::now();
            }
            spin = kSpinTime;
            if (task) {
                // Chunk by chunk, leaving for any loop published meanwhile; the task goes back
                // to the head of the queue if chunks are left.
                const bool all_started =
                    task->run([&] { return generation_.load(std::memory_order_acquire) != seen; });
                if (!all_started) {
                    std::lock_guard<std::mutex> lock(mutex_);
                    background_.push_front(std::move(task));
                    background_count_.fetch_add(1, std::memory_order_release);
                }
                // After a whole background task, spin the usual time only if a loop ended
                // less than kSpinTime ago (more are coming: a step of parallel products);
                // otherwise spin kBackgroundSpinTime, then sleep. Background tasks come one
                // per training step, so a worker spinning 200 us after each never slept,
                // and on a busy machine it took the caller's time slices (MLP 784-32-10
                // epoch at load 3: 4.3x its floor spinning 200 us, 2.5x sleeping at once,
                // 2.5x with no background task); sleeping at once made every step pay for
                // waking it (quiet: 1.78x against 1.51x spinning 40 us; with another
                // process busy on one core, 2.2-2.6x both).
                const bool loops = std::chrono::steady_clock::now() - last_job < kSpinTime;
                spin = !all_started || loops ? kSpinTime : kBackgroundSpinTime;
            }
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;
    std::shared_ptr<Job> job_;             // guarded by mutex_
    std::atomic<uint64_t> generation_{0};  // bumped for every job (and for stop)
    std::atomic<int> sleeping_{0};
    bool stopping_ = false;                                            // guarded by mutex_
    std::deque<std::shared_ptr<detail::BackgroundState>> background_;  // guarded by mutex_
    std::atomic<int64_t> background_count_{0};                         // its length
    std::vector<std::thread> workers_;
};

int initial_threads() {
    const char* env = std::getenv("FOCALGRAD_NUM_THREADS");
    if (!env) return available_cores();
    const std::string fix = str("; unset it, or set it to a thread count from 1 to ", kMaxThreads,
                                " (this process may use ", available_cores(), " cores)");
    FG_CHECK(*env != '\0', "FOCALGRAD_NUM_THREADS is set but empty", fix);
    char* end = nullptr;
    errno = 0;
    long n = std::strtol(env, &end, 10);
    FG_CHECK(end != env && *end == '\0', "FOCALGRAD_NUM_THREADS='", env, "' is not an integer", fix);
    FG_CHECK(errno != ERANGE && n >= 1 && n <= kMaxThreads, "FOCALGRAD_NUM_THREADS=", env, " is out of range",
             fix);
    return int(n);
}

// Built on first use, with `threads` threads if that is > 0, else initial_threads();
// OpenBLAS is made single-threaded at the same moment.
Pool& pool(int threads = 0) {
    static Pool p([threads] {
        detail::configure_openblas();
        return threads > 0 ? threads : initial_threads();
    }());
    return p;
}

std::mutex g_resize_mutex;

}  // namespace

int num_threads() { return pool().threads(); }

void set_num_threads(int n) {
    FG_CHECK(n >= 1 && n <= kMaxThreads, "set_num_threads: expected 1 <= n <= ", kMaxThreads, ", got ", n);
    std::lock_guard<std::mutex> lock(g_resize_mutex);
    Pool& p = pool(n);
    if (p.threads() != n) p.resize(n);
}

int available_cores() {
    cpu_set_t set;
    if (::sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
    unsigned hw = std::thread::hardware_concurrency();
    return hw ? int(hw) : 1;
}

BackgroundTask::BackgroundTask(int64_t chunks, std::function<void(int64_t)> task)
    : state_(std::make_shared<detail::BackgroundState>()) {
    state_->task = std::move(task);
    state_->chunks = std::max<int64_t>(chunks, 0);
    if (!t_in_parallel && state_->chunks > 0) pool().submit(state_);
}

BackgroundTask::BackgroundTask(std::function<void()> task)
    : BackgroundTask(1, [task = std::move(task)](int64_t) { task(); }) {}

BackgroundTask::~BackgroundTask() {
    try {
        wait();
    } catch (...) {  // a destructor must not throw; wait() first to see the error
    }
}

BackgroundTask::BackgroundTask(BackgroundTask&& o) noexcept = default;

BackgroundTask& BackgroundTask::operator=(BackgroundTask&& o) {
    if (this != &o) {
        wait();
        state_ = std::move(o.state_);
    }
    return *this;
}

void BackgroundTask::wait() {
    if (!state_) return;
    std::shared_ptr<detail::BackgroundState> state = std::move(state_);
    state->run([] { return false; });  // the chunks nobody has started, here
    auto finished = [&] { return state->finished(); };
    if (!spin_until(finished))  // the chunks a worker is running: one each at most
        while (!finished()) std::this_thread::yield();
    state->task = nullptr;  // what it captured is released here, on the caller's thread
    if (state->error) std::rethrow_exception(state->error);
}

namespace detail {

void run_chunks(int64_t chunks, void (*task)(void*, int64_t), void* ctx) {
    Pool& p = pool();
    if (t_in_parallel || p.threads() == 1) {
        for (int64_t c = 0; c < chunks; ++c) task(ctx, c);
        return;
    }
    p.run(chunks, task, ctx);
}

}  // namespace detail

}  // namespace focalgrad
