// test_faults.cpp — files that are not what a reader or a writer expects, and writes
// that fail. Every reader refuses a FIFO (without blocking), a device node and a
// directory before opening it; every atomic write refuses them at its target. Writers
// racing each other and a reader, a full disk (a small tmpfs), the file-size limit
// (SIGXFSZ) and kill -9 in a save loop never leave anything but the old file or the new;
// the one file that is appended to, the per-epoch CSV log, ends after a whole line then.
// FIFOs and device nodes are made with mkfifo and mknod inside a TempDir, and a tmpfs is
// mounted only under one, never anywhere else; mknod and mount need root, and the tests
// that need them say so and skip otherwise.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <focalgrad/core/io.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/random.h>
#include <focalgrad/data/csv.h>
#include <focalgrad/data/idx.h>
#include <focalgrad/data/image.h>
#include <focalgrad/data/imbalance.h>
#include <focalgrad/data/metrics.h>
#include <focalgrad/nn/checkpoint.h>
#include <focalgrad/nn/layers.h>
#include <focalgrad/nn/module.h>
#include <focalgrad/train/history.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

using fgtest::read_file;

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

Sequential tiny_model(uint64_t seed = 1, int64_t width = 3) {
    Generator gen(seed);
    return Sequential(Linear(2, width, true, gen));
}

std::vector<std::string> names_sorted(std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    return names;
}

// Every parameter's values, to compare a loaded model with the one saved.
std::vector<float> values(const Module& m) {
    std::vector<float> out;
    for (const Tensor& t : m.parameters()) out.insert(out.end(), t.data(), t.data() + t.numel());
    return out;
}

// Runs child() in a forked process, whose exit status it returns (or 128 + the signal
// that ended it). What child() writes to the pipe fd it is given comes back in `report`.
int in_child(const std::function<int(int fd)>& child, std::string* report = nullptr) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        int code = 99;
        try {
            code = child(fds[1]);
        } catch (...) {
        }
        ::_exit(code);
    }
    ::close(fds[1]);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (report) *report = out;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void write_to(int fd, const std::string& text) {
    for (size_t done = 0; done < text.size();) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n <= 0) return;
        done += size_t(n);
    }
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

TEST_CASE(
    "an atomic write refuses a device node, a FIFO, a socket or a directory at its target, and leaves it") {
    fgtest::TempDir dir;
    Sequential m = tiny_model();
    const std::vector<uint8_t> pixels(12, 128);
    // Every writer, on one target.
    auto check_refused = [&](const std::string& path, const std::string& kind) {
        CAPTURE(path);
        struct stat before;
        REQUIRE(::lstat(path.c_str(), &before) == 0);
        const std::string refusal = "refusing to replace '" + path + "': it is " + kind;
        CHECK_ERROR(save(m, path), "save: " + refusal, "save writes only to a regular file or a new path");
        CHECK_ERROR(write_file_atomic(path, std::string("x"), "report"), "report: " + refusal);
        CHECK_ERROR(save_png(path, pixels.data(), 2, 2, 3), "save_png: " + refusal);
        CHECK_ERROR(check_output_path(path, "--save"), "--save: " + refusal);
        struct stat after;
        REQUIRE(::lstat(path.c_str(), &after) == 0);
        CHECK(after.st_ino == before.st_ino);  // the very same node, not a replacement
        CHECK((after.st_mode & S_IFMT) == (before.st_mode & S_IFMT));
    };

    const std::string fifo = dir / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    check_refused(fifo, "a FIFO (named pipe)");

    const std::string sub = dir / "sub";
    REQUIRE(::mkdir(sub.c_str(), 0700) == 0);
    check_refused(sub, "a directory");
    CHECK_ERROR(save(m, sub + "/"), "save: '" + sub + "/' names a directory");

    const std::string sock = dir / "sock";
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(sock.size() < sizeof addr.sun_path);
    std::memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    check_refused(sock, "a socket");
    ::close(fd);

    const std::string device = dir / "null";
    if (make_char_device(device)) check_refused(device, "a character device");
    const std::string block = dir / "block";
    if (::mknod(block.c_str(), S_IFBLK | 0600, makedev(7, 0)) == 0) check_refused(block, "a block device");

    // No temporary was left anywhere.
    std::vector<std::string> expected = {"fifo", "sock", "sub"};
    if (::access(device.c_str(), F_OK) == 0) expected.push_back("null");
    if (::access(block.c_str(), F_OK) == 0) expected.push_back("block");
    std::sort(expected.begin(), expected.end());
    CHECK(dir.entries() == expected);
}

