// io.h — files in and out. Reading opens only regular files (a FIFO or a device is
// refused before it is opened, so a read never hangs or acts on a device). Writing never
// leaves a half-written file at the target path, whatever a crash, a full disk or a power
// cut does: the bytes go to a temporary file beside the target, are flushed to disk, and
// the temporary is renamed over the target, which POSIX file systems do atomically.
// Readers see the old file or the new one, never a mix.
// Not here: parsing (each format validates its own bytes), locking between processes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace focalgrad {

// A regular file open for reading, or an Error naming `op` and the path: "no such file",
// "not a regular file (a FIFO)", "cannot open: Permission denied". The path is looked at
// before it is opened, so a FIFO (whose open would block until a writer comes) or a
// device (whose open can act on it: a tape rewinds, a watchdog starts) is never opened;
// the open file is looked at again, so a FIFO swapped in between is refused too.
class InputFile {
public:
    InputFile(const std::string& path, const char* op);
    ~InputFile();
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;

    const std::string& path() const { return path_; }
    uint64_t size() const { return size_; }  // its size when it was opened

    // Reads up to n bytes at the current position, fewer only at the end of the file.
    size_t read(void* dst, size_t n);
    // Reads up to n bytes at `offset` (the position does not move), fewer only at the end.
    size_t read_at(uint64_t offset, void* dst, size_t n);

private:
    std::string path_;
    const char* op_;
    int fd_ = -1;
    uint64_t size_ = 0;
};

// One atomic write, the way focalgrad writes a file (checkpoints, PNG and SVG charts, CSV,
// JSON and Markdown reports). The one write that is not atomic is AppendFile's, below.
//
// The target must be a regular file or a new path. A directory, a device, a FIFO or a
// socket there is refused, never replaced; a symbolic link is followed, and the file it
// names is replaced. The bytes go to a temporary file made by mkstemp in the target's
// directory, named
//     TARGET.tmp.<pid>.<6 random characters>        e.g. model.ckpt.tmp.4181.Xa3k9Q
// so that two writers, in one process or in two, never share one. Every write is
// checked: a full disk (ENOSPC), the file-size limit (`ulimit -f`: EFBIG, with the
// SIGXFSZ that would end the process blocked for the write) or a failed fsync throws an
// Error that says the target was left as it was, and the temporary is removed. A process
// killed mid-write leaves its temporary behind: the next AtomicFile for the same target
// removes every such temporary whose <pid> is no longer running (it is provably stale).
// `op` names the caller in error messages ("save", "save_png").
class AtomicFile {
public:
    AtomicFile(const std::string& path, const char* op);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, size_t n);
    // Flushes the temporary to the disk and closes it: after this, only the rename is left.
    void sync();
    // sync(), then renames over the target and syncs the directory, so that the rename
    // itself survives a power cut.
    void commit();

    const std::string& temp_path() const { return tmp_; }
    const std::string& path() const { return shown_; }

private:
    void flush_buffer();
    void write_fd(const unsigned char* data, size_t n);

    std::string shown_;  // the path as the caller gave it, for messages
    std::string path_;   // the file that is replaced (a symbolic link resolved)
    std::string tmp_;
    const char* op_;
    int fd_ = -1;
    std::vector<unsigned char> buffer_;  // small writes are gathered into one write()
    uint64_t written_ = 0;               // bytes handed to write() so far
    bool committed_ = false;
};

// A file that grows by whole records (a log: a CSV line per epoch), the one kind of write
// in focalgrad that is not atomic: a record is added at the end of the file as it is.
// Each append() hands the whole record to one write(2); a record that would cross a 4 KiB
// page of the file is instead written with a copy of the file that replaces it
// (AtomicFile), because Linux can stop a write between two pages when the process is
// killed (core/io.cpp). So a process killed at any moment leaves whole records only. A
// write that fails part-way (a full disk; the file-size limit, with SIGXFSZ blocked as for
// AtomicFile) is cut back (ftruncate) to where the record began, or leaves the old file in
// place, so the file still ends after its last whole record, and append() throws an Error
// saying so. The file must exist and be a regular file (create it with write_file_atomic);
// a FIFO, a device, a socket or a directory there is refused before it is opened. One
// writer at a time: the cut assumes nobody else appends meanwhile. A reader following the
// file (`tail -F`, not `tail -f`) sees it replaced about once per 4 KiB.
class AppendFile {
public:
    AppendFile(const std::string& path, const char* op);
    ~AppendFile();
    AppendFile(const AppendFile&) = delete;
    AppendFile& operator=(const AppendFile&) = delete;

    // `what` names the record in the error message ("the line of epoch 3").
    void append(const void* data, size_t n, const std::string& what = "a record");
    void append(const std::string& record, const std::string& what = "a record") {
        append(record.data(), record.size(), what);
    }

private:
    void append_by_replacing(const void* data, size_t n, const std::string& what, uint64_t size);

    std::string path_;
    const char* op_;
    int fd_ = -1;
};

// Several files that belong together (a report's .md, .csv, .json and .svg), replaced
// together: at commit() each is written to its own temporary, as AtomicFile does, and only
// when every one is complete and on the disk are they renamed over their targets, one after
// the other. A failure while writing (a full disk, the file-size limit) leaves every
// target as it was, and the Error says so. A rename does not fail on a sound file system
// once its temporary is complete; if one does, the Error lists which targets are new and
// which are still the old ones. Not covered: a crash in the microseconds between two
// renames (POSIX cannot rename several files at once), which leaves some new, some old.
class AtomicFileSet {
public:
    explicit AtomicFileSet(const char* op) : op_(op) {}
    // Checks `path` at once (check_output_path), and keeps the bytes for commit().
    void add(const std::string& path, std::string bytes);
    void commit();

private:
    const char* op_;
    std::vector<std::pair<std::string, std::string>> files_;  // path, bytes
};

void write_file_atomic(const std::string& path, const void* data, size_t n, const char* op);
inline void write_file_atomic(const std::string& path, const std::string& text, const char* op) {
    write_file_atomic(path, text.data(), text.size(), op);
}

// Everything AtomicFile checks about `path` before it writes a byte, for a program to call
// before it starts minutes of work whose result goes there: the name is not empty and
// not a directory's, its directory exists and is writable, whatever is at the path is a
// regular file (or nothing), and the name is short enough to carry the temporary suffix.
// Throws an Error naming `op`, the path and the problem; creates nothing.
void check_output_path(const std::string& path, const char* op);

// mkdir -p, with an error naming `dir` and the reason when it cannot be created, or
// when it exists but files cannot be created in it.
void make_directories(const std::string& dir, const char* op);

namespace detail {
// For tests: on this thread, AtomicFile writes fail with "No space left on device" once
// `bytes` bytes have been written (as a full disk would); a negative value turns it off.
void set_write_fault_after_bytes(int64_t bytes);
}  // namespace detail

}  // namespace focalgrad
