// imbalanced_mnist.cpp — how much minority-class recall does each loss recover?
// Builds an imbalanced MNIST training set (default: digits 5-9 keep 1/100 of their
// images), trains the same MLP (same seed, same initialisation, same batches) once per
// loss, and measures per-class recall on the full, balanced 10,000-image test set, as
// mean ± std over several seeds. Writes the tables, a CSV, a JSON file and a PNG chart.
// `make demo` runs it with the defaults; `--help` lists every flag.
// Not here: resampling (oversampling the minority) — the study compares losses only.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include <focalgrad/core/io.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/data/imbalance.h>
#include <focalgrad/data/loader.h>
#include <focalgrad/data/metrics.h>
#include <focalgrad/data/mnist.h>
#include <focalgrad/losses/losses.h>
#include <focalgrad/nn/layers.h>
#include <focalgrad/optim/optimizer.h>

#include "chart.h"
#include "cli.h"
#include "train.h"

using namespace focalgrad;

namespace {

const std::vector<std::string> kAllLosses = {"ce", "balanced_ce", "focal", "balanced_focal"};

struct Config {
    std::string command;
    std::string data_dir, dataset;
    std::vector<int> minority;
    double ratio = 100, long_tail = 0;
    std::vector<std::string> losses;
    double gamma = 2;
    std::string alpha_scheme;
    WeightScheme scheme = WeightScheme::InverseFrequency;
    double beta = 0.9999;
    int64_t epochs = 0, batch = 0, drw_epoch = 0;
    double lr = 0, momentum = 0;
    std::vector<int64_t> hidden, seeds;
    int threads = 1;
    bool prior_correction = false, quiet = false;
    std::string out_dir, json_path;
};

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
    return out;
}

// The digits of --minority, checked against the 10 classes.
std::vector<int> parse_minority(const std::vector<int64_t>& values) {
    std::vector<int> out;
    for (int64_t v : values) {
        FG_CHECK(std::find(out.begin(), out.end(), int(v)) == out.end(), "--minority lists class ", v,
                 " twice");
        out.push_back(int(v));
    }
    FG_CHECK(out.size() < 10, "--minority names all 10 classes: nothing would be a majority class");
    return out;
}

