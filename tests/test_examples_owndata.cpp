// test_examples_owndata.cpp — the own-data examples as a user runs them: train_csv on the
// bundled spirals (>= 97 % training accuracy, the decision-boundary picture written), on a
// CSV file this test writes (--data, --label-column), killed with SIGKILL mid-run (every
// file it leaves is whole, and --resume finishes the run), train_images on a folder tree
// this test writes (grey with a BatchNorm CNN, RGB with an MLP), predict from their
// checkpoints alone (class names printed), and clear errors for bad flags and bad data.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <focalgrad/core/random.h>
#include <focalgrad/data/image.h>
#include <focalgrad/data/synthetic.h>
#include <focalgrad/nn/checkpoint.h>

#include "helpers.h"
#include "json_mini.h"

namespace {

using fgtest::read_file;

namespace fs = std::filesystem;

using fgtest::Outcome;
Outcome run(const std::string& command) { return fgtest::run_command(command); }

std::string bin(const std::string& program) { return fgtest::g_bin_dir + "/" + program; }

// The number after `label` in the output ("training accuracy 99.17 %" -> 99.17), or -1.
double number_after(const std::string& output, const std::string& label) {
    size_t at = output.find(label);
    return at == std::string::npos ? -1 : std::strtod(output.c_str() + at + label.size(), nullptr);
}

void check_refused(const std::string& program, const std::string& flags,
                   std::initializer_list<std::string> message) {
    Outcome o = run(bin(program) + " " + flags);
    CAPTURE(program);
    CAPTURE(flags);
    CHECK_MESSAGE(o.status == 2, "exit status ", o.status, "; output: ", o.output);
    fgtest::check_contains(o.output, message);
    fgtest::check_contains(o.output, {program + ": error:", "hint: run `" + program + " --help`"});
}

// Each line of a history CSV: whole (7 fields), epochs 1, 2, ... in order.
int64_t check_history_csv(const std::string& path) {
    std::string text = read_file(path);
    REQUIRE(!text.empty());
    CHECK(text.back() == '\n');
    int64_t lines = 0;
    size_t begin = 0;
    for (size_t end; (end = text.find('\n', begin)) != std::string::npos; begin = end + 1, ++lines) {
        std::string line = text.substr(begin, end - begin);
        CHECK(std::count(line.begin(), line.end(), ',') == 6);
        if (lines > 0) CHECK(std::stoll(line) == lines);
    }
    return lines - 1;  // records, without the header
}

// A 2 x 2 class tree of 8 x 8 images: "horizontal" holds a bright row, "vertical" a bright
// column, at a random place over dark noise.
void write_bars(const std::string& root, int per_class, bool rgb, uint64_t seed) {
    focalgrad::Generator gen(seed);
    for (const char* kind : {"horizontal", "vertical"}) {
        fs::create_directories(root + "/" + kind);
        for (int k = 0; k < per_class; ++k) {
            const int channels = rgb ? 3 : 1, at = int(gen.below(8));
            std::vector<uint8_t> px(size_t(64 * channels));
            for (int y = 0; y < 8; ++y)
                for (int x = 0; x < 8; ++x)
                    for (int c = 0; c < channels; ++c) {
                        const bool on = std::string(kind) == "horizontal" ? y == at : x == at;
                        px[size_t((y * 8 + x) * channels + c)] =
                            uint8_t(on ? 200 + gen.below(56) : gen.below(60));
                    }
            focalgrad::save_png(root + "/" + kind + "/" + std::to_string(k) + ".png", px.data(), 8, 8,
                                channels);
        }
    }
}

}  // namespace

