// test_faults.cpp — files that are not what a reader or a writer expects. Every reader
// refuses a FIFO (without blocking), a device node and a directory before opening it.
// FIFOs and device nodes are made with mkfifo and mknod inside a TempDir, never under
// /dev; mknod needs root, and the tests that need it say so and skip otherwise.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <future>
#include <string>
#include <thread>

#include <focalgrad/core/io.h>
#include <focalgrad/core/random.h>
#include <focalgrad/data/csv.h>
#include <focalgrad/data/idx.h>
#include <focalgrad/data/image.h>
#include <focalgrad/nn/checkpoint.h>
#include <focalgrad/nn/layers.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

// A character device with the numbers of /dev/null (1, 3), made at `path`; false, with a
// message saying why the caller skips, when this process may not make one.
bool make_char_device(const std::string& path) {
    if (::mknod(path.c_str(), S_IFCHR | 0600, makedev(1, 3)) == 0) return true;
    MESSAGE("skipped: mknod ", path, " failed (", std::strerror(errno), "): device nodes need root");
    return false;
}

// The message of the Error that read(path) throws. A read that blocks (as opening a FIFO
// for reading does until a writer comes) fails the test after 5 s, and is then unblocked
// by opening the FIFO for writing, so the test ends either way.
std::string error_without_blocking(const std::string& path, const std::function<void()>& read) {
    auto done = std::async(std::launch::async, [&] { return fgtest::error_of(read); });
    if (done.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
        FAIL_CHECK("reading ", path, " blocked for 5 s");
        int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
        if (fd >= 0) ::close(fd);
    }
    return done.get();
}

Sequential tiny_model() {
    Generator gen(1);
    return Sequential(Linear(2, 3, true, gen));
}

}  // namespace

TEST_CASE("every reader refuses a FIFO at once, without opening it") {
    fgtest::TempDir dir;
    const std::string fifo = dir / "pipe";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    Sequential m = tiny_model();
    const std::string is_fifo = "not a regular file (it is a FIFO (named pipe))";
    fgtest::check_contains(error_without_blocking(fifo, [&] { load(m, fifo); }), {"load: " + fifo, is_fifo});
    fgtest::check_contains(error_without_blocking(fifo, [&] { read_idx(fifo, 1); }), {"read_idx: ", is_fifo});
    fgtest::check_contains(error_without_blocking(fifo, [&] { load_image(fifo); }),
                           {"load_image: ", is_fifo});
    fgtest::check_contains(error_without_blocking(fifo, [&] { load_csv(fifo); }), {"load_csv: ", is_fifo});
    fgtest::check_contains(error_without_blocking(fifo, [&] { InputFile f(fifo, "my_reader"); }),
                           {"my_reader: " + fifo + ": " + is_fifo});
}

TEST_CASE("every reader refuses a device node and a directory") {
    fgtest::TempDir dir;
    Sequential m = tiny_model();
    CHECK_ERROR(load(m, dir.path()), "load: ", "not a regular file (it is a directory)");
    CHECK_ERROR(read_idx(dir.path(), 1), "read_idx: ", "not a regular file (it is a directory)");
    const std::string device = dir / "null";
    if (!make_char_device(device)) return;
    CHECK_ERROR(load(m, device), "load: " + device + ": not a regular file (it is a character device)");
    CHECK_ERROR(read_idx(device, 1), "read_idx: ", "(it is a character device)");
    CHECK_ERROR(load_image(device), "load_image: ", "(it is a character device)");
    CHECK_ERROR(load_csv(device), "load_csv: ", "(it is a character device)");
}

TEST_CASE("InputFile reads a regular file by position and in sequence, and says why it cannot open one") {
    fgtest::TempDir dir;
    const std::string path = dir / "bytes";
    write_file_atomic(path, std::string("0123456789"), "test");
    InputFile f(path, "test");
    CHECK(f.size() == 10);
    char buf[8] = {};
    CHECK(f.read_at(6, buf, 8) == 4);  // fewer only at the end of the file
    CHECK(std::string(buf, 4) == "6789");
    CHECK(f.read(buf, 3) == 3);  // read_at did not move the position
    CHECK(std::string(buf, 3) == "012");
    CHECK(f.read(buf, 8) == 7);
    CHECK(f.read(buf, 8) == 0);

    CHECK_ERROR(InputFile(dir / "absent", "test"), "test: " + (dir / "absent") + ": no such file");
    if (::geteuid() != 0) {  // root reads anything: permissions cannot be tested as root
        REQUIRE(::chmod(path.c_str(), 0) == 0);
        CHECK_ERROR(InputFile(path, "test"), "test: " + path + ": cannot open: Permission denied");
    }
}