TEST_CASE("an atomic write through a symbolic link replaces the file it names and keeps the link") {
    fgtest::TempDir dir;
    const std::string real = dir / "real.txt", link = dir / "link.txt";
    write_file_atomic(real, std::string("old"), "test");
    REQUIRE(::symlink("real.txt", link.c_str()) == 0);
    write_file_atomic(link, std::string("new"), "test");
    struct stat st;
    REQUIRE(::lstat(link.c_str(), &st) == 0);
    CHECK(S_ISLNK(st.st_mode));
    CHECK(read_file(real) == "new");
    CHECK(dir.entries() == std::vector<std::string>{"link.txt", "real.txt"});

    const std::string dangling = dir / "dangling.txt";
    REQUIRE(::symlink("missing/file.txt", dangling.c_str()) == 0);
    CHECK_ERROR(write_file_atomic(dangling, std::string("x"), "test"),
                "is a symbolic link to a missing file");
}

TEST_CASE("atomic writes: a new file gets the umask's mode, a replaced file keeps its mode") {
    fgtest::TempDir dir;
    const std::string path = dir / "f.txt";
    mode_t old_mask = ::umask(027);
    write_file_atomic(path, std::string("a"), "test");
    ::umask(old_mask);
    struct stat st;
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0640);
    REQUIRE(::chmod(path.c_str(), 0604) == 0);
    write_file_atomic(path, std::string("b"), "test");
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0604);
}

TEST_CASE("two writers of one path never share a temporary, and a reader sees one whole file or the other") {
    fgtest::TempDir dir;
    {
        AtomicFile a(dir / "x.txt", "test"), b(dir / "x.txt", "test");
        CHECK(a.temp_path() != b.temp_path());
        CHECK(a.temp_path().rfind(dir / "x.txt.tmp." + std::to_string(::getpid()) + ".", 0) == 0);
    }
    CHECK(dir.entries().empty());  // both temporaries removed without a commit

    // On a tmpfs when we may mount one: fsync there costs nothing, so the race is run
    // thousands of times; on a disk, 10 ms per fsync allow a few hundred.
    fgtest::Tmpfs fs(dir, "fs", size_t(16) << 20);
    const std::string path = fs.mounted() ? fs / "model.ckpt" : dir / "model.ckpt";
    const int iterations = fs.mounted() ? 2000 : 200;
    Sequential a = tiny_model(1, 40), b = tiny_model(2, 40);
    const std::vector<float> va = values(a), vb = values(b);
    save(a, path);
    // The writers save until each has saved `iterations` times and the reader has loaded
    // five times as often, so that every load races with saves.
    std::atomic<int> writers_done{0}, loads{0};
    std::vector<std::string> writer_errors(2);
    auto writer = [&](const Sequential& model, std::string& error) {
        for (int i = 0; error.empty() && (i < iterations || loads < 5 * iterations); ++i) {
            error = fgtest::error_of([&] { save(model, path); });
            if (error == "<no exception>") error.clear();
        }
        ++writers_done;
    };
    std::thread wa(writer, std::cref(a), std::ref(writer_errors[0]));
    std::thread wb(writer, std::cref(b), std::ref(writer_errors[1]));
    int mixed = 0;
    std::string first_error;
    Sequential r = tiny_model(3, 40);
    while (loads < 5 * iterations || writers_done < 2) {
        std::string e = fgtest::error_of([&] { load(r, path); });
        if (e != "<no exception>") {
            if (first_error.empty()) first_error = e;
        } else if (values(r) != va && values(r) != vb) {
            ++mixed;
        }
        ++loads;
    }
    wa.join();
    wb.join();
    CHECK_MESSAGE(writer_errors[0].empty(), writer_errors[0]);
    CHECK_MESSAGE(writer_errors[1].empty(), writer_errors[1]);
    CHECK_MESSAGE(first_error.empty(), "a load failed: ", first_error);
    CHECK(mixed == 0);
    MESSAGE(iterations, " saves per writer, ", loads.load(), " loads",
            std::string(fs.mounted() ? " on a tmpfs" : ""));
    std::vector<std::string> left = fs.mounted() ? fs.entries() : dir.entries();
    CHECK(left == std::vector<std::string>{"model.ckpt"});
}

