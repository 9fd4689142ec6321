// test_demo_outputs.cpp — a short run of the imbalanced-MNIST study writes every output,
// its JSON file has the schema README.md documents, and its SVG chart is well formed with
// a legend entry for every loss row, the shading and the whiskers. Needs MNIST (skipped
// otherwise).
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <focalgrad/data/mnist.h>

#include "helpers.h"
#include "json_mini.h"
#include "test_data_helpers.h"
#include "xml_mini.h"

using fgtest::Json;

namespace {

using fgtest::read_file;

void check_stat(const Json& s) {
    REQUIRE(s.kind == Json::Kind::Object);
    CHECK(s["mean"].kind == Json::Kind::Number);
    CHECK(s["std"].kind == Json::Kind::Number);
}

}  // namespace

TEST_CASE("imbalanced_mnist writes the table, CSV, JSON (documented schema) and SVG chart") {
    try {
        focalgrad::find_mnist_dir("");
    } catch (const focalgrad::Error& e) {
        MESSAGE("skipped: MNIST not found (set MNIST_DIR): ", std::string(e.what()));
        return;
    }
    fgtest::TempDir out;
    std::string command =
        "cd " + fgtest::g_bin_dir + "/../.. && " + fgtest::g_bin_dir +
        "/imbalanced_mnist --epochs 1 --seeds 0,1 --losses ce,balanced_focal --prior-correction "
        "--quiet --out " +
        out.path() + " > " + out.path() + "/stdout.txt 2>&1";
    int status = std::system(command.c_str());
    bool succeeded = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    REQUIRE_MESSAGE(succeeded, read_file(out / "stdout.txt"));

    std::string stdout_text = read_file(out / "stdout.txt");
    fgtest::check_contains(stdout_text, {"| loss | accuracy", "| ce |", "| balanced_focal |", "| ce+pc |",
                                         "minority gain over ce"});
    std::string md = read_file(out / "imbalanced_mnist.md");
    fgtest::check_contains(md, {"Produced by:", "--prior-correction", "| balanced_focal+pc |"});
    std::string csv = read_file(out / "imbalanced_mnist.csv");
    CHECK(csv.rfind("loss,seed,per_class_recall_0,", 0) == 0);
    CHECK(std::count(csv.begin(), csv.end(), '\n') ==
          1 + 2 * 2 * 2);  // header + 2 losses x (plain, +pc) x 2 seeds

    fgtest::Xml svg = fgtest::XmlParser(read_file(out / "imbalanced_mnist.svg")).parse();
    std::vector<std::string> legend;
    for (const fgtest::Xml* t : svg.find("text", "legend-label")) legend.push_back(t->text);
    CHECK(legend == std::vector<std::string>{"ce", "ce+pc", "balanced_focal", "balanced_focal+pc",
                                             "minority class", "± 1 sample std over seeds"});
    std::vector<std::string> classes;
    for (const fgtest::Xml* t : svg.find("text", "tick-label x")) classes.push_back(t->text);
    CHECK(classes == std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});

    Json j = fgtest::JsonParser(read_file(out / "imbalanced_mnist.json")).parse();
    CHECK(j["dataset"].text == "MNIST");
    CHECK(j["command"].text.find("--prior-correction") != std::string::npos);
    CHECK(j["imbalance"].kind == Json::Kind::String);
    CHECK(j["minority_classes"].items.size() == 5);
    for (const char* key : {"epochs", "lr", "momentum", "batch", "hidden", "gamma", "alpha_scheme",
                            "drw_epoch", "seeds", "threads"})
        CHECK_MESSAGE(j["config"].has(key), key);
    REQUIRE(j["train_counts"].items.size() == 10);
    CHECK(j["train_counts"].items[0].number == 5923);  // a majority class keeps every image
    CHECK(j["train_counts"].items[5].number == 54);    // 5421 / 100, rounded
    REQUIRE(j["runs"].items.size() == 8);
    for (const Json& r : j["runs"].items) {
        CHECK(r["per_class_recall"].items.size() == 10);
        for (const char* key : {"accuracy", "balanced_accuracy", "macro_f1", "minority_recall",
                                "majority_recall", "train_seconds"}) {
            CHECK_MESSAGE(r[key].kind == Json::Kind::Number, key);
            bool in_unit_range = r[key].number >= 0 && r[key].number <= 1;
            if (std::string(key) != "train_seconds") CHECK(in_unit_range);
        }
        CHECK(r["seed"].kind == Json::Kind::Number);
    }
    for (const char* loss : {"ce", "balanced_focal", "ce+pc", "balanced_focal+pc"}) {
        CAPTURE(loss);
        const Json& s = j["summary"][loss];
        CHECK(s["per_class_recall"]["mean"].items.size() == 10);
        CHECK(s["per_class_recall"]["std"].items.size() == 10);
        for (const char* key : {"accuracy", "balanced_accuracy", "macro_f1", "minority_recall",
                                "majority_recall", "train_seconds", "minority_recall_gain_over_ce"})
            check_stat(s[key]);
    }
    CHECK(j["summary"]["ce"]["minority_recall_gain_over_ce"]["mean"].number == 0.0);
}
