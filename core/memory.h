// memory.h — where tensor buffers come from: a per-thread pool of float buffers.
// A training step allocates the same buffer sizes every time (activations, gradients,
// temporaries), so a freed buffer is kept in a free list keyed by its size and handed
// to the next request of that size: after the first step, no step touches malloc for
// large buffers, and no fresh pages have to be faulted in.
// It also counts the bytes in use (and their peak) and says how much memory the process
// may still use, for estimates made before a large allocation.
// Not here: a general-purpose allocator. Buffers under a page are recycled through
// small free lists; the pool of large ones is capped (set_pool_limit_bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace focalgrad {

float* alloc_floats(int64_t n);         // uninitialised; n may be 0; aligned to 16 bytes up to 128
                                        // floats, to 64 above, to 2 MiB from 8 MiB up
void free_floats(float* p, int64_t n);  // n must be what alloc_floats was given

int64_t live_buffer_count();               // buffers allocated and not yet freed (all threads)
int64_t live_bytes();                      // their bytes (rounded up to whole cache lines)
int64_t peak_live_bytes();                 // the most live_bytes() has been since the reset below
void reset_peak_live_bytes();              // the peak starts again from live_bytes()
int64_t pooled_bytes();                    // bytes held in this thread's free lists
void set_pool_limit_bytes(int64_t bytes);  // 0 disables pooling; default 256 MiB per thread
void release_pool();                       // returns this thread's cached buffers to the system

// The memory this process can still use: the smallest of the kernel's estimate of what
// is available without swapping (MemAvailable in /proc/meminfo), the room left under the
// address-space limit (`ulimit -v`: the limit minus the current virtual size), and under
// a cgroup v2 memory limit (memory.max minus memory.current). `limited_by` names which.
struct MemoryBudget {
    int64_t bytes;
    std::string limited_by;  // "MemAvailable", "ulimit -v", "cgroup memory.max"
};
MemoryBudget available_memory();

// Small fixed-size blocks (a tensor's header, its storage record, their reference
// counts), recycled through per-thread free lists: recording one op on the tape creates
// several, and malloc's own caches hold only a handful of each size.
void* alloc_block(size_t bytes);
void free_block(void* p, size_t bytes);

// An allocator for std::allocate_shared that draws from those free lists.
template <class T>
struct BlockAllocator {
    using value_type = T;
    BlockAllocator() = default;
    template <class U>
    BlockAllocator(const BlockAllocator<U>&) {}
    T* allocate(size_t n) { return static_cast<T*>(alloc_block(n * sizeof(T))); }
    void deallocate(T* p, size_t n) { free_block(p, n * sizeof(T)); }
    template <class U>
    bool operator==(const BlockAllocator<U>&) const {
        return true;
    }
    template <class U>
    bool operator!=(const BlockAllocator<U>&) const {
        return false;
    }
};

}  // namespace focalgrad
