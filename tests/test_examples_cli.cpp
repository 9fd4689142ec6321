// test_examples_cli.cpp — every example program, run with bad flags, exits non-zero with
// the error and a one-line hint on stderr (never a crash, never a silent default).
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/data/image.h>
#include <focalgrad/data/loader.h>
#include <focalgrad/nn/checkpoint.h>

#include "../examples/models.h"
#include "helpers.h"

namespace {

struct Outcome {
    int status;          // exit status, or -1 if the program did not exit normally
    std::string output;  // stdout and stderr together
};

Outcome run(const std::string& command) {
    std::string full = "cd " + fgtest::g_bin_dir + "/../.. && " + command + " 2>&1";
    Outcome o{-1, ""};
    FILE* p = ::popen(full.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) o.output.append(buf, n);
    int status = ::pclose(p);
    if (WIFEXITED(status)) o.status = WEXITSTATUS(status);
    return o;
}

void check_refused(const std::string& program, const std::string& flags,
                   std::initializer_list<std::string> message) {
    Outcome o = run(fgtest::g_bin_dir + "/" + program + " " + flags);
    CAPTURE(program);
    CAPTURE(flags);
    CHECK_MESSAGE(o.status > 0, "exit status ", o.status, "; output: ", o.output);
    fgtest::check_contains(o.output, message);
    fgtest::check_contains(o.output, {program + ": error:", "hint: run `" + program + " --help`"});
}

}  // namespace

TEST_CASE("imbalanced_mnist refuses bad flags with a clear message") {
    check_refused("imbalanced_mnist", "--ratio 0.5", {"--ratio must be in [1"});
    check_refused("imbalanced_mnist", "--minority 5,12", {"--minority must be in [0, 9], got 12"});
    check_refused("imbalanced_mnist", "--minority 5,5", {"--minority lists class 5 twice"});
    check_refused("imbalanced_mnist", "--lr nan", {"--lr expects a number, got 'nan'"});
    check_refused("imbalanced_mnist", "--lr 0", {"--lr must be in"});
    check_refused("imbalanced_mnist", "--losses ce,hinge", {"unknown loss 'hinge'"});
    check_refused("imbalanced_mnist", "--alpha-scheme effective:2", {"0 <= BETA < 1"});
    check_refused("imbalanced_mnist", "--epochs", {"--epochs needs a value"});
    check_refused("imbalanced_mnist", "--bogus 1", {"unknown flag --bogus"});
    check_refused("imbalanced_mnist", "--dataset cifar", {"--dataset must be mnist or fashion"});
    check_refused("imbalanced_mnist", "--long-tail 0.5", {"--long-tail must be 0 (off) or >= 1"});
    check_refused("imbalanced_mnist", "--out /proc/focalgrad-results", {"--out", "/proc/focalgrad-results"});
    check_refused("imbalanced_mnist", "--data /nonexistent/mnist", {"/nonexistent/mnist"});
}

TEST_CASE("the other examples refuse bad flags too") {
    for (const char* program : {"mnist_mlp", "mnist_cnn"}) {
        check_refused(program, "--epochs 0", {"--epochs must be in [1"});
        check_refused(program, "--batch -3", {"--batch must be in [1"});
        check_refused(program, "--save /proc/x/model.ckpt", {"--save", "/proc/x"});
    }
    check_refused("predict", "", {"no image given"});
    check_refused("predict", "--model rnn x.png", {"--model must be mlp or cnn"});
    check_refused("predict", "--checkpoint /nonexistent.ckpt x.png", {"/nonexistent.ckpt"});
    check_refused("custom_loss", "--epsilon x", {"--epsilon expects a number"});
}

TEST_CASE("--help prints the flags and exits 0") {
    Outcome o = run(fgtest::g_bin_dir + "/imbalanced_mnist --help");
    CHECK(o.status == 0);
    fgtest::check_contains(o.output, {"--ratio", "--minority", "--losses", "--gamma", "--alpha-scheme",
                                      "--drw-epoch", "--prior-correction", "--json", "--out", "--seeds"});
}

TEST_CASE("predict: the top 3 classes of each image, with the checkpoint's probabilities") {
    using namespace focalgrad;
    fgtest::TempDir dir;
    Generator gen(3);
    auto model = examples::mlp({32}, gen);  // untrained: its probabilities are spread out
    save(*model, dir / "mlp.ckpt");
    // Two 28 x 28 images, white strokes on black as in MNIST.
    std::vector<uint8_t> bar(784, 0), cross(784, 0);
    for (int r = 4; r < 24; ++r) bar[size_t(r * 28 + 14)] = 255;
    for (int i = 4; i < 24; ++i) cross[size_t(i * 28 + i)] = cross[size_t(i * 28 + 27 - i)] = 200;
    save_png(dir / "bar.png", bar.data(), 28, 28, 1);
    save_png(dir / "cross.png", cross.data(), 28, 28, 1);

    Outcome o = run(fgtest::g_bin_dir + "/predict --hidden 32 --checkpoint " + (dir / "mlp.ckpt") + " " +
                    (dir / "bar.png") + " " + (dir / "cross.png"));
    REQUIRE_MESSAGE(o.status == 0, o.output);

    model->eval();
    NoGradGuard no_grad;
    size_t at = 0;
    for (const char* name : {"bar.png", "cross.png"}) {
        // The expected probabilities, computed here: load, standardise, forward, softmax.
        Tensor x = (load_image(dir / name) - float(kMnistStats.mean)) / float(kMnistStats.std);
        Tensor p = softmax((*model)(reshape(x, {1, 784})), 1);
        std::vector<int> order(10);
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p.data()[a] > p.data()[b]; });

        // The line printed for it: "PATH:  c (x %)  c (x %)  c (x %)".
        std::string prefix = (dir / name) + ":";
        at = o.output.find(prefix, at);
        REQUIRE_MESSAGE(at != std::string::npos, "no line for ", name, " in: ", o.output);
        const char* cursor = o.output.c_str() + at + prefix.size();
        for (int k = 0; k < 3; ++k) {
            char* end = nullptr;
            long digit = std::strtol(cursor, &end, 10);
            REQUIRE(end != cursor);
            REQUIRE(std::string(end, 2) == " (");
            double percent = std::strtod(end + 2, &end);
            CHECK(std::string(end, 3) == " %)");
            cursor = end + 3;
            CHECK(digit == order[size_t(k)]);
            // Printed with two decimals, or two significant digits below 0.005 %.
            double expected = 100.0 * p.data()[order[size_t(k)]];
            CHECK(std::fabs(percent - expected) <= 0.005 + 0.05 * expected);
        }
        CHECK(p.data()[order[0]] < 0.5f);  // an untrained model: the check above was not trivial
    }
}
