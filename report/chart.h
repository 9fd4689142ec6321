// chart.h — charts drawn as SVG (svg.h), each with a title, axis titles, ticks and a legend:
//   Plot         lines and scatter points over optional image layers (a decision boundary
//                under training points, a photo under detection boxes), boxes and notes;
//   BarChart     bars grouped by category, one colour per series, whiskers, shaded
//                categories, and small or zero bars drawn visibly with their value;
//   MatrixChart  a heatmap of a matrix with the values written in the cells and a colour
//                bar; confusion_chart builds one from a ConfusionMatrix.
// to_svg draws a chart alone; draw puts it in a rectangle of a larger Svg (panels).
// Not here: label collision avoidance, dual y axes, interaction, 3-D, pies.
#pragma once

#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <focalgrad/data/metrics.h>
#include <focalgrad/report/svg.h>

namespace focalgrad::report {

inline constexpr double kAuto = std::numeric_limits<double>::quiet_NaN();

struct Axis {
    std::string title;
    double min = kAuto, max = kAuto;       // NaN: from the data, rounded out to the ticks
    bool log = false;                      // base-10 scale; values <= 0 are left out
    std::vector<double> ticks;             // empty: 5-8 round ticks (1, 2, 2.5, 5 x 10^k)
    std::vector<std::string> tick_labels;  // names for `ticks`, one each; empty: the numbers
};

// Where the legend goes; `none` leaves it out.
enum class LegendPosition { right, top, none };

struct LegendEntry {
    enum class Kind { swatch, line, marker, whisker };
    std::string label;
    Colour colour;
    Kind kind = Kind::swatch;
};

// ---- Plot -----------------------------------------------------------------------------

struct Series {
    std::string label;             // its legend entry; empty: not in the legend
    std::vector<double> x, y;      // the same length; a non-finite value breaks the line
    std::optional<Colour> colour;  // default: category_colour(index of the series)
    bool line = true;              // join the points
    bool markers = false;          // a dot at each point (line = false: a scatter plot)
    double line_width = 2, marker_radius = 3;
    std::string dash;  // stroke-dasharray, e.g. "6 4"

    Series() = default;
    Series(std::string label_, std::vector<double> x_, std::vector<double> y_)
        : label(std::move(label_)), x(std::move(x_)), y(std::move(y_)) {}
};

// A raster over a data rectangle, its first row at the rectangle's top edge on screen.
struct ImageLayer {
    Raster image;
    double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
    bool smooth = false;  // false: sharp pixels (a class map); true: interpolated (a photo)
    double opacity = 1;
};

// A rectangle in data coordinates with an optional tag at its top left ("cat 0.92").
struct Box {
    double x_min = 0, x_max = 0, y_min = 0, y_max = 0;
    Colour colour = category_colour(1);
    std::string label;
    double line_width = 2;
    bool dashed = false;  // e.g. ground truth dashed, predictions solid
};

// Text at a point in data coordinates.
struct Note {
    double x = 0, y = 0;
    std::string text;
    Font font;
};

struct Plot {
    std::string title, subtitle;
    Axis x, y;
    std::vector<ImageLayer> images;  // drawn first, then series, boxes, notes
    std::vector<Series> series;
    std::vector<Box> boxes;
    std::vector<Note> notes;
    std::vector<LegendEntry> legend_extra;  // after the series' own entries
    LegendPosition legend = LegendPosition::right;
    bool y_down = false;        // image coordinates: y.min at the top
    bool axes = true;           // false: no ticks, grid or axis titles (an image with boxes)
    bool grid = true;           // light lines at the ticks
    bool equal_aspect = false;  // a data unit takes as many pixels along x as along y
    double width = 720, height = 450;
};

// ---- BarChart -------------------------------------------------------------------------

struct BarSeries {
    std::string label;
    std::vector<double> values;  // one per category; NaN: no bar
    std::vector<double> errors;  // whisker half-lengths, one per category; empty: none
    std::optional<Colour> colour;

    BarSeries() = default;
    BarSeries(std::string label_, std::vector<double> values_, std::vector<double> errors_ = {})
        : label(std::move(label_)), values(std::move(values_)), errors(std::move(errors_)) {}
};

struct BarChart {
    std::string title, subtitle;
    std::string x_title;                  // under the category names
    Axis y;                               // bars rise from 0 (or from y.min when it is above 0)
    std::vector<std::string> categories;  // along x
    std::vector<bool> highlight;          // categories drawn on a shaded band; empty: none
    std::string highlight_label;          // the band's legend entry, e.g. "minority class"
    std::string error_label;              // the whiskers' legend entry, e.g. "± 1 std"
    std::vector<BarSeries> series;        // side by side within each category
    int value_digits = 2;                 // of the values written above small bars and in tooltips
    LegendPosition legend = LegendPosition::top;
    double width = 900, height = 420;
};

// ---- MatrixChart ----------------------------------------------------------------------

struct MatrixChart {
    std::string title, subtitle;
    std::string row_title, column_title;  // e.g. "true class", "predicted class"
    std::vector<std::string> row_labels, column_labels;
    std::vector<double> values;          // [rows][columns], row-major: each cell's colour
    std::vector<std::string> cell_text;  // [rows][columns]; empty: the values, 2 decimals
    double min = 0, max = 1;             // the colour scale's range
    double scale_power = 1;              // colour of v: ((v - min) / (max - min))^scale_power;
                                         // below 1 it spreads the small values apart
    std::string scale_title;             // the colour bar's title; empty: no colour bar
    double width = 640, height = 560;
};

// A confusion matrix as a heatmap: cell (t, p) shows the count of class t predicted as p,
// coloured by its share of row t (so the diagonal's colour is the class's recall) on a
// square-root scale, so that the errors of a good classifier (shares of 0.001 to 0.05)
// show as light cells instead of vanishing in white.
// class_names may be empty (the classes are then numbered).
MatrixChart confusion_chart(const ConfusionMatrix& cm, const std::vector<std::string>& class_names,
                            const std::string& title = "Confusion matrix");

// ---- Drawing --------------------------------------------------------------------------

Svg to_svg(const Plot& plot);
Svg to_svg(const BarChart& chart);
Svg to_svg(const MatrixChart& chart);

// The chart inside the rectangle (x, y, w, h) of `svg`: its width and height are ignored.
void draw(Svg& svg, const Plot& plot, double x, double y, double w, double h);
void draw(Svg& svg, const BarChart& chart, double x, double y, double w, double h);
void draw(Svg& svg, const MatrixChart& chart, double x, double y, double w, double h);

// save_svg(path, to_svg(chart)): atomic.
void save_svg(const std::string& path, const Plot& plot);
void save_svg(const std::string& path, const BarChart& chart);
void save_svg(const std::string& path, const MatrixChart& chart);

// ---- Ticks ----------------------------------------------------------------------------

struct Ticks {
    double min = 0, max = 1;          // the axis range
    std::vector<double> values;       // inside [min, max]
    std::vector<std::string> labels;  // one per value, with the decimals the step needs
};

// Round ticks for data in [lo, hi]: the step is 1, 2, 2.5 or 5 x 10^k, giving about
// `target` ticks; the range is widened to the ticks around the data, except at an end
// given explicitly (fixed_min / fixed_max), which is kept exactly.
Ticks linear_ticks(double lo, double hi, int target = 6, bool fixed_min = false, bool fixed_max = false);
// Powers of ten over [lo, hi] (both > 0), with 2 and 5 between them when the range spans
// fewer than three decades.
Ticks log_ticks(double lo, double hi, bool fixed_min = false, bool fixed_max = false);

}  // namespace focalgrad::report
