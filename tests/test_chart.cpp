// test_chart.cpp — the bar chart of examples/chart.h, checked on its pixels: bar heights,
// colours, clamping and whiskers at the rows the value scale predicts; the font (every
// glyph inked, widths additive, UTF-8 '±'); labels kept inside their group; clear errors
// for bad charts; and the PNG on disk decoding to exactly the rendered bytes.
#include <cmath>
#include <cstring>
#include <doctest/doctest.h>
#include <filesystem>
#include <memory>
#include <stb/stb_image.h>
#include <string>
#include <vector>

#include "../examples/chart.h"
#include "helpers.h"
#include "test_data_helpers.h"

using namespace focalgrad;
using namespace focalgrad::chart;

namespace {

// A chart whose bars are easy to find: two groups of three, no whiskers; bar 2 is
// highlighted. Values: a half bar, an empty bar, one clamped above y_max; then a quarter,
// a negative (clamped to nothing), a full bar.
BarChart simple_chart() {
    BarChart c;
    c.title = "Recall by loss";
    c.subtitle = "test chart";
    c.y_label = "recall";
    c.bar_labels = {"0", "1", "2"};
    c.highlight = {false, false, true};
    c.highlight_note = "orange = rare";
    c.groups = {{"ce", {0.5, 0.0, 1.7}, {}}, {"focal", {0.25, -0.3, 1.0}, {}}};
    return c;
}

constexpr int kW = 640, kH = 400;

Rgb pixel(const std::vector<uint8_t>& img, int width, int x, int y) {
    const uint8_t* p = &img[(size_t(y) * size_t(width) + size_t(x)) * 3];
    return {p[0], p[1], p[2]};
}

bool is_bar(Rgb c) { return c == kBarColour || c == kAccentColour; }

// The expected number of bar rows for value v, derived from the plot rectangle alone.
int expected_bar_height(const Layout& L, double v) {
    double t = (std::min(std::max(v, L.y_min), L.y_max) - L.y_min) / (L.y_max - L.y_min);
    return int(std::lround(t * (L.plot_bottom - L.plot_top)));
}

int lit_pixels(const Canvas& canvas) {
    int n = 0;
    for (int y = 0; y < canvas.height; ++y)
        for (int x = 0; x < canvas.width; ++x) n += canvas.at(x, y) != kBackground;
    return n;
}

}  // namespace

namespace focalgrad::chart {
// For doctest's messages: CHECK(a == b) on colours prints both.
std::ostream& operator<<(std::ostream& os, Rgb c) {
    return os << "rgb(" << int(c.r) << ", " << int(c.g) << ", " << int(c.b) << ")";
}
}  // namespace focalgrad::chart

TEST_CASE("chart font: the table covers printable ASCII in order, each glyph a 5-column picture") {
    for (int i = 0; i < 95; ++i) {
        const Glyph& g = kGlyphs[i];
        CHECK_MESSAGE(g.ch == char(32 + i), "glyph ", i, " is '", g.ch, "'");
        const size_t len = std::strlen(g.rows);
        CHECK_MESSAGE((len == 41 || len == 47 || len == 53), "glyph '", g.ch, "': ", len, " chars");
        for (size_t k = 0; k < len; ++k) {
            const bool separator = k % 6 == 5;
            const char ch = g.rows[k];
            CHECK_MESSAGE((separator ? ch == ' ' : (ch == '.' || ch == '#')), "glyph '", g.ch, "' char ", k,
                          " is '", ch, "'");
        }
    }
}

TEST_CASE("chart font: every printable glyph but the space draws ink; the space draws none") {
    for (int ch = 32; ch <= 126; ++ch) {
        Canvas canvas(20, 30, kBackground);
        draw_text(canvas, 2, 2, std::string(1, char(ch)), 2, kTextColour);
        const int n = lit_pixels(canvas);
        if (ch == ' ')
            CHECK(n == 0);
        else
            CHECK_MESSAGE(n > 0, "glyph '", char(ch), "' draws nothing");
    }
}

