// memory.cpp — the buffer pool.
#include <atomic>
#include <cstdlib>
#include <new>
#include <unordered_map>
#include <vector>

#include <focalgrad/core/memory.h>

namespace focalgrad {

namespace {

constexpr int64_t kAlign = 64;             // a cache line; also what AVX-512 loads like
constexpr int64_t kMinPooledBytes = 4096;  // buffers this big or bigger are pooled by size
constexpr int64_t kSmallBytes = 512;       // buffers this small are small blocks (16-byte aligned)

std::atomic<int64_t> g_live_buffers{0};
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

}  // namespace

float* alloc_floats(int64_t n) {
    int64_t bytes = rounded_bytes(n);
    g_live_buffers.fetch_add(1, std::memory_order_relaxed);
    if (bytes <= kSmallBytes) return static_cast<float*>(alloc_block(size_t(bytes)));
    if (bytes >= kMinPooledBytes) {
        if (Pool* p = pool()) {
            auto it = p->free_lists.find(bytes);
            if (it != p->free_lists.end() && !it->second.empty()) {
                void* buf = it->second.back();
                it->second.pop_back();
                p->bytes -= bytes;
                return static_cast<float*>(buf);
            }
        }
    }
    void* buf = std::aligned_alloc(kAlign, bytes);
    if (!buf) throw std::bad_alloc();
    return static_cast<float*>(buf);
}

void free_floats(float* buf, int64_t n) {
    if (!buf) return;
    g_live_buffers.fetch_sub(1, std::memory_order_relaxed);
    int64_t bytes = rounded_bytes(n);
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
