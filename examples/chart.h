// chart.h — a grouped bar chart written as a PNG, e.g. per-class recall (bars) for each
// loss (groups), with ± whiskers, highlighted bars and every part labelled directly.
// Text comes from a small built-in bitmap font (5 x 7 body, 2 descender rows), drawn at
// integer scales without anti-aliasing. Header-only, so each example stays one .cpp.
// Not here: other chart kinds, legends, rotated text, fonts beyond ASCII and '±'.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <focalgrad/core/error.h>
#include <focalgrad/data/image.h>

namespace focalgrad::chart {

struct BarGroup {
    std::string label;           // drawn under the group, e.g. the loss name
    std::vector<double> values;  // one per bar
    std::vector<double> errors;  // whisker half-lengths, one per bar; empty = no whiskers
};

struct BarChart {
    std::string title;                    // one line at the top
    std::string subtitle;                 // optional second line
    std::string y_label;                  // above the y axis, e.g. "recall"
    std::vector<std::string> bar_labels;  // one per bar inside a group, e.g. "0".."9"
    std::vector<bool> highlight;          // per bar position: accent colour; empty = none
    std::string highlight_note;           // top right, after a swatch of the accent colour
    std::vector<BarGroup> groups;         // side by side along x
    double y_min = 0.0, y_max = 1.0;      // bars rise from y_min; values are clamped
};

// ---------------------------------------------------------------------------------------
// Pixels and colours

struct Rgb {
    uint8_t r, g, b;
};
inline bool operator==(Rgb a, Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }
inline bool operator!=(Rgb a, Rgb b) { return !(a == b); }

inline constexpr Rgb kBackground{255, 255, 255};
inline constexpr Rgb kBarColour{59, 110, 176};     // blue
inline constexpr Rgb kAccentColour{232, 125, 30};  // orange: far from the blue for any eye
inline constexpr Rgb kGridColour{226, 228, 232};
inline constexpr Rgb kAxisColour{96, 100, 108};
inline constexpr Rgb kWhiskerColour{34, 34, 38};
inline constexpr Rgb kTextColour{28, 30, 34};
inline constexpr Rgb kMutedTextColour{100, 104, 112};

// An RGB image, row-major, 3 bytes per pixel. Drawing is clipped to the image.
struct Canvas {
    int width, height;
    std::vector<uint8_t> pixels;  // [height][width][3]

    Canvas(int w, int h, Rgb fill) : width(w), height(h), pixels(size_t(w) * size_t(h) * 3) {
        fill_rect(0, 0, w, h, fill);
    }

    Rgb at(int x, int y) const {  // x, y inside the image
        const uint8_t* p = &pixels[(size_t(y) * size_t(width) + size_t(x)) * 3];
        return {p[0], p[1], p[2]};
    }

