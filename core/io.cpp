// io.cpp — atomic file writes and directory creation.
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