TEST_CASE("chart font: pixels are exact scale x scale squares, placed from the top-left") {
    // 'L' is a 7-row stem plus a 4-pixel foot: 11 font pixels, each a 2 x 2 square at scale 2.
    Canvas canvas(30, 30, kBackground);
    draw_text(canvas, 3, 4, "L", 2, kTextColour);
    CHECK(lit_pixels(canvas) == 11 * 4);
    for (int y = 0; y < 30; ++y)
        for (int x = 0; x < 30; ++x) {
            const bool stem = x >= 3 && x < 5 && y >= 4 && y < 18;
            const bool foot = x >= 3 && x < 13 && y >= 16 && y < 18;
            CHECK_MESSAGE((canvas.at(x, y) == kTextColour) == (stem || foot), "at ", x, ", ", y);
        }
    // Descenders hang below the 7-row body: 'g' reaches row 8, 'a' stops at row 6.
    auto lowest_row = [](const std::string& s) {
        Canvas c(20, 30, kBackground);
        draw_text(c, 0, 0, s, 1, kTextColour);
        int lowest = -1;
        for (int y = 0; y < c.height; ++y)
            for (int x = 0; x < c.width; ++x)
                if (c.at(x, y) != kBackground) lowest = y;
        return lowest;
    };
    CHECK(lowest_row("a") == 6);
    CHECK(lowest_row("g") == 8);
    CHECK(lowest_row("_") == 7);
}

TEST_CASE("chart font: text_width is additive, scales linearly, and digits share one width") {
    const std::vector<std::string> parts = {
        "", "a", "recall", "balanced_focal", " ", "0.8", "(5-9)", "mean \xC2\xB1 std", "\xE2\x82\xAC\xFF"};
    for (const std::string& a : parts)
        for (const std::string& b : parts)
            for (int scale : {1, 2, 3})
                CHECK_MESSAGE(text_width(a + b, scale) == text_width(a, scale) + text_width(b, scale), "'", a,
                              "' + '", b, "' at scale ", scale);
    for (const std::string& a : parts) CHECK(text_width(a, 3) == 3 * text_width(a, 1));
    CHECK(text_width("", 2) == 0);
    CHECK(text_width(" ", 1) == kSpaceAdvance);
    // Proportional letters, tabular digits (so columns of numbers line up).
    CHECK(text_width("i", 1) < text_width("m", 1));
    for (char d = '0'; d <= '9'; ++d) CHECK(text_width(std::string(1, d), 1) == 6);
    CHECK(ink_width("0.8", 2) == text_width("0.8", 2) - 2);
}

TEST_CASE("chart font: UTF-8 '±' is one glyph; other characters and stray bytes are boxes") {
    const std::string pm = "\xC2\xB1", euro = "\xE2\x82\xAC";
    CHECK(text_width(pm, 1) == 6);                          // one 5-column glyph and its gap, not two boxes
    CHECK(text_width(euro, 1) == text_width("\xFF", 1));    // a whole character: one box
    CHECK(text_width("\xC2", 1) == text_width("\xFF", 1));  // truncated sequence: one box
    CHECK(text_width("\xC2x", 1) == text_width("\xFF", 1) + text_width("x", 1));
    auto picture = [](const std::string& s) {
        Canvas c(12, 20, kBackground);
        draw_text(c, 0, 0, s, 1, kTextColour);
        return c.pixels;
    };
    CHECK(picture(pm) != picture(euro));
    CHECK(picture(pm) != picture(""));
    CHECK(picture(euro) == picture("\x01"));
    CHECK(picture(euro) != picture(""));
    // '±' is a 5 x 5 cross (rows 0-4) over a 5-pixel bar (row 6): 9 + 5 pixels.
    Canvas c(12, 20, kBackground);
    draw_text(c, 0, 0, pm, 1, kTextColour);
    CHECK(lit_pixels(c) == 14);
    for (int x = 0; x < 5; ++x) {
        CHECK(c.at(x, 2) == kTextColour);
        CHECK(c.at(x, 6) == kTextColour);
        CHECK(c.at(2, x) == kTextColour);
    }
}

