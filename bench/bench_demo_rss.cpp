// bench_demo_rss.cpp — the peak resident memory of the default demo: runs
// build/bin/imbalanced_mnist with its defaults (what `make demo` runs) as a child process
// and reads the child's ru_maxrss from wait4. The images stay uint8 and are converted per
// batch, which is what keeps this low; a PyTorch process doing the same holds about 500 MB.
// Finds MNIST as the demo does ($MNIST_DIR, then datasets/mnist/); without it the row
// says so. Usage: bench_demo_rss [--no-header]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "bench_util.h"

using namespace fgbench;

namespace {

// The directory this program lives in: the demo binary sits next to it in build/bin/.
std::string own_directory() {
    char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) return "build/bin";
    path[n] = '\0';
    std::string s(path);
    return s.substr(0, s.rfind('/'));
}

}  // namespace

int main(int argc, char** argv) {
    if (fgbench::help_requested(
            argc, argv,
            "bench_demo_rss: peak resident memory of the default demo (build/bin/imbalanced_mnist), run as a "
            "child process.\nusage: bench_demo_rss [--no-header]"))
        return 0;
    if (!has_flag(argc, argv, "--no-header")) table_header();
    const std::string name = "peak RSS of the default demo (imbalanced_mnist, 12 trainings)";
    std::string demo = own_directory() + "/imbalanced_mnist";

    char out_template[] = "/tmp/focalgrad-demo-rss-XXXXXX";
    if (!mkdtemp(out_template)) {
        table_row(name, "not run: cannot create a temporary directory", "", "", "<= 150 MB");
        return 1;
    }
    std::string out = out_template;

    std::fflush(stdout);  // or the child would print our buffered header a second time
    double start = now_seconds();
    pid_t child = fork();
    if (child == 0) {
        // The child's table goes nowhere; its errors (MNIST missing) stay visible.
        if (!std::freopen("/dev/null", "w", stdout)) _exit(127);
        execl(demo.c_str(), demo.c_str(), "--quiet", "--out", out.c_str(), static_cast<char*>(nullptr));
        std::perror(demo.c_str());
        _exit(127);
    }
    int status = 0;
    rusage usage{};
    pid_t waited = wait4(child, &status, 0, &usage);
    double seconds = now_seconds() - start;
    std::error_code ec;
    std::filesystem::remove_all(out, ec);
    if (ec)
        std::fprintf(stderr, "bench_demo_rss: could not remove %s: %s\n", out.c_str(), ec.message().c_str());

    if (waited != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        table_row(name, "not run: the demo failed (is MNIST found? see above)", "", "", "<= 150 MB");
        return 0;  // a missing dataset is not a benchmark failure
    }
    double mb = double(usage.ru_maxrss) / 1024.0;  // kB on Linux
    table_row(name, fmt("%.0f MB", mb), fmt("PyTorch about 500 MB; demo took %.0f s", seconds),
              fmt("%.2fx of 150 MB", mb / 150.0), "<= 150 MB");
    return 0;
}