    // Fills columns [x0, x1) of rows [y0, y1).
    void fill_rect(int x0, int y0, int x1, int y1, Rgb c) {
        x0 = std::max(x0, 0), y0 = std::max(y0, 0);
        x1 = std::min(x1, width), y1 = std::min(y1, height);
        for (int y = y0; y < y1; ++y)
            for (int x = x0; x < x1; ++x) {
                uint8_t* p = &pixels[(size_t(y) * size_t(width) + size_t(x)) * 3];
                p[0] = c.r, p[1] = c.g, p[2] = c.b;
            }
    }
};

// ---------------------------------------------------------------------------------------
// The font. Each glyph is a picture: rows top to bottom, separated by spaces, five columns
// each ('#' = ink). Rows 0-6 are the body (capitals and digits fill them, lowercase starts
// at row 2); rows 7-8, present only where needed, hang below the baseline.

struct Glyph {
    char ch;
    const char* rows;
};

inline constexpr Glyph kGlyphs[] = {
    {' ', "..... ..... ..... ..... ..... ..... ....."},
    {'!', "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#.."},
    {'"', ".#.#. .#.#. ..... ..... ..... ..... ....."},
    {'#', ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#."},
    {'$', "..#.. .#### #.#.. .###. ..#.# ####. ..#.."},
    {'%', "##... ##..# ...#. ..#.. .#... #..## ...##"},
    {'&', ".##.. #..#. #.#.. .#... #.#.# #..#. .##.#"},
    {'\'', "..#.. ..#.. ..... ..... ..... ..... ....."},
    {'(', "...#. ..#.. .#... .#... .#... ..#.. ...#."},
    {')', ".#... ..#.. ...#. ...#. ...#. ..#.. .#..."},
    {'*', "..... ..#.. #.#.# .###. #.#.# ..#.. ....."},
    {'+', "..... ..#.. ..#.. ##### ..#.. ..#.. ....."},
    {',', "..... ..... ..... ..... ..... .##.. .##.. ..#.. .#..."},
    {'-', "..... ..... ..... .###. ..... ..... ....."},
    {'.', "..... ..... ..... ..... ..... .##.. .##.."},
    {'/', "....# ....# ...#. ..#.. .#... #.... #...."},
    {'0', ".###. #...# #...# #...# #...# #...# .###."},
    {'1', "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###."},
    {'2', ".###. #...# ....# ...#. ..#.. .#... #####"},
    {'3', "##### ...#. ..#.. ...#. ....# #...# .###."},
    {'4', "...#. ..##. .#.#. #..#. ##### ...#. ...#."},
    {'5', "##### #.... ####. ....# ....# #...# .###."},
    {'6', "..##. .#... #.... ####. #...# #...# .###."},
    {'7', "##### ....# ...#. ..#.. .#... .#... .#..."},
    {'8', ".###. #...# #...# .###. #...# #...# .###."},
    {'9', ".###. #...# #...# .#### ....# ...#. .##.."},
    {':', "..... ..... .##.. .##.. ..... .##.. .##.."},
    {';', "..... ..... .##.. .##.. ..... .##.. .##.. ..#.. .#..."},
    {'<', "...#. ..#.. .#... #.... .#... ..#.. ...#."},
    {'=', "..... ..... ##### ..... ##### ..... ....."},
    {'>', ".#... ..#.. ...#. ....# ...#. ..#.. .#..."},
    {'?', ".###. #...# ....# ...#. ..#.. ..... ..#.."},
    {'@', ".###. #...# #.### #.#.# #.### #.... .####"},
    {'A', ".###. #...# #...# ##### #...# #...# #...#"},
    {'B', "####. #...# #...# ####. #...# #...# ####."},
    {'C', ".###. #...# #.... #.... #.... #...# .###."},
    {'D', "####. #...# #...# #...# #...# #...# ####."},
    {'E', "##### #.... #.... ####. #.... #.... #####"},
    {'F', "##### #.... #.... ####. #.... #.... #...."},
    {'G', ".###. #...# #.... #.### #...# #...# .####"},
    {'H', "#...# #...# #...# ##### #...# #...# #...#"},
    {'I', ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###."},
    {'J', "..### ...#. ...#. ...#. ...#. #..#. .##.."},
    {'K', "#...# #..#. #.#.. ##... #.#.. #..#. #...#"},
    {'L', "#.... #.... #.... #.... #.... #.... #####"},
    {'M', "#...# ##.## #.#.# #.#.# #...# #...# #...#"},
    {'N', "#...# #...# ##..# #.#.# #..## #...# #...#"},
    {'O', ".###. #...# #...# #...# #...# #...# .###."},
    {'P', "####. #...# #...# ####. #.... #.... #...."},
    {'Q', ".###. #...# #...# #...# #.#.# #..#. .##.#"},
    {'R', "####. #...# #...# ####. #.#.. #..#. #...#"},
    {'S', ".#### #.... #.... .###. ....# ....# ####."},
    {'T', "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#.."},
    {'U', "#...# #...# #...# #...# #...# #...# .###."},
    {'V', "#...# #...# #...# #...# #...# .#.#. ..#.."},
    {'W', "#...# #...# #...# #.#.# #.#.# #.#.# .#.#."},
    {'X', "#...# #...# .#.#. ..#.. .#.#. #...# #...#"},
    {'Y', "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#.."},
    {'Z', "##### ....# ...#. ..#.. .#... #.... #####"},
    {'[', ".###. .#... .#... .#... .#... .#... .###."},
    {'\\', "#.... #.... .#... ..#.. ...#. ....# ....#"},
    {']', ".###. ...#. ...#. ...#. ...#. ...#. .###."},
    {'^', "..#.. .#.#. #...# ..... ..... ..... ....."},
    {'_', "..... ..... ..... ..... ..... ..... ..... #####"},
    {'`', ".#... ..#.. ..... ..... ..... ..... ....."},
    {'a', "..... ..... .###. ....# .#### #...# .####"},
    {'b', "#.... #.... #.##. ##..# #...# #...# ####."},
    {'c', "..... ..... .###. #.... #.... #...# .###."},
    {'d', "....# ....# .##.# #..## #...# #...# .####"},
    {'e', "..... ..... .###. #...# ##### #.... .###."},
    {'f', "..##. .#..# .#... ###.. .#... .#... .#..."},
    {'g', "..... ..... .#### #...# #...# #...# .#### ....# .###."},
    {'h', "#.... #.... #.##. ##..# #...# #...# #...#"},
    {'i', "..#.. ..... .##.. ..#.. ..#.. ..#.. .###."},
    {'j', "...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##.."},
    {'k', "#.... #.... #..#. #.#.. ##... #.#.. #..#."},
    {'l', ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###."},
    {'m', "..... ..... ##.#. #.#.# #.#.# #.#.# #.#.#"},
    {'n', "..... ..... #.##. ##..# #...# #...# #...#"},
    {'o', "..... ..... .###. #...# #...# #...# .###."},
    {'p', "..... ..... ####. #...# #...# #...# ####. #.... #...."},
    {'q', "..... ..... .#### #...# #...# #...# .#### ....# ....#"},
    {'r', "..... ..... #.##. ##..# #.... #.... #...."},
    {'s', "..... ..... .###. #.... .###. ....# ####."},
    {'t', ".#... .#... ###.. .#... .#... .#..# ..##."},
    {'u', "..... ..... #...# #...# #...# #..## .##.#"},
    {'v', "..... ..... #...# #...# #...# .#.#. ..#.."},
    {'w', "..... ..... #...# #...# #.#.# #.#.# .#.#."},
    {'x', "..... ..... #...# .#.#. ..#.. .#.#. #...#"},
    {'y', "..... ..... #...# #...# #...# #...# .#### ....# .###."},
    {'z', "..... ..... ##### ...#. ..#.. .#... #####"},
    {'{', "...#. ..#.. ..#.. .#... ..#.. ..#.. ...#."},
    {'|', "..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#.."},
    {'}', ".#... ..#.. ..#.. ...#. ..#.. ..#.. .#..."},
    {'~', "..... ..... .#... #.#.# ...#. ..... ....."},
};
inline constexpr Glyph kPlusMinus{'\0', "..#.. ..#.. ##### ..#.. ..#.. ..... #####"};  // U+00B1
inline constexpr Glyph kUnknown{'\0', "..... ####. #..#. #..#. #..#. ####. ....."};    // the rest
static_assert(sizeof(kGlyphs) / sizeof(kGlyphs[0]) == 95, "one glyph per printable ASCII byte");

inline constexpr int kGlyphColumns = 5;
inline constexpr int kGlyphBodyRows = 7;  // cap height: text drawn at y covers [y, y + 7 * scale)
inline constexpr int kGlyphLineRows = 9;  // with descenders
inline constexpr int kSpaceAdvance = 3;   // columns a space moves the pen

namespace detail {

inline int glyph_row_count(const Glyph& g) { return int(std::strlen(g.rows) + 1) / (kGlyphColumns + 1); }
inline bool glyph_ink(const Glyph& g, int row, int col) {
    return g.rows[row * (kGlyphColumns + 1) + col] == '#';
}

// The glyph's inked columns [first, last]. Text is proportional (an 'i' is narrower than
// an 'm'), except digits, which keep the full width so columns of numbers line up.
struct Span {
    int first, last;
};
inline Span glyph_span(const Glyph& g) {
    if (g.ch >= '0' && g.ch <= '9') return {0, kGlyphColumns - 1};
    int first = kGlyphColumns, last = -1;
    for (int r = 0; r < glyph_row_count(g); ++r)
        for (int c = 0; c < kGlyphColumns; ++c)
            if (glyph_ink(g, r, c)) first = std::min(first, c), last = std::max(last, c);
    if (last < 0) return {0, kSpaceAdvance - 2};  // the space: kSpaceAdvance with the gap
    return {first, last};
}
// Columns the pen moves: the ink plus one blank column between characters.
inline int glyph_advance(const Glyph& g) {
    Span s = glyph_span(g);
    return s.last - s.first + 2;
}

// The glyph of the character that starts at s[i], moving i past it. UTF-8: U+00B1 is '±';
// any other well-formed multi-byte character is one box, a stray byte is a box of its own.
inline const Glyph& next_glyph(const std::string& s, size_t& i) {
    const unsigned char b = static_cast<unsigned char>(s[i]);
    if (b >= 32 && b <= 126) {
        ++i;
        return kGlyphs[b - 32];
    }
    // The lead byte gives the length: 110xxxxx -> 2, 1110xxxx -> 3, 11110xxx -> 4 bytes.
    size_t len = 1;
    if (b >= 0xC2 && b <= 0xDF)
        len = 2;
    else if (b >= 0xE0 && b <= 0xEF)
        len = 3;
    else if (b >= 0xF0 && b <= 0xF4)
        len = 4;
    if (i + len > s.size()) len = 1;
    for (size_t k = 1; k < len; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) len = 1;
    const bool plus_minus = len == 2 && b == 0xC2 && static_cast<unsigned char>(s[i + 1]) == 0xB1;
    i += len;
    return plus_minus ? kPlusMinus : kUnknown;
}

// The characters of s as UTF-8 byte strings, so truncation never splits a character.
inline std::vector<std::string> split_characters(const std::string& s) {
    std::vector<std::string> out;
    for (size_t i = 0; i < s.size();) {
        size_t start = i;
        next_glyph(s, i);
        out.push_back(s.substr(start, i - start));
    }
    return out;
}

}  // namespace detail

// Width in pixels of s drawn at `scale`, including the blank column after the last
// character, so text_width(a + b) == text_width(a) + text_width(b).
inline int text_width(const std::string& s, int scale) {
    int columns = 0;
    for (size_t i = 0; i < s.size();) columns += detail::glyph_advance(detail::next_glyph(s, i));
    return columns * scale;
}

// Width of the ink alone (no trailing gap): what centring and fitting should use.
inline int ink_width(const std::string& s, int scale) { return s.empty() ? 0 : text_width(s, scale) - scale; }

// Draws s with its left edge at x and the top of its capitals at row y; each font pixel
// becomes a scale x scale square. Descenders reach down to y + 9 * scale.
inline void draw_text(Canvas& canvas, int x, int y, const std::string& s, int scale, Rgb colour) {
    for (size_t i = 0; i < s.size();) {
        const Glyph& g = detail::next_glyph(s, i);
        const detail::Span span = detail::glyph_span(g);
        for (int r = 0; r < detail::glyph_row_count(g); ++r)
            for (int c = span.first; c <= span.last && c < kGlyphColumns; ++c)
                if (detail::glyph_ink(g, r, c))
                    canvas.fill_rect(x + (c - span.first) * scale, y + r * scale,
                                     x + (c - span.first + 1) * scale, y + (r + 1) * scale, colour);
        x += detail::glyph_advance(g) * scale;
    }
}

// Text that fits in max_width pixels: at `scale` if it fits, else at a smaller scale, else
// cut at scale 1 and ended with ".." (empty if not even that fits).
struct FittedText {
    std::string text;
    int scale;
};
inline FittedText fit_text(const std::string& s, int max_width, int scale) {
    for (int k = scale; k >= 1; --k)
        if (ink_width(s, k) <= max_width) return {s, k};
    std::vector<std::string> chars = detail::split_characters(s);
    while (!chars.empty()) {
        chars.pop_back();
        std::string cut;
        for (const std::string& c : chars) cut += c;
        cut += "..";
        if (ink_width(cut, 1) <= max_width) return {cut, 1};
    }
    return {"", 1};
}

// ---------------------------------------------------------------------------------------
// Layout: where every part goes, in pixels. Public so tests can find the bars.
//
//   title                                  (one scale larger than the rest)
//   subtitle
//   y label                     [] note
//   1.0 ---------------------------------  plot_top: row of y_max
//       ||||||||||    ||||||||||
//   0.0 =================================  plot_bottom: row of y_min, the axis
//       0 1 2 ... 9   0 1 2 ... 9          bar labels
//          group         group             group labels

struct Layout {
    int text_scale;  // font scale of labels and ticks
    int margin;
    int title_row, subtitle_row, label_row;  // top rows of the text lines
    int plot_left, plot_right;               // columns [plot_left, plot_right)
    int plot_top, plot_bottom;
    int bar_label_row, group_label_row;
    int slot;                                // pixels per bar position: a bar and its gap
    int group_stride;                        // pixels per group: its slots and a wider gap
    int groups_left;                         // first column of group 0
    int bar_width;                           // even, so whiskers centre exactly
    std::vector<std::vector<int>> bar_left;  // [group][bar] first column of the bar
    double y_min, y_max;

    // The row of value v (clamped to [y_min, y_max]); a bar of value v fills rows
    // [row_of(v), plot_bottom).
    int row_of(double v) const {
        double t = (std::min(std::max(v, y_min), y_max) - y_min) / (y_max - y_min);
        return plot_bottom - int(std::lround(t * (plot_bottom - plot_top)));
    }
    // Columns [group_left(g), group_left(g + 1)) belong to group g and its label.
    int group_left(size_t g) const { return groups_left + int(g) * group_stride; }
};

namespace detail {

// At the minimum height the plot still gets over 100 rows at text scale 1.
inline constexpr int kMinWidth = 320, kMinHeight = 240, kMaxSide = 4096;

inline void check_chart(const BarChart& c, int width, int height, const std::string& op) {
    FG_CHECK(width >= kMinWidth && height >= kMinHeight && width <= kMaxSide && height <= kMaxSide, op,
             ": image size ", width, " x ", height, " is outside ", kMinWidth, " x ", kMinHeight, " .. ",
             kMaxSide, " x ", kMaxSide);
    FG_CHECK(std::isfinite(c.y_min) && std::isfinite(c.y_max) && c.y_min < c.y_max, op, ": the y range [",
             c.y_min, ", ", c.y_max, "] is empty or not finite; need y_min < y_max");
    FG_CHECK(!c.groups.empty(), op, ": the chart has no groups; add at least one BarGroup");
    FG_CHECK(!c.bar_labels.empty(), op, ": bar_labels is empty; give one label per bar of a group");
    const size_t n = c.bar_labels.size();
    FG_CHECK(c.highlight.empty() || c.highlight.size() == n, op, ": highlight has ", c.highlight.size(),
             " entries for ", n, " bar_labels; give one per bar or none");
    for (const BarGroup& g : c.groups) {
        FG_CHECK(g.values.size() == n, op, ": group '", g.label, "' has ", g.values.size(), " values for ", n,
                 " bar_labels; give one value per bar");
        FG_CHECK(g.errors.empty() || g.errors.size() == n, op, ": group '", g.label, "' has ",
                 g.errors.size(), " errors for ", n, " values; give one per value or none");
        for (size_t i = 0; i < n; ++i) {
            FG_CHECK(std::isfinite(g.values[i]), op, ": group '", g.label, "', bar '", c.bar_labels[i],
                     "': value is ", g.values[i], "; values must be finite");
            FG_CHECK(g.errors.empty() || (std::isfinite(g.errors[i]) && g.errors[i] >= 0), op, ": group '",
                     g.label, "', bar '", c.bar_labels[i], "': error is ", g.errors[i],
                     "; errors must be finite and >= 0");
        }
    }
}

// Gridline values: multiples of a step of 1, 2 or 5 times a power of ten, at most 6 lines.
inline std::vector<double> tick_values(double lo, double hi, int& decimals) {
    const double raw = (hi - lo) / 5.0;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    double step = 10.0 * magnitude;
    for (double m : {1.0, 2.0, 5.0})
        if (m * magnitude >= raw * (1.0 - 1e-9)) {
            step = m * magnitude;
            break;
        }
    decimals = std::max(0, -int(std::floor(std::log10(step) + 1e-9)));
    std::vector<double> ticks;
    for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + 1e-9 * step; k += 1.0)
        ticks.push_back(k * step);
    return ticks;
}

inline std::string format_tick(double v, int decimals) {
    if (std::fabs(v) < 1e-12) v = 0.0;  // no "-0.0"
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

// The layout of a chart check_chart accepted; op names the caller in errors.
inline Layout compute_layout(const BarChart& c, int width, int height, const std::string& op) {
    Layout L;
    // Spacing is in font pixels, so a small image is the large one at half scale.
    const int s = L.text_scale = width >= 640 && height >= 400 ? 2 : 1;
    const int line = kGlyphLineRows * s;
    L.margin = 10 * s;
    L.y_min = c.y_min, L.y_max = c.y_max;

    L.title_row = L.margin;
    L.subtitle_row = L.title_row + kGlyphLineRows * (s + 1) + 2 * s;
    L.label_row = L.subtitle_row + (c.subtitle.empty() ? 0 : line) + 6 * s;
    // Half a tick label above plot_top, so the label of y_max clears the row above.
    L.plot_top = L.label_row + line + 4 * s + kGlyphBodyRows * s / 2;
    L.group_label_row = height - L.margin - line;
    L.bar_label_row = L.group_label_row - 4 * s - line;
    L.plot_bottom = L.bar_label_row - 4 * s;

    int decimals = 0, tick_width = 0;
    for (double t : detail::tick_values(c.y_min, c.y_max, decimals))
        tick_width = std::max(tick_width, ink_width(detail::format_tick(t, decimals), s));
    L.plot_left = L.margin + tick_width + 5 * s;
    L.plot_right = width - L.margin;

    // Whole pixels per slot, so every gap between bars is the same width; groups are
    // separated by two extra slots, and what is left over is split between both sides.
    const int plot_width = L.plot_right - L.plot_left;
    const int64_t positions = int64_t(c.groups.size()) * int64_t(c.bar_labels.size() + 2);
    FG_CHECK(plot_width / positions >= 4, op, ": ", c.groups.size(), " groups of ", c.bar_labels.size(),
             " bars leave ", double(plot_width) / double(positions), " pixels per bar in a ", width,
             "-pixel-wide image; need 4; use a wider image or "
             "fewer bars");
    // Past the check, the counts are below the image width: int from here on.
    const int groups = int(c.groups.size()), bars = int(c.bar_labels.size());
    L.slot = int(plot_width / positions);
    L.group_stride = (bars + 2) * L.slot;
    L.groups_left = L.plot_left + (plot_width - groups * L.group_stride) / 2;
    L.bar_width = std::max(2, 2 * int(L.slot * 0.72 / 2));
    L.bar_left.assign(size_t(groups), std::vector<int>(size_t(bars)));
    for (int g = 0; g < groups; ++g)
        for (int i = 0; i < bars; ++i)
            L.bar_left[g][i] = L.group_left(g) + (i + 1) * L.slot + (L.slot - L.bar_width) / 2;
    return L;
}

}  // namespace detail

inline Layout layout_bar_chart(const BarChart& chart, int width, int height) {
    detail::check_chart(chart, width, height, "layout_bar_chart");
    return detail::compute_layout(chart, width, height, "layout_bar_chart");
}

// ---------------------------------------------------------------------------------------
// Rendering

// The chart as width * height * 3 bytes, row-major RGB.
inline std::vector<uint8_t> render_bar_chart(const BarChart& c, int width, int height) {
    detail::check_chart(c, width, height, "render_bar_chart");
    const Layout L = detail::compute_layout(c, width, height, "render_bar_chart");
    const int s = L.text_scale;
    const size_t bars = c.bar_labels.size();
    Canvas canvas(width, height, kBackground);

    // Title and subtitle, left-aligned with the tick labels.
    const int text_room = width - 2 * L.margin;
    FittedText title = fit_text(c.title, text_room, s + 1);
    draw_text(canvas, L.margin, L.title_row, title.text, title.scale, kTextColour);
    FittedText subtitle = fit_text(c.subtitle, text_room, s);
    draw_text(canvas, L.margin, L.subtitle_row, subtitle.text, subtitle.scale, kMutedTextColour);

    // The y label on the left and, on the right, a swatch of the accent colour and the note.
    // The note gets what the label leaves, so the two never overlap.
    FittedText y_label = fit_text(c.y_label, text_room / 3, s);
    draw_text(canvas, L.margin, L.label_row, y_label.text, y_label.scale, kTextColour);
    if (!c.highlight_note.empty()) {
        const int swatch = kGlyphBodyRows * s, gap = 3 * s;
        const int room = text_room - ink_width(y_label.text, y_label.scale) - swatch - 3 * gap;
        FittedText note = fit_text(c.highlight_note, std::max(0, room), s);
        const int note_x = L.plot_right - ink_width(note.text, note.scale);
        const int note_y = L.label_row + (kGlyphBodyRows * s - kGlyphBodyRows * note.scale) / 2;
        canvas.fill_rect(note_x - gap - swatch, L.label_row, note_x - gap, L.label_row + swatch,
                         kAccentColour);
        draw_text(canvas, note_x, note_y, note.text, note.scale, kTextColour);
    }

    // Gridlines behind everything; tick labels right-aligned and centred on their line.
    int decimals = 0;
    for (double t : detail::tick_values(c.y_min, c.y_max, decimals)) {
        const int row = L.row_of(t);
        canvas.fill_rect(L.plot_left, row, L.plot_right, row + 1, kGridColour);
        const std::string label = detail::format_tick(t, decimals);
        draw_text(canvas, L.plot_left - 4 * s - ink_width(label, s), row - kGlyphBodyRows * s / 2, label, s,
                  kMutedTextColour);
    }

    // Bars, then whiskers on top (a whisker may cross its own bar), then the axis.
    for (size_t g = 0; g < c.groups.size(); ++g)
        for (size_t i = 0; i < bars; ++i) {
            const bool accent = !c.highlight.empty() && c.highlight[i];
            const int x0 = L.bar_left[g][i];
            canvas.fill_rect(x0, L.row_of(c.groups[g].values[i]), x0 + L.bar_width, L.plot_bottom,
                             accent ? kAccentColour : kBarColour);
        }
    // Stem and caps have even widths, like the bar, so they centre on it exactly.
    const int stem = 2, cap = std::max(4, 2 * (L.bar_width / 4));
    for (size_t g = 0; g < c.groups.size(); ++g) {
        const BarGroup& group = c.groups[g];
        if (group.errors.empty()) continue;
        for (size_t i = 0; i < bars; ++i) {
            const double v = group.values[i], e = group.errors[i];
            const int top = L.row_of(v + e), bottom = L.row_of(v - e) + 1;  // rows [top, bottom)
            const int centre = L.bar_left[g][i] + L.bar_width / 2;
            canvas.fill_rect(centre - stem / 2, top, centre + stem / 2, bottom, kWhiskerColour);
            canvas.fill_rect(centre - cap / 2, top, centre + cap / 2, top + stem, kWhiskerColour);
            canvas.fill_rect(centre - cap / 2, bottom - stem, centre + cap / 2, bottom, kWhiskerColour);
        }
    }
    canvas.fill_rect(L.plot_left, L.plot_bottom, L.plot_right, L.plot_bottom + s, kAxisColour);

    // Under the axis: each bar's label centred under it, then each group's label centred
    // under the group, both cut to their own slot so that neighbours never overlap.
    for (size_t g = 0; g < c.groups.size(); ++g) {
        for (size_t i = 0; i < bars; ++i) {
            FittedText t = fit_text(c.bar_labels[i], L.slot - s, s);
            const int centre = L.bar_left[g][i] + L.bar_width / 2;
            draw_text(canvas, centre - ink_width(t.text, t.scale) / 2, L.bar_label_row, t.text, t.scale,
                      kMutedTextColour);
        }
        const int left = L.group_left(g), right = L.group_left(g + 1);
        FittedText t = fit_text(c.groups[g].label, right - left - 2 * s, s);
        draw_text(canvas, (left + right) / 2 - ink_width(t.text, t.scale) / 2, L.group_label_row, t.text,
                  t.scale, kTextColour);
    }
    return std::move(canvas.pixels);
}

// Renders the chart and writes it as a PNG; the file appears whole or not at all.
inline void save_bar_chart(const BarChart& chart, const std::string& path, int width = 1200,
                           int height = 560) {
    detail::check_chart(chart, width, height, "save_bar_chart: " + path);
    const std::vector<uint8_t> pixels = render_bar_chart(chart, width, height);
    save_png(path, pixels.data(), width, height, 3);
}

}  // namespace focalgrad::chart
