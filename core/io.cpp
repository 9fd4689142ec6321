// io.cpp — regular files for reading, atomic file writes, directory creation.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <focalgrad/core/error.h>
#include <focalgrad/core/io.h>

namespace focalgrad {

namespace {
thread_local int64_t t_fault_after_bytes = -1;
}

namespace detail {
void set_write_fault_after_bytes(int64_t bytes) { t_fault_after_bytes = bytes; }
}  // namespace detail

// ---- Reading ----------------------------------------------------------------------

namespace {

// What a file that is not a regular one is, for error messages.
const char* kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "of an unknown kind";
}

}  // namespace

InputFile::InputFile(const std::string& path, const char* op) : path_(path), op_(op) {
    struct stat before;
    if (::stat(path.c_str(), &before) != 0) {
        FG_CHECK(errno != ENOENT, op, ": ", path, ": no such file");
        throw Error(str(op, ": ", path, ": cannot open: ", std::strerror(errno)));
    }
    FG_CHECK(S_ISREG(before.st_mode), op, ": ", path, ": not a regular file (it is ", kind_of(before.st_mode),
             ")");
    // O_NONBLOCK: should the path have become a FIFO since the stat, the open returns
    // at once instead of waiting for a writer; the fstat below then refuses it.
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    FG_CHECK(fd_ >= 0, op, ": ", path, ": cannot open: ", std::strerror(errno));
    struct stat st;
    bool same = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode) && st.st_dev == before.st_dev &&
                st.st_ino == before.st_ino;
    if (!same) {
        ::close(fd_);
        throw Error(str(op, ": ", path, ": the file was replaced while it was being opened"));
    }
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
    size_ = uint64_t(st.st_size);
}

InputFile::~InputFile() { ::close(fd_); }

size_t InputFile::read(void* dst, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t k = ::read(fd_, static_cast<char*>(dst) + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        FG_CHECK(k >= 0, op_, ": ", path_, ": read error: ", std::strerror(errno));
        if (k == 0) break;
        got += size_t(k);
    }
    return got;
}

size_t InputFile::read_at(uint64_t offset, void* dst, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t k = ::pread(fd_, static_cast<char*>(dst) + got, n - got, off_t(offset + got));
        if (k < 0 && errno == EINTR) continue;
        FG_CHECK(k >= 0, op_, ": ", path_, ": read error: ", std::strerror(errno));
        if (k == 0) break;
        got += size_t(k);
    }
    return got;
}

// ---- Writing ----------------------------------------------------------------------

AtomicFile::AtomicFile(const std::string& path, const char* op)
    : path_(path), tmp_(path + ".tmp." + std::to_string(::getpid())), op_(op) {
    file_ = std::fopen(tmp_.c_str(), "wb");
    FG_CHECK(file_, op_, ": cannot create '", tmp_, "': ", std::strerror(errno));
}

AtomicFile::~AtomicFile() {
    if (file_) std::fclose(file_);
    if (!committed_) std::remove(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
    size_t allowed = n;
    bool fault = t_fault_after_bytes >= 0 && written_ + n > uint64_t(t_fault_after_bytes);
    if (fault) allowed = size_t(uint64_t(t_fault_after_bytes) - written_);
    size_t done = std::fwrite(data, 1, allowed, file_);
    written_ += done;
    if (fault) errno = ENOSPC;
    FG_CHECK(done == n, op_, ": writing '", tmp_, "' failed after ", written_,
             " bytes: ", std::strerror(errno), "; '", path_, "' was left as it was");
}

void AtomicFile::commit() {
    FG_CHECK(std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0, op_, ": flushing '", tmp_,
             "' to disk failed: ", std::strerror(errno), "; '", path_, "' was left as it was");
    int closed = std::fclose(file_);
    file_ = nullptr;
    FG_CHECK(closed == 0, op_, ": closing '", tmp_, "' failed: ", std::strerror(errno), "; '", path_,
             "' was left as it was");
    FG_CHECK(std::rename(tmp_.c_str(), path_.c_str()) == 0, op_, ": renaming '", tmp_, "' to '", path_,
             "' failed: ", std::strerror(errno));
    committed_ = true;
    size_t slash = path_.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {  // best effort: the new file is complete and in place either way
        ::fsync(fd);
        ::close(fd);
    }
}

void write_file_atomic(const std::string& path, const void* data, size_t n, const char* op) {
    AtomicFile file(path, op);
    file.write(data, n);
    file.commit();
}

void make_directories(const std::string& dir, const char* op) {
    FG_CHECK(!dir.empty(), op, ": the output directory name is empty");
    for (size_t at = 0; at != std::string::npos;) {
        at = dir.find('/', at + 1);
        std::string prefix = dir.substr(0, at);
        if (prefix.empty() || ::mkdir(prefix.c_str(), 0777) == 0 || errno == EEXIST) continue;
        throw Error(str(op, ": cannot create directory '", prefix, "': ", std::strerror(errno)));
    }
    struct stat st;
    FG_CHECK(::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode), op, ": '", dir,
             "' exists but is not a directory");
    FG_CHECK(::access(dir.c_str(), W_OK | X_OK) == 0, op, ": cannot write into directory '", dir,
             "': ", std::strerror(errno));
}

}  // namespace focalgrad
