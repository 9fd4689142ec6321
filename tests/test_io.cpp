// test_io.cpp — atomic writes never leave a partial file; directories are created or
// refused with a clear reason.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <focalgrad/core/io.h>

#include "helpers.h"

using namespace focalgrad;

namespace {
using fgtest::read_file;
}  // namespace

TEST_CASE("write_file_atomic replaces the file, or leaves the old one whole") {
    fgtest::TempDir tmp;
    std::string dir = tmp.path(), path = dir + "/out.txt";
    write_file_atomic(path, std::string("first version"), "test");
    CHECK(read_file(path) == "first version");
    for (int64_t cut : {0, 1, 5, 12}) {
        detail::set_write_fault_after_bytes(cut);
        CHECK_ERROR(write_file_atomic(path, std::string("second, longer version"), "test"), "test",
                    "No space left", "was left as it was");
        detail::set_write_fault_after_bytes(-1);
        CHECK(read_file(path) == "first version");
        CHECK(tmp.entries() == std::vector<std::string>{"out.txt"});  // the temporary is gone
    }
    write_file_atomic(path, std::string("second"), "test");
    CHECK(read_file(path) == "second");
    CHECK_ERROR(write_file_atomic(dir + "/missing/out.txt", std::string("x"), "test"), "test",
                "cannot create", "missing");
}

TEST_CASE("make_directories creates nested directories and explains refusals") {
    fgtest::TempDir tmp;
    std::string dir = tmp.path();
    make_directories(dir + "/a/b/c", "test");
    struct stat st;
    CHECK(::stat((dir + "/a/b/c").c_str(), &st) == 0);
    make_directories(dir + "/a/b/c", "test");  // already there: fine
    write_file_atomic(dir + "/file", std::string("x"), "test");
    CHECK_ERROR(make_directories(dir + "/file", "test"), "test", "not a directory");
    CHECK_ERROR(make_directories(dir + "/file/sub", "test"), "test", "cannot create directory");
    CHECK_ERROR(make_directories("", "test"), "empty");
    if (::geteuid() != 0) {  // root may write anywhere
        CHECK_ERROR(make_directories("/proc/focalgrad-test", "test"), "cannot create directory");
    }
}