Config parse(int argc, char** argv) {
    cli::Args args(argc, argv,
                   "Imbalanced MNIST: per-class recall of cross-entropy, balanced cross-entropy,\n"
                   "focal loss and balanced focal loss on an MLP trained on an imbalanced subset.");
    Config c;
    for (int i = 0; i < argc; ++i) c.command += (i ? " " : "") + std::string(argv[i]);
    c.data_dir =
        args.str("data", "", "directory with the four MNIST IDX files (else $MNIST_DIR, datasets/mnist/)");
    c.dataset = args.str("dataset", "mnist", "mnist or fashion (Fashion-MNIST, same format)");
    FG_CHECK(c.dataset == "mnist" || c.dataset == "fashion", "--dataset must be mnist or fashion, got '",
             c.dataset, "'");
    c.minority =
        parse_minority(args.integers("minority", "5,6,7,8,9", "minority classes (step imbalance)", 0, 9));
    c.ratio = args.real("ratio", 100, "minority classes keep 1/RATIO of their images", 1, 1e6);
    c.long_tail =
        args.real("long-tail", 0, "use a long tail with this imbalance factor instead (0 = off)", 0, 1e6);
    FG_CHECK(c.long_tail == 0 || c.long_tail >= 1, "--long-tail must be 0 (off) or >= 1, got ", c.long_tail);
    c.losses = args.names("losses", join(kAllLosses, ","), "losses to compare", kAllLosses);
    c.gamma = args.real("gamma", 2, "focal loss gamma", 0, 100);
    c.alpha_scheme = args.str("alpha-scheme", "inverse", "class weights: inverse, sqrt or effective:BETA");
    if (c.alpha_scheme == "inverse") {
        c.scheme = WeightScheme::InverseFrequency;
    } else if (c.alpha_scheme == "sqrt") {
        c.scheme = WeightScheme::InverseSqrt;
    } else {
        FG_CHECK(c.alpha_scheme.rfind("effective:", 0) == 0,
                 "--alpha-scheme must be inverse, sqrt or "
                 "effective:BETA, got '",
                 c.alpha_scheme, "'");
        c.scheme = WeightScheme::EffectiveNumber;
        std::string b = c.alpha_scheme.substr(10);
        char* end = nullptr;
        c.beta = std::strtod(b.c_str(), &end);
        FG_CHECK(!b.empty() && *end == '\0' && c.beta >= 0 && c.beta < 1,
                 "--alpha-scheme effective:BETA needs "
                 "0 <= BETA < 1, got '",
                 b, "'");
    }
    c.epochs = args.integer("epochs", 10, "training epochs per run", 1, 10000);
    c.lr = args.real("lr", 0.01, "SGD learning rate", 1e-9, 10);
    c.momentum = args.real("momentum", 0.9, "SGD momentum", 0, 0.999);
    c.batch = args.integer("batch", 128, "batch size", 1, 1 << 20);
    c.hidden = args.integers("hidden", "256,128", "hidden layer sizes", 1, 1 << 16);
    c.seeds = args.distinct_integers("seeds", "0,1,2", "seeds (each: subset, initialisation, batch order)", 0,
                                     1LL << 40);
    int64_t threads = args.threads();
    c.drw_epoch = args.integer("drw-epoch", 0,
                               "deferred re-weighting: plain losses before this epoch (0 = off)", 0, 10000);
    c.prior_correction =
        args.flag("prior-correction", "also evaluate with log class priors subtracted from the logits");
    c.out_dir = args.str("out", "results", "directory for the .md, .csv, .json and .png outputs");
    c.json_path =
        args.str("json", "", "where to write the JSON results (default: OUT/imbalanced_mnist.json)");
    c.quiet = args.flag("quiet", "no progress lines");
    bool locate = args.flag("locate-data", "print the dataset directory that would be used, and exit");
    args.finish();
    c.threads = cli::start_threads(threads);
    if (c.json_path.empty()) c.json_path = c.out_dir + "/imbalanced_mnist.json";
    if (locate) {
        std::printf(
            "%s\n",
            (c.dataset == "mnist" ? find_mnist_dir(c.data_dir) : find_fashion_mnist_dir(c.data_dir)).c_str());
        std::exit(0);
    }
    return c;
}

// ---- Results -----------------------------------------------------------------------

struct Run {
    std::string loss;
    int64_t seed;
    std::vector<double> recall;  // [C]
    double accuracy, balanced_accuracy, macro_f1, minority_recall, majority_recall, train_seconds;
};

struct Stat {
    double mean = 0, std = 0;  // sample standard deviation over seeds (0 for one seed)
};

Stat stat_of(const std::vector<double>& v) {
    Stat s;
    for (double x : v) s.mean += x;
    s.mean /= double(v.size());
    if (v.size() > 1) {
        double ss = 0;
        for (double x : v) ss += (x - s.mean) * (x - s.mean);
        s.std = std::sqrt(ss / double(v.size() - 1));
    }
    return s;
}

// The named rows (one per loss and evaluation) of every seed, in the order they ran.
std::vector<std::string> row_names(const std::vector<Run>& runs) {
    std::vector<std::string> names;
    for (const Run& r : runs)
        if (std::find(names.begin(), names.end(), r.loss) == names.end()) names.push_back(r.loss);
    return names;
}

std::vector<double> field(const std::vector<Run>& runs, const std::string& loss, double Run::*member) {
    std::vector<double> v;
    for (const Run& r : runs)
        if (r.loss == loss) v.push_back(r.*member);
    return v;
}

