// memory.cpp — the buffer pool.
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include <focalgrad/core/memory.h>

namespace focalgrad {

namespace {

constexpr int64_t kAlign = 64;                    // a cache line; also what AVX-512 loads like
constexpr int64_t kMinPooledBytes = 4096;         // buffers this big or bigger are pooled by size
constexpr int64_t kSmallBytes = 512;              // buffers this small are small blocks (16-byte aligned)
constexpr int64_t kHugePage = int64_t(2) << 20;   // a transparent huge page on x86-64
constexpr int64_t kHugeBytes = int64_t(8) << 20;  // buffers this big or bigger ask for them

std::atomic<int64_t> g_live_buffers{0};
std::atomic<int64_t> g_live_bytes{0}, g_peak_live_bytes{0};

// Books a buffer of `bytes` as live, and the peak with it.
void count_live(int64_t bytes) {
    g_live_buffers.fetch_add(1, std::memory_order_relaxed);
    int64_t now = g_live_bytes.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    int64_t peak = g_peak_live_bytes.load(std::memory_order_relaxed);
    while (now > peak && !g_peak_live_bytes.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
}
std::atomic<int64_t> g_pool_limit{int64_t(256) << 20};

// Rounded up to a whole number of cache lines (at least one, so that n = 0 works too).
int64_t rounded_bytes(int64_t n) {
    int64_t bytes = n * int64_t(sizeof(float));
    return bytes <= kAlign ? kAlign : (bytes + kAlign - 1) / kAlign * kAlign;
}

constexpr size_t kBlockUnit = 32;        // small blocks come in multiples of this
constexpr size_t kBlockClasses = 16;     // ... up to 16 * 32 = 512 bytes
constexpr size_t kMaxFreeBlocks = 8192;  // per class: enough for a long tape

struct Pool {
    std::unordered_map<int64_t, std::vector<void*>> free_lists;  // size in bytes -> buffers
    int64_t bytes = 0;
    std::vector<void*> free_blocks[kBlockClasses];  // small blocks, by size class

    ~Pool() {
        clear();
        for (auto& list : free_blocks)
            for (void* p : list) ::operator delete(p);
    }
    void clear() {
        for (auto& [size, list] : free_lists)
            for (void* p : list) std::free(p);
        free_lists.clear();
        bytes = 0;
    }
};

// The pool lives as long as its thread. A buffer freed after the pool is gone (a static
// tensor destroyed at exit) goes straight back to the system: `t_pool` is a plain
// pointer, which stays readable (as null) after the owner's destructor has run.
thread_local Pool* t_pool = nullptr;
struct PoolOwner {
    Pool pool;
    PoolOwner() { t_pool = &pool; }
    ~PoolOwner() { t_pool = nullptr; }
};

Pool* pool() {
    thread_local PoolOwner owner;
    return t_pool;
}

// A big buffer on 2 MiB boundaries and in whole 2 MiB pages, which the kernel may back with
// transparent huge pages. A fresh buffer costs a page fault per page on first touch, and
// huge pages take 512 times fewer: that matters for buffers the pool does not keep (above
// its limit), which are new mappings on every call (a 400 MB gradient is 100,000 faults of
// 4 KiB pages). Streaming through a huge page also needs one TLB entry instead of 512.
// From 8 MiB up, so the rounding to whole pages adds at most a quarter. Where huge pages
// are off, madvise fails and nothing changes.
void* alloc_huge(int64_t bytes) {
    const int64_t whole = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* buf = std::aligned_alloc(size_t(kHugePage), size_t(whole));
#ifdef MADV_HUGEPAGE
    if (buf) ::madvise(buf, size_t(whole), MADV_HUGEPAGE);
#endif
    return buf;
}

}  // namespace

float* alloc_floats(int64_t n) {
    int64_t bytes = rounded_bytes(n);
    if (bytes <= kSmallBytes) {
        void* block = alloc_block(size_t(bytes));
        count_live(bytes);
        return static_cast<float*>(block);
    }
    if (bytes >= kMinPooledBytes) {
        if (Pool* p = pool()) {
            auto it = p->free_lists.find(bytes);
            if (it != p->free_lists.end() && !it->second.empty()) {
                void* buf = it->second.back();
                it->second.pop_back();
                p->bytes -= bytes;
                count_live(bytes);
                return static_cast<float*>(buf);
            }
        }
    }
    void* buf = bytes >= kHugeBytes ? alloc_huge(bytes) : std::aligned_alloc(kAlign, size_t(bytes));
    if (!buf) throw std::bad_alloc();
    count_live(bytes);
    return static_cast<float*>(buf);
}

void free_floats(float* buf, int64_t n) {
    if (!buf) return;
    int64_t bytes = rounded_bytes(n);
    g_live_buffers.fetch_sub(1, std::memory_order_relaxed);
    g_live_bytes.fetch_sub(bytes, std::memory_order_relaxed);
    if (bytes <= kSmallBytes) return free_block(buf, size_t(bytes));
    if (bytes >= kMinPooledBytes) {
        Pool* p = t_pool;
        if (p && p->bytes + bytes <= g_pool_limit.load(std::memory_order_relaxed)) {
            p->free_lists[bytes].push_back(buf);
            p->bytes += bytes;
            return;
        }
    }
    std::free(buf);
}

int64_t live_buffer_count() { return g_live_buffers.load(); }
int64_t live_bytes() { return g_live_bytes.load(); }
int64_t peak_live_bytes() { return g_peak_live_bytes.load(); }
void reset_peak_live_bytes() { g_peak_live_bytes.store(g_live_bytes.load()); }

namespace {

// A value of /proc/meminfo in bytes ("MemAvailable:   20971520 kB"), or -1.
int64_t meminfo_bytes(const char* key) {
    std::ifstream in("/proc/meminfo");
    std::string name, unit;
    int64_t kb = 0;
    while (in >> name >> kb) {
        std::getline(in, unit);
        if (name == key) return kb * 1024;
    }
    return -1;
}

// The first number in a file (cgroup's memory.max holds "max" when there is no limit), or -1.
int64_t file_number(const char* path) {
    std::ifstream in(path);
    int64_t v = -1;
    return in >> v ? v : -1;
}

}  // namespace

MemoryBudget available_memory() {
    MemoryBudget b{meminfo_bytes("MemAvailable:"), "MemAvailable"};
    if (b.bytes < 0) b = {INT64_MAX, "no limit known"};
    struct rlimit as;
    if (::getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
        // Virtual size now: its first field of /proc/self/statm, in pages.
        std::ifstream statm("/proc/self/statm");
        int64_t pages = 0;
        statm >> pages;
        int64_t room = std::max<int64_t>(0, int64_t(as.rlim_cur) - pages * int64_t(::sysconf(_SC_PAGESIZE)));
        if (room < b.bytes) b = {room, "ulimit -v"};
    }
    int64_t max = file_number("/sys/fs/cgroup/memory.max"),
            current = file_number("/sys/fs/cgroup/memory.current");
    if (max > 0 && current >= 0 && max - current < b.bytes)
        b = {std::max<int64_t>(0, max - current), "cgroup memory.max"};
    return b;
}

int64_t pooled_bytes() {
    Pool* p = pool();
    return p ? p->bytes : 0;
}

void set_pool_limit_bytes(int64_t bytes) {
    g_pool_limit.store(bytes < 0 ? 0 : bytes);
    if (bytes <= 0) release_pool();
}

void* alloc_block(size_t bytes) {
    size_t cls = (bytes + kBlockUnit - 1) / kBlockUnit;
    if (cls == 0 || cls > kBlockClasses) return ::operator new(bytes);
    if (Pool* p = pool()) {
        std::vector<void*>& list = p->free_blocks[cls - 1];
        if (!list.empty()) {
            void* block = list.back();
            list.pop_back();
            return block;
        }
    }
    return ::operator new(cls* kBlockUnit);
}

void free_block(void* block, size_t bytes) {
    size_t cls = (bytes + kBlockUnit - 1) / kBlockUnit;
    if (cls >= 1 && cls <= kBlockClasses) {
        Pool* p = t_pool;
        if (p && p->free_blocks[cls - 1].size() < kMaxFreeBlocks) {
            p->free_blocks[cls - 1].push_back(block);
            return;
        }
    }
    ::operator delete(block);
}

void release_pool() {
    if (Pool* p = pool()) p->clear();
}

}  // namespace focalgrad
