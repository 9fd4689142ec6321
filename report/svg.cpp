// svg.cpp — the SVG document: escaping, number formatting, elements, embedded PNGs.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <focalgrad/core/error.h>
#include <focalgrad/core/io.h>
#include <focalgrad/data/image.h>
#include <focalgrad/report/svg.h>
#include <focalgrad/report/utf8.h>

namespace focalgrad::report {

std::string Colour::hex() const {
    char buf[8];
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", r, g, b);
    return buf;
}

Colour blend(Colour a, Colour b, double t) {
    t = std::min(1.0, std::max(0.0, t));
    auto mix = [t](uint8_t u, uint8_t v) { return uint8_t(std::lround(u + t * (double(v) - u))); };
    return {mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b)};
}

Colour category_colour(size_t i) {
    static const Colour kPalette[] = {
        {0, 114, 178},    // blue
        {213, 94, 0},     // vermillion
        {0, 158, 115},    // bluish green
        {230, 159, 0},    // orange
        {204, 121, 167},  // reddish purple
        {86, 180, 233},   // sky blue
        {120, 94, 60},    // brown
        {90, 90, 90},     // grey
        {240, 228, 66},   // yellow (weak on white: last of Okabe-Ito's)
        {0, 0, 0},        // black
    };
    return kPalette[i % (sizeof kPalette / sizeof kPalette[0])];
}

Colour sequential_colour(double t) {
    // Stops of a light-to-dark blue ramp (as ColorBrewer's "Blues"), interpolated linearly.
    static const Colour kStops[] = {
        {247, 251, 255}, {198, 219, 239}, {107, 174, 214}, {33, 113, 181}, {8, 48, 107}};
    const int last = int(sizeof kStops / sizeof kStops[0]) - 1;
    t = std::isnan(t) ? 0 : std::min(1.0, std::max(0.0, t)) * last;
    int k = std::min(int(t), last - 1);
    return blend(kStops[k], kStops[k + 1], t - k);
}

Paint Paint::filled(Colour c, std::string css_class) {
    Paint p;
    p.fill = c;
    p.css_class = std::move(css_class);
    return p;
}

Paint Paint::stroked(Colour c, double width, std::string css_class) {
    Paint p;
    p.stroke = c;
    p.stroke_width = width;
    p.css_class = std::move(css_class);
    return p;
}

double text_width(const std::string& text, double size) {
    double em = 0;
    for (size_t i = 0; i < text.size();) {
        size_t n = std::max<size_t>(1, detail::utf8_sequence(text, i));
        const char c = text[i];
        if (n > 1)
            em += 0.62;
        else if (std::string_view(" .,:;'|!il1()[]ftjrI").find(c) != std::string_view::npos)
            em += 0.34;
        else if (std::string_view("mwMW%@").find(c) != std::string_view::npos)
            em += 0.9;
        else if (c >= 'A' && c <= 'Z')
            em += 0.68;
        else
            em += 0.58;
        i += n;
    }
    return em * size;
}

std::string xml_escape(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        const size_t n = detail::utf8_sequence(text, i);
        if (n == 0) {
            out += "\xef\xbf\xbd";  // U+FFFD, the replacement character
            ++i;
            continue;
        }
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            case '\t':
            case '\n':
            case '\r': out += ' '; break;
            default:
                if (c >= 0x20 && c != 0x7f) out.append(text, i, n);  // other controls: dropped
        }
        i += n;
    }
    return out;
}

std::string svg_number(double v) {
    FG_CHECK(std::isfinite(v), "svg: a coordinate is ", v, " (every position and size must be finite)");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    std::string s = buf;
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
    return s == "-0" ? "0" : s;
}

Raster::Raster(int w, int h, Colour fill) : width(w), height(h) {
    FG_CHECK(w >= 1 && h >= 1 && int64_t(w) * h <= (int64_t(1) << 25),
             "Raster: size must be 1 x 1 to 2^25 pixels, got ", w, " x ", h);
    pixels.resize(size_t(w) * size_t(h) * 3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) set(x, y, fill);
}