std::vector<double> recall_of(const std::vector<Run>& runs, const std::string& loss, int c) {
    std::vector<double> v;
    for (const Run& r : runs)
        if (r.loss == loss) v.push_back(r.recall[size_t(c)]);
    return v;
}

// The gain in minority recall over ce, paired by seed (same subset, same initialisation).
std::vector<double> gain_over_ce(const std::vector<Run>& runs, const std::string& loss) {
    std::vector<double> v;
    for (const Run& r : runs) {
        if (r.loss != loss) continue;
        std::string base =
            r.loss.size() > 3 && r.loss.compare(r.loss.size() - 3, 3, "+pc") == 0 ? "ce+pc" : "ce";
        for (const Run& b : runs)
            if (b.loss == base && b.seed == r.seed) v.push_back(r.minority_recall - b.minority_recall);
    }
    return v;
}

std::string pm(const Stat& s, int digits = 3) {
    std::ostringstream os;
    os << std::fixed << std::setprecision(digits) << s.mean << " ± " << s.std;
    return os.str();
}

std::string fixed(double v, int digits) {
    std::ostringstream os;
    os << std::fixed << std::setprecision(digits) << v;
    return os.str();
}

// ---- The study ---------------------------------------------------------------------

struct Study {
    Config config;
    Dataset train, test;
    std::string dataset_label;      // "MNIST" or "Fashion-MNIST"
    std::vector<bool> is_minority;  // [C]
    std::string imbalance_label;
    std::vector<int64_t> counts_seed0;  // training counts of the first seed's subset
    std::vector<Run> runs;
};

std::vector<int64_t> subset_for(const Study& s, int64_t seed) {
    if (s.config.long_tail >= 1) return make_long_tail(s.train.labels, s.config.long_tail, uint64_t(seed));
    return make_step_imbalance(s.train.labels, s.config.minority, s.config.ratio, uint64_t(seed));
}

std::shared_ptr<Sequential> make_mlp(const Config& c, int64_t classes, int64_t seed) {
    Generator init(uint64_t(seed) * 7919 + 17);  // the same draws for every loss of this seed
    auto net = std::make_shared<Sequential>();
    int64_t in = 28 * 28;
    for (int64_t h : c.hidden) {
        net->add(Linear(in, h, true, init));
        net->add(ReLU());
        in = h;
    }
    net->add(Linear(in, classes, true, init));
    return net;
}

// The loss function of one run at one epoch (deferred re-weighting switches the weights
// on at --drw-epoch).
std::function<Tensor(const Tensor&, const std::vector<int>&)> loss_for(const std::string& name,
                                                                       const Config& c,
                                                                       const std::vector<int64_t>& counts,
                                                                       int64_t epoch) {
    bool weighted = c.drw_epoch == 0 || epoch >= c.drw_epoch;
    Tensor alpha = Tensor::from(class_weights(counts, c.scheme, c.beta), Shape{int64_t(counts.size())});
    float gamma = float(c.gamma);
    if (name == "ce" || (name == "balanced_ce" && !weighted))
        return [](const Tensor& z, const std::vector<int>& y) { return cross_entropy(z, y); };
    if (name == "balanced_ce") {
        BalancedCEOptions o;
        o.scheme = c.scheme;
        o.beta = c.beta;
        return [counts, o](const Tensor& z, const std::vector<int>& y) {
            return balanced_cross_entropy(z, y, counts, o);
        };
    }
    FocalLossOptions o;
    o.gamma = gamma;
    if (name == "balanced_focal" && weighted) {
        o.alpha = alpha;
        o.normalize_by_alpha = true;  // gamma = 0 then gives exactly balanced_ce
    }
    return [o](const Tensor& z, const std::vector<int>& y) { return focal_loss(z, y, o); };
}

