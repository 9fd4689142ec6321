// test_gradcheck_sensitivity.cpp — how small an error gradcheck's defaults see. Focal loss is
// rebuilt here as a custom op whose backward can carry a planted 5 % error in one term;
// gradcheck must reject it at γ = 0.5 and γ = 2 and accept the correct one. A longer study
// (skipped by default) measures the margins quoted in docs/autograd.md:
//   build/bin/focalgrad_tests -tc="gradcheck sensitivity study*" --no-skip
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/losses/cross_entropy.h>
#include <focalgrad/losses/focal_loss.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

// The terms of focal loss's gradient, for a row with target t and p = softmax(z):
//   dℓ/dz_j = α_t (1 - p_t)^γ (1 - γφ) (p_j - [j = t]),   φ = p_t log p_t / (1 - p_t)
enum class Term { Factor, GammaPhi, Modulating, Alpha };
constexpr Term kTerms[] = {Term::Factor, Term::GammaPhi, Term::Modulating, Term::Alpha};

const char* name_of(Term term) {
    switch (term) {
        case Term::Factor: return "(1 - γφ)";
        case Term::GammaPhi: return "γφ alone";
        case Term::Modulating: return "(1 - p_t)^γ";
        case Term::Alpha: return "α_t";
    }
    return "";
}

// A scalar α = 0.25: class 0 (the background) gets α_t = 0.75, the others 0.25.
double alpha_of(int t) { return t == 0 ? 0.75 : 0.25; }

// d(mean ℓ)/dz in double, with `term` multiplied by `factor` (1 = the correct gradient).
std::vector<double> focal_gradient(const Tensor& z, const std::vector<int>& t, float gamma, Term term,
                                   double factor) {
    const int64_t N = z.size(0), C = z.size(1);
    std::vector<double> dz(size_t(N * C));
    for (int64_t r = 0; r < N; ++r) {
        const float* row = z.data() + r * C;
        const int tr = t[size_t(r)];
        double m = *std::max_element(row, row + C), sum = 0.0, others = 0.0;
        for (int64_t j = 0; j < C; ++j) {
            sum += std::exp(row[j] - m);
            if (j != tr) others += std::exp(row[j] - m);
        }
        const double e_t = std::exp(row[tr] - m), p_t = e_t / sum, one_minus_pt = others / sum;
        const double phi = others > 0 ? e_t * std::log(p_t) / others : -1.0;
        auto f = [&](Term which) { return which == term ? factor : 1.0; };
        const double coef = f(Term::Alpha) * alpha_of(tr) * f(Term::Modulating) *
                            std::pow(one_minus_pt, gamma) * f(Term::Factor) *
                            (1.0 - f(Term::GammaPhi) * gamma * phi);
        for (int64_t j = 0; j < C; ++j)
            dz[size_t(r * C + j)] = coef * (j == tr ? -one_minus_pt : std::exp(row[j] - m) / sum) / double(N);
    }
    return dz;
}

// focal_loss's forward (γ, α = 0.25, Mean) with the backward above.
Tensor planted_focal(const Tensor& z, const std::vector<int>& t, float gamma, Term term, double factor) {
    FocalLossOptions options;
    options.gamma = gamma;
    options.alpha = Tensor::scalar(0.25f);
    Tensor y;
    {
        NoGradGuard no_grad;
        y = focal_loss(z, t, options);
    }
    record("planted_focal", {z}, y, [z, t, gamma, term, factor](const Tensor& dy, const Tensor&) {
        std::vector<double> dz = focal_gradient(z, t, gamma, term, factor);
        Tensor dlogits = Tensor::empty(z.shape());
        for (size_t i = 0; i < dz.size(); ++i) dlogits.data()[i] = float(dy.item() * dz[i]);
        accumulate_grad(z, std::move(dlogits));
    });
    return y;
}

// Cross-entropy with label smoothing ε (Mean), whose backward scales the smoothing term:
//   dℓ/dz_j = p_j - (ε/C) - (1 - ε) [j = t],  the (ε/C) term multiplied by `factor`.
std::vector<double> smoothed_ce_gradient(const Tensor& z, const std::vector<int>& t, double eps,
                                         double factor) {
    const int64_t N = z.size(0), C = z.size(1);
    std::vector<double> dz(size_t(N * C));
    for (int64_t r = 0; r < N; ++r) {
        const float* row = z.data() + r * C;
        double m = *std::max_element(row, row + C), sum = 0.0;
        for (int64_t j = 0; j < C; ++j) sum += std::exp(row[j] - m);
        for (int64_t j = 0; j < C; ++j)
            dz[size_t(r * C + j)] =
                (std::exp(row[j] - m) / sum - factor * eps / double(C) - (1.0 - eps) * (j == t[size_t(r)])) /
                double(N);
    }
    return dz;
}

