// test_report_chart.cpp — the charts of report/chart.h, read back from their SVG: ticks
// where the 1-2-2.5-5 rule puts them, every value drawn at the pixel the frame and the axis
// range predict (lines, log axes, image coordinates, bars, whiskers, boxes, matrix cells),
// zero bars visible with their value, the legend naming every colour, and clear errors.
#include <cmath>
#include <doctest/doctest.h>
#include <sstream>

#include <focalgrad/report/chart.h>

#include "helpers.h"
#include "xml_mini.h"

using namespace focalgrad;
using namespace focalgrad::report;
using fgtest::Xml;

namespace {

struct Rect {
    double x, y, w, h;
};

Rect rect_of(const Xml& e) { return {e.number("x"), e.number("y"), e.number("width"), e.number("height")}; }

Xml parse(const Svg& svg) { return fgtest::XmlParser(svg.str()).parse(); }

Rect frame_of(const Xml& root) {
    auto frames = root.find("rect", "frame");
    REQUIRE(frames.size() == 1);
    return rect_of(*frames[0]);
}

std::vector<std::string> texts(const Xml& root, const std::string& css_class) {
    std::vector<std::string> out;
    for (const Xml* t : root.find("text", css_class)) out.push_back(t->text);
    return out;
}

std::vector<Point> points_of(const Xml& polyline) {
    std::vector<Point> out;
    std::istringstream in(polyline.attr("points"));
    std::string pair;
    while (in >> pair) {
        size_t comma = pair.find(',');
        out.push_back({std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1))});
    }
    return out;
}

// Coordinates are written with two decimals.
constexpr double kPx = 0.011;

}  // namespace

TEST_CASE("linear_ticks: steps of 1, 2, 2.5 or 5 x 10^k, the range rounded out to them") {
    Ticks t = linear_ticks(0, 1);
    CHECK(t.values == std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1});
    CHECK(t.labels == std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"});

    t = linear_ticks(0.13, 0.87);  // rounded out to the ticks around the data
    CHECK(t.min == 0);
    CHECK(t.max == doctest::Approx(1));
    t = linear_ticks(-3, 7);
    CHECK(t.labels == std::vector<std::string>{"-4", "-2", "0", "2", "4", "6", "8"});
    t = linear_ticks(0, 11);
    CHECK(t.labels == std::vector<std::string>{"0.0", "2.5", "5.0", "7.5", "10.0", "12.5"});
    t = linear_ticks(0, 25);
    CHECK(t.labels == std::vector<std::string>{"0", "5", "10", "15", "20", "25"});
    t = linear_ticks(0, 0.37, 6, true, true);  // fixed ends are kept exactly
    CHECK(t.min == 0);
    CHECK(t.max == 0.37);
    CHECK(t.labels == std::vector<std::string>{"0.0", "0.1", "0.2", "0.3"});
    t = linear_ticks(3, 3);  // one value: a range around it
    CHECK(t.min < 3);
    CHECK(t.max > 3);
    t = linear_ticks(-1e-17, 1);
    CHECK(t.labels.front() == "0.0");  // never "-0.0"
    CHECK_ERROR(linear_ticks(0, std::nan("")), "linear_ticks", "not finite");
}

TEST_CASE("log_ticks: powers of ten, with 2 and 5 between them over short ranges") {
    Ticks t = log_ticks(1e-4, 5);
    CHECK(t.min == doctest::Approx(1e-4));
    CHECK(t.max == doctest::Approx(10));
    CHECK(t.labels == std::vector<std::string>{"0.0001", "0.001", "0.01", "0.1", "1", "10"});
    t = log_ticks(1, 50);
    CHECK(t.labels == std::vector<std::string>{"1", "2", "5", "10", "20", "50", "100"});
    t = log_ticks(1e-7, 1e-6);  // beyond 1e-4: powers of ten, for every label alike
    CHECK(t.labels == std::vector<std::string>{"10⁻⁷", "2×10⁻⁷", "5×10⁻⁷", "10⁻⁶"});
    t = log_ticks(1e-8, 2);
    CHECK(t.labels.front() == "10⁻⁸");
    CHECK(t.labels[8] == "10⁰");
    CHECK(t.labels.back() == "10¹");
    CHECK_ERROR(log_ticks(0, 1), "log_ticks", "above 0");
}

