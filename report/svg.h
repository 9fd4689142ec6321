// svg.h — an SVG document built element by element: rectangles, lines, polylines,
// circles, text and embedded raster images, in pixel coordinates (origin top left, y down).
// Text is escaped for XML (and cleaned of what XML cannot hold), numbers are written with
// two decimals at most, and save_svg writes the file atomically. The charts of chart.h are
// drawn with it; draw your own figures with it too.
// Not here: paths with curves, gradients beyond the colour bar's, CSS, fonts (the viewer's
// sans-serif is used, so text widths are estimates: text_width).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace focalgrad::report {

struct Colour {
    uint8_t r = 0, g = 0, b = 0;
    std::string hex() const;  // "#0072b2"
};
inline bool operator==(Colour a, Colour b) { return a.r == b.r && a.g == b.g && a.b == b.b; }
inline bool operator!=(Colour a, Colour b) { return !(a == b); }

// a + t (b - a) per channel, t in [0, 1]: blend(c, kWhite, 0.7) is a light tint of c.
Colour blend(Colour a, Colour b, double t);

inline constexpr Colour kWhite{255, 255, 255};
inline constexpr Colour kInk{33, 37, 41};         // text, axes titles
inline constexpr Colour kMutedInk{96, 103, 112};  // subtitles, tick labels
inline constexpr Colour kAxis{134, 142, 150};
inline constexpr Colour kGrid{229, 231, 235};

// The i-th colour of a categorical palette (Okabe and Ito's, distinguishable with every
// common colour-vision deficiency, then three more), repeating after 10.
Colour category_colour(size_t i);

// A sequential scale for heatmaps: t = 0 is near-white, t = 1 dark blue (clamped).
Colour sequential_colour(double t);

// How an element is painted. No fill and no stroke draws nothing visible.
struct Paint {
    std::optional<Colour> fill;
    std::optional<Colour> stroke;
    double stroke_width = 1;
    double opacity = 1;     // of the whole element
    std::string dash;       // stroke-dasharray, e.g. "5 3"; empty = solid
    std::string css_class;  // the element's class attribute (for styling and for tests)

    static Paint filled(Colour c, std::string css_class = "");
    static Paint stroked(Colour c, double width = 1, std::string css_class = "");
};

enum class Anchor { start, middle, end };

struct Font {
    double size = 12;
    Colour colour = kInk;
    Anchor anchor = Anchor::start;
    bool bold = false;
    double rotate = 0;  // degrees, clockwise, about the anchor point
    std::string css_class;

    Font() = default;
    Font(double size_, Colour colour_ = kInk, Anchor anchor_ = Anchor::start, bool bold_ = false,
         double rotate_ = 0, std::string css_class_ = "")
        : size(size_),
          colour(colour_),
          anchor(anchor_),
          bold(bold_),
          rotate(rotate_),
          css_class(std::move(css_class_)) {}
};

// The width in pixels that `text` is expected to take in a sans-serif font of `size` px:
// an estimate per character (narrow, average, wide), good to about 10 %.
double text_width(const std::string& text, double size);

// `text` made safe for XML character data and attribute values: & < > " ' escaped,
// control characters that XML 1.0 cannot hold dropped (tab and newline become spaces),
// and bytes that are not UTF-8 replaced by U+FFFD.
std::string xml_escape(const std::string& text);

// An RGB image, row 0 at the top: pixels[(y * width + x) * 3 + channel].
struct Raster {
    int width = 0, height = 0;
    std::vector<uint8_t> pixels;

    Raster() = default;
    Raster(int width, int height, Colour fill = kWhite);
    void set(int x, int y, Colour c);  // x in [0, width), y in [0, height)
    Colour at(int x, int y) const;
};

struct Point {
    double x = 0, y = 0;
};

class Svg {
public:
    Svg(double width, double height);  // pixels; also the viewBox

    double width() const { return width_; }
    double height() const { return height_; }

    // `tooltip`, when given, becomes the element's <title> (shown on hover by browsers).
    void rect(double x, double y, double w, double h, const Paint& paint, const std::string& tooltip = "");
    void line(double x1, double y1, double x2, double y2, const Paint& paint);
    void polyline(const std::vector<Point>& points, const Paint& paint);
    void polygon(const std::vector<Point>& points, const Paint& paint);
    void circle(double cx, double cy, double r, const Paint& paint, const std::string& tooltip = "");
    // (x, y) is the anchor point on the baseline.
    void text(double x, double y, const std::string& text, const Font& font);
    // The raster stretched over the rectangle, embedded as a PNG. `smooth` = false keeps
    // each pixel a sharp square (class maps, MNIST digits); true lets the viewer interpolate.
    void image(double x, double y, double w, double h, const Raster& raster, bool smooth = false,
               double opacity = 1);

    // A clip rectangle, to be named by begin_group; returns its id ("clip3").
    std::string clip_rect(double x, double y, double w, double h);
    // <g class="css_class" clip-path="url(#clip_id)">; both optional. Groups nest.
    void begin_group(const std::string& css_class, const std::string& clip_id = "");
    void end_group();

    // The document: the XML declaration, <svg> with a white background, every element in
    // the order drawn. Throws if a group is still open.
    std::string str() const;

private:
    void open_element(const char* name, const Paint& paint);
    double width_, height_;
    std::string body_;
    int open_groups_ = 0;
    int next_id_ = 0;
};

// Writes svg.str() to `path` atomically (core/io.h): the old file or the new, never half.
void save_svg(const std::string& path, const Svg& svg);

// A number as SVG attributes want it: at most two decimals, no trailing zeros, no "-0".
std::string svg_number(double v);

}  // namespace focalgrad::report