TEST_CASE("train_csv on the bundled spirals: >= 97 % training accuracy, and its pictures") {
    fgtest::TempDir dir;
    Outcome o = run(bin("train_csv") + " --quiet --threads 2 --out " + dir.path());
    REQUIRE_MESSAGE(o.status == 0, o.output);
    const double accuracy = number_after(o.output, "training accuracy ");
    MESSAGE("train_csv on the spirals: training accuracy ", accuracy, " %");
    CHECK(accuracy >= 97.0);
    fgtest::check_contains(o.output, {"3 spirals: 600 items of 2 features, 3 classes", "validation metrics:",
                                      "validation confusion matrix", "arm 0", "arm 2"});
    for (const char* picture : {"decision_boundary.svg", "curves.svg", "confusion.svg"}) {
        CAPTURE(picture);
        std::string svg = read_file(dir / picture);
        CHECK(svg.find("<svg") != std::string::npos);
        CHECK(svg.find("</svg>") != std::string::npos);
    }
    CHECK(read_file(dir / "decision_boundary.svg").find("<image") != std::string::npos);  // the class map
    CHECK(check_history_csv(dir / "history.csv") == 100);

    // predict classifies rows with the best checkpoint alone, by class name: points on the
    // arms, generated as train_csv generated them.
    focalgrad::TensorDataset spirals = focalgrad::make_spirals(200, 3, 0.2, 0);
    std::ofstream rows(dir / "rows.csv");
    rows << "x1,x2\n";
    for (int64_t i : {150, 350, 550}) rows << spirals.item(i)[0] << "," << spirals.item(i)[1] << "\n";
    rows.close();
    Outcome p = run(bin("predict") + " --checkpoint " + (dir / "best.fgc") + " " + (dir / "rows.csv"));
    REQUIRE_MESSAGE(p.status == 0, p.output);
    fgtest::check_contains(
        p.output, {"rows.csv: row 1:  arm 0 (", "rows.csv: row 2:  arm 1 (", "rows.csv: row 3:  arm 2 ("});
    std::ofstream(dir / "wide.csv") << "1,2,3\n";
    Outcome w = run(bin("predict") + " --checkpoint " + (dir / "best.fgc") + " " + (dir / "wide.csv"));
    CHECK(w.status == 2);
    fgtest::check_contains(w.output, {"rows of 3 features, but the model takes 2"});
}

TEST_CASE("train_csv --data trains on a CSV file the user supplies, with text labels") {
    fgtest::TempDir dir;
    focalgrad::Generator gen(5);
    std::ofstream csv(dir / "mine.csv");
    csv << "colour,size,y,weight\n";
    for (int i = 0; i < 120; ++i) {
        const bool big = i % 3 == 0;
        csv << gen.normal() << "," << (big ? 3 : -3) + gen.normal() << "," << (big ? "big" : "small") << ","
            << gen.uniform() << "\n";
    }
    csv.close();
    Outcome o = run(bin("train_csv") + " --quiet --epochs 30 --data " + (dir / "mine.csv") +
                    " --label-column y --out " + (dir / "out"));
    REQUIRE_MESSAGE(o.status == 0, o.output);
    fgtest::check_contains(o.output, {"120 items of 3 features, 2 classes (big: 40, small: 80)",
                                      "no decision-boundary picture: the data has 3 features"});
    CHECK(number_after(o.output, "training accuracy ") >= 95.0);
    CHECK(fs::exists(dir / "out/best.fgc"));
    // --imbalance thins the chosen class out, and balanced losses and the sampler run.
    Outcome r =
        run(bin("train_csv") + " --quiet --epochs 5 --data " + (dir / "mine.csv") +
            " --label-column 3 --imbalance 8 --rare-class 0 --loss balanced_focal --sampler balanced --out " +
            (dir / "rare"));
    REQUIRE_MESSAGE(r.status == 0, r.output);
    fgtest::check_contains(r.output, {"85 items of 3 features, 2 classes (big: 5, small: 80)"});
}

