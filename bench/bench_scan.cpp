// bench_scan.cpp — how cost grows with the work (issue 16, item 6): time per sample against
// its floor over three sweeps, each point measured beside its own floor in the same run:
//   batch size {8 .. 512} of the MLP 784-256-128-10   a training step (forward, cross-entropy,
//   hidden width {32 .. 2048} of an MLP 784-H-10,     backward, SGD with momentum) on a random
//     batch 128                                       batch, against its gemm calls replayed
//   N {10^3 .. 10^7} rows of 10 classes for the       forward + backward, against the larger of
//     fused losses                                    streaming its bytes and its exp (+ log)s
// Where the ratio is high, fixed per-step or per-call costs dominate; where it nears 1, the
// floor does (docs/performance.md, "How cost grows with the work", shows the chart).
// Not here: the loader (random batches in memory), the CNN, thread-count sweeps.
//   build/bin/bench_scan [--svg PATH] [--no-header]     (about a minute on a quiet machine)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <focalgrad/core/parallel.h>
#include <focalgrad/report/chart.h>

#include "floors.h"
#include "workloads.h"

using namespace fgbench;

namespace {

// One point of a sweep: its abscissa, and seconds per sample measured and of its floor.
struct Point {
    double x = 0, measured = 0, floor = 0;
};

// A training step of an MLP 784-hidden-10 on one random batch: median seconds per sample
// over enough steps for about `samples` samples, and its gemm calls replayed the same way.
Point mlp_point(const std::vector<int64_t>& hidden, int64_t batch, double x, int64_t samples) {
    auto net = bench_mlp(hidden, 0);
    Generator g(1);
    Tensor images = Tensor::randn({batch, 784}, g);  // [B, 784]
    std::vector<int> labels(static_cast<size_t>(batch));
    for (int& y : labels) y = int(g.below(10));
    SGD opt(net->parameters(), 0.05, 0.9);
    auto step = [&] {
        opt.zero_grad();
        Tensor loss = cross_entropy((*net)(images), labels);
        loss.backward();
        opt.step();
    };
    for (int i = 0; i < 3; ++i) step();  // buffers pooled, pages touched
    std::vector<GemmCall> trace;
    set_gemm_trace(&trace);
    step();
    set_gemm_trace(nullptr);
    const int reps = int(std::clamp<int64_t>(samples / batch, 9, 500));
    Point p;
    p.x = x;
    p.measured = median_seconds(step, reps, 1) / double(batch);
    p.floor = gemm_floor_seconds(trace, reps) / double(batch);
    return p;
}

// The floors of a fused loss on [N, 10], each measured on the same number of elements as
// the loss (the footprint decides which cache answers; the count, whether the pool's
// second thread is woken at all).
struct LossFloors {
    double gbs = 0, exp_each = 0, exp_log_each = 0;
};
LossFloors loss_floors(int64_t N, int reps) {
    const int64_t elements = N * 10;
    return {stream_gbs(elements, reps), exp_ns(elements, reps), exp_log_ns(elements, reps)};
}

// Forward + backward of a fused loss on [N, 10]: median seconds per row against its floor
// per row.
template <class LossFn>
Point loss_point(int64_t N, bool sigmoid, const LossFloors& floors, LossFn loss) {
    const int64_t C = 10;
    const int reps = int(std::clamp<int64_t>(20000000 / (N * C), 5, 200));
    Point p;
    p.x = double(N);
    p.measured = time_loss(N, C, reps, loss) / double(N);
    const LossFloor f = sigmoid ? sigmoid_loss_floor(N, C, floors.gbs, floors.exp_log_each)
                                : softmax_loss_floor(N, C, floors.gbs, floors.exp_each);
    p.floor = f.seconds() / double(N);
    return p;
}

void print_point(const std::string& name, const Point& p, double unit, const char* unit_name) {
    table_row(name, fmt("%.3g ", p.measured * unit) + unit_name,
              fmt("floor %.3g ", p.floor * unit) + unit_name, fmt("%.2fx floor", p.measured / p.floor), "");
}

// A sweep as one line of its ratio to the floor.
void add_ratio(report::Plot& plot, const std::string& label, const std::vector<Point>& points, int colour) {
    report::Series ratio(label, {}, {});
    for (const Point& p : points) {
        ratio.x.push_back(p.x);
        ratio.y.push_back(p.measured / p.floor);
    }
    ratio.colour = report::category_colour(colour);
    ratio.markers = true;
    plot.series.push_back(std::move(ratio));
}

// A sweep as two lines of one colour: measured (solid, with markers) and its floor (dashed).
void add_sweep(report::Plot& plot, const std::string& label, const std::vector<Point>& points, double unit,
               int colour) {
    report::Series measured(label, {}, {}), floor(label + ": floor", {}, {});
    for (const Point& p : points) {
        measured.x.push_back(p.x);
        measured.y.push_back(p.measured * unit);
        floor.x.push_back(p.x);
        floor.y.push_back(p.floor * unit);
    }
    measured.colour = floor.colour = report::category_colour(colour);
    measured.markers = true;
    floor.dash = "6 4";
    floor.line_width = 1.5;
    plot.series.push_back(std::move(measured));
    plot.series.push_back(std::move(floor));
}

report::Plot panel(const std::string& title, const std::string& x_title, const std::string& y_title) {
    report::Plot plot;
    plot.title = title;
    plot.x.title = x_title;
    plot.x.log = true;
    plot.y.title = y_title;
    plot.y.log = true;
    plot.legend = report::LegendPosition::top;
    return plot;
}

}  // namespace