Run evaluate(const Study& s, const std::string& label, int64_t seed, const Tensor& logits, double seconds) {
    Metrics m = compute_metrics(examples::confusion(logits, s.test));
    Run r{label, seed, {}, m.accuracy, m.balanced_accuracy, m.macro_f1, 0, 0, seconds};
    std::vector<double> minority, majority;
    for (int c = 0; c < s.test.num_classes(); ++c) {
        r.recall.push_back(m.per_class[size_t(c)].recall);
        (s.is_minority[size_t(c)] ? minority : majority).push_back(m.per_class[size_t(c)].recall);
    }
    r.minority_recall = stat_of(minority).mean;
    r.majority_recall = stat_of(majority).mean;
    return r;
}

void run_seed(Study& s, int64_t seed) {
    const Config& c = s.config;
    std::vector<int64_t> subset = subset_for(s, seed);
    std::vector<int64_t> counts = class_counts(s.train.labels, subset, s.train.num_classes());
    LoaderOptions lo;
    lo.batch_size = c.batch;
    lo.seed = uint64_t(seed);
    lo.normalize = pixel_stats(s.train, subset);  // standardise with the training subset's own statistics
    DataLoader loader(s.train, subset, lo);

    for (const std::string& name : c.losses) {
        auto model = make_mlp(c, s.train.num_classes(), seed);
        SGD optimizer(model->parameters(), c.lr, c.momentum);
        auto start = std::chrono::steady_clock::now();
        for (int64_t e = 0; e < c.epochs; ++e) {
            std::string label = str(name, " seed ", seed, " epoch ", e + 1, "/", c.epochs);
            examples::train_epoch(*model, optimizer, loader, e, loss_for(name, c, counts, e), label, c.quiet);
        }
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        Tensor logits = examples::predict_logits(*model, s.test, lo);
        s.runs.push_back(evaluate(s, name, seed, logits, seconds));
        if (c.prior_correction) {
            // Logit adjustment (Menon et al. 2021): subtract log n_c / N, the log prior the
            // training set taught the model, so the decision follows the balanced test set.
            std::vector<float> log_prior;
            double total = double(std::accumulate(counts.begin(), counts.end(), int64_t(0)));
            for (int64_t n : counts) log_prior.push_back(float(std::log(double(n) / total)));
            Tensor adjusted = logits - Tensor::from(log_prior, Shape{int64_t(counts.size())});
            s.runs.push_back(evaluate(s, name + "+pc", seed, adjusted, seconds));
        }
        if (!c.quiet)
            std::fprintf(stderr,
                         "%-16s seed %lld: minority recall %.3f, majority recall %.3f, accuracy %.4f\n",
                         name.c_str(), (long long)seed, s.runs.back().minority_recall,
                         s.runs.back().majority_recall, s.runs.back().accuracy);
    }
}

// ---- Reports -----------------------------------------------------------------------

std::string header(const Study& s) {
    const Config& c = s.config;
    int64_t total = std::accumulate(s.counts_seed0.begin(), s.counts_seed0.end(), int64_t(0));
    std::ostringstream os;
    os << "Imbalanced " << s.dataset_label << ": " << s.imbalance_label << "\n";
    os << "Training set (seed " << c.seeds[0] << "): " << total << " images, per class";
    for (size_t k = 0; k < s.counts_seed0.size(); ++k) os << (k ? ", " : " ") << s.counts_seed0[k];
    os << "\nTest set: the full balanced " << s.test.size() << " images\n";
    os << "MLP 784";
    for (int64_t h : c.hidden) os << "-" << h;
    os << "-10, SGD lr " << c.lr << " momentum " << c.momentum << ", batch " << c.batch << ", " << c.epochs
       << " epochs; focal gamma " << c.gamma << "; class weights " << c.alpha_scheme
       << (c.drw_epoch ? str(", deferred from epoch ", c.drw_epoch) : "") << "\n";
    os << "Mean ± std over seeds";
    for (size_t k = 0; k < c.seeds.size(); ++k) os << (k ? "," : " ") << c.seeds[k];
    os << " (sample std)\n";
    return os.str();
}

