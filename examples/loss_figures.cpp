// loss_figures.cpp — the figures and the table of docs/losses.md, computed by focalgrad's
// own ops: the focal loss against p_t for γ in {0, 0.5, 1, 2, 5} (Lin et al.'s Figure 1),
// the magnitude of its gradient with respect to the target's logit as backward computes
// it, and the write-ups' worked example (100,000 easy negatives, 10 hard positives): the
// positives' share of the total loss for each γ and α.
// Not here: any training; the softmax form (for two classes it gives the same numbers).
//
//   build/bin/loss_figures --out docs     # rewrites docs/focal_loss.svg, docs/focal_loss_gradient.svg
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <focalgrad/core/io.h>
#include <focalgrad/losses/sigmoid_focal_loss.h>
#include <focalgrad/report/chart.h>
#include <focalgrad/report/table.h>

#include "cli.h"

using namespace focalgrad;
using namespace focalgrad::report;

namespace {

const std::vector<double> kGammas = {0, 0.5, 1, 2, 5};

std::string gamma_label(double gamma) {
    return "γ = " + fixed(gamma, gamma == 0.5 ? 1 : 0) + (gamma == 0 ? " (cross-entropy)" : "");
}

// One logit per p_t: x = log(p_t / (1 - p_t)), so that σ(x) = p_t for a positive (y = 1).
Tensor logits_for(const std::vector<double>& p_t) {
    std::vector<float> x;
    for (double p : p_t) x.push_back(float(std::log(p / (1 - p))));
    return Tensor::from(x, Shape{int64_t(x.size())});
}

// The focal loss of positives at each p_t, one per element (no α: it only scales the curve).
std::vector<float> losses(const std::vector<double>& p_t, double gamma) {
    SigmoidFocalLossOptions o;
    o.gamma = float(gamma), o.alpha = -1, o.reduction = Reduction::None;
    Tensor x = logits_for(p_t);
    return sigmoid_focal_loss(x, Tensor::ones(x.shape()), o).to_vector();
}

// |dℓ/dx| at each p_t, where x is the target's logit, read from x.grad() after backward:
// with Reduction::Sum each element's gradient is its own loss's.
std::vector<float> gradient_magnitudes(const std::vector<double>& p_t, double gamma) {
    SigmoidFocalLossOptions o;
    o.gamma = float(gamma), o.alpha = -1, o.reduction = Reduction::Sum;
    Tensor x = logits_for(p_t).set_requires_grad();
    sigmoid_focal_loss(x, Tensor::ones(x.shape()), o).backward();
    std::vector<float> g = x.grad().to_vector();
    for (float& v : g) v = std::fabs(v);
    return g;
}

std::vector<double> grid(double lo, double hi, int n) {
    std::vector<double> v;
    for (int i = 0; i < n; ++i) v.push_back(lo + (hi - lo) * i / (n - 1));
    return v;
}

Plot loss_curves() {
    Plot p;
    p.title = "Focal loss against the probability of the true class";
    p.subtitle =
        "FL(p_t) = -(1 - p_t)^γ log p_t, computed by sigmoid_focal_loss (after Lin et al. 2017, Fig. 1)";
    p.x.title = "probability of the ground-truth class, p_t";
    p.y.title = "loss";
    p.x.min = 0, p.x.max = 1, p.y.min = 0, p.y.max = 5;
    const std::vector<double> p_t = grid(0.002, 0.998, 250);
    for (double gamma : kGammas) {
        std::vector<float> l = losses(p_t, gamma);
        p.series.push_back({gamma_label(gamma), p_t, std::vector<double>(l.begin(), l.end())});
    }
    Series split("", {0.5, 0.5}, {0, 5});
    split.colour = kAxis, split.line_width = 1, split.dash = "4 4";
    p.series.push_back(split);
    p.notes.push_back({0.53, 4.6, "well-classified examples (p_t > 0.5) →", Font{11, kMutedInk}});
    p.width = 760, p.height = 460;
    return p;
}

// Two panels: the gradient on a linear scale, and on a log scale where the orders of
// magnitude between the γ show.
Svg gradient_figure() {
    const std::vector<double> p_t = grid(0.001, 0.999, 300);
    Plot linear;
    linear.title = "|dℓ/dx_t| against p_t, from backward";
    linear.subtitle = "x_t: the logit of the true class; sigmoid_focal_loss, no α";
    linear.x.title = "p_t";
    linear.y.title = "|dℓ/dx_t|";
    linear.x.min = 0, linear.x.max = 1, linear.y.min = 0;
    linear.legend = LegendPosition::none;
    for (double gamma : kGammas) {
        std::vector<float> g = gradient_magnitudes(p_t, gamma);
        linear.series.push_back({gamma_label(gamma), p_t, std::vector<double>(g.begin(), g.end())});
    }
    Plot log = linear;
    log.title = "the same, log scale";
    log.subtitle = "easy examples (p_t near 1) lose orders of magnitude as γ grows";
    log.y = Axis{};
    log.y.title = "|dℓ/dx_t| (log)";
    log.y.log = true, log.y.min = 1e-8, log.y.max = 2;
    log.legend = LegendPosition::right;
    Svg figure(1180, 440);
    draw(figure, linear, 0, 0, 520, 440);
    draw(figure, log, 520, 0, 660, 440);
    return figure;
}

// The positives' share of the total loss: 10 positives at p_t = 0.05 against 100,000
// negatives at p_t = 0.95. Every sample has σ(x) = 0.05 (a positive with y = 1 then has
// p_t = 0.05, a negative with y = 0 has p_t = 0.95), so one logit tensor serves both.
double positive_share(double gamma, double alpha) {
    const int64_t negatives = 100000, positives = 10;
    Tensor x = Tensor::full({negatives + positives}, float(std::log(0.05 / 0.95)));
    Tensor y = Tensor::zeros({negatives + positives});
    for (int64_t i = negatives; i < negatives + positives; ++i) y.data()[i] = 1;
    SigmoidFocalLossOptions o;
    o.gamma = float(gamma), o.alpha = float(alpha), o.reduction = Reduction::None;
    std::vector<float> l = sigmoid_focal_loss(x, y, o).to_vector();
    double pos = 0, all = 0;
    for (size_t i = 0; i < l.size(); ++i) (i >= size_t(negatives) ? pos : all) += l[i];
    return pos / (all + pos);
}

Table worked_example() {
    const std::vector<std::pair<std::string, double>> alphas = {
        {"no α", -1}, {"α = 0.25", 0.25}, {"α = 0.5", 0.5}, {"α = 0.75", 0.75}};
    std::vector<std::string> header = {"positives' share of the loss"};
    for (const auto& a : alphas) header.push_back(a.first);
    Table t(header);
    t.align.assign(header.size(), Align::right);
    t.align[0] = Align::left;
    for (double gamma : kGammas) {
        std::vector<std::string> row = {gamma_label(gamma)};
        for (const auto& a : alphas) row.push_back(fixed(positive_share(gamma, a.second), 4));
        t.add(row);
    }
    return t;
}

void run(int argc, char** argv) {
    cli::Args args(argc, argv,
                   "The figures and the worked-example table of docs/losses.md, computed with\n"
                   "sigmoid_focal_loss and backward.");
    std::string out = args.str("out", "results", "directory for focal_loss.svg and focal_loss_gradient.svg");
    args.finish();
    make_directories(out, "loss_figures: --out");

    std::printf(
        "The write-ups' worked example: 100,000 negatives at p_t = 0.95, 10 positives at p_t = 0.05\n\n%s",
        to_markdown(worked_example()).c_str());
    save_svg(out + "/focal_loss.svg", loss_curves());
    save_svg(out + "/focal_loss_gradient.svg", gradient_figure());
    std::printf("\nwrote %s/focal_loss.svg, %s/focal_loss_gradient.svg\n", out.c_str(), out.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    return cli::run_main("loss_figures", [&] { run(argc, argv); });
}
