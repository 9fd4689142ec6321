// io.h — writing files so that a crash, a full disk or a power cut never leaves a
// half-written file at the target path: the bytes go to a temporary file beside the
// target, are flushed to disk, and the temporary is renamed over the target, which
// POSIX file systems do atomically. Readers see the old file or the new one, never a mix.
// Not here: reading (each format validates its own bytes), locking between processes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace focalgrad {

// One atomic write. Every write is checked; the temporary (`path`.tmp.<pid>) is removed
// unless commit() succeeded. `op` names the caller in error messages ("save", "save_png").
class AtomicFile {
public:
    AtomicFile(const std::string& path, const char* op);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, size_t n);
    // Flushes to the disk, renames over the target, then syncs the directory so that the
    // rename itself survives a power cut.
    void commit();

private:
    std::string path_, tmp_;
    const char* op_;
    std::FILE* file_ = nullptr;
    uint64_t written_ = 0;
    bool committed_ = false;
};

void write_file_atomic(const std::string& path, const void* data, size_t n, const char* op);
inline void write_file_atomic(const std::string& path, const std::string& text, const char* op) {
    write_file_atomic(path, text.data(), text.size(), op);
}

// mkdir -p, with an error naming `dir` and the reason when it cannot be created, or
// when it exists but files cannot be created in it.
void make_directories(const std::string& dir, const char* op);

namespace detail {
// For tests: on this thread, AtomicFile writes fail with "No space left on device" once
// `bytes` bytes have been written (as a full disk would); a negative value turns it off.
void set_write_fault_after_bytes(int64_t bytes);
}  // namespace detail

}  // namespace focalgrad
