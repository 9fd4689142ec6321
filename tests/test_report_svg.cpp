// test_report_svg.cpp — the SVG document of report/svg.h: well-formed XML whatever the
// text (escaping, control bytes, broken UTF-8), numbers as written, embedded images that
// decode to the raster's exact pixels, misuse refused, and atomic saves.
#include <doctest/doctest.h>
#include <fstream>
#include <sstream>
#include <stb/stb_image.h>

#include <focalgrad/core/io.h>
#include <focalgrad/report/svg.h>

#include "helpers.h"
#include "xml_mini.h"

using namespace focalgrad;
using namespace focalgrad::report;
using fgtest::Xml;

namespace {

using fgtest::read_file;

std::vector<uint8_t> from_base64(const std::string& text) {
    auto digit = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        return c == '+' ? 62 : c == '/' ? 63 : -1;
    };
    std::vector<uint8_t> out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        if (c == '=') break;
        int d = digit(c);
        REQUIRE(d >= 0);
        acc = (acc << 6) | uint32_t(d);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(uint8_t((acc >> bits) & 0xff));
        }
    }
    return out;
}

}  // namespace

TEST_CASE("xml_escape: markup characters, controls and broken UTF-8 never reach the file raw") {
    CHECK(xml_escape("a < b & c > d \"q\" 'a'") == "a &lt; b &amp; c &gt; d &quot;q&quot; &apos;a&apos;");
    CHECK(xml_escape("tab\tnew\nline") == "tab new line");
    CHECK(xml_escape(std::string("nul\0bell\x07 del\x7f", 14)) == "nulbell del");
    CHECK(xml_escape("γ = 2 ± 0.1, p\xe2\x82\x9c") == "γ = 2 ± 0.1, p\xe2\x82\x9c");  // valid UTF-8 kept
    CHECK(xml_escape("bad \xff byte, cut \xce") == "bad \xef\xbf\xbd byte, cut \xef\xbf\xbd");
    CHECK(xml_escape("overlong \xc0\xaf, surrogate \xed\xa0\x80") ==
          "overlong \xef\xbf\xbd\xef\xbf\xbd, surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

TEST_CASE("svg_number: two decimals at most, no trailing zeros, no -0; non-finite refused") {
    CHECK(svg_number(3) == "3");
    CHECK(svg_number(2.5) == "2.5");
    CHECK(svg_number(1.0 / 3) == "0.33");
    CHECK(svg_number(-0.001) == "0");
    CHECK(svg_number(-12.346) == "-12.35");
    CHECK(svg_number(100) == "100");
    CHECK_ERROR(svg_number(std::nan("")), "svg", "finite");
}

TEST_CASE("Svg: every element lands in a well-formed document with its attributes") {
    Svg svg(320, 200);
    svg.begin_group("layer <1>");
    Paint p = Paint::filled({0, 114, 178}, "bar");
    p.stroke = Colour{1, 2, 3};
    p.stroke_width = 1.5;
    p.opacity = 0.5;
    svg.rect(10, 20, 30.25, 40, p, "ce & focal: 0.5 < 1");
    Paint dashed = Paint::stroked({9, 9, 9}, 2);
    dashed.dash = "5 3";
    svg.line(0, 0, 320, 200, dashed);
    svg.polyline({{1, 2}, {3.5, 4}, {5, 6}}, Paint::stroked(kInk));
    svg.polygon({{0, 0}, {1, 0}, {0, 1}}, Paint::filled(kGrid));
    svg.circle(50, 60, 3, Paint::filled(kInk, "marker"));
    svg.text(100, 110, "p_t < 0.5 & \"γ\"", Font{13, kMutedInk, Anchor::middle, true, -90, "label"});
    svg.end_group();
    Xml root = fgtest::XmlParser(svg.str()).parse();

    CHECK(root.name == "svg");
    CHECK(root.attr("xmlns") == "http://www.w3.org/2000/svg");
    CHECK(root.attr("viewBox") == "0 0 320 200");
    CHECK(root.number("width") == 320);
    REQUIRE(root.find("rect", "background").size() == 1);
    REQUIRE(root.find("g").size() == 1);
    CHECK(root.find("g")[0]->attr("class") == "layer <1>");

    const auto bars = root.find("rect", "bar");
    REQUIRE(bars.size() == 1);
    const Xml& bar = *bars[0];
    CHECK(bar.attr("x") == "10");
    CHECK(bar.attr("y") == "20");
    CHECK(bar.attr("width") == "30.25");
    CHECK(bar.attr("height") == "40");
    CHECK(bar.attr("fill") == "#0072b2");
    CHECK(bar.attr("stroke") == "#010203");
    CHECK(bar.attr("stroke-width") == "1.5");
    CHECK(bar.attr("opacity") == "0.5");
    REQUIRE(bar.children.size() == 1);
    CHECK(bar.children[0].name == "title");
    CHECK(bar.children[0].text == "ce & focal: 0.5 < 1");

    const Xml& line = *root.find("line")[0];
    CHECK(line.attr("stroke-dasharray") == "5 3");
    CHECK(line.attr("fill") == "none");
    CHECK(root.find("polyline")[0]->attr("points") == "1,2 3.5,4 5,6");
    CHECK(root.find("polygon")[0]->attr("points") == "0,0 1,0 0,1");
    CHECK(root.find("circle", "marker")[0]->attr("r") == "3");

    const Xml& text = *root.find("text", "label")[0];
    CHECK(text.text == "p_t < 0.5 & \"γ\"");
    CHECK(text.attr("text-anchor") == "middle");
    CHECK(text.attr("font-weight") == "bold");
    CHECK(text.attr("transform") == "rotate(-90 100 110)");
    CHECK(text.attr("font-size") == "13");
}

TEST_CASE("Svg: hostile text in every slot still gives a well-formed document") {
    std::string hostile = std::string("</text><script>&amp;\"'\x01\xff]]>", 27);
    Svg svg(100, 100);
    svg.begin_group(hostile);
    svg.text(1, 2, hostile, Font{});
    svg.rect(0, 0, 1, 1, Paint::filled(kInk, hostile), hostile);
    svg.end_group();
    Xml root = fgtest::XmlParser(svg.str()).parse();
    CHECK(root.find("script").empty());
    REQUIRE(root.find("text").size() == 1);
    CHECK(root.find("text")[0]->text == "</text><script>&amp;\"'\xef\xbf\xbd]]>");
}

TEST_CASE("Svg: an embedded image decodes to exactly the raster's pixels") {
    Raster r(5, 3);
    for (int y = 0; y < 3; ++y)
        for (int x = 0; x < 5; ++x) r.set(x, y, Colour{uint8_t(40 * x), uint8_t(100 * y), uint8_t(x * y)});
    Svg svg(50, 30);
    svg.image(1, 2, 40, 24, r);
    svg.image(0, 0, 5, 3, r, true, 0.5);
    Xml root = fgtest::XmlParser(svg.str()).parse();
    const auto images = root.find("image");
    REQUIRE(images.size() == 2);
    CHECK(images[0]->attr("style") == "image-rendering:pixelated");
    CHECK(images[0]->attr("width") == "40");
    CHECK(!images[1]->has("style"));
    CHECK(images[1]->attr("opacity") == "0.5");
    const std::string& href = images[0]->attr("xlink:href");
    const std::string prefix = "data:image/png;base64,";
    REQUIRE(href.compare(0, prefix.size(), prefix) == 0);
    std::vector<uint8_t> png = from_base64(href.substr(prefix.size()));
    int w = 0, h = 0, channels = 0;
    unsigned char* pixels = stbi_load_from_memory(png.data(), int(png.size()), &w, &h, &channels, 3);
    REQUIRE(pixels);
    CHECK(w == 5);
    CHECK(h == 3);
    CHECK(std::vector<uint8_t>(pixels, pixels + 45) == r.pixels);
    stbi_image_free(pixels);
}

TEST_CASE("Svg and Raster refuse what cannot be drawn") {
    CHECK_ERROR(Svg(0, 10), "Svg", "positive");
    CHECK_ERROR(Raster(0, 4), "Raster", "0 x 4");
    Raster r(2, 2);
    CHECK_ERROR(r.set(2, 0, kInk), "Raster::set", "(2, 0)", "2 x 2");
    CHECK_ERROR(r.at(0, -1), "Raster::at", "(0, -1)");
    Svg svg(10, 10);
    CHECK_ERROR(svg.rect(0, std::numeric_limits<double>::infinity(), 1, 1, Paint::filled(kInk)), "finite");
    CHECK_ERROR(svg.end_group(), "end_group", "no group");
    svg.begin_group("open");
    CHECK_ERROR(svg.str(), "still open");
    Raster broken;
    broken.width = 2, broken.height = 2;
    CHECK_ERROR(svg.image(0, 0, 1, 1, broken), "Svg::image", "2 x 2", "0 bytes");
}

TEST_CASE("colours: hex, blend, the palette and the sequential scale") {
    CHECK(Colour{0, 114, 178}.hex() == "#0072b2");
    CHECK(blend(Colour{0, 0, 0}, kWhite, 0.5) == Colour{128, 128, 128});
    CHECK(blend(Colour{10, 20, 30}, kWhite, 0) == Colour{10, 20, 30});
    CHECK(blend(Colour{10, 20, 30}, kWhite, 7) == kWhite);
    for (size_t i = 0; i < 10; ++i)
        for (size_t j = 0; j < i; ++j) CHECK(category_colour(i) != category_colour(j));
    CHECK(category_colour(10) == category_colour(0));
    // Darker as t grows: the sum of the channels falls strictly.
    int previous = 3 * 256;
    for (double t = 0; t <= 1.0001; t += 0.125) {
        Colour c = sequential_colour(t);
        int sum = c.r + c.g + c.b;
        CHECK(sum < previous);
        previous = sum;
    }
    CHECK(sequential_colour(-1) == sequential_colour(0));
    CHECK(sequential_colour(2) == sequential_colour(1));
}

TEST_CASE("text_width: more characters and wider letters take more room") {
    CHECK(text_width("", 12) == 0);
    CHECK(text_width("mmmm", 12) > text_width("iiii", 12));
    CHECK(text_width("abc", 24) == doctest::Approx(2 * text_width("abc", 12)));
    CHECK(text_width("γγ", 12) == doctest::Approx(2 * text_width("γ", 12)));  // code points, not bytes
}

TEST_CASE("save_svg writes atomically: a failed write leaves the old file whole") {
    fgtest::TempDir tmp;
    const std::string path = tmp / "chart.svg";
    Svg first(10, 10);
    first.text(1, 1, "first", Font{});
    save_svg(path, first);
    CHECK(read_file(path) == first.str());
    Svg second(20, 20);
    second.text(1, 1, "second", Font{});
    detail::set_write_fault_after_bytes(30);
    CHECK_ERROR(save_svg(path, second), "save_svg", "No space left");
    detail::set_write_fault_after_bytes(-1);
    CHECK(read_file(path) == first.str());
    CHECK(tmp.entries() == std::vector<std::string>{"chart.svg"});
}
