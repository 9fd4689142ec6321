// memory.h — where tensor buffers come from: a per-thread pool of float buffers.
// A training step allocates the same buffer sizes every time (activations, gradients,
// temporaries), so a freed buffer is kept in a free list keyed by its size and handed
// to the next request of that size: after the first step, no step touches malloc for
// large buffers, and no fresh pages have to be faulted in.
// Not here: a general-purpose allocator. Small buffers go straight to malloc, which is
// already fast for them, and the pool is capped (pool_limit_bytes).
#pragma once

#include <cstdint>

namespace focalgrad {

float* alloc_floats(int64_t n);          // 64-byte aligned, uninitialised; n may be 0
void free_floats(float* p, int64_t n);   // n must be what alloc_floats was given

int64_t live_buffer_count();             // buffers allocated and not yet freed (all threads)
int64_t pooled_bytes();                  // bytes held in this thread's free lists
void set_pool_limit_bytes(int64_t bytes);  // 0 disables pooling; default 256 MiB per thread
void release_pool();                     // returns this thread's cached buffers to the system

}  // namespace focalgrad