TEST_CASE("chart font: fit_text shrinks, then truncates with '..', never splitting a character") {
    FittedText same = fit_text("focal", 1000, 2);
    CHECK(same.text == "focal");
    CHECK(same.scale == 2);

    const std::string label = "balanced_focal";
    FittedText smaller = fit_text(label, ink_width(label, 1), 2);
    CHECK(smaller.text == label);
    CHECK(smaller.scale == 1);

    FittedText cut = fit_text(label, ink_width(label, 1) - 1, 2);
    CHECK(cut.scale == 1);
    CHECK(cut.text == "balanced_foc..");  // "balanced_foca.." is 81 pixels wide, over 78
    CHECK(ink_width(cut.text, 1) <= ink_width(label, 1) - 1);

    const std::string pms = "\xC2\xB1\xC2\xB1\xC2\xB1\xC2\xB1";
    FittedText cut_pm = fit_text(pms, ink_width(pms, 1) - 1, 1);
    CHECK(cut_pm.text.size() % 2 == 0);  // whole 2-byte characters, then ".."
    CHECK(cut_pm.text.substr(cut_pm.text.size() - 2) == "..");
    CHECK(cut_pm.text.substr(0, 2) == "\xC2\xB1");

    CHECK(fit_text(label, 2, 2).text.empty());
}

TEST_CASE("chart ticks: steps of 1, 2 or 5 times a power of ten, without -0") {
    int decimals = -1;
    std::vector<double> t = detail::tick_values(0.0, 1.0, decimals);
    REQUIRE(t.size() == 6);
    for (size_t i = 0; i < t.size(); ++i) CHECK(t[i] == doctest::Approx(0.2 * double(i)));
    CHECK(decimals == 1);
    CHECK(detail::format_tick(t[3], decimals) == "0.6");
    CHECK(detail::format_tick(t[5], decimals) == "1.0");

    t = detail::tick_values(-1.0, 1.0, decimals);
    REQUIRE(t.size() == 5);  // step 0.5
    CHECK(t[0] == doctest::Approx(-1.0));
    CHECK(detail::format_tick(t[2], decimals) == "0.0");

    t = detail::tick_values(0.0, 100.0, decimals);
    REQUIRE(t.size() == 6);
    CHECK(decimals == 0);
    CHECK(detail::format_tick(t[4], decimals) == "80");

    t = detail::tick_values(0.5, 0.62, decimals);  // 0.12 / 5 = 0.024 rounds up to 0.05
    REQUIRE(t.size() == 3);
    CHECK(t[0] == doctest::Approx(0.5));
    CHECK(t[2] == doctest::Approx(0.6));
    CHECK(decimals == 2);
    CHECK(detail::format_tick(t[1], decimals) == "0.55");
}

