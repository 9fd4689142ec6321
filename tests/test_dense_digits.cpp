// test_dense_digits.cpp — examples/dense_digits end to end on a tiny configuration (a few
// seconds): bad flags are refused with the flag named; a run writes the table (.md, .csv,
// .json with the budget and every run), the COCO ground truth and one detections file per
// configuration and seed in COCO's schema, and the figures. Needs MNIST (the run is skipped
// otherwise).
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <focalgrad/data/mnist.h>

#include "helpers.h"
#include "json_mini.h"
#include "xml_mini.h"

using fgtest::Json;

namespace {

struct Outcome {
    int status;
    std::string output;
};

Outcome run(const std::string& flags) {
    std::string full =
        "cd " + fgtest::g_bin_dir + "/../.. && " + fgtest::g_bin_dir + "/dense_digits " + flags + " 2>&1";
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

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> entries(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

void check_refused(const std::string& flags, const std::string& message) {
    Outcome o = run(flags);
    CAPTURE(flags);
    CHECK_MESSAGE(o.status == 2, o.output);
    fgtest::check_contains(o.output, {message, "dense_digits: error:", "hint: run `"});
}

}  // namespace

TEST_CASE("dense_digits refuses bad flags and bad data with a clear message") {
    check_refused("--configs bce,hinge", "--configs: unknown value 'hinge'");
    check_refused("--configs bce,bce", "--configs lists 'bce' twice");
    check_refused("--grid table2", "--grid must be none or table1, got 'table2'");
    check_refused("--seeds 0,0", "--seeds lists 0 twice");
    check_refused("--widths 16", "--widths needs at least two convolutions");
    check_refused("--train 10 --batch 32", "--batch 32 is more than the 10 training canvases");
    check_refused("--lr 0", "--lr must be in");
    check_refused("--dataset cifar", "--dataset must be mnist or fashion");
    check_refused("--data /nonexistent/focalgrad-data", "/nonexistent/focalgrad-data");
    check_refused("--out /proc/focalgrad-results", "/proc/focalgrad-results");
    Outcome help = run("--help");
    CHECK(help.status == 0);
    fgtest::check_contains(help.output,
                           {"--configs", "--grid", "--seeds", "--lr", "focal_gG_a0.25", "ohem_1:3"});
}

TEST_CASE("dense_digits: a tiny study writes the table, COCO JSON files and figures") {
    try {
        focalgrad::find_mnist_dir("");
    } catch (const focalgrad::Error& e) {
        MESSAGE("skipped: MNIST not found (set MNIST_DIR): ", std::string(e.what()));
        return;
    }
    fgtest::TempDir out;
    Outcome o =
        run("--train 32 --test 6 --epochs 1 --batch 16 --seeds 0,1 --threads 1 --quiet "
            "--configs bce,focal_g2_a0.25,ohem_1:3 --out " +
            out.path());
    REQUIRE_MESSAGE(o.status == 0, o.output);
    fgtest::check_contains(o.output, {"negatives per positive", "Budget: 32 canvases x 1 epochs = 2 steps",
                                      "| configuration | loss | AP | AP50 |", "| bce | BCE, prior init |",
                                      "| ohem_1:3 | OHEM (BCE), 1:3 |", "Mean ± std over seeds 0,1"});
    CHECK(out.entries() == std::vector<std::string>{"canvases.svg", "coco", "dense_digits.csv",
                                                    "dense_digits.json", "dense_digits.md", "figure4.svg",
                                                    "loss_share.svg"});
    std::string csv = slurp(out / "dense_digits.csv");
    CHECK(csv.rfind("configuration,seed,ap,ap50,ap75,class_agnostic_ap50,lr,", 0) == 0);
    CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 3 * 2);

    Json j = fgtest::JsonParser(slurp(out / "dense_digits.json")).parse();
    CHECK(j["budget"]["train_canvases"].number == 32);
    CHECK(j["budget"]["epochs"].number == 1);
    CHECK(j["budget"]["steps"].number == 2);
    CHECK(j["imbalance"]["negatives_per_positive"].number > 1000);
    REQUIRE(j["runs"].items.size() == 6);
    for (const Json& r : j["runs"].items) {
        CHECK(r["ap"].number >= 0);
        CHECK(r["ap50"].number >= r["ap"].number);
        CHECK(r["class_agnostic_ap50"].number >= 0);
        CHECK(r["positive_share"].number >= 0);
        CHECK(r["positive_share"].number <= 1);
    }
    CHECK(j["summary"]["focal_g2_a0.25"]["ap50"]["mean"].kind == Json::Kind::Number);

    // COCO's schema: the ground truth's images, annotations and categories, and a list of
    // detections per configuration and seed that refer to them.
    Json truth = fgtest::JsonParser(slurp(out / "coco/truth_test.json")).parse();
    REQUIRE(truth["images"].items.size() == 6);
    CHECK(truth["categories"].items.size() == 10);
    for (const Json& a : truth["annotations"].items) {
        CHECK(a["bbox"].items.size() == 4);
        CHECK(a["iscrowd"].number == 0);
        CHECK(a["area"].number == doctest::Approx(a["bbox"].items[2].number * a["bbox"].items[3].number));
        CHECK(a["image_id"].number < 6);
    }
    CHECK(entries(out / "coco") ==
          std::vector<std::string>{"bce_seed0.json", "bce_seed1.json", "focal_g2_a0.25_seed0.json",
                                   "focal_g2_a0.25_seed1.json", "ohem_1-3_seed0.json", "ohem_1-3_seed1.json",
                                   "truth_test.json"});
    Json dets = fgtest::JsonParser(slurp(out / "coco/bce_seed0.json")).parse();
    REQUIRE(dets.kind == Json::Kind::Array);
    for (const Json& d : dets.items) {
        CHECK(d["image_id"].number < 6);
        CHECK(d["category_id"].number < 10);
        CHECK(d["bbox"].items.size() == 4);
        CHECK(d["score"].number > 0.05);
    }

    // Figure 4 has a curve per γ on each of its two panels; the loss-share chart one line
    // per configuration.
    fgtest::Xml fig4 = fgtest::XmlParser(slurp(out / "figure4.svg")).parse();
    std::vector<std::string> legend;
    for (const fgtest::Xml* t : fig4.find("text", "legend-label")) legend.push_back(t->text);
    CHECK(legend == std::vector<std::string>{"γ = 0", "γ = 0.5", "γ = 1", "γ = 2", "γ = 0", "γ = 0.5",
                                             "γ = 1", "γ = 2"});
    fgtest::Xml share = fgtest::XmlParser(slurp(out / "loss_share.svg")).parse();
    legend.clear();
    for (const fgtest::Xml* t : share.find("text", "legend-label")) legend.push_back(t->text);
    CHECK(legend == std::vector<std::string>{"bce", "focal_g2_a0.25", "ohem_1:3"});
    fgtest::XmlParser(slurp(out / "canvases.svg")).parse();
}