Tensor planted_smoothed_ce(const Tensor& z, const std::vector<int>& t, double factor) {
    constexpr float kEps = 0.1f;
    CrossEntropyOptions options;
    options.label_smoothing = kEps;
    Tensor y;
    {
        NoGradGuard no_grad;
        y = cross_entropy(z, t, options);
    }
    record("planted_smoothed_ce", {z}, y, [z, t, factor](const Tensor& dy, const Tensor&) {
        std::vector<double> dz = smoothed_ce_gradient(z, t, kEps, factor);
        Tensor dlogits = Tensor::empty(z.shape());
        for (size_t i = 0; i < dz.size(); ++i) dlogits.data()[i] = float(dy.item() * dz[i]);
        accumulate_grad(z, std::move(dlogits));
    });
    return y;
}

GradcheckResult check_planted(const Tensor& z, const std::vector<int>& t, float gamma, Term term,
                              double factor, uint64_t seed = 0) {
    GradcheckOptions options;
    options.seed = seed;
    return gradcheck(
        [&](const std::vector<Tensor>& in) { return planted_focal(in[0], t, gamma, term, factor); }, {z},
        options);
}

// The numeric derivative's error for the correct backward, max |analytic - numeric| / ‖grad‖∞:
// with atol = 1 and rtol = 0 that is exactly gradcheck's error/tolerance.
double focal_noise(const Tensor& z, const std::vector<int>& t, float gamma, uint64_t seed) {
    GradcheckOptions options;
    options.atol = 1.0;
    options.rtol = 0.0;
    options.seed = seed;
    return gradcheck(
               [&](const std::vector<Tensor>& in) {
                   return planted_focal(in[0], t, gamma, Term::Factor, 1.0);
               },
               {z}, options)
        .ratio;
}

// How big the planted error is: max |Δ dℓ/dz| / max |dℓ/dz|.
double signal_of(const Tensor& z, const std::vector<int>& t, float gamma, Term term, double factor) {
    std::vector<double> right = focal_gradient(z, t, gamma, term, 1.0);
    std::vector<double> wrong = focal_gradient(z, t, gamma, term, factor);
    double diff = 0.0, size = 0.0;
    for (size_t i = 0; i < right.size(); ++i) {
        diff = std::max(diff, std::fabs(wrong[i] - right[i]));
        size = std::max(size, std::fabs(right[i]));
    }
    return diff / size;
}

struct Draw {
    Tensor z;
    std::vector<int> t;
};

Draw draw(int64_t N, int64_t C, float sigma, uint64_t seed) {
    Generator gen(seed);
    Draw d{Tensor::normal({N, C}, 0.0f, sigma, gen), std::vector<int>(size_t(N))};
    for (int& v : d.t) v = int(gen.next_u32() % uint32_t(C));
    return d;
}

}  // namespace

TEST_CASE("gradcheck's defaults reject a 5 % error in each term of focal loss's gradient, at γ = 0.5 and 2") {
    // Logits from N(0, 1), N(0, 2) and N(0, 3) over 4 rows x 5 classes. The term γφ can
    // only be seen where some p_t is well away from 0 (φ -> 0 there): the first check
    // makes sure these draws are such inputs, so that the test is about gradcheck.
    for (float sigma : {1.0f, 2.0f, 3.0f})
        for (float gamma : {0.5f, 2.0f}) {
            Draw d = draw(4, 5, sigma, 7);
            CAPTURE(sigma);
            CAPTURE(gamma);
            GradcheckResult right = check_planted(d.z, d.t, gamma, Term::Factor, 1.0);
            CHECK_MESSAGE(right.ok, right.message());
            for (Term term : kTerms)
                for (double factor : {1.05, 0.95}) {
                    CAPTURE(name_of(term));
                    CAPTURE(factor);
                    REQUIRE(signal_of(d.z, d.t, gamma, term, factor) > 2e-3);
                    GradcheckResult wrong = check_planted(d.z, d.t, gamma, term, factor);
                    CHECK_MESSAGE(!wrong.ok, wrong.message());
                }
        }
}