TEST_CASE("train_csv refuses bad flags and bad data, naming the file, the line and the column") {
    fgtest::TempDir dir;
    std::ofstream(dir / "bad.csv") << "x1,x2,y\n1,2,a\n3,oops,b\n";
    check_refused("train_csv", "--data " + (dir / "bad.csv") + " --out " + (dir / "o"),
                  {"load_csv: " + (dir / "bad.csv") + ":3: column 2 ('x2'): 'oops' is not a finite number"});
    std::ofstream(dir / "ragged.csv") << "x1,x2,y\n1,2,a\n3,b\n";
    check_refused("train_csv", "--data " + (dir / "ragged.csv") + " --out " + (dir / "o"),
                  {"ragged.csv:3: 2 cells, but line 1 has 3 (a ragged row)"});
    std::ofstream(dir / "empty.csv") << "";
    check_refused("train_csv", "--data " + (dir / "empty.csv") + " --out " + (dir / "o"),
                  {"empty.csv: the file is empty"});
    check_refused("train_csv", "--data " + (dir / "none.csv"), {"load_csv: ", "none.csv: no such file"});
    check_refused("train_csv", "--data " + (dir / "bad.csv") + " --label-column kind --out " + (dir / "o"),
                  {"no column is named 'kind'; the header (line 1) has 'x1', 'x2', 'y'"});
    check_refused("train_csv", "--loss hinge", {"--loss: unknown loss 'hinge'"});
    check_refused("train_csv", "--generate circles", {"--generate must be spirals or moons"});
    check_refused("train_csv", "--label-column y", {"--label-column needs --data"});
    check_refused("train_csv", "--val-fraction 0.95", {"--val-fraction must be in [0, 0.9]"});
    check_refused("train_csv", "--patience 3 --val-fraction 0", {"--patience needs validation data"});
    check_refused("train_csv", "--optimizer rmsprop", {"--optimizer must be adam or sgd"});
    check_refused("train_csv", "--sampler weighted", {"--sampler must be shuffle or balanced"});
    check_refused("train_csv", "--monitor loss", {"unknown metric 'loss'"});
    check_refused("train_csv", "--out /proc/focalgrad-out", {"--out", "/proc/focalgrad-out"});
    check_refused("train_csv", "--epochs 0", {"--epochs must be in [1"});
    check_refused("train_csv", "--resume --out " + (dir / "fresh"), {"last.fgc", "no such file"});
    Outcome h = run(bin("train_csv") + " --help");
    CHECK(h.status == 0);
    fgtest::check_contains(h.output, {"--data", "--label-column", "--generate", "--imbalance", "--loss",
                                      "--sampler", "--patience", "--resume", "--out"});
}

