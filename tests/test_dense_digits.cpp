// test_dense_digits.cpp — examples/dense_digits end to end on tiny configurations (a few
// seconds): bad flags are refused with the flag named; a run writes the table (.md, .csv,
// .json with the budget and every run), the COCO ground truth and one detections file per
// configuration and seed in COCO's schema, and the figures; --grid table1 runs every
// configuration with its lr sweep and picks each one's rate by validation AP. Needs MNIST
// (the runs are skipped otherwise).
#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include <focalgrad/data/mnist.h>

#include "helpers.h"
#include "json_mini.h"
#include "xml_mini.h"

using fgtest::Json;

namespace {

fgtest::Outcome run(const std::string& flags) {
    return fgtest::run_command(fgtest::g_bin_dir + "/dense_digits " + flags);
}

bool have_mnist() {
    try {
        focalgrad::find_mnist_dir("");
        return true;
    } catch (const focalgrad::Error& e) {
        MESSAGE("skipped: MNIST not found (set MNIST_DIR): ", std::string(e.what()));
        return false;
    }
}

void check_refused(const std::string& flags, const std::string& message) {
    fgtest::Outcome o = run(flags);
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
    fgtest::Outcome help = run("--help");
    CHECK(help.status == 0);
    fgtest::check_contains(help.output,
                           {"--configs", "--grid", "--seeds", "--lr", "focal_gG_a0.25", "ohem_1:3"});
}

TEST_CASE("dense_digits: a tiny study writes the table, COCO JSON files and figures") {
    if (!have_mnist()) return;
    fgtest::TempDir out;
    fgtest::Outcome o =
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
    std::string csv = fgtest::read_file(out / "dense_digits.csv");
    CHECK(csv.rfind("configuration,seed,ap,ap50,ap75,class_agnostic_ap50,lr,", 0) == 0);
    CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 3 * 2);

    Json j = fgtest::JsonParser(fgtest::read_file(out / "dense_digits.json")).parse();
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
    Json truth = fgtest::JsonParser(fgtest::read_file(out / "coco/truth_test.json")).parse();
    REQUIRE(truth["images"].items.size() == 6);
    CHECK(truth["categories"].items.size() == 10);
    for (const Json& a : truth["annotations"].items) {
        CHECK(a["bbox"].items.size() == 4);
        CHECK(a["iscrowd"].number == 0);
        CHECK(a["area"].number == doctest::Approx(a["bbox"].items[2].number * a["bbox"].items[3].number));
        CHECK(a["image_id"].number < 6);
    }
    CHECK(fgtest::entry_names(out / "coco") ==
          std::vector<std::string>{"bce_seed0.json", "bce_seed1.json", "focal_g2_a0.25_seed0.json",
                                   "focal_g2_a0.25_seed1.json", "ohem_1-3_seed0.json", "ohem_1-3_seed1.json",
                                   "truth_test.json"});
    Json dets = fgtest::JsonParser(fgtest::read_file(out / "coco/bce_seed0.json")).parse();
    REQUIRE(dets.kind == Json::Kind::Array);
    for (const Json& d : dets.items) {
        CHECK(d["image_id"].number < 6);
        CHECK(d["category_id"].number < 10);
        CHECK(d["bbox"].items.size() == 4);
        CHECK(d["score"].number > 0.05);
    }

    // Figure 4 has a curve per γ on each of its two panels; the loss-share chart one line
    // per configuration.
    fgtest::Xml fig4 = fgtest::XmlParser(fgtest::read_file(out / "figure4.svg")).parse();
    std::vector<std::string> legend;
    for (const fgtest::Xml* t : fig4.find("text", "legend-label")) legend.push_back(t->text);
    CHECK(legend == std::vector<std::string>{"γ = 0", "γ = 0.5", "γ = 1", "γ = 2", "γ = 0", "γ = 0.5",
                                             "γ = 1", "γ = 2"});
    fgtest::Xml share = fgtest::XmlParser(fgtest::read_file(out / "loss_share.svg")).parse();
    legend.clear();
    for (const fgtest::Xml* t : share.find("text", "legend-label")) legend.push_back(t->text);
    CHECK(legend == std::vector<std::string>{"bce", "focal_g2_a0.25", "ohem_1:3"});
    fgtest::XmlParser(fgtest::read_file(out / "canvases.svg")).parse();
}