namespace {

// Catch counts of one planted error over many draws, with the error's own size.
struct Tally {
    int tries = 0, caught = 0;
    double largest_missed = 0.0;  // the largest signal gradcheck did not see
    std::vector<double> signals;
    void add(double signal, bool hit) {
        ++tries;
        caught += hit;
        if (!hit) largest_missed = std::max(largest_missed, signal);
        signals.push_back(signal);
    }
    double median_signal() {
        std::sort(signals.begin(), signals.end());
        return signals[signals.size() / 2];
    }
};

void print_row(const char* gamma, float sigma, const char* term, Tally& t) {
    std::printf("| %s | %.0f | %s | %.1f %% | %.4f | %.4f |\n", gamma, double(sigma), term,
                100.0 * t.caught / t.tries, t.median_signal(), t.largest_missed);
}

}  // namespace

TEST_CASE("gradcheck sensitivity study: catch rates and margins of the defaults" * doctest::skip()) {
    // 200 draws of each of 5 shapes per (γ, σ). For the correct backward: error/tolerance
    // (its margin against a false failure). For each planted ±5 % error: how often it is
    // caught, against its own size (signal_of, max |Δgrad| / ‖grad‖∞).
    const std::vector<std::pair<int64_t, int64_t>> shapes = {{2, 3}, {3, 4}, {4, 5}, {5, 3}, {3, 10}};
    std::vector<double> ratios, noise;
    std::printf(
        "| γ | σ | term (±5 %%) | caught | median signal | largest signal missed |\n"
        "|---|---|---|---|---|---|\n");
    double largest_missed = 0.0;
    for (float gamma : {0.5f, 2.0f})
        for (float sigma : {1.0f, 2.0f, 3.0f}) {
            Tally tally[4];
            for (auto [N, C] : shapes)
                for (uint64_t s = 0; s < 200; ++s) {
                    Draw d = draw(N, C, sigma, 1000 * s + uint64_t(7 * N + C));
                    ratios.push_back(check_planted(d.z, d.t, gamma, Term::Factor, 1.0, s).ratio);
                    noise.push_back(focal_noise(d.z, d.t, gamma, s));
                    for (int k = 0; k < 4; ++k)
                        for (double factor : {1.05, 0.95})
                            tally[k].add(signal_of(d.z, d.t, gamma, kTerms[k], factor),
                                         !check_planted(d.z, d.t, gamma, kTerms[k], factor, s).ok);
                }
            for (int k = 0; k < 4; ++k) {
                print_row(gamma == 0.5f ? "0.5" : "2", sigma, name_of(kTerms[k]), tally[k]);
                largest_missed = std::max(largest_missed, tally[k].largest_missed);
            }
        }
    // The smoothing term of cross-entropy, ε = 0.1.
    for (float sigma : {1.0f, 3.0f}) {
        Tally tally;
        for (auto [N, C] : shapes)
            for (uint64_t s = 0; s < 200; ++s) {
                Draw d = draw(N, C, sigma, 1000 * s + uint64_t(7 * N + C));
                GradcheckOptions options;
                options.seed = s;
                auto f = [&](double factor) {
                    return [&d, factor](const std::vector<Tensor>& in) {
                        return planted_smoothed_ce(in[0], d.t, factor);
                    };
                };
                ratios.push_back(gradcheck(f(1.0), {d.z}, options).ratio);
                for (double factor : {1.05, 0.95}) {
                    std::vector<double> right = smoothed_ce_gradient(d.z, d.t, 0.1, 1.0);
                    std::vector<double> wrong = smoothed_ce_gradient(d.z, d.t, 0.1, factor);
                    double diff = 0.0, size = 0.0;
                    for (size_t i = 0; i < right.size(); ++i) {
                        diff = std::max(diff, std::fabs(wrong[i] - right[i]));
                        size = std::max(size, std::fabs(right[i]));
                    }
                    tally.add(diff / size, !gradcheck(f(factor), {d.z}, options).ok);
                }
            }
        print_row("CE, ε = 0.1", sigma, "ε/C", tally);
    }
    std::sort(ratios.begin(), ratios.end());
    std::sort(noise.begin(), noise.end());
    std::printf(
        "\ncorrect backwards: error/tolerance median %.3f, 99th percentile %.3f, max %.3f (%zu checks)\n",
        ratios[ratios.size() / 2], ratios[ratios.size() * 99 / 100], ratios.back(), ratios.size());
    std::printf(
        "focal loss, max |analytic - numeric| / ‖grad‖∞: median %.1e, 99th percentile %.1e, max %.1e\n",
        noise[noise.size() / 2], noise[noise.size() * 99 / 100], noise.back());
    CHECK(ratios.back() < 1.0);    // no false failure
    CHECK(largest_missed < 3e-3);  // whatever is missed is within 1.5x of the tolerance
}