TEST_CASE("bar chart: bar heights, colours and clamping follow the value scale") {
    const BarChart c = simple_chart();
    const Layout L = layout_bar_chart(c, kW, kH);
    const std::vector<uint8_t> img = render_bar_chart(c, kW, kH);
    REQUIRE(img.size() == size_t(kW) * kH * 3);
    REQUIRE(L.plot_top < L.plot_bottom);

    auto centre = [&](size_t g, size_t i) { return L.bar_left[g][i] + L.bar_width / 2; };
    // Bar-coloured rows in a column, from below the row of the note's swatch to the bottom.
    const int below_note = L.label_row + 9 * L.text_scale;
    auto bar_rows = [&](int x) {
        int n = 0;
        for (int y = below_note; y < kH; ++y) n += is_bar(pixel(img, kW, x, y));
        return n;
    };

    SUBCASE("a bar of 0.5 fills half the plot height, in the base colour, background above") {
        const int x = centre(0, 0);
        const int top = L.plot_bottom - expected_bar_height(L, 0.5);
        CHECK(pixel(img, kW, x, (top + L.plot_bottom) / 2) == kBarColour);
        CHECK(pixel(img, kW, x, top) == kBarColour);
        CHECK(pixel(img, kW, x, L.plot_bottom - 1) == kBarColour);
        CHECK(pixel(img, kW, x, top - 1) == kBackground);
        CHECK(bar_rows(x) == expected_bar_height(L, 0.5));
        // The bar is exactly bar_width wide: background on both sides at mid-height.
        const int mid = (top + L.plot_bottom) / 2;
        CHECK(pixel(img, kW, L.bar_left[0][0], mid) == kBarColour);
        CHECK(pixel(img, kW, L.bar_left[0][0] + L.bar_width - 1, mid) == kBarColour);
        CHECK(pixel(img, kW, L.bar_left[0][0] - 1, mid) == kBackground);
        CHECK(pixel(img, kW, L.bar_left[0][0] + L.bar_width, mid) == kBackground);
    }
    SUBCASE("a quarter bar is half as tall as the half bar (to a pixel of rounding)") {
        CHECK(std::abs(2 * bar_rows(centre(1, 0)) - bar_rows(centre(0, 0))) <= 1);
    }
    SUBCASE("a value of 0, or below y_min, draws no bar") {
        for (size_t g : {0, 1})
            for (int x = L.bar_left[g][1]; x < L.bar_left[g][1] + L.bar_width; ++x) CHECK(bar_rows(x) == 0);
    }
    SUBCASE("highlighted bars use the accent colour, others the base colour") {
        CHECK(pixel(img, kW, centre(0, 2), L.plot_bottom - 1) == kAccentColour);
        CHECK(pixel(img, kW, centre(1, 2), L.plot_bottom - 1) == kAccentColour);
        CHECK(pixel(img, kW, centre(1, 0), L.plot_bottom - 1) == kBarColour);
    }
    SUBCASE("a value above y_max is drawn as y_max: the full plot height, nothing above") {
        const int x17 = centre(0, 2), x10 = centre(1, 2);
        CHECK(pixel(img, kW, x17, L.plot_top) == kAccentColour);
        CHECK(pixel(img, kW, x17, L.plot_top - 1) != kAccentColour);
        CHECK(bar_rows(x17) == L.plot_bottom - L.plot_top);
        for (int y = below_note; y <= L.plot_bottom; ++y)
            CHECK(pixel(img, kW, x17, y) == pixel(img, kW, x10, y));
    }
    SUBCASE("a scanline just above the axis crosses one bar_width run per non-empty bar") {
        std::vector<int> runs;
        const int y = L.plot_bottom - 1;
        for (int x = 0; x < kW; ++x) {
            const bool on = is_bar(pixel(img, kW, x, y));
            if (on && (x == 0 || !is_bar(pixel(img, kW, x - 1, y)))) runs.push_back(0);
            if (on) ++runs.back();
        }
        REQUIRE(runs.size() == 4);  // 0.5, 1.7 | 0.25, 1.0
        for (int w : runs) CHECK(w == L.bar_width);
    }
    SUBCASE("gridlines at 0.2, 0.4, ... cross the plot; no whiskers without errors") {
        for (int k = 1; k <= 5; ++k) {
            const int row = L.plot_bottom - expected_bar_height(L, 0.2 * k);
            CHECK(pixel(img, kW, L.plot_right - 1, row) == kGridColour);
            CHECK(pixel(img, kW, L.plot_right - 1, row - 1) == kBackground);
        }
        for (int y = L.plot_top; y < L.plot_bottom; ++y)
            for (int x = L.plot_left; x < L.plot_right; ++x) CHECK(pixel(img, kW, x, y) != kWhiskerColour);
    }
    SUBCASE("the title, y label and group labels are drawn where the layout puts them") {
        auto text_in_rows = [&](int y0, int y1) {
            int n = 0;
            for (int y = y0; y < y1; ++y)
                for (int x = 0; x < kW; ++x) n += pixel(img, kW, x, y) == kTextColour;
            return n;
        };
        CHECK(text_in_rows(L.title_row, L.title_row + 7 * (L.text_scale + 1)) > 0);
        CHECK(text_in_rows(L.label_row, L.label_row + 7 * L.text_scale) > 0);
        CHECK(text_in_rows(L.group_label_row, L.group_label_row + 7 * L.text_scale) > 0);
        CHECK(text_in_rows(L.plot_top, L.plot_bottom) == 0);
    }
}