TEST_CASE("a save past the file-size limit (ulimit -f, SIGXFSZ) says File too large, keeps the old file") {
    fgtest::TempDir dir;
    const std::string path = dir / "model.ckpt";
    Sequential small = tiny_model(1, 3), big = tiny_model(2, 400);  // about 150 bytes, and 4.8 KB
    save(small, path);
    const std::string old_bytes = read_file(path);
    std::string report;
    // In a child: SIGXFSZ at its default action ends the process that gets it.
    int status = in_child(
        [&](int fd) {
            ::signal(SIGXFSZ, SIG_DFL);
            struct rlimit limit = {4096, 4096};
            if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return 98;
            write_to(fd, fgtest::error_of([&] { save(big, path); }));
            return 0;
        },
        &report);
    CHECK_MESSAGE(status == 0, "the child ended with status ", status,
                  status == 128 + SIGXFSZ ? " (killed by SIGXFSZ)" : "");
    fgtest::check_contains(
        report, {"save: writing '" + path + ".tmp.", "File too large",
                 "(the file-size limit, ulimit -f, is 4096 bytes)", "'" + path + "' was left as it was"});
    CHECK(read_file(path) == old_bytes);
    CHECK(dir.entries() == std::vector<std::string>{"model.ckpt"});
}

TEST_CASE("a save to a full disk (a small tmpfs) says No space left on device and keeps the old file") {
    fgtest::TempDir dir;
    fgtest::Tmpfs fs(dir, "small", 64 * 1024);
    if (!fs.mounted()) return;
    const std::string path = fs / "model.ckpt";
    Sequential small = tiny_model(1, 3), big = tiny_model(2, 4000);  // 48 KB
    save(small, path);
    const std::string old_bytes = read_file(path);
    // Fill what is left but 8 KB: the big save runs out part-way.
    {
        std::ofstream filler(fs / "filler", std::ios::binary);
        std::string block(4096, 'f');
        while (filler.write(block.data(), std::streamsize(block.size())) && filler.flush()) {
        }
    }
    std::filesystem::resize_file(fs / "filler", std::filesystem::file_size(fs / "filler") - 8192);
    CHECK_ERROR(save(big, path), "save: ", "No space left on device", "'" + path + "' was left as it was");
    CHECK(read_file(path) == old_bytes);
    CHECK(fs.entries() == std::vector<std::string>{"filler", "model.ckpt"});
    Sequential back = tiny_model(5, 3);
    load(back, path);
    CHECK(values(back) == values(small));
    // With room again, the save goes through.
    std::filesystem::remove(fs / "filler");
    save(big, path);
    CHECK(fs.entries() == std::vector<std::string>{"model.ckpt"});
}

TEST_CASE(
    "kill -9 in a save loop: the target is always a whole checkpoint, and stale temporaries are removed") {
    fgtest::TempDir dir;
    fgtest::Tmpfs fs(dir, "fs", size_t(16) << 20);  // fast fsync when we may mount; a disk otherwise
    const std::string path = fs.mounted() ? fs / "model.ckpt" : dir / "model.ckpt";
    auto entries = [&] { return fs.mounted() ? fs.entries() : dir.entries(); };
    Sequential a = tiny_model(1, 2000), b = tiny_model(2, 2000);  // 24 KB each
    const std::vector<float> va = values(a), vb = values(b);
    save(a, path);
    size_t most_left = 0;
    for (int round = 0; round < 25; ++round) {
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            for (uint64_t i = 0;; ++i) {
                try {
                    save(i % 2 ? a : b, path);
                } catch (...) {
                    ::_exit(3);
                }
            }
        }
        std::this_thread::sleep_for(std::chrono::microseconds(2000 + 997 * round % 9000));
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status));
        Sequential r = tiny_model(3, 2000);
        std::string e = fgtest::error_of([&] { load(r, path); });
        CHECK_MESSAGE(e == "<no exception>", "round ", round, ": ", e);
        CHECK((values(r) == va || values(r) == vb));
        most_left = std::max(most_left, entries().size());
    }
    // Each child's first save removed what the killed ones before it left: at most the
    // last child's temporary remains, and one more save removes it.
    CHECK(most_left <= 2);
    save(a, path);
    CHECK(entries() == std::vector<std::string>{"model.ckpt"});
}

