// io.cpp — regular files for reading, atomic file writes, directory creation.
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

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
    // at once instead of waiting for a writer; the fstat below then refuses it. (A regular
    // file renamed over the path in between, as an atomic save does, is fine: it is read.)
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    FG_CHECK(fd_ >= 0, op, ": ", path, ": cannot open: ", std::strerror(errno));
    struct stat st;
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd_);
        throw Error(
            str(op, ": ", path, ": not a regular file (it became one of another kind while it was opened)"));
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

namespace {

// ".tmp." + a pid of at most 10 digits + "." + mkstemp's 6 characters.
constexpr size_t kTempSuffixMax = 5 + 10 + 1 + 6;
constexpr size_t kWriteBuffer = size_t(1) << 16;

std::string dir_of(const std::string& path) {
    size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

std::string name_of(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

// The file a write to `path` replaces: `path` itself, or the file a symbolic link there
// names. Refuses a path that names a directory, a device, a FIFO or a socket, checks its
// directory, and that the name leaves room for the temporary suffix.
std::string output_target(const std::string& path, const char* op) {
    FG_CHECK(!path.empty(), op, ": the output path is empty");
    FG_CHECK(path.back() != '/', op, ": '", path, "' names a directory; give a file name");
    std::string target = path;
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) {
        if (S_ISLNK(st.st_mode)) {
            char* real = ::realpath(path.c_str(), nullptr);
            FG_CHECK(real, op, ": '", path, "' is a symbolic link to a missing file (", std::strerror(errno),
                     "); remove the link or point it at a file");
            target = real;
            std::free(real);
            FG_CHECK(::stat(target.c_str(), &st) == 0, op, ": cannot write '", target,
                     "': ", std::strerror(errno));
        }
        FG_CHECK(S_ISREG(st.st_mode), op, ": refusing to replace '", path, "': it is ", kind_of(st.st_mode),
                 ", and ", op, " writes only to a regular file or a new path");
    } else {
        FG_CHECK(errno == ENOENT, op, ": cannot write '", path, "': ", std::strerror(errno));
    }
    const std::string dir = dir_of(target), name = name_of(target);
    struct stat dst;
    FG_CHECK(::stat(dir.c_str(), &dst) == 0, op, ": cannot create '", path, "': directory '", dir,
             "': ", std::strerror(errno));
    FG_CHECK(S_ISDIR(dst.st_mode), op, ": cannot create '", path, "': '", dir, "' is not a directory");
    FG_CHECK(::access(dir.c_str(), W_OK | X_OK) == 0, op, ": cannot create '", path,
             "': cannot write into directory '", dir, "': ", std::strerror(errno));
    long max_name = ::pathconf(dir.c_str(), _PC_NAME_MAX);
    if (max_name <= 0) max_name = 255;
    FG_CHECK(name.size() + kTempSuffixMax <= size_t(max_name), op, ": the file name '", name, "' has ",
             name.size(), " bytes; with the temporary suffix (up to ", kTempSuffixMax, ") it must fit in ",
             max_name, ": use a name of at most ", size_t(max_name) - kTempSuffixMax, " bytes");
    FG_CHECK(target.size() + kTempSuffixMax < size_t(PATH_MAX), op, ": the path '", path, "' is too long (",
             target.size(), " bytes; at most ", size_t(PATH_MAX) - kTempSuffixMax - 1,
             " with the temporary suffix)");
    return target;
}

// The process's umask, read without changing it (umask(2) can only set it, which would
// race with other threads creating files): 022 when /proc does not say.
mode_t process_umask() {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    unsigned mask = 022;
    if (f) {
        char line[256];
        while (std::fgets(line, sizeof line, f))
            if (std::sscanf(line, "Umask: %o", &mask) == 1) break;
        std::fclose(f);
    }
    return mode_t(mask);
}

// Removes the temporaries of `name` in `dir` (TARGET.tmp.<pid>.XXXXXX, and the
// TARGET.tmp.<pid> of older focalgrads) whose process is no longer running: they belong
// to a writer that was killed, and nobody will ever rename them. A pid that is running,
// ours included, or that we may not signal, is left alone: its writer may be alive.
void remove_stale_temporaries(const std::string& dir, const std::string& name) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    const std::string prefix = name + ".tmp.";
    while (const dirent* e = ::readdir(d)) {
        const std::string entry = e->d_name;
        if (entry.compare(0, prefix.size(), prefix) != 0) continue;
        size_t at = prefix.size(), digits = 0;
        while (at + digits < entry.size() && std::isdigit(static_cast<unsigned char>(entry[at + digits])))
            ++digits;
        if (digits == 0 || digits > 10) continue;
        const std::string rest = entry.substr(at + digits);
        bool random_part = rest.size() == 7 && rest[0] == '.' &&
                           std::all_of(rest.begin() + 1, rest.end(),
                                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
        if (!rest.empty() && !random_part) continue;
        const long long pid = std::stoll(entry.substr(at, digits));
        if (pid <= 0 || pid > INT32_MAX || pid == ::getpid()) continue;
        if (::kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue;
        struct stat st;
        if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            ::unlinkat(::dirfd(d), e->d_name, 0);
    }
    ::closedir(d);
}

}  // namespace

void check_output_path(const std::string& path, const char* op) { output_target(path, op); }

AtomicFile::AtomicFile(const std::string& path, const char* op)
    : shown_(path), path_(output_target(path, op)), op_(op) {
    remove_stale_temporaries(dir_of(path_), name_of(path_));
    std::string pattern = path_ + ".tmp." + std::to_string(::getpid()) + ".XXXXXX";
    fd_ = ::mkostemp(pattern.data(), O_CLOEXEC);
    FG_CHECK(fd_ >= 0, op_, ": cannot create a temporary file beside '", shown_, "': ", std::strerror(errno));
    tmp_ = pattern;
    // mkstemp makes the file 0600; give it the mode the target has, or that a new file
    // would get from the umask.
    struct stat st;
    mode_t mode = ::stat(path_.c_str(), &st) == 0 ? (st.st_mode & 07777) : (0666 & ~process_umask());
    ::fchmod(fd_, mode);
    buffer_.reserve(kWriteBuffer);
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !tmp_.empty()) ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    if (buffer_.size() + n > kWriteBuffer) flush_buffer();
    if (n >= kWriteBuffer) {
        write_fd(bytes, n);
    } else {
        buffer_.insert(buffer_.end(), bytes, bytes + n);
    }
}

void AtomicFile::flush_buffer() {
    if (buffer_.empty()) return;
    write_fd(buffer_.data(), buffer_.size());
    buffer_.clear();
}

namespace {

// write(2) until all n bytes are written; returns 0 or the errno of the failure, with
// *done the bytes that were written. A write past the file-size limit (ulimit -f) raises
// SIGXFSZ, whose default action ends the process with no message: the signal is blocked
// on this thread for the write, so write() fails with EFBIG instead, and the signal it
// left pending is taken off before the old mask comes back.
int write_all(int fd, const unsigned char* data, size_t n, size_t* done) {
    sigset_t xfsz, old;
    sigemptyset(&xfsz);
    sigaddset(&xfsz, SIGXFSZ);
    ::pthread_sigmask(SIG_BLOCK, &xfsz, &old);
    int err = 0;
    *done = 0;
    while (*done < n) {
        ssize_t k = ::write(fd, data + *done, n - *done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            err = k < 0 ? errno : EIO;
            break;
        }
        *done += size_t(k);
    }
    if (!sigismember(&old, SIGXFSZ)) {
        sigset_t pending;
        const struct timespec now = {0, 0};
        if (::sigpending(&pending) == 0 && sigismember(&pending, SIGXFSZ))
            ::sigtimedwait(&xfsz, nullptr, &now);
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return err;
}

// strerror(err), and for EFBIG the limit that caused it.
std::string write_error(int err) {
    struct rlimit rl;
    if (err == EFBIG && ::getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        return str(std::strerror(err), " (the file-size limit, ulimit -f, is ", uint64_t(rl.rlim_cur),
                   " bytes)");
    return std::strerror(err);
}

}  // namespace

void AtomicFile::write_fd(const unsigned char* data, size_t n) {
    size_t allowed = n, done = 0;
    const bool fault = t_fault_after_bytes >= 0 && written_ + n > uint64_t(t_fault_after_bytes);
    if (fault) allowed = size_t(uint64_t(t_fault_after_bytes) - written_);
    int err = write_all(fd_, data, allowed, &done);
    if (fault && err == 0) err = ENOSPC;
    written_ += done;
    FG_CHECK(err == 0, op_, ": writing '", tmp_, "' failed after ", written_, " bytes: ", write_error(err),
             "; '", shown_, "' was left as it was");
}

void AtomicFile::sync() {
    if (fd_ < 0) return;
    flush_buffer();
    FG_CHECK(::fsync(fd_) == 0, op_, ": flushing '", tmp_, "' to disk failed: ", std::strerror(errno), "; '",
             shown_, "' was left as it was");
    int closed = ::close(fd_);
    fd_ = -1;
    FG_CHECK(closed == 0, op_, ": closing '", tmp_, "' failed: ", std::strerror(errno), "; '", shown_,
             "' was left as it was");
}

void AtomicFile::commit() {
    sync();
    FG_CHECK(::rename(tmp_.c_str(), path_.c_str()) == 0, op_, ": renaming '", tmp_, "' to '", path_,
             "' failed: ", std::strerror(errno), "; '", shown_, "' was left as it was");
    committed_ = true;
    int fd = ::open(dir_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {  // best effort: the new file is complete and in place either way
        ::fsync(fd);
        ::close(fd);
    }
}

AppendFile::AppendFile(const std::string& path, const char* op) : path_(path), op_(op) {
    struct stat st;
    FG_CHECK(::stat(path.c_str(), &st) == 0, op, ": cannot append to '", path, "': ", std::strerror(errno));
    FG_CHECK(S_ISREG(st.st_mode), op, ": cannot append to '", path, "': it is ", kind_of(st.st_mode),
             ", not a regular file");
    fd_ = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    FG_CHECK(fd_ >= 0, op, ": cannot append to '", path, "': ", std::strerror(errno));
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd_);
        throw Error(str(op, ": cannot append to '", path, "': it is no longer a regular file"));
    }
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
}

AppendFile::~AppendFile() { ::close(fd_); }

// A kill -9 can cut a write(2) to a file only between two pages: Linux copies the bytes into
// the page cache one 4 KiB page at a time, and once the process is being killed it stops
// before the next page and returns what it has copied. So a record that stays inside one
// page of the file is written whole or not at all, and only one that crosses a page
// boundary could be left in part (tests/test_faults.cpp caught one, cut at byte 28,672).
// Such a record (one in about 60 for a CSV history) is instead written after a copy of the
// file to a temporary, which then replaces the file (AtomicFile): a kill leaves the old
// file or the new one. Larger folios of newer kernels are whole numbers of pages, so their
// boundaries are page boundaries too.
constexpr uint64_t kPageBytes = 4096;

void AppendFile::append(const void* data, size_t n, const std::string& what) {
    const off_t start = ::lseek(fd_, 0, SEEK_END);
    FG_CHECK(start >= 0, op_, ": appending ", what, " to '", path_, "' failed: ", std::strerror(errno));
    const uint64_t first = uint64_t(start), last = first + n - 1;
    if (n > 0 && first / kPageBytes != last / kPageBytes) {
        append_by_replacing(data, n, what, first);
        return;
    }
    size_t done = 0;
    const int err = write_all(fd_, static_cast<const unsigned char*>(data), n, &done);
    if (err == 0) return;
    // Cut the partial record off, so the file ends after its last whole one.
    const bool cut = done == 0 || ::ftruncate(fd_, start) == 0;
    throw Error(str(op_, ": appending ", what, " (", n, " bytes) to '", path_, "' failed: ", write_error(err),
                    cut ? str("; the file still ends after its last whole record")
                        : str("; ", done, " bytes of the record remain at its end")));
}

void AppendFile::append_by_replacing(const void* data, size_t n, const std::string& what, uint64_t size) {
    std::vector<unsigned char> old(size);
    size_t got = 0;
    while (got < size) {
        ssize_t k = ::pread(fd_, old.data() + got, size - got, off_t(got));
        if (k < 0 && errno == EINTR) continue;
        FG_CHECK(k > 0, op_, ": appending ", what, " to '", path_, "' failed: reading its first ", size,
                 " bytes back: ", k < 0 ? std::strerror(errno) : "the file is shorter than it was",
                 "; the file was left as it was");
        got += size_t(k);
    }
    try {
        AtomicFile file(path_, op_);
        file.write(old.data(), old.size());
        file.write(data, n);
        file.commit();
    } catch (const Error& e) {
        throw Error(
            str(op_, ": appending ", what, " (", n, " bytes) to '", path_,
                "' failed; the file still ends after its last whole record. (A record that crosses a 4 KiB "
                "page of the file is written with a copy of the file, replacing it: ",
                e.what(), ")"));
    }
    // The log is the new file now.
    AppendFile fresh(path_, op_);
    std::swap(fd_, fresh.fd_);
}

void AtomicFileSet::add(const std::string& path, std::string bytes) {
    check_output_path(path, op_);
    files_.emplace_back(path, std::move(bytes));
}

void AtomicFileSet::commit() {
    auto names = [&](size_t from, size_t to) {
        std::string out;
        for (size_t k = from; k < to; ++k) out += (k > from ? ", " : "") + files_[k].first;
        return out;
    };
    std::vector<std::unique_ptr<AtomicFile>> files;
    try {
        for (const auto& [path, bytes] : files_) {
            files.push_back(std::make_unique<AtomicFile>(path, op_));
            files.back()->write(bytes.data(), bytes.size());
            files.back()->sync();
        }
    } catch (const Error& e) {
        files.clear();  // removes every temporary
        throw Error(str(e.what(), "; nothing was replaced: ", names(0, files_.size()),
                        files_.size() == 1 ? " is" : " are", " as ",
                        files_.size() == 1 ? "it was" : "they were"));
    }
    for (size_t k = 0; k < files.size(); ++k) {
        try {
            files[k]->commit();
        } catch (const Error& e) {
            files.clear();
            throw Error(str(e.what(), k ? "; new: " + names(0, k) : std::string("; none is new"),
                            "; still the old ones: ", names(k, files_.size())));
        }
    }
    files_.clear();
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