TEST_CASE("train_csv killed with SIGKILL leaves whole files, and --resume finishes the run") {
    fgtest::TempDir dir;
    const std::string out = dir / "run", pid_file = dir / "pid";
    // In the background, far more epochs than it will be given time for.
    const std::string command = bin("train_csv") + " --quiet --threads 1 --epochs 100000 --points 50 --out " +
                                out + " > " + (dir / "log") + " 2>&1 & echo $! > " + pid_file;
    REQUIRE(std::system(("cd " + fgtest::g_bin_dir + "/../.. && " + command).c_str()) == 0);
    pid_t pid = 0;
    for (int i = 0; i < 100 && pid == 0; ++i) {
        std::ifstream(pid_file) >> pid;
        if (pid == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(pid > 0);
    // Wait for a few epochs (each writes the CSV, the JSON, the chart and two checkpoints).
    auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < std::chrono::seconds(120)) {
        std::string csv = read_file(out + "/history.csv");
        if (std::count(csv.begin(), csv.end(), '\n') >= 6) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(::kill(pid, SIGKILL) == 0);
    for (int i = 0; i < 500 && ::kill(pid, 0) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));

    // What it left: whole CSV lines, a JSON file that parses, checkpoints that load.
    const int64_t logged = check_history_csv(out + "/history.csv");
    CHECK(logged >= 5);
    fgtest::Json j = fgtest::JsonParser(read_file(out + "/history.json")).parse();
    CHECK(j["finished"].boolean == false);
    CHECK(int64_t(j["epochs"].items.size()) >= logged - 1);
    focalgrad::Checkpoint last = focalgrad::read_checkpoint(out + "/last.fgc");
    const int64_t done = focalgrad::state_integer(last.state, "trainer.epochs_done", "test");
    CHECK(done >= logged);
    CHECK(done <= logged + 1);  // killed between the checkpoint and the log line at most
    CHECK(read_file(out + "/curves.svg").find("</svg>") != std::string::npos);

    // --resume continues from the checkpoint and rewrites the log from its history.
    Outcome o = run(bin("train_csv") + " --quiet --threads 1 --points 50 --resume --epochs " +
                    std::to_string(done + 3) + " --out " + out);
    REQUIRE_MESSAGE(o.status == 0, o.output);
    CHECK(check_history_csv(out + "/history.csv") == done + 3);
    fgtest::Json finished = fgtest::JsonParser(read_file(out + "/history.json")).parse();
    CHECK(finished["finished"].boolean);
    CHECK(int64_t(finished["epochs"].items.size()) == done + 3);
}

TEST_CASE("train_images trains on a folder tree, and predict classifies new images by class name") {
    fgtest::TempDir dir;
    write_bars(dir / "bars", 40, false, 1);
    Outcome o = run(bin("train_images") + " --quiet --images " + (dir / "bars") +
                    " --size 8 --epochs 15 --batchnorm --out " + (dir / "out"));
    REQUIRE_MESSAGE(o.status == 0, o.output);
    fgtest::check_contains(o.output, {"80 images, 2 classes (horizontal: 40, vertical: 40), 8 x 8, grey",
                                      "BatchNorm2d(16, eps=1e-05, momentum=0.1)"});
    CHECK(number_after(o.output, "validation accuracy ") >= 90.0);

    // New images, drawn the same way; predict needs nothing but the checkpoint.
    write_bars(dir / "new", 1, false, 99);
    Outcome p = run(bin("predict") + " --checkpoint " + (dir / "out/best.fgc") + " " +
                    (dir / "new/horizontal/0.png") + " " + (dir / "new/vertical/0.png"));
    REQUIRE_MESSAGE(p.status == 0, p.output);
    fgtest::check_contains(p.output,
                           {"new/horizontal/0.png:  horizontal (", "new/vertical/0.png:  vertical ("});

    // RGB, with an MLP.
    write_bars(dir / "rgb", 30, true, 2);
    Outcome c = run(bin("train_images") + " --quiet --images " + (dir / "rgb") +
                    " --size 8 --channels 3 --model mlp --epochs 20 --out " + (dir / "rgb_out"));
    REQUIRE_MESSAGE(c.status == 0, c.output);
    fgtest::check_contains(c.output, {"60 images, 2 classes (horizontal: 30, vertical: 30), 8 x 8, RGB"});
    CHECK(number_after(c.output, "training accuracy ") >= 90.0);
}

TEST_CASE("train_images refuses bad flags and bad folders; predict refuses non-finite weights") {
    fgtest::TempDir dir;
    check_refused("train_images", "", {"--images is required"});
    check_refused("train_images", "--images " + (dir / "none"),
                  {"load_image_folder: ", "none: no such directory"});
    fs::create_directories(dir / "flat");
    std::ofstream(dir / "flat/a.png") << "x";
    check_refused("train_images", "--images " + (dir / "flat") + " --out " + (dir / "o"),
                  {"no class folders in it"});
    fs::create_directories(dir / "tree/cat");
    std::ofstream(dir / "tree/cat/broken.png") << "not a png";
    check_refused("train_images", "--images " + (dir / "tree") + " --out " + (dir / "o"),
                  {"1 of 1 images cannot be read", "load_image: " + (dir / "tree/cat/broken.png")});
    check_refused("train_images", "--images x --size 30", {"--size must be a multiple of 4 for the cnn"});
    check_refused("train_images", "--images x --channels 2", {"--channels must be 1 or 3, got 2"});
    check_refused("train_images", "--images x --model resnet", {"--model must be cnn or mlp"});
    Outcome h = run(bin("train_images") + " --help");
    CHECK(h.status == 0);
    fgtest::check_contains(h.output, {"--images", "--size", "--channels", "--batchnorm", "--loss"});

    // A checkpoint whose weights hold a NaN: predict says so instead of printing noise.
    using namespace focalgrad;
    write_bars(dir / "bars", 6, false, 3);
    Outcome o = run(bin("train_images") + " --quiet --images " + (dir / "bars") +
                    " --size 8 --epochs 1 --val-fraction 0 --out " + (dir / "out"));
    REQUIRE_MESSAGE(o.status == 0, o.output);
    LoadedModel m = load_model(dir / "out/last.fgc");
    m.model->named_parameters()[0].second.data()[3] = NAN;
    save(*m.model, dir / "nan.fgc", m.checkpoint.info);
    check_refused(
        "predict", "--checkpoint " + (dir / "nan.fgc") + " " + (dir / "bars/vertical/0.png"),
        {"holds weights that are not finite: '0.weight' of shape [16, 1, 3, 3] holds nan at flat index 3"});
}