TEST_CASE("bar chart: whiskers span value ± error, clamped to the axis range") {
    BarChart c = simple_chart();
    c.groups = {{"ce", {0.5, 0.95, 0.02}, {0.1, 0.2, 0.05}}};
    const Layout L = layout_bar_chart(c, kW, kH);
    const std::vector<uint8_t> img = render_bar_chart(c, kW, kH);
    auto row = [&](double v) { return L.plot_bottom - expected_bar_height(L, v); };
    const int x0 = L.bar_left[0][0] + L.bar_width / 2;
    CHECK(pixel(img, kW, x0, row(0.6)) == kWhiskerColour);
    CHECK(pixel(img, kW, x0, row(0.6) - 1) == kBackground);
    CHECK(pixel(img, kW, x0, row(0.55)) == kWhiskerColour);  // the stem, above the bar
    CHECK(pixel(img, kW, x0, row(0.4)) == kWhiskerColour);
    CHECK(pixel(img, kW, x0, row(0.4) + 1) == kBarColour);
    CHECK(pixel(img, kW, L.bar_left[0][0], row(0.55)) == kBackground);  // the stem is narrow
    CHECK(pixel(img, kW, x0 - 3, row(0.55)) == kBackground);
    CHECK(pixel(img, kW, x0 - 3, row(0.6)) == kWhiskerColour);  // ...the caps wider
    CHECK(pixel(img, kW, x0 + 2, row(0.4)) == kWhiskerColour);
    // 0.95 + 0.2 stops at y_max; 0.02 - 0.05 stops at y_min.
    const int x1 = L.bar_left[0][1] + L.bar_width / 2, x2 = L.bar_left[0][2] + L.bar_width / 2;
    CHECK(pixel(img, kW, x1, L.plot_top) == kWhiskerColour);
    CHECK(pixel(img, kW, x1, L.plot_top - 1) == kBackground);
    CHECK(pixel(img, kW, x2, row(0.07)) == kWhiskerColour);
    CHECK(pixel(img, kW, x2, L.plot_bottom + L.text_scale) == kBackground);  // not below the axis
}

TEST_CASE("bar chart: a label wider than its group is shrunk or cut, never over a neighbour") {
    BarChart c = simple_chart();
    c.groups[0].label = "a_really_long_loss_name_that_cannot_possibly_fit_under_three_bars";
    c.groups[1].label = "";
    const Layout L = layout_bar_chart(c, kW, kH);
    const std::vector<uint8_t> img = render_bar_chart(c, kW, kH);
    int inside = 0;
    for (int y = L.group_label_row; y < L.group_label_row + 9 * L.text_scale; ++y)
        for (int x = 0; x < kW; ++x)
            if (pixel(img, kW, x, y) == kTextColour) {
                CHECK_MESSAGE((x >= L.group_left(0) && x < L.group_left(1)), "ink at x = ", x);
                ++inside;
            }
    CHECK(inside > 0);  // cut, not dropped
}

