// chart.cpp — ticks, layout and drawing of the three chart kinds. Every chart is laid out
// the same way: titles at the top, then a legend row (when on top), the frame, tick labels
// and axis titles around it, the legend column at the right (when on the right).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <focalgrad/core/error.h>
#include <focalgrad/report/chart.h>

namespace focalgrad::report {

namespace {

constexpr double kPad = 8;  // around the panel's edge
constexpr double kTitleSize = 15, kSubtitleSize = 12, kTickSize = 11, kAxisTitleSize = 12, kLegendSize = 12;
constexpr double kLegendRow = 18;       // height of one legend line
constexpr double kAxisTitleSpace = 20;  // room taken by an axis title beside its tick labels

// The decimals that write `step` exactly (0.25 -> 2, 5 -> 0), at most 12.
int decimals_for(double step) {
    step = std::fabs(step);
    for (int d = 0; d < 12; ++d) {
        double scaled = step * std::pow(10.0, d);
        if (std::fabs(scaled - std::round(scaled)) < 1e-6 * std::max(1.0, scaled)) return d;
    }
    return 12;
}

std::string fixed_label(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    std::string s = buf;
    if (s.find_first_not_of("-0.") == std::string::npos)
        s = decimals ? "0." + std::string(size_t(decimals), '0') : "0";
    return s;
}

bool usable(double v, bool log) { return std::isfinite(v) && (!log || v > 0); }

// The extent of the values an axis shows; [0, 1] when there are none.
struct Extent {
    double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
    bool log = false;
    void add(double v) {
        if (!usable(v, log)) return;
        lo = std::min(lo, v), hi = std::max(hi, v);
    }
    bool empty() const { return lo > hi; }
};

Ticks resolve_ticks(const Axis& axis, Extent data, int target) {
    const bool has_min = !std::isnan(axis.min), has_max = !std::isnan(axis.max);
    FG_CHECK(!has_min || usable(axis.min, axis.log), "chart: axis '", axis.title, "' has min ", axis.min,
             axis.log ? " (a log axis needs min > 0)" : "");
    FG_CHECK(!has_max || usable(axis.max, axis.log), "chart: axis '", axis.title, "' has max ", axis.max,
             axis.log ? " (a log axis needs max > 0)" : "");
    FG_CHECK(!has_min || !has_max || axis.min < axis.max, "chart: axis '", axis.title, "' has min ", axis.min,
             " >= max ", axis.max);
    FG_CHECK(axis.tick_labels.empty() || axis.tick_labels.size() == axis.ticks.size(), "chart: axis '",
             axis.title, "' has ", axis.tick_labels.size(), " tick labels for ", axis.ticks.size(), " ticks");
    for (double t : axis.ticks) data.add(t);
    if (data.empty()) data.lo = axis.log ? 0.1 : 0, data.hi = 1;
    double lo = has_min ? axis.min : data.lo, hi = has_max ? axis.max : data.hi;
    if (has_min && !has_max && hi <= lo) hi = axis.log ? lo * 10 : lo + 1;
    if (has_max && !has_min && lo >= hi) lo = axis.log ? hi / 10 : hi - 1;
    if (axis.ticks.empty())
        return axis.log ? log_ticks(lo, hi, has_min, has_max)
                        : linear_ticks(lo, hi, target, has_min, has_max);
    Ticks t;
    t.min = lo, t.max = hi;
    if (t.min == t.max) t.min -= 0.5, t.max += 0.5;
    double gap = std::numeric_limits<double>::infinity();
    for (size_t i = 1; i < axis.ticks.size(); ++i)
        gap = std::min(gap, std::fabs(axis.ticks[i] - axis.ticks[i - 1]));
    const int decimals = std::isfinite(gap) && gap > 0 ? decimals_for(gap) : 2;
    for (size_t i = 0; i < axis.ticks.size(); ++i) {
        double v = axis.ticks[i];
        if (!usable(v, axis.log) || v < t.min || v > t.max) continue;
        t.values.push_back(v);
        t.labels.push_back(axis.tick_labels.empty() ? fixed_label(v, decimals) : axis.tick_labels[i]);
    }
    return t;
}

// Value -> pixel along one axis; p0 is the pixel of `lo`, p1 that of `hi`.
struct Scale {
    double lo, hi, p0, p1;
    bool log;
    double operator()(double v) const {
        double a = log ? std::log10(lo) : lo, b = log ? std::log10(hi) : hi, u = log ? std::log10(v) : v;
        return p0 + (u - a) / (b - a) * (p1 - p0);
    }
};

double max_text_width(const std::vector<std::string>& texts, double size) {
    double w = 0;
    for (const std::string& s : texts) w = std::max(w, text_width(s, size));
    return w;
}

// Title and subtitle from the top of the panel; returns the y below them.
double draw_titles(Svg& svg, const std::string& title, const std::string& subtitle, double x, double y) {
    y += kPad;
    if (!title.empty()) {
        Font f{kTitleSize, kInk, Anchor::start, true, 0, "title"};
        svg.text(x + kPad, y + kTitleSize, title, f);
        y += kTitleSize + 6;
    }
    if (!subtitle.empty()) {
        Font f{kSubtitleSize, kMutedInk, Anchor::start, false, 0, "subtitle"};
        svg.text(x + kPad, y + kSubtitleSize, subtitle, f);
        y += kSubtitleSize + 6;
    }
    return y + 6;
}

double entry_width(const LegendEntry& e) {
    return (e.kind == LegendEntry::Kind::line ? 26 : 18) + text_width(e.label, kLegendSize);
}

void draw_entry(Svg& svg, const LegendEntry& e, double x, double y) {  // y: top of the row
    const double mid = y + kLegendRow / 2;
    switch (e.kind) {
        case LegendEntry::Kind::swatch: {
            Paint p = Paint::filled(e.colour, "legend-swatch");
            p.stroke = blend(e.colour, kInk, 0.25);
            svg.rect(x, mid - 6, 12, 12, p);
            break;
        }
        case LegendEntry::Kind::line:
            svg.line(x, mid, x + 20, mid, Paint::stroked(e.colour, 2.5, "legend-line"));
            break;
        case LegendEntry::Kind::marker:
            svg.circle(x + 6, mid, 4, Paint::filled(e.colour, "legend-marker"));
            break;
        case LegendEntry::Kind::whisker: {
            Paint p = Paint::stroked(e.colour, 1.1, "legend-whisker");
            svg.line(x + 6, mid - 6, x + 6, mid + 6, p);
            svg.line(x + 3, mid - 6, x + 9, mid - 6, p);
            svg.line(x + 3, mid + 6, x + 9, mid + 6, p);
            break;
        }
    }
    Font f{kLegendSize, kInk, Anchor::start, false, 0, "legend-label"};
    svg.text(x + (e.kind == LegendEntry::Kind::line ? 26 : 18), mid + kLegendSize * 0.35, e.label, f);
}

// The legend as rows across the width w: returns the rows' height (0 for no entries).
double layout_top_legend(const std::vector<LegendEntry>& entries, double w, Svg* svg, double x, double y) {
    if (entries.empty()) return 0;
    double cx = x + kPad, row = 0;
    for (const LegendEntry& e : entries) {
        double ew = entry_width(e);
        if (cx > x + kPad && cx + ew > x + w - kPad) cx = x + kPad, ++row;
        if (svg) draw_entry(*svg, e, cx, y + row * kLegendRow);
        cx += ew + 18;
    }
    return (row + 1) * kLegendRow + 6;
}

double right_legend_width(const std::vector<LegendEntry>& entries) {
    double w = 0;
    for (const LegendEntry& e : entries) w = std::max(w, entry_width(e));
    return entries.empty() ? 0 : w + 16;
}

void draw_right_legend(Svg& svg, const std::vector<LegendEntry>& entries, double x, double y) {
    svg.begin_group("legend");
    for (size_t i = 0; i < entries.size(); ++i) draw_entry(svg, entries[i], x, y + double(i) * kLegendRow);
    svg.end_group();
}

struct Frame {
    double x, y, w, h;
};

void check_frame(const Frame& f, const char* what) {
    FG_CHECK(f.w >= 20 && f.h >= 20, what, ": the chart is too small for its titles, labels and legend (",
             f.w, " x ", f.h, " px left for the data); make it larger");
}

// Grid lines, the frame, the ticks and their labels, the axis titles.
void draw_axes(Svg& svg, const Frame& f, const Scale& sx, const Scale& sy, const Ticks& tx, const Ticks& ty,
               const Axis& ax, const Axis& ay, bool grid, double y_title_x) {
    if (grid) {
        svg.begin_group("grid");
        for (double v : tx.values) svg.line(sx(v), f.y, sx(v), f.y + f.h, Paint::stroked(kGrid, 1));
        for (double v : ty.values) svg.line(f.x, sy(v), f.x + f.w, sy(v), Paint::stroked(kGrid, 1));
        svg.end_group();
    }
    svg.begin_group("axes");
    Font tick{kTickSize, kMutedInk, Anchor::middle, false, 0, "tick-label x"};
    for (size_t i = 0; i < tx.values.size(); ++i) {
        double px = sx(tx.values[i]);
        svg.line(px, f.y + f.h, px, f.y + f.h + 4, Paint::stroked(kAxis, 1, "tick x"));
        svg.text(px, f.y + f.h + 6 + kTickSize, tx.labels[i], tick);
    }
    tick.anchor = Anchor::end, tick.css_class = "tick-label y";
    for (size_t i = 0; i < ty.values.size(); ++i) {
        double py = sy(ty.values[i]);
        svg.line(f.x - 4, py, f.x, py, Paint::stroked(kAxis, 1, "tick y"));
        svg.text(f.x - 7, py + kTickSize * 0.35, ty.labels[i], tick);
    }
    Font title{kAxisTitleSize, kInk, Anchor::middle, false, 0, "axis-title x"};
    if (!ax.title.empty())
        svg.text(f.x + f.w / 2, f.y + f.h + 6 + kTickSize + 6 + kAxisTitleSize, ax.title, title);
    title.rotate = -90, title.css_class = "axis-title y";
    if (!ay.title.empty()) svg.text(y_title_x, f.y + f.h / 2, ay.title, title);
    svg.end_group();
}

void draw_frame(Svg& svg, const Frame& f) { svg.rect(f.x, f.y, f.w, f.h, Paint::stroked(kAxis, 1, "frame")); }

}  // namespace

// ---- Ticks ----------------------------------------------------------------------------

Ticks linear_ticks(double lo, double hi, int target, bool fixed_min, bool fixed_max) {
    FG_CHECK(std::isfinite(lo) && std::isfinite(hi), "linear_ticks: the range [", lo, ", ", hi,
             "] is not finite");
    if (hi < lo) std::swap(lo, hi);
    if (hi == lo) {
        double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
        if (!fixed_min) lo -= pad;
        if (!fixed_max) hi += pad;
        if (hi == lo) lo -= pad, hi += pad;
    }
    const double raw = (hi - lo) / std::max(1, target - 1);
    const double e = std::pow(10.0, std::floor(std::log10(raw)));
    const double m = raw / e;
    const double step = (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * e;
    Ticks t;
    t.min = fixed_min ? lo : std::floor(lo / step + 1e-9) * step;
    t.max = fixed_max ? hi : std::ceil(hi / step - 1e-9) * step;
    const int decimals = decimals_for(step);
    for (double k = std::ceil(t.min / step - 1e-9); k <= std::floor(t.max / step + 1e-9); ++k) {
        double v = std::fabs(k) < 0.5 ? 0.0 : k * step;
        t.values.push_back(v);
        t.labels.push_back(fixed_label(v, decimals));
    }
    return t;
}

Ticks log_ticks(double lo, double hi, bool fixed_min, bool fixed_max) {
    FG_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo > 0 && hi > 0, "log_ticks: the range [", lo, ", ",
             hi, "] must be finite and above 0");
    if (hi < lo) std::swap(lo, hi);
    const double k0 = std::floor(std::log10(lo) + 1e-9), k1 = std::ceil(std::log10(hi) - 1e-9);
    Ticks t;
    t.min = fixed_min ? lo : std::pow(10.0, k0);
    t.max = fixed_max ? hi : std::pow(10.0, std::max(k1, k0 + 1));
    const bool fine = std::log10(t.max / t.min) < 2.5;
    // Plain numbers (0.001, 100) when every decade is short to write, else powers of ten
    // with superscripts (10⁻⁸), the same style for every label of the axis.
    const bool powers = k0 < -4 || k1 > 5;
    for (double k = k0; k <= k1 + 1; ++k)
        for (double mantissa : {1.0, 2.0, 5.0}) {
            if (mantissa != 1 && !fine) continue;
            double v = mantissa * std::pow(10.0, k);
            if (v < t.min * (1 - 1e-9) || v > t.max * (1 + 1e-9)) continue;
            t.values.push_back(v);
            if (!powers) {
                char buf[32];
                std::snprintf(buf, sizeof buf, "%.*f", int(std::max(0.0, -k)), v);
                t.labels.push_back(buf);
                continue;
            }
            static const char* const kSuperscript[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
            std::string exponent = k < 0 ? "⁻" : "";
            for (char d : std::to_string(int(std::fabs(k)))) exponent += kSuperscript[d - '0'];
            t.labels.push_back((mantissa == 1 ? "" : str(int(mantissa), "×")) + "10" + exponent);
        }
    return t;
}

// ---- Plot -----------------------------------------------------------------------------

void draw(Svg& svg, const Plot& plot, double X, double Y, double W, double H) {
    Extent ex, ey;
    ex.log = plot.x.log, ey.log = plot.y.log;
    for (const Series& s : plot.series) {
        FG_CHECK(s.x.size() == s.y.size(), "Plot: series '", s.label, "' has ", s.x.size(), " x values and ",
                 s.y.size(), " y values");
        for (size_t i = 0; i < s.x.size(); ++i)
            if (usable(s.x[i], ex.log) && usable(s.y[i], ey.log)) ex.add(s.x[i]), ey.add(s.y[i]);
    }
    for (const ImageLayer& im : plot.images)
        ex.add(im.x_min), ex.add(im.x_max), ey.add(im.y_min), ey.add(im.y_max);
    for (const Box& b : plot.boxes) ex.add(b.x_min), ex.add(b.x_max), ey.add(b.y_min), ey.add(b.y_max);
    for (const Note& n : plot.notes) ex.add(n.x), ey.add(n.y);
    // An image layer, or a bare canvas without axes, fills the frame exactly: the edges of
    // what is drawn are the range, with no rounding out to ticks.
    const bool tight = !plot.images.empty() || !plot.axes;
    Axis ax = plot.x, ay = plot.y;
    if (tight && !ex.empty() && std::isnan(ax.min)) ax.min = ex.lo;
    if (tight && !ex.empty() && std::isnan(ax.max) && ex.hi > ex.lo) ax.max = ex.hi;
    if (tight && !ey.empty() && std::isnan(ay.min)) ay.min = ey.lo;
    if (tight && !ey.empty() && std::isnan(ay.max) && ey.hi > ey.lo) ay.max = ey.hi;

    std::vector<LegendEntry> legend;
    for (size_t i = 0; i < plot.series.size(); ++i) {
        const Series& s = plot.series[i];
        if (s.label.empty()) continue;
        legend.push_back({s.label, s.colour.value_or(category_colour(i)),
                          s.line ? LegendEntry::Kind::line : LegendEntry::Kind::marker});
    }
    legend.insert(legend.end(), plot.legend_extra.begin(), plot.legend_extra.end());
    if (plot.legend == LegendPosition::none) legend.clear();

    svg.begin_group("plot");
    double top = draw_titles(svg, plot.title, plot.subtitle, X, Y);
    if (plot.legend == LegendPosition::top) top += layout_top_legend(legend, W, &svg, X, top);
    const Ticks ty = resolve_ticks(ay, ey, int(std::clamp(H / 70, 3.0, 8.0)));
    double left = X + kPad, right = X + W - 12, bottom = Y + H - kPad;
    if (plot.axes) {
        left += max_text_width(ty.labels, kTickSize) + 10 + (ay.title.empty() ? 0 : kAxisTitleSpace);
        bottom -= 6 + kTickSize + 4 + (ax.title.empty() ? 0 : kAxisTitleSpace);
    }
    const double legend_w = plot.legend == LegendPosition::right ? right_legend_width(legend) : 0;
    right -= legend_w;
    Frame f{left, top, right - left, bottom - top};
    check_frame(f, "Plot");
    const Ticks tx = resolve_ticks(ax, ex, int(std::clamp(f.w / 90, 3.0, 10.0)));
    if (plot.equal_aspect) {
        auto span = [](const Ticks& t, bool log) { return log ? std::log10(t.max / t.min) : t.max - t.min; };
        double s = std::min(f.w / span(tx, ax.log), f.h / span(ty, ay.log));
        double w = span(tx, ax.log) * s, h = span(ty, ay.log) * s;
        right -= f.w - w;  // the legend follows the narrower frame
        f.w = w, f.h = h;
    }
    const Scale sx{tx.min, tx.max, f.x, f.x + f.w, ax.log};
    const Scale sy = plot.y_down ? Scale{ty.min, ty.max, f.y, f.y + f.h, ay.log}
                                 : Scale{ty.min, ty.max, f.y + f.h, f.y, ay.log};

    if (plot.axes) {
        draw_axes(svg, f, sx, sy, tx, ty, ax, ay, plot.grid, X + kPad + kAxisTitleSize);
    }

    const std::string clip = svg.clip_rect(f.x, f.y, f.w, f.h);
    svg.begin_group("data", clip);
    for (const ImageLayer& im : plot.images) {
        double x0 = sx(im.x_min), x1 = sx(im.x_max), y0 = sy(im.y_min), y1 = sy(im.y_max);
        svg.image(std::min(x0, x1), std::min(y0, y1), std::fabs(x1 - x0), std::fabs(y1 - y0), im.image,
                  im.smooth, im.opacity);
    }
    for (size_t i = 0; i < plot.series.size(); ++i) {
        const Series& s = plot.series[i];
        const Colour c = s.colour.value_or(category_colour(i));
        if (s.line) {
            Paint p = Paint::stroked(c, s.line_width, "series");
            p.dash = s.dash;
            std::vector<Point> run;
            for (size_t k = 0; k <= s.x.size(); ++k) {
                bool ok = k < s.x.size() && usable(s.x[k], ax.log) && usable(s.y[k], ay.log);
                if (ok) run.push_back({sx(s.x[k]), sy(s.y[k])});
                if ((!ok || k == s.x.size()) && !run.empty()) {
                    if (run.size() > 1) svg.polyline(run, p);
                    run.clear();
                }
            }
        }
        if (s.markers) {
            Paint p = Paint::filled(c, "marker");
            p.stroke = kWhite, p.stroke_width = 0.8;
            for (size_t k = 0; k < s.x.size(); ++k)
                if (usable(s.x[k], ax.log) && usable(s.y[k], ay.log))
                    svg.circle(sx(s.x[k]), sy(s.y[k]), s.marker_radius, p);
        }
    }
    for (const Box& b : plot.boxes) {
        double x0 = sx(b.x_min), x1 = sx(b.x_max), y0 = sy(b.y_min), y1 = sy(b.y_max);
        Paint p = Paint::stroked(b.colour, b.line_width, "box");
        if (b.dashed) p.dash = "5 3";
        svg.rect(std::min(x0, x1), std::min(y0, y1), std::fabs(x1 - x0), std::fabs(y1 - y0), p, b.label);
    }
    svg.end_group();
    // Box tags above their box, or inside its top edge when the frame's top is too close.
    for (const Box& b : plot.boxes) {
        if (b.label.empty()) continue;
        double bx = std::min(sx(b.x_min), sx(b.x_max)), by = std::min(sy(b.y_min), sy(b.y_max));
        double tw = text_width(b.label, 11) + 6, th = 15;
        double ty_top = by - th >= f.y ? by - th : by;
        svg.rect(bx, ty_top, tw, th, Paint::filled(b.colour, "box-tag"));
        svg.text(bx + 3, ty_top + 11, b.label, Font{11, kWhite, Anchor::start, false, 0, "box-label"});
    }
    for (const Note& n : plot.notes) {
        Font font = n.font;
        if (font.css_class.empty()) font.css_class = "note";
        svg.text(sx(n.x), sy(n.y), n.text, font);
    }
    draw_frame(svg, f);
    if (plot.legend == LegendPosition::right && !legend.empty())
        draw_right_legend(svg, legend, right + 12, f.y);
    svg.end_group();
}

// ---- BarChart -------------------------------------------------------------------------

void draw(Svg& svg, const BarChart& chart, double X, double Y, double W, double H) {
    const size_t C = chart.categories.size(), S = chart.series.size();
    FG_CHECK(C > 0 && S > 0, "BarChart: needs at least one category and one series, got ", C, " and ", S);
    FG_CHECK(chart.highlight.empty() || chart.highlight.size() == C, "BarChart: ", chart.highlight.size(),
             " highlight flags for ", C, " categories");
    Extent ey;
    ey.log = chart.y.log;
    FG_CHECK(!chart.y.log, "BarChart: a log y axis is not supported (bars need a zero)");
    ey.add(0);
    for (const BarSeries& s : chart.series) {
        FG_CHECK(s.values.size() == C, "BarChart: series '", s.label, "' has ", s.values.size(),
                 " values for ", C, " categories");
        FG_CHECK(s.errors.empty() || s.errors.size() == C, "BarChart: series '", s.label, "' has ",
                 s.errors.size(), " errors for ", C, " categories");
        for (size_t c = 0; c < C; ++c) {
            double e = s.errors.empty() || !std::isfinite(s.errors[c]) ? 0 : std::fabs(s.errors[c]);
            ey.add(s.values[c] - e), ey.add(s.values[c] + e);
        }
    }

    std::vector<LegendEntry> legend;
    for (size_t i = 0; i < S; ++i)
        legend.push_back({chart.series[i].label, chart.series[i].colour.value_or(category_colour(i))});
    const Colour band = {234, 237, 242};  // neutral: no series colour looks like it
    bool any_highlight =
        std::find(chart.highlight.begin(), chart.highlight.end(), true) != chart.highlight.end();
    if (any_highlight && !chart.highlight_label.empty()) legend.push_back({chart.highlight_label, band});
    if (!chart.error_label.empty()) legend.push_back({chart.error_label, kInk, LegendEntry::Kind::whisker});
    if (chart.legend == LegendPosition::none) legend.clear();

    svg.begin_group("bar-chart");
    double top = draw_titles(svg, chart.title, chart.subtitle, X, Y);
    const bool legend_top = chart.legend == LegendPosition::top;
    const double legend_y = top;  // drawn last, over nothing
    if (legend_top) top += layout_top_legend(legend, W, nullptr, X, top);
    const Ticks ty = resolve_ticks(chart.y, ey, int(std::clamp(H / 70, 3.0, 8.0)));
    double left =
        X + kPad + max_text_width(ty.labels, kTickSize) + 10 + (chart.y.title.empty() ? 0 : kAxisTitleSpace);
    double right = X + W - 12 - (chart.legend == LegendPosition::right ? right_legend_width(legend) : 0);
    const double group_w = (right - left) / double(C);
    const double label_w = max_text_width(chart.categories, kTickSize);
    const bool rotate = label_w > group_w - 6;
    const double label_h = rotate ? label_w * std::sin(0.7) + kTickSize + 4 : kTickSize + 4;
    double bottom = Y + H - kPad - 6 - label_h - (chart.x_title.empty() ? 0 : kAxisTitleSpace);
    Frame f{left, top, right - left, bottom - top};
    check_frame(f, "BarChart");
    const Scale sy{ty.min, ty.max, f.y + f.h, f.y, false};
    const double base = sy(std::clamp(0.0, ty.min, ty.max));

    if (any_highlight) {
        svg.begin_group("highlight");
        for (size_t c = 0, end; c < C; c = end) {  // one band per run of neighbours: no seams
            for (end = c + 1; chart.highlight[c] && end < C && chart.highlight[end];) ++end;
            if (chart.highlight[c])
                svg.rect(f.x + double(c) * group_w, f.y, double(end - c) * group_w, f.h, Paint::filled(band));
        }
        svg.end_group();
    }
    svg.begin_group("grid");
    for (double v : ty.values) svg.line(f.x, sy(v), f.x + f.w, sy(v), Paint::stroked(kGrid, 1));
    svg.end_group();

    const double bar_w = group_w * 0.8 / double(S);
    const double gap = bar_w > 6 ? 1 : 0;
    auto format = [&](double v) { return fixed_label(v, chart.value_digits); };
    svg.begin_group("bars", svg.clip_rect(f.x, f.y - 20, f.w, f.h + 20));
    for (size_t s = 0; s < S; ++s) {
        const BarSeries& series = chart.series[s];
        const Colour colour = series.colour.value_or(category_colour(s));
        for (size_t c = 0; c < C; ++c) {
            const double v = series.values[c];
            if (!std::isfinite(v)) continue;
            const double e =
                series.errors.empty() || !std::isfinite(series.errors[c]) ? 0 : std::fabs(series.errors[c]);
            const double x = f.x + double(c) * group_w + group_w * 0.1 + double(s) * bar_w;
            const double top_px = sy(std::clamp(v, ty.min, ty.max));
            std::string tip = series.label + ", " + chart.categories[c] + ": " + format(v);
            if (e > 0) tip += " ± " + format(e);
            if (std::fabs(base - top_px) >= 1.5) {
                svg.rect(x, std::min(base, top_px), bar_w - gap, std::fabs(base - top_px),
                         Paint::filled(colour, "bar"), tip);
            } else {
                // A bar too small to see: an outline at the baseline, and its value above it.
                Paint p = Paint::stroked(colour, 1.2, "bar-small");
                p.fill = kWhite;
                svg.rect(x + 0.6, base - 3.6, std::max(1.0, bar_w - gap - 1.2), 3, p, tip);
                Font font{9, blend(colour, kInk, 0.3), Anchor::middle, false, 0, "bar-value"};
                const double above = e > 0 ? sy(std::clamp(v + e, ty.min, ty.max)) - 3 : base - 6;
                svg.text(x + (bar_w - gap) / 2, std::min(base - 6, above), v == 0 ? "0" : format(v), font);
            }
            if (e > 0) {
                const double cx = x + (bar_w - gap) / 2, cap = std::min(bar_w * 0.3, 5.0);
                const double y0 = sy(std::clamp(v - e, ty.min, ty.max)),
                             y1 = sy(std::clamp(v + e, ty.min, ty.max));
                Paint p = Paint::stroked(kInk, 1.1, "whisker");
                svg.line(cx, y0, cx, y1, p);
                svg.line(cx - cap, y1, cx + cap, y1, p);
                svg.line(cx - cap, y0, cx + cap, y0, p);
            }
        }
    }
    svg.end_group();

    draw_frame(svg, f);
    svg.begin_group("axes");
    Font tick{kTickSize, kMutedInk, Anchor::end, false, 0, "tick-label y"};
    for (size_t i = 0; i < ty.values.size(); ++i) {
        const double py = sy(ty.values[i]);
        svg.line(f.x - 4, py, f.x, py, Paint::stroked(kAxis, 1, "tick y"));
        svg.text(f.x - 7, py + kTickSize * 0.35, ty.labels[i], tick);
    }
    tick.css_class = "tick-label x";
    for (size_t c = 0; c < C; ++c) {
        const double cx = f.x + (double(c) + 0.5) * group_w;
        tick.colour = !chart.highlight.empty() && chart.highlight[c] ? kInk : kMutedInk;
        tick.bold = !chart.highlight.empty() && chart.highlight[c];
        if (rotate) {
            tick.anchor = Anchor::end, tick.rotate = -40;
            svg.text(cx + 3, f.y + f.h + 6 + kTickSize * 0.8, chart.categories[c], tick);
        } else {
            tick.anchor = Anchor::middle;
            svg.text(cx, f.y + f.h + 6 + kTickSize, chart.categories[c], tick);
        }
    }
    Font title{kAxisTitleSize, kInk, Anchor::middle, false, 0, "axis-title x"};
    if (!chart.x_title.empty())
        svg.text(f.x + f.w / 2, f.y + f.h + 6 + label_h + 2 + kAxisTitleSize, chart.x_title, title);
    title.rotate = -90, title.css_class = "axis-title y";
    if (!chart.y.title.empty()) svg.text(X + kPad + kAxisTitleSize, f.y + f.h / 2, chart.y.title, title);
    svg.end_group();

    if (chart.legend == LegendPosition::right) draw_right_legend(svg, legend, right + 12, f.y);
    if (legend_top) {
        svg.begin_group("legend");
        layout_top_legend(legend, W, &svg, X, legend_y);
        svg.end_group();
    }
    svg.end_group();
}

// ---- MatrixChart ----------------------------------------------------------------------

void draw(Svg& svg, const MatrixChart& chart, double X, double Y, double W, double H) {
    const size_t R = chart.row_labels.size(), C = chart.column_labels.size();
    FG_CHECK(R > 0 && C > 0, "MatrixChart: needs row and column labels, got ", R, " and ", C);
    FG_CHECK(chart.values.size() == R * C, "MatrixChart: ", chart.values.size(), " values for ", R, " x ", C,
             " cells");
    FG_CHECK(chart.cell_text.empty() || chart.cell_text.size() == R * C,
             "MatrixChart: ", chart.cell_text.size(), " cell texts for ", R, " x ", C, " cells");
    FG_CHECK(std::isfinite(chart.min) && std::isfinite(chart.max) && chart.min < chart.max,
             "MatrixChart: the colour scale [", chart.min, ", ", chart.max,
             "] must be finite with min < max");
    FG_CHECK(std::isfinite(chart.scale_power) && chart.scale_power > 0,
             "MatrixChart: scale_power must be > 0, got ", chart.scale_power);
    // Value -> position on the colour scale, in [0, 1].
    const auto colour_t = [&](double v) {
        return std::pow(std::clamp((v - chart.min) / (chart.max - chart.min), 0.0, 1.0), chart.scale_power);
    };

    svg.begin_group("matrix-chart");
    const double top = draw_titles(svg, chart.title, chart.subtitle, X, Y);
    const bool scale = !chart.scale_title.empty();
    const double row_label_w = max_text_width(chart.row_labels, kTickSize);
    const double col_label_w = max_text_width(chart.column_labels, kTickSize);
    const double left = X + kPad + (chart.row_title.empty() ? 0 : kAxisTitleSpace) + row_label_w + 8;
    const double right = X + W - 12 - (scale ? 14 + 10 + 36 + kAxisTitleSpace : 0);
    const double cell_guess = (right - left) / double(C);
    const bool rotate = col_label_w > cell_guess - 4;
    const double label_h = rotate ? col_label_w * std::sin(0.8) + kTickSize + 4 : kTickSize + 4;
    const double bottom = Y + H - kPad - 6 - label_h - (chart.column_title.empty() ? 0 : kAxisTitleSpace);
    const double cell = std::min((right - left) / double(C), (bottom - top) / double(R));
    Frame f{left, top, cell * double(C), cell * double(R)};
    check_frame(f, "MatrixChart");

    svg.begin_group("cells");
    const double text_size = std::clamp(cell * 0.3, 8.0, 13.0);
    for (size_t r = 0; r < R; ++r)
        for (size_t c = 0; c < C; ++c) {
            const double v = chart.values[r * C + c];
            const double t = colour_t(v);
            const std::string text = chart.cell_text.empty() ? fixed_label(v, 2) : chart.cell_text[r * C + c];
            Paint p = Paint::filled(std::isfinite(v) ? sequential_colour(t) : kGrid, "cell");
            p.stroke = kWhite;
            const double x = f.x + double(c) * cell, y = f.y + double(r) * cell;
            svg.rect(x, y, cell, cell, p, chart.row_labels[r] + " / " + chart.column_labels[c] + ": " + text);
            if (cell >= 14 && !text.empty())
                // Cells at the bottom of the scale (a confusion matrix's zeros) are written in grey.
                svg.text(x + cell / 2, y + cell / 2 + text_size * 0.35, text,
                         Font{text_size,
                              t > 0.55 ? kWhite
                              : t <= 0 ? kAxis
                                       : kInk,
                              Anchor::middle, false, 0, "cell-text"});
        }
    svg.end_group();

    svg.begin_group("axes");
    Font tick{kTickSize, kMutedInk, Anchor::end, false, 0, "tick-label y"};
    for (size_t r = 0; r < R; ++r)
        svg.text(f.x - 6, f.y + (double(r) + 0.5) * cell + kTickSize * 0.35, chart.row_labels[r], tick);
    tick.css_class = "tick-label x";
    for (size_t c = 0; c < C; ++c) {
        const double cx = f.x + (double(c) + 0.5) * cell;
        if (rotate) {
            tick.anchor = Anchor::end, tick.rotate = -45;
            svg.text(cx + 3, f.y + f.h + 6 + kTickSize * 0.8, chart.column_labels[c], tick);
        } else {
            tick.anchor = Anchor::middle;
            svg.text(cx, f.y + f.h + 6 + kTickSize, chart.column_labels[c], tick);
        }
    }
    Font title{kAxisTitleSize, kInk, Anchor::middle, false, 0, "axis-title x"};
    if (!chart.column_title.empty())
        svg.text(f.x + f.w / 2, f.y + f.h + 6 + label_h + 2 + kAxisTitleSize, chart.column_title, title);
    title.rotate = -90, title.css_class = "axis-title y";
    if (!chart.row_title.empty()) svg.text(X + kPad + kAxisTitleSize, f.y + f.h / 2, chart.row_title, title);
    svg.end_group();

    if (scale) {
        svg.begin_group("colour-bar");
        const double bx = f.x + f.w + 14, steps = 40;
        for (int k = 0; k < int(steps); ++k) {
            const double t0 = double(k) / steps;
            svg.rect(bx, f.y + f.h * (1 - t0 - 1 / steps), 14, f.h / steps + 0.5,
                     Paint::filled(sequential_colour(t0 + 0.5 / steps)));
        }
        svg.rect(bx, f.y, 14, f.h, Paint::stroked(kAxis, 1));
        Ticks t = linear_ticks(chart.min, chart.max, 5, true, true);
        if (chart.scale_power < 1) {  // the squeezed low end gets ticks of its own
            const Ticks low =
                linear_ticks(chart.min, chart.min + (chart.max - chart.min) * 0.05, 3, true, true);
            for (size_t i = 1; i < low.values.size(); ++i)
                if (colour_t(low.values[i]) < colour_t(t.values[1]) - 0.08) {
                    t.values.insert(t.values.begin() + ptrdiff_t(i), low.values[i]);
                    t.labels.insert(t.labels.begin() + ptrdiff_t(i), low.labels[i]);
                }
        }
        Font font{kTickSize, kMutedInk, Anchor::start, false, 0, "tick-label scale"};
        for (size_t i = 0; i < t.values.size(); ++i) {
            const double py = f.y + f.h * (1 - colour_t(t.values[i]));
            svg.line(bx + 14, py, bx + 18, py, Paint::stroked(kAxis, 1));
            svg.text(bx + 21, py + kTickSize * 0.35, t.labels[i], font);
        }
        Font st{kAxisTitleSize, kInk, Anchor::middle, false, 90, "axis-title scale"};
        svg.text(bx + 14 + 10 + 36 + 4, f.y + f.h / 2, chart.scale_title, st);
        svg.end_group();
    }
    svg.end_group();
}

MatrixChart confusion_chart(const ConfusionMatrix& cm, const std::vector<std::string>& class_names,
                            const std::string& title) {
    const int C = cm.num_classes();
    FG_CHECK(class_names.empty() || int(class_names.size()) == C, "confusion_chart: ", class_names.size(),
             " class names for a ", C, "-class confusion matrix");
    MatrixChart m;
    m.title = title;
    m.subtitle =
        str(cm.total(), " items; each cell counts the items of its row's class predicted as its column's");
    m.row_title = "true class";
    m.column_title = "predicted class";
    m.scale_title = "share of the true class (square-root scale)";
    m.scale_power = 0.5;
    for (int c = 0; c < C; ++c) {
        const std::string name = class_names.empty() ? std::to_string(c) : class_names[size_t(c)];
        m.row_labels.push_back(name);
        m.column_labels.push_back(name);
    }
    for (int t = 0; t < C; ++t)
        for (int p = 0; p < C; ++p) {
            const int64_t n = cm(t, p), support = cm.support(t);
            m.values.push_back(support ? double(n) / double(support) : 0.0);
            m.cell_text.push_back(std::to_string(n));
        }
    return m;
}

// ---- Whole documents ------------------------------------------------------------------

Svg to_svg(const Plot& plot) {
    Svg svg(plot.width, plot.height);
    draw(svg, plot, 0, 0, plot.width, plot.height);
    return svg;
}

Svg to_svg(const BarChart& chart) {
    Svg svg(chart.width, chart.height);
    draw(svg, chart, 0, 0, chart.width, chart.height);
    return svg;
}

Svg to_svg(const MatrixChart& chart) {
    Svg svg(chart.width, chart.height);
    draw(svg, chart, 0, 0, chart.width, chart.height);
    return svg;
}

void save_svg(const std::string& path, const Plot& plot) { save_svg(path, to_svg(plot)); }
void save_svg(const std::string& path, const BarChart& chart) { save_svg(path, to_svg(chart)); }
void save_svg(const std::string& path, const MatrixChart& chart) { save_svg(path, to_svg(chart)); }

}  // namespace focalgrad::report