void Raster::set(int x, int y, Colour c) {
    FG_CHECK(x >= 0 && x < width && y >= 0 && y < height, "Raster::set: pixel (", x, ", ", y,
             ") is outside the ", width, " x ", height, " image");
    uint8_t* p = &pixels[(size_t(y) * size_t(width) + size_t(x)) * 3];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
}

Colour Raster::at(int x, int y) const {
    FG_CHECK(x >= 0 && x < width && y >= 0 && y < height, "Raster::at: pixel (", x, ", ", y,
             ") is outside the ", width, " x ", height, " image");
    const uint8_t* p = &pixels[(size_t(y) * size_t(width) + size_t(x)) * 3];
    return {p[0], p[1], p[2]};
}

Svg::Svg(double width, double height) : width_(width), height_(height) {
    FG_CHECK(std::isfinite(width) && std::isfinite(height) && width > 0 && height > 0,
             "Svg: width and height must be positive, got ", width, " x ", height);
}

void Svg::open_element(const char* name, const Paint& paint) {
    body_ += '<';
    body_ += name;
    if (!paint.css_class.empty()) body_ += " class=\"" + xml_escape(paint.css_class) + "\"";
    body_ += " fill=\"" + (paint.fill ? paint.fill->hex() : std::string("none")) + "\"";
    if (paint.stroke) {
        body_ +=
            " stroke=\"" + paint.stroke->hex() + "\" stroke-width=\"" + svg_number(paint.stroke_width) + "\"";
        if (!paint.dash.empty()) body_ += " stroke-dasharray=\"" + xml_escape(paint.dash) + "\"";
    }
    if (paint.opacity < 1) body_ += " opacity=\"" + svg_number(std::max(0.0, paint.opacity)) + "\"";
}

void Svg::rect(double x, double y, double w, double h, const Paint& paint, const std::string& tooltip) {
    open_element("rect", paint);
    body_ += " x=\"" + svg_number(x) + "\" y=\"" + svg_number(y) + "\" width=\"" +
             svg_number(std::max(0.0, w)) + "\" height=\"" + svg_number(std::max(0.0, h)) + "\"";
    body_ += tooltip.empty() ? "/>\n" : "><title>" + xml_escape(tooltip) + "</title></rect>\n";
}

void Svg::line(double x1, double y1, double x2, double y2, const Paint& paint) {
    open_element("line", paint);
    body_ += " x1=\"" + svg_number(x1) + "\" y1=\"" + svg_number(y1) + "\" x2=\"" + svg_number(x2) +
             "\" y2=\"" + svg_number(y2) + "\"/>\n";
}

namespace {
std::string points_attribute(const std::vector<Point>& points) {
    std::string s;
    for (const Point& p : points) s += (s.empty() ? "" : " ") + svg_number(p.x) + "," + svg_number(p.y);
    return s;
}
}  // namespace

void Svg::polyline(const std::vector<Point>& points, const Paint& paint) {
    open_element("polyline", paint);
    body_ += " stroke-linejoin=\"round\" points=\"" + points_attribute(points) + "\"/>\n";
}

void Svg::polygon(const std::vector<Point>& points, const Paint& paint) {
    open_element("polygon", paint);
    body_ += " points=\"" + points_attribute(points) + "\"/>\n";
}

void Svg::circle(double cx, double cy, double r, const Paint& paint, const std::string& tooltip) {
    open_element("circle", paint);
    body_ += " cx=\"" + svg_number(cx) + "\" cy=\"" + svg_number(cy) + "\" r=\"" +
             svg_number(std::max(0.0, r)) + "\"";
    body_ += tooltip.empty() ? "/>\n" : "><title>" + xml_escape(tooltip) + "</title></circle>\n";
}