// The grid's bookkeeping, checked from its JSON on a run too short to learn anything: every
// AP is then 0, so each configuration keeps the shared lr (a tie keeps it) and its @best
// rows are the shared runs themselves. The full-size grid, where the choice matters, is in
// the README.
TEST_CASE("dense_digits --grid table1: every configuration, its lr sweep, the chosen lr and the chart") {
    if (!have_mnist()) return;
    fgtest::TempDir out;
    fgtest::Outcome o =
        run("--grid table1 --train 16 --test 4 --val 4 --grid-epochs 1 --epochs 3 --batch 16 --widths 4,8 "
            "--threads 1 --quiet --out " +
            out.path());
    REQUIRE_MESSAGE(o.status == 0, o.output);
    fgtest::check_contains(
        o.output,
        {"Budget: 16 canvases x 1 epochs = 1 steps", "The lr sweep (seed 0, 4 validation",
         "| bce@best | BCE, prior init, its best lr |", "| ohem_1:3@best | OHEM (BCE), 1:3, its best lr |"});
    CHECK(out.entries() == std::vector<std::string>{"canvases.svg", "coco", "figure4.svg", "loss_share.svg",
                                                    "table1.csv", "table1.json", "table1.md", "table1.svg"});
    CHECK(fgtest::read_file(out / "table1.md")
              .find("| focal_g5_a0.25 | 0.00333: 0.000, 0.01: 0.000, 0.03: 0.000 | 0.01 |") !=
          std::string::npos);

    Json j = fgtest::JsonParser(fgtest::read_file(out / "table1.json")).parse();
    CHECK(j["grid"].text == "table1");
    CHECK(j["budget"]["epochs"].number == 1);  // --grid-epochs, not --epochs
    CHECK(j["budget"]["val_canvases"].number == 4);
    const std::vector<std::string> configs = {
        "bce",      "bce_no_prior", "bce_all_anchors", "abce_0.25",      "abce_0.5",       "abce_0.75",
        "abce_0.9", "abce_0.99",    "focal_g0.5_a0.5", "focal_g1_a0.25", "focal_g2_a0.25", "focal_g5_a0.25",
        "ohem",     "ohem_1:3"};
    REQUIRE(j["sweeps"].fields.size() == configs.size());
    // Each run of the JSON, by configuration and seed.
    std::map<std::pair<std::string, int>, const Json*> runs;
    for (const Json& r : j["runs"].items) runs[{r["configuration"].text, int(r["seed"].number)}] = &r;
    CHECK(runs.size() == 2 * 2 * configs.size());
    for (const std::string& name : configs) {
        CAPTURE(name);
        REQUIRE(j["sweeps"].has(name));
        const Json& tried = j["sweeps"][name];
        REQUIRE(tried.items.size() == 3);
        const double rates[3] = {0.01 / 3, 0.01, 0.03};
        size_t chosen = 1;  // the rule: the best validation AP, a tie keeps the shared lr
        for (size_t i = 0; i < 3; ++i) {
            CHECK(tried.items[i]["lr"].number == doctest::Approx(rates[i]));
            CHECK(tried.items[i]["val_ap"].number == 0);
            if (tried.items[i]["val_ap"].number > tried.items[chosen]["val_ap"].number) chosen = i;
        }
        for (int seed : {0, 1}) {
            CAPTURE(seed);
            const Json* shared = runs[{name, seed}];
            const Json* best = runs[{name + "@best", seed}];
            REQUIRE(shared != nullptr);
            REQUIRE(best != nullptr);
            CHECK((*shared)["lr"].number == 0.01);
            CHECK((*best)["lr"].number == doctest::Approx(rates[chosen]));
            for (const char* key : {"ap", "ap50", "positive_share", "cls_loss"})
                CHECK((*best)[key].number == (*shared)[key].number);
        }
    }
    CHECK(fgtest::entry_names(out / "coco").size() == 1 + 2 * configs.size());

    // The α/γ chart: two panels (α-balanced BCE over α, focal loss over γ), each a line at the
    // shared lr and one at each configuration's own, five points a line.
    fgtest::Xml chart = fgtest::XmlParser(fgtest::read_file(out / "table1.svg")).parse();
    CHECK(chart.find("g", "plot").size() == 2);
    CHECK(chart.find("circle", "marker").size() == 20);
    std::vector<std::string> legend;
    for (const fgtest::Xml* t : chart.find("text", "legend-label")) legend.push_back(t->text);
    CHECK(legend == std::vector<std::string>{"shared lr 0.01", "each its best lr (validation)",
                                             "shared lr 0.01", "each its best lr (validation)"});
}

TEST_CASE("dense_digits --grid table1 --configs sweeps only the configurations named") {
    if (!have_mnist()) return;
    fgtest::TempDir out;
    fgtest::Outcome o =
        run("--grid table1 --configs ohem,bce --train 16 --test 4 --val 4 --grid-epochs 1 --batch 16 "
            "--widths 4,8 "
            "--threads 1 --quiet --seeds 3 --out " +
            out.path());
    REQUIRE_MESSAGE(o.status == 0, o.output);
    Json j = fgtest::JsonParser(fgtest::read_file(out / "table1.json")).parse();
    CHECK(j["sweeps"].fields.size() == 2);
    CHECK(j["sweeps"].has("ohem"));
    CHECK(j["sweeps"].has("bce"));
    std::vector<std::string> rows;
    for (const Json& r : j["runs"].items)
        rows.push_back(r["configuration"].text + "/" + std::to_string(int(r["seed"].number)));
    CHECK(rows == std::vector<std::string>{"ohem/3", "ohem@best/3", "bce/3", "bce@best/3"});
}