int main(int argc, char** argv) {
    if (help_requested(
            argc, argv,
            "bench_scan: time per sample against its floor, over batch size and hidden width of "
            "an MLP and over N for the fused losses.\nusage: bench_scan [--svg PATH] [--no-header]"))
        return 0;
    std::string svg_path;
    for (int i = 1; i + 1 < argc; ++i)
        if (std::string(argv[i]) == "--svg") svg_path = argv[i + 1];
    const double start = now_seconds();
    set_num_threads(std::max(num_threads(), 2));
    const int threads = num_threads();
    if (!has_flag(argc, argv, "--no-header")) {
        std::printf("bench_scan: %d threads, %s, load average %.2f; seconds per sample against its floor\n\n",
                    threads, build_isa(), load_average());
        table_header();
    }

    std::vector<Point> by_batch, by_width;
    for (int64_t batch : {8, 16, 32, 64, 128, 256, 512}) {
        by_batch.push_back(mlp_point({256, 128}, batch, double(batch), 16384));
        print_point(str("scan: MLP 784-256-128-10 step, batch ", batch, ", per sample"), by_batch.back(), 1e6,
                    "us");
    }
    for (int64_t width : {32, 64, 128, 256, 512, 1024, 2048}) {
        by_width.push_back(mlp_point({width}, 128, double(width), 16384));
        print_point(str("scan: MLP 784-", width, "-10 step, batch 128, per sample"), by_width.back(), 1e6,
                    "us");
    }

    FocalLossOptions focal;
    focal.gamma = 2;
    std::vector<Point> ce, fl, sfl;
    for (int64_t N : {1000, 10000, 100000, 1000000, 10000000}) {
        const LossFloors floors = loss_floors(N, int(std::clamp<int64_t>(20000000 / (N * 10), 5, 200)));
        ce.push_back(loss_point(N, false, floors, [](const Tensor& z, const std::vector<int>& y) {
            return cross_entropy(z, y);
        }));
        print_point(str("scan: cross_entropy fwd+bwd, ", N, " x 10, per row"), ce.back(), 1e9, "ns");
        fl.push_back(loss_point(N, false, floors, [&](const Tensor& z, const std::vector<int>& y) {
            return focal_loss(z, y, focal);
        }));
        print_point(str("scan: focal_loss fwd+bwd, ", N, " x 10, per row"), fl.back(), 1e9, "ns");
        Generator g(2);
        Tensor targets = Tensor::empty({N, 10});  // [N, C], 0/1
        for (int64_t i = 0; i < N * 10; ++i) targets.data()[i] = float(g.below(2));
        sfl.push_back(loss_point(N, true, floors, [&](const Tensor& z, const std::vector<int>&) {
            return sigmoid_focal_loss(z, targets);
        }));
        print_point(str("scan: sigmoid_focal_loss fwd+bwd, ", N, " x 10, per row"), sfl.back(), 1e9, "ns");
    }
    const double seconds = now_seconds() - start;
    table_row("scan: run time of the whole scan", fmt("%.0f s", seconds), "", "", "");

    if (!svg_path.empty()) {
        report::Plot batch =
            panel("MLP 784-256-128-10: a training step, by batch size", "batch size", "µs per sample");
        add_sweep(batch, "step", by_batch, 1e6, 0);
        report::Plot width = panel("MLP 784-H-10, batch 128: a training step, by hidden width",
                                   "hidden width H", "µs per sample");
        add_sweep(width, "step", by_width, 1e6, 0);
        report::Plot losses = panel("Fused losses, fwd + bwd on [N, 10], by rows", "rows N", "ns per row");
        add_sweep(losses, "cross_entropy", ce, 1e9, 0);
        add_sweep(losses, "focal_loss", fl, 1e9, 1);
        add_sweep(losses, "sigmoid_focal_loss", sfl, 1e9, 2);
        // Below each panel, its ratio to the floor: 1 is the floor, far above 1 fixed costs.
        report::Plot batch_ratio = panel("", "batch size", "measured / floor");
        add_ratio(batch_ratio, "step", by_batch, 0);
        report::Plot width_ratio = panel("", "hidden width H", "measured / floor");
        add_ratio(width_ratio, "step", by_width, 0);
        report::Plot loss_ratio = panel("", "rows N", "measured / floor");
        add_ratio(loss_ratio, "cross_entropy", ce, 0);
        add_ratio(loss_ratio, "focal_loss", fl, 1);
        add_ratio(loss_ratio, "sigmoid_focal_loss", sfl, 2);
        for (report::Plot* p : {&batch_ratio, &width_ratio, &loss_ratio}) {
            p->y.min = 1;
            p->legend = report::LegendPosition::none;
        }
        const double w = 620, h = 400, h2 = 260;
        report::Svg svg(3 * w, 40 + h + h2);
        svg.text(12, 24,
                 str("bench_scan: measured (solid) against its floor (dashed), and their ratio; ", threads,
                     " threads, ", build_isa(), ", load average ", fmt("%.2f", load_average()), "; run time ",
                     fmt("%.0f s", seconds)),
                 report::Font{});
        report::draw(svg, batch, 0, 40, w, h);
        report::draw(svg, width, w, 40, w, h);
        report::draw(svg, losses, 2 * w, 40, w, h);
        report::draw(svg, batch_ratio, 0, 40 + h, w, h2);
        report::draw(svg, width_ratio, w, 40 + h, w, h2);
        report::draw(svg, loss_ratio, 2 * w, 40 + h, w, h2);
        report::save_svg(svg_path, svg);
        std::fprintf(stderr, "bench_scan: wrote %s\n", svg_path.c_str());
    }
    return 0;
}