TEST_CASE("Plot: a line's points land where the frame and the axis ranges put them") {
    Plot p;
    p.title = "Loss <and> gradient";
    p.x.title = "p_t";
    p.y.title = "loss";
    p.x.min = 0, p.x.max = 10, p.y.min = 0, p.y.max = 1;
    p.series.push_back({"γ = 0", {0, 5, 10}, {0, 0.5, 1}});
    Series broken{"γ = 2", {0, 2, 4, 6, 8}, {0.1, 0.2, std::nan(""), 0.4, 0.5}};
    broken.markers = true;
    p.series.push_back(broken);
    Xml root = parse(to_svg(p));
    Rect f = frame_of(root);

    auto lines = root.find("polyline", "series");
    REQUIRE(lines.size() == 3);  // the NaN cuts the second series in two
    std::vector<Point> pts = points_of(*lines[0]);
    REQUIRE(pts.size() == 3);
    CHECK(std::fabs(pts[0].x - f.x) < kPx);
    CHECK(std::fabs(pts[0].y - (f.y + f.h)) < kPx);
    CHECK(std::fabs(pts[1].x - (f.x + f.w / 2)) < kPx);
    CHECK(std::fabs(pts[1].y - (f.y + f.h / 2)) < kPx);
    CHECK(std::fabs(pts[2].x - (f.x + f.w)) < kPx);
    CHECK(std::fabs(pts[2].y - f.y) < kPx);
    CHECK(points_of(*lines[1]).size() == 2);
    CHECK(points_of(*lines[2]).size() == 2);
    CHECK(lines[0]->attr("stroke") == category_colour(0).hex());
    CHECK(lines[1]->attr("stroke") == category_colour(1).hex());
    CHECK(root.find("circle", "marker").size() == 4);  // the NaN point has none

    CHECK(texts(root, "title") == std::vector<std::string>{"Loss <and> gradient"});
    CHECK(texts(root, "axis-title") == std::vector<std::string>{"p_t", "loss"});
    CHECK(texts(root, "legend-label") == std::vector<std::string>{"γ = 0", "γ = 2"});
    CHECK(texts(root, "tick-label y") == std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"});
    // The tick marks of 0, 0.2, ..., 1 climb the frame in equal steps.
    std::vector<const Xml*> y_ticks;
    for (const Xml* t : root.find("line", "tick"))
        if (t->has_class("y")) y_ticks.push_back(t);
    REQUIRE(y_ticks.size() == 6);
    for (size_t i = 0; i < 6; ++i)
        CHECK(std::fabs(y_ticks[i]->number("y1") - (f.y + f.h * (1 - 0.2 * double(i)))) < kPx);
}

TEST_CASE("Plot: log axes and image coordinates map as they should") {
    Plot p;
    p.x.log = true;
    p.x.min = 1, p.x.max = 100;
    p.y.min = 0, p.y.max = 4;
    p.y_down = true;
    p.series.push_back({"", {1, 10, 100}, {0, 1, 4}});
    p.legend = LegendPosition::none;
    Xml root = parse(to_svg(p));
    Rect f = frame_of(root);
    std::vector<Point> pts = points_of(*root.find("polyline", "series")[0]);
    REQUIRE(pts.size() == 3);
    CHECK(std::fabs(pts[1].x - (f.x + f.w / 2)) < kPx);  // 10 is half-way from 1 to 100
    CHECK(std::fabs(pts[0].y - f.y) < kPx);              // y = 0 at the top
    CHECK(std::fabs(pts[1].y - (f.y + f.h / 4)) < kPx);
    CHECK(std::fabs(pts[2].y - (f.y + f.h)) < kPx);
    CHECK(root.find("g", "legend").empty());
    CHECK(texts(root, "tick-label x") == std::vector<std::string>{"1", "2", "5", "10", "20", "50", "100"});
}

TEST_CASE("Plot: an image with boxes fills the frame, boxes and their tags where the data puts them") {
    Plot p;
    p.axes = false;
    p.y_down = true;
    p.equal_aspect = true;
    p.legend = LegendPosition::none;
    ImageLayer im;
    im.image = Raster(64, 32, Colour{20, 20, 20});
    im.x_max = 64, im.y_max = 32;
    p.images.push_back(im);
    Box truth{16, 48, 8, 24, category_colour(2), "cat 0.92", 2, true};
    p.boxes.push_back(truth);
    p.notes.push_back({32, 4, "a & b", Font{}});
    Xml root = parse(to_svg(p));
    Rect f = frame_of(root);
    CHECK(f.w == doctest::Approx(2 * f.h).epsilon(0.001));  // equal aspect: 64 x 32
    auto images = root.find("image");
    REQUIRE(images.size() == 1);
    Rect i = rect_of(*images[0]);
    CHECK(std::fabs(i.x - f.x) < kPx);
    CHECK(std::fabs(i.w - f.w) < kPx);
    CHECK(std::fabs(i.h - f.h) < kPx);
    auto boxes = root.find("rect", "box");
    REQUIRE(boxes.size() == 1);
    Rect b = rect_of(*boxes[0]);
    const double s = f.w / 64;  // pixels per data unit
    CHECK(std::fabs(b.x - (f.x + 16 * s)) < kPx);
    CHECK(std::fabs(b.y - (f.y + 8 * s)) < kPx);
    CHECK(std::fabs(b.w - 32 * s) < kPx);
    CHECK(std::fabs(b.h - 16 * s) < kPx);
    CHECK(boxes[0]->attr("stroke-dasharray") == "5 3");
    CHECK(texts(root, "box-label") == std::vector<std::string>{"cat 0.92"});
    CHECK(texts(root, "note") == std::vector<std::string>{"a & b"});
    CHECK(root.find("text", "tick-label").empty());  // no axes
}

TEST_CASE("Plot refuses what it cannot draw") {
    Plot p;
    p.series.push_back({"bad", {1, 2}, {1}});
    CHECK_ERROR(to_svg(p), "Plot", "'bad'", "2 x values", "1 y values");
    p.series = {{"s", {1, 2}, {1, 2}}};
    p.x.log = true;
    p.x.min = 0;
    CHECK_ERROR(to_svg(p), "log axis needs min > 0");
    p.x = Axis{};
    p.x.min = 3, p.x.max = 1;
    CHECK_ERROR(to_svg(p), "min 3 >= max 1");
    p.x = Axis{};
    p.x.ticks = {0, 1};
    p.x.tick_labels = {"zero"};
    CHECK_ERROR(to_svg(p), "1 tick labels for 2 ticks");
    p.x = Axis{};
    p.width = 60, p.height = 40;
    CHECK_ERROR(to_svg(p), "Plot", "too small");
}

TEST_CASE("Plot: given ticks with names replace the automatic ones") {
    Plot p;
    p.series.push_back({"", {0, 1, 2}, {3, 4, 5}});
    p.x.ticks = {0, 1, 2};
    p.x.tick_labels = {"zero", "one", "two"};
    Xml root = parse(to_svg(p));
    CHECK(texts(root, "tick-label x") == std::vector<std::string>{"zero", "one", "two"});
}

namespace {

BarChart three_categories() {
    BarChart c;
    c.title = "Recall";
    c.x_title = "class";
    c.y.title = "recall";
    c.y.min = 0, c.y.max = 1;
    c.categories = {"cat", "dog", "bird"};
    c.highlight = {false, true, false};
    c.highlight_label = "minority class";
    c.error_label = "± 1 std";
    c.series.push_back({"ce", {0.5, 0.0, 1.7}, {0.1, 0.05, 0}});  // 1.7 is clamped
    c.series.push_back({"focal", {0.25, std::nan(""), 0.003}});
    return c;
}

}  // namespace

TEST_CASE("BarChart: bar heights and places follow the values; zero bars are drawn with their value") {
    BarChart c = three_categories();
    Xml root = parse(to_svg(c));
    Rect f = frame_of(root);
    const double group = f.w / 3, bar = group * 0.8 / 2;

    auto bars = root.find("rect", "bar");
    REQUIRE(bars.size() == 3);  // 0.5, 1.7 (clamped) and 0.25; the zero and 0.003 are small bars
    Rect b0 = rect_of(*bars[0]);
    CHECK(std::fabs(b0.x - (f.x + 0.1 * group)) < kPx);
    CHECK(std::fabs(b0.h - 0.5 * f.h) < kPx);
    CHECK(std::fabs(b0.y + b0.h - (f.y + f.h)) < kPx);  // rises from the baseline
    CHECK(bars[0]->attr("fill") == category_colour(0).hex());
    REQUIRE(bars[0]->children.size() == 1);
    CHECK(bars[0]->children[0].text == "ce, cat: 0.50 ± 0.10");
    Rect b1 = rect_of(*bars[1]);
    CHECK(std::fabs(b1.x - (f.x + 2.1 * group)) < kPx);
    CHECK(std::fabs(b1.h - f.h) < kPx);  // clamped at the top of the axis
    Rect b2 = rect_of(*bars[2]);
    CHECK(std::fabs(b2.x - (f.x + 0.1 * group + bar)) < kPx);
    CHECK(std::fabs(b2.h - 0.25 * f.h) < kPx);
    CHECK(bars[2]->attr("fill") == category_colour(1).hex());

    auto small = root.find("rect", "bar-small");
    REQUIRE(small.size() == 2);  // ce's zero and focal's 0.003; focal's NaN has no bar at all
    CHECK(small[0]->attr("stroke") == category_colour(0).hex());
    CHECK(rect_of(*small[0]).h > 2);
    CHECK(texts(root, "bar-value") == std::vector<std::string>{"0", "0.00"});

    // Whiskers: three lines each for ce's cat (± 0.1) and dog (± 0.05); none where e = 0.
    auto whiskers = root.find("line", "whisker");
    REQUIRE(whiskers.size() == 6);
    CHECK(std::fabs(whiskers[0]->number("y1") - (f.y + f.h * 0.6)) < kPx);
    CHECK(std::fabs(whiskers[0]->number("y2") - (f.y + f.h * 0.4)) < kPx);

    auto bands = root.find("g", "highlight");
    REQUIRE(bands.size() == 1);
    REQUIRE(bands[0]->children.size() == 1);
    Rect band = rect_of(bands[0]->children[0]);
    CHECK(std::fabs(band.x - (f.x + group)) < kPx);
    CHECK(std::fabs(band.w - group) < kPx);
    CHECK(std::fabs(band.h - f.h) < kPx);

    CHECK(texts(root, "tick-label x") == std::vector<std::string>{"cat", "dog", "bird"});
    CHECK(texts(root, "axis-title") == std::vector<std::string>{"class", "recall"});
    // A legend entry for every colour: both series, the band, and the whiskers.
    CHECK(texts(root, "legend-label") ==
          std::vector<std::string>{"ce", "focal", "minority class", "± 1 std"});
    CHECK(root.find("rect", "legend-swatch").size() == 3);
    CHECK(!root.find("line", "legend-whisker").empty());
}

TEST_CASE("BarChart: neighbouring highlighted categories share one band") {
    BarChart c = three_categories();
    c.highlight = {true, true, false};
    Xml root = parse(to_svg(c));
    Rect f = frame_of(root);
    auto bands = root.find("g", "highlight");
    REQUIRE(bands.size() == 1);
    REQUIRE(bands[0]->children.size() == 1);
    Rect band = rect_of(bands[0]->children[0]);
    CHECK(std::fabs(band.x - f.x) < kPx);
    CHECK(std::fabs(band.w - 2 * f.w / 3) < kPx);
    c.highlight = {true, false, true};
    root = parse(to_svg(c));
    CHECK(root.find("g", "highlight")[0]->children.size() == 2);
}

TEST_CASE("BarChart: names too long for their group are turned, not overlapped") {
    BarChart c = three_categories();
    c.categories = {"T-shirt/top", "Ankle boot", "Pullover"};
    c.width = 260;
    c.legend = LegendPosition::none;
    Xml root = parse(to_svg(c));
    auto labels = root.find("text", "tick-label x");
    REQUIRE(labels.size() == 3);
    for (const Xml* l : labels) CHECK(l->attr("transform").find("rotate(-40") == 0);
    c.width = 2000;
    root = parse(to_svg(c));
    for (const Xml* l : root.find("text", "tick-label x")) CHECK(!l->has("transform"));
}

TEST_CASE("BarChart refuses mismatched inputs") {
    BarChart c = three_categories();
    c.series[1].values.pop_back();
    CHECK_ERROR(to_svg(c), "BarChart", "'focal'", "2 values for 3 categories");
    c = three_categories();
    c.series[0].errors = {0.1};
    CHECK_ERROR(to_svg(c), "'ce'", "1 errors for 3 categories");
    c = three_categories();
    c.highlight = {true};
    CHECK_ERROR(to_svg(c), "1 highlight flags for 3 categories");
    c.series.clear();
    CHECK_ERROR(to_svg(c), "at least one category and one series");
}

TEST_CASE("confusion_chart: one cell per pair, coloured by the row's share, the counts written in") {
    ConfusionMatrix cm(3);
    cm.add({0, 0, 0, 0, 1, 1, 2, 2, 2, 2}, {0, 0, 0, 1, 1, 2, 2, 2, 0, 1});
    MatrixChart m = confusion_chart(cm, {"zero", "one", "two"});
    CHECK(m.values == std::vector<double>{0.75, 0.25, 0, 0, 0.5, 0.5, 0.25, 0.25, 0.5});
    CHECK(m.cell_text == std::vector<std::string>{"3", "1", "0", "0", "1", "1", "1", "1", "2"});
    Xml root = parse(to_svg(m));
    auto cells = root.find("rect", "cell");
    REQUIRE(cells.size() == 9);
    CHECK(cells[0]->attr("fill") == sequential_colour(std::sqrt(0.75)).hex());  // square-root scale
    CHECK(cells[1]->attr("fill") == sequential_colour(0.5).hex());
    CHECK(cells[2]->attr("fill") == sequential_colour(0).hex());
    Rect c0 = rect_of(*cells[0]), c4 = rect_of(*cells[4]);
    CHECK(c0.w == doctest::Approx(c0.h));  // square cells
    CHECK(std::fabs(c4.x - (c0.x + c0.w)) < kPx);
    CHECK(std::fabs(c4.y - (c0.y + c0.h)) < kPx);
    CHECK(texts(root, "cell-text") == m.cell_text);
    CHECK(texts(root, "tick-label y") == std::vector<std::string>{"zero", "one", "two"});
    CHECK(texts(root, "axis-title") ==
          std::vector<std::string>{"predicted class", "true class",
                                   "share of the true class (square-root scale)"});
    CHECK(cells[1]->children[0].text == "zero / one: 1");

    // The colour bar's ticks sit where their value's colour is: 0.25 half-way up on the
    // square-root scale.
    const Xml& colour_bar = *root.find("g", "colour-bar")[0];
    Rect bar = rect_of(*colour_bar.find("rect").back());
    bool found = false;
    for (const Xml* t : root.find("text", "tick-label scale"))
        if (t->text == "0.25") {
            found = true;
            CHECK(std::fabs(t->number("y") - 11 * 0.35 - (bar.y + bar.h / 2)) < kPx);
        }
    CHECK(found);

    MatrixChart numbered = confusion_chart(cm, {});
    CHECK(numbered.row_labels == std::vector<std::string>{"0", "1", "2"});
    CHECK_ERROR(confusion_chart(cm, {"a", "b"}), "confusion_chart", "2 class names", "3-class");
    m.values.pop_back();
    CHECK_ERROR(to_svg(m), "MatrixChart", "8 values for 3 x 3 cells");
}

TEST_CASE("draw: charts as panels of one figure, each inside its rectangle") {
    Svg figure(1200, 400);
    Plot p;
    p.series.push_back({"a", {0, 1}, {0, 1}});
    draw(figure, p, 0, 0, 600, 400);
    draw(figure, three_categories(), 600, 0, 600, 400);
    Xml root = parse(figure);
    auto frames = root.find("rect", "frame");
    REQUIRE(frames.size() == 2);
    Rect left = rect_of(*frames[0]), right = rect_of(*frames[1]);
    CHECK(left.x + left.w <= 600);
    CHECK(right.x >= 600);
    CHECK(right.x + right.w <= 1200);
    CHECK(root.find("clipPath").size() == 2);  // ids stay unique across panels
    CHECK(root.find("clipPath")[0]->attr("id") != root.find("clipPath")[1]->attr("id"));
}