TEST_CASE("stale temporaries: only those of the same target whose process is gone are removed") {
    fgtest::TempDir dir;
    pid_t dead = ::fork();
    REQUIRE(dead >= 0);
    if (dead == 0) ::_exit(0);
    ::waitpid(dead, nullptr, 0);
    const std::string d = std::to_string(dead), me = std::to_string(::getpid());
    for (const std::string& name :
         {"x.ckpt.tmp." + d + ".Ab3dE9", "x.ckpt.tmp." + d, "x.ckpt.tmp." + me + ".Ab3dE9",
          "x.ckpt.tmp." + d + ".toolong7", "y.ckpt.tmp." + d + ".Ab3dE9", std::string("x.ckpt.tmp.notapid")})
        write_file_atomic(dir / name, std::string("partial"), "test");
    write_file_atomic(dir / "x.ckpt", std::string("new"), "test");
    std::vector<std::string> expected = {"x.ckpt", "x.ckpt.tmp." + me + ".Ab3dE9",
                                         "x.ckpt.tmp." + d + ".toolong7", "x.ckpt.tmp.notapid",
                                         "y.ckpt.tmp." + d + ".Ab3dE9"};
    std::sort(expected.begin(), expected.end());
    CHECK(dir.entries() == expected);
}

TEST_CASE("check_output_path finds what would make a save fail, before any work") {
    fgtest::TempDir dir;
    check_output_path(dir / "new.ckpt", "--save");  // a new path is fine, and nothing is created
    CHECK(dir.entries().empty());
    CHECK_ERROR(check_output_path("", "--save"), "--save: the output path is empty");
    CHECK_ERROR(check_output_path(dir.path(), "--save"), "refusing to replace", "it is a directory");
    CHECK_ERROR(check_output_path(dir / "no/such/x.ckpt", "--save"), "--save: cannot create",
                "directory '" + (dir / "no/such") + "': No such file or directory");
    write_file_atomic(dir / "file", std::string("x"), "test");
    CHECK_ERROR(check_output_path(dir / "file/x.ckpt", "--json"), "--json: cannot write", "Not a directory");
    // 240 bytes fit a file system's 255, but not with the temporary's suffix.
    const std::string long_name(240, 'n');
    CHECK_ERROR(check_output_path(dir / long_name, "--save"), "--save: the file name", "has 240 bytes",
                "use a name of at most 233 bytes");
    CHECK_ERROR(write_file_atomic(dir / long_name, std::string("x"), "test"), "has 240 bytes");
    check_output_path(dir / std::string(233, 'n'), "--save");
    write_file_atomic(dir / std::string(233, 'n'), std::string("x"), "test");
}

namespace {

// Runs f() in a child whose address space may grow by only 1 GB (RLIMIT_AS), so that any
// large allocation fails there as it would on a machine without the memory, whatever this
// one has. Returns the message of the Error f() throws ("<no exception>" if none), or a
// line saying how the child ended. Not under AddressSanitizer, which reserves terabytes
// of address space for itself and stops the process when an allocation fails.
std::string error_with_little_memory(const std::function<void()>& f) {
    std::string report;
    int status = in_child(
        [&](int fd) {
            std::ifstream statm("/proc/self/statm");
            uint64_t pages = 0;
            statm >> pages;
            const rlim_t now = rlim_t(pages) * rlim_t(::sysconf(_SC_PAGESIZE));
            struct rlimit limit = {now + (rlim_t(1) << 30), now + (rlim_t(1) << 30)};
            if (::setrlimit(RLIMIT_AS, &limit) != 0) return 98;
            try {
                f();
                write_to(fd, "<no exception>");
            } catch (const Error& e) {
                write_to(fd, e.what());
            } catch (const std::exception& e) {
                write_to(fd, std::string("not a focalgrad::Error: ") + e.what());
            }
            return 0;
        },
        &report);
    return status == 0 ? report : "the child ended with status " + std::to_string(status) + ": " + report;
}

}  // namespace