void Svg::text(double x, double y, const std::string& text, const Font& font) {
    body_ += "<text";
    if (!font.css_class.empty()) body_ += " class=\"" + xml_escape(font.css_class) + "\"";
    body_ += " x=\"" + svg_number(x) + "\" y=\"" + svg_number(y) + "\" font-size=\"" + svg_number(font.size) +
             "\" fill=\"" + font.colour.hex() + "\"";
    if (font.anchor != Anchor::start)
        body_ += std::string(" text-anchor=\"") + (font.anchor == Anchor::middle ? "middle" : "end") + "\"";
    if (font.bold) body_ += " font-weight=\"bold\"";
    if (font.rotate != 0)
        body_ += " transform=\"rotate(" + svg_number(font.rotate) + " " + svg_number(x) + " " +
                 svg_number(y) + ")\"";
    body_ += ">" + xml_escape(text) + "</text>\n";
}

namespace {
std::string base64(const std::vector<uint8_t>& bytes) {
    static const char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (size_t i = 0; i < bytes.size(); i += 3) {
        uint32_t v = uint32_t(bytes[i]) << 16;
        if (i + 1 < bytes.size()) v |= uint32_t(bytes[i + 1]) << 8;
        if (i + 2 < bytes.size()) v |= bytes[i + 2];
        out += kDigits[(v >> 18) & 63];
        out += kDigits[(v >> 12) & 63];
        out += i + 1 < bytes.size() ? kDigits[(v >> 6) & 63] : '=';
        out += i + 2 < bytes.size() ? kDigits[v & 63] : '=';
    }
    return out;
}
}  // namespace

void Svg::image(double x, double y, double w, double h, const Raster& raster, bool smooth, double opacity) {
    FG_CHECK(raster.width >= 1 && raster.height >= 1 &&
                 raster.pixels.size() == size_t(raster.width) * size_t(raster.height) * 3,
             "Svg::image: the raster is ", raster.width, " x ", raster.height, " but holds ",
             raster.pixels.size(), " bytes (expected width * height * 3)");
    std::vector<uint8_t> png = encode_png(raster.pixels.data(), raster.width, raster.height, 3);
    body_ += "<image x=\"" + svg_number(x) + "\" y=\"" + svg_number(y) + "\" width=\"" + svg_number(w) +
             "\" height=\"" + svg_number(h) + "\" preserveAspectRatio=\"none\"";
    if (!smooth) body_ += " style=\"image-rendering:pixelated\"";
    if (opacity < 1) body_ += " opacity=\"" + svg_number(std::max(0.0, opacity)) + "\"";
    body_ += " xlink:href=\"data:image/png;base64," + base64(png) + "\"/>\n";
}

std::string Svg::clip_rect(double x, double y, double w, double h) {
    std::string id = "clip" + std::to_string(next_id_++);
    body_ += "<clipPath id=\"" + id + "\"><rect x=\"" + svg_number(x) + "\" y=\"" + svg_number(y) +
             "\" width=\"" + svg_number(w) + "\" height=\"" + svg_number(h) + "\"/></clipPath>\n";
    return id;
}

void Svg::begin_group(const std::string& css_class, const std::string& clip_id) {
    body_ += "<g";
    if (!css_class.empty()) body_ += " class=\"" + xml_escape(css_class) + "\"";
    if (!clip_id.empty()) body_ += " clip-path=\"url(#" + xml_escape(clip_id) + ")\"";
    body_ += ">\n";
    ++open_groups_;
}

void Svg::end_group() {
    FG_CHECK(open_groups_ > 0, "Svg::end_group: no group is open");
    body_ += "</g>\n";
    --open_groups_;
}

std::string Svg::str() const {
    FG_CHECK(open_groups_ == 0, "Svg::str: ", open_groups_, " group(s) still open (call end_group)");
    const std::string w = svg_number(width_), h = svg_number(height_);
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\"" +
           w + "\" height=\"" + h + "\" viewBox=\"0 0 " + w + " " + h +
           "\" font-family=\"DejaVu Sans, Verdana, Helvetica, Arial, sans-serif\">\n"
           "<rect class=\"background\" x=\"0\" y=\"0\" width=\"" +
           w + "\" height=\"" + h + "\" fill=\"#ffffff\"/>\n" + body_ + "</svg>\n";
}

void save_svg(const std::string& path, const Svg& svg) { write_file_atomic(path, svg.str(), "save_svg"); }

}  // namespace focalgrad::report