std::string summary_table(const Study& s) {
    std::ostringstream os;
    os << "| loss | accuracy | balanced accuracy | macro-F1 | minority recall | majority recall | minority "
          "gain over ce |\n";
    os << "|---|---|---|---|---|---|---|\n";
    for (const std::string& name : row_names(s.runs)) {
        std::vector<double> gain = gain_over_ce(s.runs, name);
        os << "| " << name << " | " << pm(stat_of(field(s.runs, name, &Run::accuracy))) << " | "
           << pm(stat_of(field(s.runs, name, &Run::balanced_accuracy))) << " | "
           << pm(stat_of(field(s.runs, name, &Run::macro_f1))) << " | "
           << pm(stat_of(field(s.runs, name, &Run::minority_recall))) << " | "
           << pm(stat_of(field(s.runs, name, &Run::majority_recall))) << " | "
           << (gain.empty() ? std::string("—") : (stat_of(gain).mean >= 0 ? "+" : "") + pm(stat_of(gain)))
           << " |\n";
    }
    return os.str();
}

std::string recall_table(const Study& s) {
    std::ostringstream os;
    os << "| loss |";
    for (int c = 0; c < s.test.num_classes(); ++c)
        os << " " << (s.is_minority[size_t(c)] ? "*" : "") << s.test.class_names[size_t(c)] << " |";
    os << "\n|---|";
    for (int c = 0; c < s.test.num_classes(); ++c) os << "---|";
    os << "\n";
    for (const std::string& name : row_names(s.runs)) {
        os << "| " << name << " |";
        for (int c = 0; c < s.test.num_classes(); ++c)
            os << " " << pm(stat_of(recall_of(s.runs, name, c)), 3) << " |";
        os << "\n";
    }
    os << "\n(* = minority class)\n";
    return os.str();
}

std::string json_number(double v) {
    if (!std::isfinite(v)) return "null";
    std::ostringstream os;
    os << std::setprecision(9) << v;
    return os.str();
}

std::string json_string(const std::string& v) {
    std::string out = "\"";
    for (char ch : v) {
        if (ch == '"' || ch == '\\') out += '\\';
        if (static_cast<unsigned char>(ch) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", ch);
            out += buf;
            continue;
        }
        out += ch;
    }
    return out + "\"";
}

template <class T, class F>
std::string json_array(const std::vector<T>& v, F f) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + f(v[i]);
    return out + "]";
}

std::string json_stat(const Stat& s) {
    return "{\"mean\": " + json_number(s.mean) + ", \"std\": " + json_number(s.std) + "}";
}

