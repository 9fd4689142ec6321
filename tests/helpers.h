// helpers.h — shared test utilities: temporary directories (and a tmpfs mounted in one),
// error-message checks, closeness checks against double-precision references, and a
// gradcheck assertion that explains failures.
#pragma once

#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <focalgrad/core/error.h>
#include <focalgrad/core/gradcheck.h>
#include <focalgrad/core/tensor.h>

namespace fgtest {

extern std::string g_bin_dir;  // where the test binary and the example programs are

// The names of the entries of directory `dir`, sorted.
inline std::vector<std::string> entry_names(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

// The whole content of a file ("" if it cannot be read).
inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::vector<unsigned char> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Writes `bytes` to `path` as they are (a plain write: for making test inputs).
inline void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// What a shell command did: its exit status (-1 if it did not exit normally) and its
// stdout and stderr together. It runs in the checkout (two levels above g_bin_dir).
struct Outcome {
    int status;
    std::string output;
};
Outcome run_command(const std::string& command);

// A fresh directory under the system temp dir, removed with everything in it at scope end.
class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "focalgrad-test-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }
    // The names of the entries, sorted.
    std::vector<std::string> entries() const { return entry_names(path_); }

private:
    std::string path_;
};

// A tmpfs of `bytes` mounted at a new directory `dir`/`name`, unmounted at scope end; a
// test that needs one skips, with a message, when this process may not mount (not root,
// or a container without CAP_SYS_ADMIN).
class Tmpfs {
public:
    Tmpfs(const TempDir& dir, const std::string& name, size_t bytes) : path_(dir / name) {
        if (::mkdir(path_.c_str(), 0700) != 0) return;
        const std::string options = "size=" + std::to_string(bytes) + ",mode=0700";
        mounted_ = ::mount("tmpfs", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) == 0;
        if (!mounted_)
            MESSAGE("skipped: mounting a tmpfs at ", path_, " failed (", std::strerror(errno), ")");
    }
    ~Tmpfs() {
        if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
    }
    Tmpfs(const Tmpfs&) = delete;
    Tmpfs& operator=(const Tmpfs&) = delete;
    bool mounted() const { return mounted_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }
    // The names of the entries, sorted.
    std::vector<std::string> entries() const { return entry_names(path_); }

private:
    std::string path_;
    bool mounted_ = false;
};

// The message of the focalgrad::Error that f throws, or "<no exception>".
template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const focalgrad::Error& e) {
        return e.what();
    }
    return "<no exception>";
}

inline void check_contains(const std::string& message, std::initializer_list<std::string> parts) {
    for (const std::string& p : parts)
        CHECK_MESSAGE(message.find(p) != std::string::npos, "expected \"", p, "\" in: ", message);
}

// |a - b| <= atol + rtol * |b| for every element, with b a double-precision reference.
inline void check_close(const focalgrad::Tensor& a, const std::vector<double>& b, double rtol = 1e-5,
                        double atol = 1e-6) {
    REQUIRE(a.numel() == int64_t(b.size()));
    for (size_t i = 0; i < b.size(); ++i) {
        double v = a.data()[i];
        CHECK_MESSAGE(std::fabs(v - b[i]) <= atol + rtol * std::fabs(b[i]), "element ", i, ": got ", v,
                      ", expected ", b[i]);
    }
}

inline void check_gradcheck(const focalgrad::GradcheckFn& f, const std::vector<focalgrad::Tensor>& inputs,
                            const focalgrad::GradcheckOptions& options = {}) {
    focalgrad::GradcheckResult r = focalgrad::gradcheck(f, inputs, options);
    CHECK_MESSAGE(r.ok, r.message());
}

}  // namespace fgtest

// CHECK_ERROR(expr, "part1", "part2"): expr throws focalgrad::Error mentioning every part.
#define CHECK_ERROR(expr, ...) \
    ::fgtest::check_contains(::fgtest::error_of([&] { (void)(expr); }), {__VA_ARGS__})