TEST_CASE("bar chart: bad charts are refused with a message naming the problem") {
    const BarChart good = simple_chart();
    CHECK_NOTHROW(render_bar_chart(good, kW, kH));

    BarChart c = good;
    c.groups.clear();
    CHECK_ERROR(render_bar_chart(c, kW, kH), "render_bar_chart", "no groups");

    c = good;
    c.groups[1].values.pop_back();
    CHECK_ERROR(render_bar_chart(c, kW, kH), "group 'focal' has 2 values for 3 bar_labels");

    c = good;
    c.groups[0].errors = {0.1, 0.1};
    CHECK_ERROR(render_bar_chart(c, kW, kH), "group 'ce' has 2 errors for 3 values");

    c = good;
    c.groups[0].values[1] = std::nan("");
    CHECK_ERROR(render_bar_chart(c, kW, kH), "group 'ce', bar '1': value is nan");

    c = good;
    c.groups[1].values[2] = INFINITY;
    CHECK_ERROR(render_bar_chart(c, kW, kH), "group 'focal', bar '2': value is inf");

    c = good;
    c.groups[0].errors = {0.1, -0.1, 0.1};
    CHECK_ERROR(render_bar_chart(c, kW, kH), "bar '1': error is -0.1", ">= 0");

    c = good;
    c.highlight = {true};
    CHECK_ERROR(render_bar_chart(c, kW, kH), "highlight has 1 entries for 3 bar_labels");

    c = good;
    c.bar_labels.clear();
    CHECK_ERROR(render_bar_chart(c, kW, kH), "bar_labels is empty");

    c = good;
    c.y_min = 1.0, c.y_max = 1.0;
    CHECK_ERROR(render_bar_chart(c, kW, kH), "y range [1, 1]", "y_min < y_max");
    c.y_min = 0.0, c.y_max = std::nan("");
    CHECK_ERROR(render_bar_chart(c, kW, kH), "y range", "not finite");

    CHECK_ERROR(render_bar_chart(good, 100, kH), "image size 100 x 400");
    CHECK_ERROR(render_bar_chart(good, kW, 100000), "image size 640 x 100000");

    c = good;
    c.bar_labels.assign(120, "x");
    c.highlight.clear();
    for (BarGroup& g : c.groups) g.values.assign(120, 0.5);
    CHECK_ERROR(render_bar_chart(c, kW, kH), "render_bar_chart: 2 groups of 120 bars", "use a wider image");
    CHECK_ERROR(layout_bar_chart(c, kW, kH), "layout_bar_chart: 2 groups of 120 bars");
}

TEST_CASE("save_bar_chart: the PNG decodes to the rendered pixels; bad charts write nothing") {
    fgtest::TempDir dir;
    BarChart c = simple_chart();
    c.subtitle = "mean \xC2\xB1 std over 3 seeds";
    c.groups[0].errors = {0.02, 0.0, 0.05};
    const std::string path = dir / "chart.png";
    save_bar_chart(c, path, kW, kH);

    int w = 0, h = 0, channels = 0;
    std::unique_ptr<stbi_uc, void (*)(void*)> png(stbi_load(path.c_str(), &w, &h, &channels, 3),
                                                  stbi_image_free);
    REQUIRE(png);
    CHECK(w == kW);
    CHECK(h == kH);
    CHECK(channels == 3);
    const std::vector<uint8_t> expected = render_bar_chart(c, kW, kH);
    CHECK(std::memcmp(png.get(), expected.data(), expected.size()) == 0);

    // The default size is 1200 x 560.
    const std::string big = dir / "big.png";
    save_bar_chart(c, big);
    REQUIRE(stbi_info(big.c_str(), &w, &h, &channels));
    CHECK(w == 1200);
    CHECK(h == 560);

    BarChart bad = c;
    bad.groups[0].values[0] = std::nan("");
    const std::string never = dir / "never.png";
    CHECK_ERROR(save_bar_chart(bad, never), "save_bar_chart: " + never, "value is nan");
    CHECK_FALSE(std::filesystem::exists(never));
}