// The schema is documented in README.md, "Imbalanced MNIST".
std::string to_json(const Study& s) {
    const Config& c = s.config;
    auto num = [](double v) { return json_number(v); };
    std::ostringstream os;
    os << "{\n  \"dataset\": " << json_string(s.dataset_label) << ",\n";
    os << "  \"command\": " << json_string(c.command) << ",\n";
    os << "  \"imbalance\": " << json_string(s.imbalance_label) << ",\n";
    os << "  \"minority_classes\": " << json_array(c.minority, [](int v) { return std::to_string(v); })
       << ",\n";
    os << "  \"config\": {\"epochs\": " << c.epochs << ", \"lr\": " << num(c.lr)
       << ", \"momentum\": " << num(c.momentum) << ", \"batch\": " << c.batch
       << ", \"hidden\": " << json_array(c.hidden, [](int64_t v) { return std::to_string(v); })
       << ", \"gamma\": " << num(c.gamma) << ", \"alpha_scheme\": " << json_string(c.alpha_scheme)
       << ", \"drw_epoch\": " << c.drw_epoch
       << ", \"seeds\": " << json_array(c.seeds, [](int64_t v) { return std::to_string(v); })
       << ", \"threads\": " << c.threads << "},\n";
    os << "  \"train_counts\": " << json_array(s.counts_seed0, [](int64_t v) { return std::to_string(v); })
       << ",\n";
    os << "  \"runs\": [\n";
    for (size_t i = 0; i < s.runs.size(); ++i) {
        const Run& r = s.runs[i];
        os << "    {\"loss\": " << json_string(r.loss) << ", \"seed\": " << r.seed
           << ", \"per_class_recall\": " << json_array(r.recall, num) << ", \"accuracy\": " << num(r.accuracy)
           << ", \"balanced_accuracy\": " << num(r.balanced_accuracy) << ", \"macro_f1\": " << num(r.macro_f1)
           << ", \"minority_recall\": " << num(r.minority_recall)
           << ", \"majority_recall\": " << num(r.majority_recall)
           << ", \"train_seconds\": " << num(r.train_seconds) << "}" << (i + 1 < s.runs.size() ? "," : "")
           << "\n";
    }
    os << "  ],\n  \"summary\": {\n";
    std::vector<std::string> names = row_names(s.runs);
    for (size_t i = 0; i < names.size(); ++i) {
        const std::string& n = names[i];
        std::vector<Stat> recall;
        for (int cl = 0; cl < s.test.num_classes(); ++cl) recall.push_back(stat_of(recall_of(s.runs, n, cl)));
        std::vector<double> gain = gain_over_ce(s.runs, n);
        os << "    " << json_string(n) << ": {\"per_class_recall\": {\"mean\": "
           << json_array(recall, [](const Stat& st) { return json_number(st.mean); })
           << ", \"std\": " << json_array(recall, [](const Stat& st) { return json_number(st.std); }) << "}, "
           << "\"accuracy\": " << json_stat(stat_of(field(s.runs, n, &Run::accuracy)))
           << ", \"balanced_accuracy\": " << json_stat(stat_of(field(s.runs, n, &Run::balanced_accuracy)))
           << ", \"macro_f1\": " << json_stat(stat_of(field(s.runs, n, &Run::macro_f1)))
           << ", \"minority_recall\": " << json_stat(stat_of(field(s.runs, n, &Run::minority_recall)))
           << ", \"majority_recall\": " << json_stat(stat_of(field(s.runs, n, &Run::majority_recall)))
           << ", \"train_seconds\": " << json_stat(stat_of(field(s.runs, n, &Run::train_seconds)))
           << ", \"minority_recall_gain_over_ce\": " << (gain.empty() ? "null" : json_stat(stat_of(gain)))
           << "}" << (i + 1 < names.size() ? "," : "") << "\n";
    }
    os << "  }\n}\n";
    return os.str();
}

std::string to_csv(const Study& s) {
    std::ostringstream os;
    os << "loss,seed";
    for (int c = 0; c < s.test.num_classes(); ++c) os << ",recall_" << c;
    os << ",accuracy,balanced_accuracy,macro_f1,minority_recall,majority_recall,train_seconds\n";
    for (const Run& r : s.runs) {
        os << r.loss << "," << r.seed;
        for (double v : r.recall) os << "," << fixed(v, 6);
        os << "," << fixed(r.accuracy, 6) << "," << fixed(r.balanced_accuracy, 6) << ","
           << fixed(r.macro_f1, 6) << "," << fixed(r.minority_recall, 6) << "," << fixed(r.majority_recall, 6)
           << "," << fixed(r.train_seconds, 3) << "\n";
    }
    return os.str();
}

