// test_examples_cli.cpp — every example program, run with bad flags, exits non-zero with
// the error and a one-line hint on stderr (never a crash, never a silent default).
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/io.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/core/version.h>
#include <focalgrad/data/image.h>
#include <focalgrad/data/loader.h>
#include <focalgrad/nn/checkpoint.h>

#include "../examples/models.h"
#include "helpers.h"

namespace {

using fgtest::Outcome;
Outcome run(const std::string& command) { return fgtest::run_command(command); }

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
    check_refused("imbalanced_mnist", "--losses ce,hinge", {"--losses: unknown value 'hinge'"});
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

// Every example, with every flag spelling that used to be ignored or misreported. Each
// command names a data directory that does not exist, so a flag that is ignored shows up
// as that error (and never as minutes of training).
const char* const kPrograms[] = {"imbalanced_mnist", "mnist_mlp",      "mnist_cnn", "predict",
                                 "custom_loss",      "digit_canvases", "train_csv", "train_images",
                                 "dense_digits",     "loss_figures"};
const std::string kNoData = " --data /nonexistent/focalgrad-data";

TEST_CASE("-h is --help in every example: it prints the flags and the version, and exits 0") {
    for (const char* program : kPrograms) {
        CAPTURE(program);
        Outcome o = run(fgtest::g_bin_dir + "/" + program + " -h" +
                        (std::string(program) == "predict" ? "" : kNoData));
        CHECK_MESSAGE(o.status == 0, o.output);
        fgtest::check_contains(o.output,
                               {"usage: ", "-h, --help", std::string("focalgrad ") + FOCALGRAD_VERSION});
    }
}

TEST_CASE("unknown single-dash flags and unexpected positional arguments are errors") {
    for (const char* program : {"imbalanced_mnist", "mnist_mlp", "mnist_cnn", "custom_loss"}) {
        check_refused(program, "-x" + kNoData, {"unknown flag -x (flags are spelled --name; -h is --help)"});
        check_refused(program, "-epochs 3" + kNoData, {"unknown flag -epochs"});
        check_refused(program, "stray" + kNoData,
                      {"unexpected argument 'stray': this program takes no positional arguments"});
        check_refused(program, kNoData + " -- -h", {"unexpected argument '-h'"});
    }
    check_refused("predict", "-q x.png", {"unknown flag -q"});
}

TEST_CASE("`--` ends the flags: what follows is positional, even -h or --help") {
    using namespace focalgrad;
    fgtest::TempDir dir;
    Generator gen(3);
    save(*examples::mlp({8}, gen), dir / "mlp.ckpt");
    const std::string flags = "--hidden 8 --checkpoint " + (dir / "mlp.ckpt") + " -- ";
    check_refused("predict", flags + "--help", {"load_image: --help: no such file"});
    check_refused("predict", flags + "-h", {"load_image: -h: no such file"});
}

TEST_CASE("a flag given twice is refused as given twice, in any spelling") {
    check_refused("imbalanced_mnist", "--epochs 1 --epochs 2" + kNoData, {"--epochs given twice"});
    check_refused("imbalanced_mnist", "--epochs=1 --epochs 2" + kNoData, {"--epochs given twice"});
    check_refused("mnist_mlp", "--quiet --quiet" + kNoData, {"--quiet given twice"});
    check_refused("mnist_cnn", "--data /a --data /b", {"--data given twice"});
    check_refused("predict", "--invert yes --invert=no x.png", {"--invert given twice"});
}

TEST_CASE("list flags that count runs refuse repeated entries; --hidden may repeat a size") {
    check_refused("imbalanced_mnist", "--seeds 0,0" + kNoData, {"--seeds lists 0 twice"});
    check_refused("imbalanced_mnist", "--seeds 3,1,3" + kNoData, {"--seeds lists 3 twice"});
    check_refused("imbalanced_mnist", "--losses ce,focal,ce" + kNoData, {"--losses lists 'ce' twice"});
    check_refused("imbalanced_mnist", "--losses ce," + kNoData, {"--losses has an empty entry in 'ce,'"});
    check_refused("imbalanced_mnist", "--seeds 1,,2" + kNoData, {"--seeds has an empty entry"});
    // A repeated layer size is a valid architecture: the run gets as far as the data.
    check_refused("imbalanced_mnist", "--hidden 64,64" + kNoData, {"/nonexistent/focalgrad-data"});
}

TEST_CASE("--threads: bounded, warned above the cores, and it wins over FOCALGRAD_NUM_THREADS") {
    check_refused("mnist_mlp", "--threads 1025" + kNoData, {"--threads must be in [1, 1024], got 1025"});
    check_refused("mnist_mlp", "--threads 0" + kNoData, {"--threads must be in [1, 1024], got 0"});
    int cores = focalgrad::available_cores();
    Outcome o = run(fgtest::g_bin_dir + "/mnist_mlp --threads " + std::to_string(cores + 1) + kNoData);
    fgtest::check_contains(o.output,
                           {"warning: --threads " + std::to_string(cores + 1) + " is more than the " +
                            std::to_string(cores) + " core(s) this process may use"});
    fgtest::check_contains(o.output, {"/nonexistent/focalgrad-data"});  // and the run went on
    o = run(fgtest::g_bin_dir + "/mnist_mlp --threads " + std::to_string(cores) + kNoData);
    CHECK(o.output.find("warning") == std::string::npos);

    // A malformed variable: --help still works, the flag wins, and without the flag the
    // error says what is wrong with the variable.
    for (const char* value : {"abc", "4x", "0", "99999999999999999999", ""}) {
        CAPTURE(value);
        const std::string env = std::string("FOCALGRAD_NUM_THREADS='") + value + "' ";
        o = run(env + fgtest::g_bin_dir + "/mnist_mlp --help");
        CHECK_MESSAGE(o.status == 0, o.output);
        o = run(env + fgtest::g_bin_dir + "/imbalanced_mnist --threads 1" + kNoData);
        CHECK(o.status == 2);
        CHECK_MESSAGE(o.output.find("FOCALGRAD_NUM_THREADS") == std::string::npos, o.output);
        fgtest::check_contains(o.output, {"/nonexistent/focalgrad-data"});
        o = run(env + fgtest::g_bin_dir + "/mnist_mlp" + kNoData);
        CHECK(o.status == 2);
        fgtest::check_contains(
            o.output, {"FOCALGRAD_NUM_THREADS", "unset it, or set it to a thread count from 1 to 1024"});
        CHECK(o.output.find("/nonexistent/focalgrad-data") == std::string::npos);
    }
    o = run("FOCALGRAD_NUM_THREADS=abc " + fgtest::g_bin_dir + "/mnist_mlp" + kNoData);
    fgtest::check_contains(o.output, {"FOCALGRAD_NUM_THREADS='abc' is not an integer"});
    o = run("FOCALGRAD_NUM_THREADS=0 " + fgtest::g_bin_dir + "/mnist_mlp" + kNoData);
    fgtest::check_contains(o.output, {"FOCALGRAD_NUM_THREADS=0 is out of range"});
    o = run("FOCALGRAD_NUM_THREADS= " + fgtest::g_bin_dir + "/mnist_mlp" + kNoData);
    fgtest::check_contains(o.output, {"FOCALGRAD_NUM_THREADS is set but empty"});
}

TEST_CASE("predict --checkpoint on a FIFO is refused at once instead of blocking") {
    fgtest::TempDir dir;
    const std::string fifo = dir / "model.ckpt";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    // `timeout` turns a hang into exit status 124.
    Outcome o = run("timeout 10 " + fgtest::g_bin_dir + "/predict --checkpoint " + fifo + " x.png");
    CHECK_MESSAGE(o.status == 2, "exit status ", o.status, "; output: ", o.output);
    fgtest::check_contains(o.output,
                           {"read_checkpoint: " + fifo + ": not a regular file (it is a FIFO (named pipe))"});
}

TEST_CASE(
    "a batch too large for the memory is refused before training, with the estimate and the batch that "
    "fits") {
#if defined(__SANITIZE_ADDRESS__)
    // AddressSanitizer cannot start under `ulimit -v`: only a batch too large for any machine.
    check_refused("mnist_cnn", "--batch 1048576" + kNoData,
                  {"--batch 1048576 needs about", "of memory for one training step"});
#else
    // Under a 4 GB address-space limit, whatever this machine has.
    const std::string limit = "ulimit -v 4000000 && ";
    Outcome o = run(limit + fgtest::g_bin_dir + "/mnist_cnn --batch 100000" + kNoData);
    CHECK(o.status == 2);
    fgtest::check_contains(
        o.output, {"mnist_cnn: error: --batch 100000 needs about ", " GB of memory for one training step (",
                   " per sample + ", "available: ulimit -v); the largest batch that fits is --batch "});
    const size_t at = o.output.find("fits is --batch ");
    REQUIRE(at != std::string::npos);
    const long fits = std::strtol(o.output.c_str() + at + 16, nullptr, 10);
    CHECK(fits > 10000);   // the CNN's step takes about 64 kB per sample
    CHECK(fits < 100000);  // and 4 GB hold fewer than 65,000 of them
    // That batch passes the check (and the run goes on to look for the data).
    o = run(limit + fgtest::g_bin_dir + "/mnist_cnn --batch " + std::to_string(fits * 9 / 10) + kNoData);
    fgtest::check_contains(o.output, {"/nonexistent/focalgrad-data"});
    CHECK(o.output.find("needs about") == std::string::npos);
    // The MLP needs far less per sample: its default batch fits easily.
    o = run(limit + fgtest::g_bin_dir + "/mnist_mlp --batch 1048576" + kNoData);
    fgtest::check_contains(o.output, {"mnist_mlp: error: --batch 1048576 needs about"});
#endif
}

TEST_CASE("predict refuses a checkpoint whose weights are not finite") {
    // With NaN weights (a run that diverged), relu(NaN) = 0 made every image get the same
    // plausible answer, with exit status 0.
    using namespace focalgrad;
    fgtest::TempDir dir;
    Generator gen(3);
    auto model = examples::mlp({16}, gen);
    model->named_parameters()[2].second.data()[7] = std::nanf("");  // 1.weight
    model->named_parameters()[0].second.data()[0] = INFINITY;       // 0.weight
    save(*model, dir / "nan.ckpt");
    std::vector<uint8_t> digit(784, 0);
    for (int r = 4; r < 24; ++r) digit[size_t(r * 28 + 14)] = 255;
    save_png(dir / "one.png", digit.data(), 28, 28, 1);
    check_refused("predict", "--hidden 16 --checkpoint " + (dir / "nan.ckpt") + " " + (dir / "one.png"),
                  {"checkpoint '" + (dir / "nan.ckpt") +
                       "' holds weights that are not finite: '0.weight' of shape "
                       "[16, 784] holds inf at flat index 0 (2 non-finite values in 2 tensors)",
                   "train it again with a smaller learning rate"});
}

TEST_CASE("every output path is checked before training: empty, a directory, too long a name") {
    fgtest::TempDir dir;
    const std::string long_name = dir / std::string(240, 'n');
    for (const char* program : {"mnist_mlp", "mnist_cnn"}) {
        check_refused(program, "--save ''" + kNoData, {"--save: the output path is empty"});
        check_refused(program, "--save " + dir.path() + kNoData,
                      {"--save: refusing to replace '" + dir.path() + "': it is a directory"});
        check_refused(program, "--save " + long_name + kNoData, {"--save: the file name", "has 240 bytes"});
        check_refused(program, "--confusion " + dir.path() + kNoData, {"--confusion: refusing to replace"});
    }
    check_refused("imbalanced_mnist", "--json " + dir.path() + kNoData, {"--json: refusing to replace"});
    check_refused("imbalanced_mnist", "--json " + long_name + kNoData, {"--json: the file name"});
    const std::string out = dir / "out";
    REQUIRE(::mkdir(out.c_str(), 0700) == 0);
    REQUIRE(::mkdir((out + "/imbalanced_mnist.svg").c_str(), 0700) == 0);
    check_refused("imbalanced_mnist", "--out " + out + kNoData,
                  {"--out: refusing to replace '" + out + "/imbalanced_mnist.svg': it is a directory"});
}

TEST_CASE("--drw-epoch at or past --epochs is refused: no epoch would be re-weighted") {
    check_refused("imbalanced_mnist", "--epochs 10 --drw-epoch 10" + kNoData,
                  {"--drw-epoch 10 must be below --epochs 10", "none of the 10 epochs would be re-weighted"});
    check_refused("imbalanced_mnist", "--epochs 3 --drw-epoch 7" + kNoData,
                  {"--drw-epoch 7 must be below --epochs 3"});
    check_refused("imbalanced_mnist", "--epochs 10 --drw-epoch 9" + kNoData, {"/nonexistent/focalgrad-data"});
}

TEST_CASE("a divergence stop names the epoch and the step, also when the loss op refuses the logits") {
    const char* mnist = std::getenv("MNIST_DIR");
    if (!mnist) {
        MESSAGE("skipped: MNIST not found (set MNIST_DIR)");
        return;
    }
    fgtest::TempDir dir;
    // At --lr 10 the logits overflow within a few steps; cross_entropy refuses them.
    Outcome o = run(fgtest::g_bin_dir + "/mnist_mlp --lr 10 --epochs 1 --quiet --save " + (dir / "m.ckpt") +
                    " --confusion " + (dir / "c.svg"));
    CHECK(o.status == 2);
    fgtest::check_contains(o.output, {"mnist_mlp: error: training diverged at epoch 0, step ",
                                      "cross_entropy: logits", "try a smaller learning rate"});
    CHECK(dir.entries().empty());  // nothing was saved
}

TEST_CASE("a full disk while imbalanced_mnist writes its outputs leaves all of the old ones") {
    const char* mnist = std::getenv("MNIST_DIR");
    if (!mnist) {
        MESSAGE("skipped: MNIST not found (set MNIST_DIR)");
        return;
    }
    fgtest::TempDir dir;
    fgtest::Tmpfs fs(dir, "out", 16 * 4096);
    if (!fs.mounted()) return;
    const std::vector<std::string> names = {"imbalanced_mnist.csv", "imbalanced_mnist.json",
                                            "imbalanced_mnist.md", "imbalanced_mnist.svg"};
    for (const std::string& name : names) focalgrad::write_file_atomic(fs / name, "old " + name, "test");
    // One page left: room for a small new output (and the old one's page once it is
    // replaced), not for all four at once. Before, .md, .csv and .json were replaced and the
    // chart failed, a mixed set.
    struct statvfs st;
    REQUIRE(::statvfs((fs / "").c_str(), &st) == 0);
    focalgrad::write_file_atomic(fs / "filler", std::string(size_t(st.f_bavail - 1) * st.f_bsize, 'f'),
                                 "test");
    Outcome o =
        run(fgtest::g_bin_dir +
            "/imbalanced_mnist --epochs 1 --seeds 0 --losses ce --hidden 8 --quiet --out " + (fs / ""));
    CHECK(o.status == 2);
    fgtest::check_contains(o.output,
                           {"No space left on device", "; nothing was replaced: ", "are as they were"});
    for (const std::string& name : names) {
        std::ifstream in(fs / name);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        CHECK(text == "old " + name);
    }
    std::vector<std::string> expected = names;
    expected.push_back("filler");
    std::sort(expected.begin(), expected.end());
    CHECK(fs.entries() == expected);  // and no temporary left
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

TEST_CASE("digit_canvases: bad flags are refused; a small run prints the imbalance and writes its files") {
    check_refused("digit_canvases", "--dataset cifar", {"--dataset must be mnist or fashion, got 'cifar'"});
    check_refused("digit_canvases", "--split val", {"--split must be train or test"});
    check_refused("digit_canvases", "--stride 5", {"--stride 5 must divide --size 64"});
    check_refused("digit_canvases", "--max-scale 100" + kNoData, {"/nonexistent/focalgrad-data"});
    const char* mnist = std::getenv("MNIST_DIR");
    if (!mnist) return;
    fgtest::TempDir dir;
    Outcome o =
        run(fgtest::g_bin_dir + "/digit_canvases --count 30 --preview 5 --clutter 2 --out " + dir.path());
    REQUIRE_MESSAGE(o.status == 0, o.output);
    fgtest::check_contains(o.output, {"MNIST train canvases: 30 canvases", "2304 anchors x 10 classes",
                                      "negatives per positive", "preview.svg", "truth.json"});
    CHECK(dir.entries() == std::vector<std::string>{"preview.svg", "truth.json"});
}
