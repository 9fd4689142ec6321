// test_loss_figures.cpp — examples/loss_figures: its worked-example table holds the
// write-ups' two numbers (0.0058 for CE, 0.4127 for α = 0.25, γ = 2) and is the table
// docs/losses.md shows, and its two figures are well-formed SVG with a curve per γ.
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "helpers.h"
#include "xml_mini.h"

namespace {

using fgtest::read_file;

}  // namespace

TEST_CASE("loss_figures: the worked example's shares, the table of docs/losses.md, two figures") {
    fgtest::TempDir out;
    const std::string command =
        fgtest::g_bin_dir + "/loss_figures --out " + out.path() + " > " + (out / "stdout.txt") + " 2>&1";
    const int status = std::system(command.c_str());
    const std::string printed = read_file(out / "stdout.txt");
    REQUIRE_MESSAGE((WIFEXITED(status) && WEXITSTATUS(status) == 0), printed);

    const size_t start = printed.find("| positives' share"), end = printed.find("\n\nwrote");
    REQUIRE(start != std::string::npos);
    REQUIRE(end != std::string::npos);
    const std::string table = printed.substr(start, end - start + 1);
    fgtest::check_contains(table, {"| γ = 0 (cross-entropy) | 0.0058 |", "| γ = 2 | 0.6783 | 0.4127 |"});
    const std::string doc = read_file(fgtest::g_bin_dir + "/../../docs/losses.md");
    CHECK_MESSAGE(doc.find(table) != std::string::npos,
                  "docs/losses.md no longer shows the table loss_figures prints; paste it in:\n", table);

    for (const char* name : {"focal_loss.svg", "focal_loss_gradient.svg"}) {
        CAPTURE(name);
        fgtest::Xml svg = fgtest::XmlParser(read_file(out / name)).parse();
        std::vector<std::string> legend;
        for (const fgtest::Xml* t : svg.find("text", "legend-label")) legend.push_back(t->text);
        CHECK(legend ==
              std::vector<std::string>{"γ = 0 (cross-entropy)", "γ = 0.5", "γ = 1", "γ = 2", "γ = 5"});
        CHECK(svg.find("polyline", "series").size() >= 5);
    }
}