TEST_CASE("an allocation that fails is an Error naming what was allocated and how big") {
#if defined(__SANITIZE_ADDRESS__)
    MESSAGE("skipped under AddressSanitizer: it reserves the address space this test limits");
#else
    fgtest::check_contains(
        error_with_little_memory([] {
            Tensor::zeros({int64_t(1) << 20, int64_t(1) << 20});
        }),
        {"Tensor::empty: out of memory allocating a tensor of shape [1048576, 1048576] (4.4 TB)"});
    fgtest::check_contains(error_with_little_memory([] { ConfusionMatrix cm(100000); }),
                           {"ConfusionMatrix: out of memory allocating 100000 x 100000 counts (80.0 GB)"});
    const std::vector<int> labels = {0, 1, 2000000000};
    fgtest::check_contains(
        error_with_little_memory([&] { make_long_tail(labels, 10, 0); }),
        {"make_long_tail: out of memory allocating the per-class arrays of 2000000001 classes",
         "the number of classes is the largest label + 1"});
    fgtest::check_contains(error_with_little_memory([&] { make_step_imbalance(labels, {1}, 10, 0); }),
                           {"make_step_imbalance: out of memory allocating the per-class arrays"});
    fgtest::check_contains(error_with_little_memory([&] { class_counts(labels, 2000000001); }),
                           {"class_counts: out of memory allocating"});
    fgtest::check_contains(error_with_little_memory([] {
                               Tensor x = Tensor::zeros({1, 1, 4, 4}), W = Tensor::zeros({1, 1, 3, 3});
                               conv2d(x, W, Tensor::zeros({1}), 1, 100000);
                           }),
                           {"conv2d: input [1, 1, 4, 4], weight [1, 1, 3, 3], stride 1, padding 100000: ",
                            "out of memory allocating a tensor of shape [1, 1, 200002, 200002] (160.0 GB)"});
    fgtest::check_contains(
        error_with_little_memory([] {
            Generator gen(0);
            Sequential m(Linear(784, 10, true, gen));
            m.summary(Shape{int64_t(1) << 34, 784});
        }),
        {"Module::summary: the forward pass on an input of shape [17179869184, 784] ran out of "
         "memory: ",
         "(53.9 TB)"});
#endif
}

TEST_CASE("AtomicFileSet: a full disk while writing a set replaces none of its files") {
    fgtest::TempDir dir;
    fgtest::Tmpfs fs(dir, "small", 16 * 4096);
    if (!fs.mounted()) return;
    const std::vector<std::string> names = {"r.md", "r.csv", "r.json", "r.svg"};
    for (const std::string& name : names) write_file_atomic(fs / name, "old " + name, "test");
    // One page left: every temporary but the first finds the disk full.
    struct statvfs st;
    REQUIRE(::statvfs((fs / "").c_str(), &st) == 0);
    REQUIRE(st.f_bavail >= 2);
    write_file_atomic(fs / "filler", std::string(size_t(st.f_bavail - 1) * st.f_bsize, 'f'), "test");
    AtomicFileSet set("report");
    for (const std::string& name : names) set.add(fs / name, std::string(3000, 'n'));
    std::string message = fgtest::error_of([&] { set.commit(); });
    fgtest::check_contains(message,
                           {"report: writing '" + (fs / "r.csv") + ".tmp.", "No space left on device",
                            "; nothing was replaced: " + (fs / "r.md") + ", " + (fs / "r.csv") + ", " +
                                (fs / "r.json") + ", " + (fs / "r.svg") + " are as they were"});
    for (const std::string& name : names) CHECK(read_file(fs / name) == "old " + name);
    std::vector<std::string> expected = names;
    expected.push_back("filler");
    std::sort(expected.begin(), expected.end());
    CHECK(fs.entries() == expected);  // no temporary left

    // Checked at add(): a path that cannot be written is refused before anything is.
    AtomicFileSet bad("report");
    CHECK_ERROR(bad.add(fs / "", "x"), "report: '" + (fs / "") + "' names a directory");
    // With room, the whole set is replaced.
    std::filesystem::remove(fs / "filler");
    set.commit();
    for (const std::string& name : names) CHECK(read_file(fs / name) == std::string(3000, 'n'));
    CHECK(fs.entries() == names_sorted(names));
}

// ---- The per-epoch CSV log: appended to, one whole line at a time ------------------