void save_chart(const Study& s, const std::string& path) {
    chart::BarChart ch;
    ch.title = "Per-class recall by loss, " + s.dataset_label + " (balanced test set)";
    std::ostringstream sub;
    sub << s.imbalance_label << "; mean ± std over " << s.config.seeds.size() << " seed"
        << (s.config.seeds.size() > 1 ? "s" : "");
    ch.subtitle = sub.str();
    ch.y_label = "recall";
    std::vector<std::string> minority_names;
    for (int c = 0; c < s.test.num_classes(); ++c) {
        ch.bar_labels.push_back(std::to_string(c));
        ch.highlight.push_back(s.is_minority[size_t(c)]);
        if (s.is_minority[size_t(c)]) minority_names.push_back(std::to_string(c));
    }
    ch.highlight_note = "orange = minority classes (" + join(minority_names, ",") + ")";
    for (const std::string& name : row_names(s.runs)) {
        chart::BarGroup g;
        g.label = name;
        for (int c = 0; c < s.test.num_classes(); ++c) {
            Stat st = stat_of(recall_of(s.runs, name, c));
            g.values.push_back(st.mean);
            g.errors.push_back(st.std);
        }
        ch.groups.push_back(g);
    }
    chart::save_bar_chart(ch, path, int(std::max<size_t>(1200, 300 * ch.groups.size())), 560);
}

void study(int argc, char** argv) {
    Study s;
    s.config = parse(argc, argv);
    Config& c = s.config;
    // Fail before minutes of training, not after: the outputs must be writable.
    make_directories(c.out_dir, "imbalanced_mnist: --out");
    size_t slash = c.json_path.find_last_of('/');
    if (slash != std::string::npos && slash > 0)
        make_directories(c.json_path.substr(0, slash), "imbalanced_mnist: --json");

    bool fashion = c.dataset == "fashion";
    std::string dir = fashion ? find_fashion_mnist_dir(c.data_dir) : find_mnist_dir(c.data_dir);
    s.dataset_label = fashion ? "Fashion-MNIST" : "MNIST";
    s.train = fashion ? load_fashion_mnist(dir, Split::train) : load_mnist(dir, Split::train);
    s.test = fashion ? load_fashion_mnist(dir, Split::test) : load_mnist(dir, Split::test);
    std::printf("%s from %s\n", s.dataset_label.c_str(), dir.c_str());

    s.counts_seed0 = class_counts(s.train.labels, subset_for(s, c.seeds[0]), s.train.num_classes());
    s.is_minority.assign(size_t(s.train.num_classes()), false);
    if (c.long_tail >= 1) {
        // The tail: the half of the classes with the fewest training images.
        std::vector<int> order(size_t(s.train.num_classes()));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(),
                         [&](int a, int b) { return s.counts_seed0[size_t(a)] < s.counts_seed0[size_t(b)]; });
        c.minority.clear();
        for (size_t k = 0; k < order.size() / 2; ++k) c.minority.push_back(order[k]);
        std::sort(c.minority.begin(), c.minority.end());
        s.imbalance_label = str("long tail, imbalance factor ", c.long_tail);
    } else {
        std::vector<std::string> names;
        for (int m : c.minority) names.push_back(std::to_string(m));
        s.imbalance_label = str("step imbalance, classes ", join(names, ","), " keep 1/", c.ratio);
    }
    for (int m : c.minority) s.is_minority[size_t(m)] = true;

    for (int64_t seed : c.seeds) run_seed(s, seed);

    std::string report = header(s) + "\n" + summary_table(s) + "\nPer-class recall:\n\n" + recall_table(s);
    std::printf("\n%s", report.c_str());
    std::string base = c.out_dir + "/imbalanced_mnist";
    write_file_atomic(base + ".md", "# " + report + "\nProduced by:\n\n    " + c.command + "\n",
                      "imbalanced_mnist");
    write_file_atomic(base + ".csv", to_csv(s), "imbalanced_mnist");
    write_file_atomic(c.json_path, to_json(s), "imbalanced_mnist");
    save_chart(s, base + ".png");
    std::printf("\nwrote %s.md, %s.csv, %s, %s.png\n", base.c_str(), base.c_str(), c.json_path.c_str(),
                base.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    return cli::run_main("imbalanced_mnist", [&] { study(argc, argv); });
}