namespace {

// A record whose line differs from every other's, and varies in length.
EpochRecord log_record(int64_t epoch) {
    EpochRecord r;
    r.epoch = epoch;
    r.train_loss = 1.0 / double(epoch + 2);
    r.val_accuracy = epoch % 3 ? 0.5 + 0.01 * double(epoch % 37) : EpochRecord::kNone;
    r.lr = 0.1;
    r.seconds = 1.25 * double(epoch);
    return r;
}

// The header and the lines of epochs 1..n, as the log holds them.
std::string log_text(int64_t n) {
    std::string text = history_csv_header();
    for (int64_t e = 1; e <= n; ++e) text += history_csv_line(log_record(e));
    return text;
}

}  // namespace

TEST_CASE(
    "a log line that finds the disk full (a small tmpfs) is cut back: the log ends after its last whole "
    "line") {
    fgtest::TempDir dir;
    fgtest::Tmpfs fs(dir, "small", 64 * 1024);
    if (!fs.mounted()) return;
    const std::string path = fs / "history.csv";
    CsvLog log;
    log.open(path, {});
    int64_t logged = 0;
    for (; logged < 3; ++logged) log.append(log_record(logged + 1));
    {  // Fill every free page: only what is left of the log's last page takes bytes.
        std::ofstream filler(fs / "filler", std::ios::binary);
        std::string block(4096, 'f');
        while (filler.write(block.data(), std::streamsize(block.size())) && filler.flush()) {
        }
    }
    std::string message;
    while (logged < 1000) {
        message = fgtest::error_of([&] { log.append(log_record(logged + 1)); });
        if (message != "<no exception>") break;
        ++logged;
    }
    const std::string expected = log_text(logged);
    // The line that failed crossed into a new page (the lines inside the last page took no
    // new space), so it was written with a copy of the log, which found no room: the old
    // log stayed in place.
    REQUIRE(expected.size() % 4096 != 0);
    fgtest::check_contains(
        message, {"CsvLog: appending the line of epoch " + std::to_string(logged + 1) + " (",
                  " bytes) to '" + path + "' failed; the file still ends after its last whole record",
                  "crosses a 4 KiB page", "No space left on device"});
    CHECK(read_file(path) == expected);
    // With room again, the log goes on from its last whole line.
    std::filesystem::remove(fs / "filler");
    log.append(log_record(logged + 1));
    CHECK(read_file(path) == log_text(logged + 1));
}

TEST_CASE(
    "a log line past the file-size limit (ulimit -f, SIGXFSZ) says File too large and leaves whole "
    "lines") {
    fgtest::TempDir dir;
    const std::string path = dir / "history.csv";
    const std::string line1 = history_csv_line(log_record(1)), line2 = history_csv_line(log_record(2));
    // The limit falls inside the second line.
    const size_t limit = history_csv_header().size() + line1.size() + line2.size() / 2;
    std::string report;
    int status = in_child(
        [&](int fd) {
            ::signal(SIGXFSZ, SIG_DFL);
            CsvLog log;
            log.open(path, {});
            log.append(log_record(1));
            struct rlimit rl = {rlim_t(limit), rlim_t(limit)};
            if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) return 98;
            write_to(fd, fgtest::error_of([&] { log.append(log_record(2)); }));
            return 0;
        },
        &report);
    CHECK_MESSAGE(status == 0, "the child ended with status ", status,
                  status == 128 + SIGXFSZ ? " (killed by SIGXFSZ)" : "");
    fgtest::check_contains(
        report, {"CsvLog: appending the line of epoch 2 (" + std::to_string(line2.size()) + " bytes) to '" +
                     path + "' failed: File too large",
                 "(the file-size limit, ulimit -f, is " + std::to_string(limit) + " bytes)",
                 "the file still ends after its last whole record"});
    CHECK(read_file(path) == log_text(1));
    CHECK(dir.entries() == std::vector<std::string>{"history.csv"});
}

TEST_CASE(
    "a log line that crosses a 4 KiB page replaces the file with a copy; one inside a page is appended") {
    // Linux may stop a write(2) between two pages when the process is killed, so a line
    // crossing a page boundary is written with a copy of the file (core/io.cpp): a new
    // inode. Lines inside a page go to the same file.
    fgtest::TempDir dir;
    const std::string path = dir / "history.csv";
    CsvLog log;
    log.open(path, {});
    auto inode = [&] {
        struct stat st;
        REQUIRE(::stat(path.c_str(), &st) == 0);
        return st.st_ino;
    };
    int replaced = 0, appended = 0;
    for (int64_t e = 1; e <= 300; ++e) {
        const uint64_t before = std::filesystem::file_size(path), n = history_csv_line(log_record(e)).size();
        const bool crosses = before / 4096 != (before + n - 1) / 4096;
        const auto ino = inode();
        log.append(log_record(e));
        CHECK_MESSAGE((inode() != ino) == crosses, "epoch ", e, " at byte ", before);
        (crosses ? replaced : appended) += 1;
    }
    CHECK(replaced >= 2);
    CHECK(appended > 200);
    CHECK(read_file(path) == log_text(300));
    CHECK(dir.entries() == std::vector<std::string>{"history.csv"});
}

TEST_CASE("kill -9 while a log is appended to: it holds the header and whole lines, in order") {
    fgtest::TempDir dir;
    const std::string path = dir / "history.csv";
    int64_t most_lines = 0;
    for (int round = 0; round < 10; ++round) {
        // The child says when its first line is in, and is killed 0 to 4.5 ms later, while
        // it appends (however slow the machine: a sanitizer, a loaded CI). It never ends by
        // itself: after 200,000 lines it waits for the kill.
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(fds[0]);
            try {
                CsvLog log;
                log.open(path, {});
                log.append(log_record(1));
                write_to(fds[1], "1");
                for (int64_t e = 2; e <= 200000; ++e) log.append(log_record(e));
            } catch (...) {
                ::_exit(3);
            }
            for (;;) ::pause();
        }
        ::close(fds[1]);
        char started = 0;
        const bool appending = ::read(fds[0], &started, 1) == 1;
        ::close(fds[0]);
        if (appending) std::this_thread::sleep_for(std::chrono::microseconds(500 * round));
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        CAPTURE(round);
        REQUIRE_MESSAGE(appending, "the child failed before its first line, with status ", status);
        CHECK(WIFSIGNALED(status));
        const std::string text = read_file(path);
        const int64_t lines = int64_t(std::count(text.begin(), text.end(), '\n')) - 1;
        CHECK(lines >= 1);
        CHECK(text == log_text(lines));
        most_lines = std::max(most_lines, lines);
    }
    MESSAGE("killed after up to ", most_lines, " lines");
}

TEST_CASE("a log refuses a FIFO, a device node, a directory or a missing file at its path, and leaves it") {
    fgtest::TempDir dir;
    auto check_refused = [&](const std::string& path, const std::string& kind) {
        CAPTURE(path);
        struct stat before;
        REQUIRE(::lstat(path.c_str(), &before) == 0);
        fgtest::check_contains(
            error_without_blocking(path, [&] { AppendFile f(path, "my_log"); }),
            {"my_log: cannot append to '" + path + "': it is " + kind + ", not a regular file"});
        // CsvLog::open writes the header atomically first, which refuses it as well.
        CsvLog log;
        fgtest::check_contains(error_without_blocking(path, [&] { log.open(path, {}); }),
                               {"CsvLog: refusing to replace '" + path + "': it is " + kind});
        CHECK(!log.is_open());
        struct stat after;
        REQUIRE(::lstat(path.c_str(), &after) == 0);
        CHECK(after.st_ino == before.st_ino);
        CHECK((after.st_mode & S_IFMT) == (before.st_mode & S_IFMT));
    };
    const std::string fifo = dir / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    check_refused(fifo, "a FIFO (named pipe)");
    const std::string sub = dir / "sub";
    REQUIRE(::mkdir(sub.c_str(), 0700) == 0);
    check_refused(sub, "a directory");
    CHECK_ERROR(AppendFile(dir / "absent", "my_log"),
                "my_log: cannot append to '" + (dir / "absent") + "': No such file or directory");
    const std::string device = dir / "null";
    if (make_char_device(device)) check_refused(device, "a character device");
    std::vector<std::string> expected = {"fifo", "sub"};
    if (::access(device.c_str(), F_OK) == 0) expected.push_back("null");
    std::sort(expected.begin(), expected.end());
    CHECK(dir.entries() == expected);
}
