// imbalanced_mnist.cpp — how much minority-class recall does each loss recover?
// Builds an imbalanced MNIST training set (default: digits 5-9 keep 1/100 of their
// images), trains the same MLP (same seed, same initialisation, same batches) once per
// loss, and measures per-class recall on the full, balanced 10,000-image test set, as
// mean ± std over several seeds. Writes the tables, a CSV, a JSON file and an SVG chart
// (report/). `make demo` runs it with the defaults; `--help` lists every flag.
// Not here: resampling (oversampling the minority) — the study compares losses only.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
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
#include <focalgrad/optim/optimizer.h>
#include <focalgrad/report/chart.h>
#include <focalgrad/report/json.h>
#include <focalgrad/report/runs.h>
#include <focalgrad/report/table.h>

#include "cli.h"
#include "models.h"
#include "train.h"

using namespace focalgrad;
using namespace focalgrad::report;

namespace {

const std::vector<std::string> kAllLosses = {"ce", "balanced_ce", "focal", "balanced_focal"};

struct Config {
    std::string command, data_dir, dataset;
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
    bool balanced_sampler = false;  // Sampler::balanced: oversample the minority classes
    std::string out_dir, json_path;
};

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
    return out;
}

// "inverse", "sqrt" or "effective:BETA" (Cui et al.'s effective number of samples).
void parse_alpha_scheme(Config& c) {
    if (c.alpha_scheme == "inverse" || c.alpha_scheme == "sqrt") {
        c.scheme = c.alpha_scheme == "sqrt" ? WeightScheme::InverseSqrt : WeightScheme::InverseFrequency;
        return;
    }
    FG_CHECK(c.alpha_scheme.rfind("effective:", 0) == 0,
             "--alpha-scheme must be inverse, sqrt or effective:BETA, got '", c.alpha_scheme, "'");
    c.scheme = WeightScheme::EffectiveNumber;
    std::string b = c.alpha_scheme.substr(10);
    char* end = nullptr;
    c.beta = std::strtod(b.c_str(), &end);
    FG_CHECK(!b.empty() && *end == '\0' && c.beta >= 0 && c.beta < 1,
             "--alpha-scheme effective:BETA needs 0 <= BETA < 1, got '", b, "'");
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
    for (int64_t v : args.integers("minority", "5,6,7,8,9", "minority classes (step imbalance)", 0, 9)) {
        FG_CHECK(std::find(c.minority.begin(), c.minority.end(), int(v)) == c.minority.end(),
                 "--minority lists class ", v, " twice");
        c.minority.push_back(int(v));
    }
    FG_CHECK(c.minority.size() < 10, "--minority names all 10 classes: nothing would be a majority class");
    c.ratio = args.real("ratio", 100, "minority classes keep 1/RATIO of their images", 1, 1e6);
    c.long_tail =
        args.real("long-tail", 0, "use a long tail with this imbalance factor instead (0 = off)", 0, 1e6);
    FG_CHECK(c.long_tail == 0 || c.long_tail >= 1, "--long-tail must be 0 (off) or >= 1, got ", c.long_tail);
    c.losses = args.names("losses", join(kAllLosses, ","), "losses to compare", kAllLosses);
    c.gamma = args.real("gamma", 2, "focal loss gamma", 0, 100);
    c.alpha_scheme = args.str("alpha-scheme", "inverse", "class weights: inverse, sqrt or effective:BETA");
    parse_alpha_scheme(c);
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
    std::string sampler = args.str("sampler", "shuffle",
                                   "shuffle (each image once per epoch) or balanced (classes drawn equally "
                                   "often, with replacement: oversampling)");
    c.out_dir = args.str("out", "results", "directory for the .md, .csv, .json and .svg outputs");
    c.json_path =
        args.str("json", "", "where to write the JSON results (default: OUT/imbalanced_mnist.json)");
    c.quiet = args.flag("quiet", "no progress lines");
    bool locate = args.flag("locate-data", "print the dataset directory that would be used, and exit");
    args.finish();
    FG_CHECK(sampler == "shuffle" || sampler == "balanced", "--sampler must be shuffle or balanced, got '",
             sampler, "'");
    c.balanced_sampler = sampler == "balanced";
    // Epochs count from 0: with --drw-epoch K >= --epochs no epoch is re-weighted, and every
    // weighted loss would silently train as its plain version.
    FG_CHECK(c.drw_epoch < c.epochs, "--drw-epoch ", c.drw_epoch, " must be below --epochs ", c.epochs,
             ": re-weighting starts at epoch --drw-epoch (counted from 0), so none of the ", c.epochs,
             " epochs would be re-weighted (0 turns it off)");
    c.threads = cli::start_threads(threads);
    if (c.json_path.empty()) c.json_path = c.out_dir + "/imbalanced_mnist.json";
    if (locate) {
        bool mnist = c.dataset == "mnist";
        std::printf("%s\n",
                    (mnist ? find_mnist_dir(c.data_dir) : find_fashion_mnist_dir(c.data_dir)).c_str());
        std::exit(0);
    }
    return c;
}

// ---- The study ---------------------------------------------------------------------

struct Study {
    Config config;
    Dataset train, test;
    std::string dataset_label;      // "MNIST" or "Fashion-MNIST"
    std::vector<bool> is_minority;  // [C]
    std::string imbalance_label;
    std::vector<int64_t> counts_seed0;  // training counts of the first seed's subset
    Runs runs;                          // one per loss (and +pc evaluation) and seed
};

std::vector<int64_t> subset_for(const Study& s, int64_t seed) {
    if (s.config.long_tail >= 1) return make_long_tail(s.train.labels, s.config.long_tail, uint64_t(seed));
    return make_step_imbalance(s.train.labels, s.config.minority, s.config.ratio, uint64_t(seed));
}

// The loss function of one run at one epoch (deferred re-weighting switches the weights
// on at --drw-epoch).
std::function<Tensor(const Tensor&, const std::vector<int>&)> loss_for(const std::string& name,
                                                                       const Config& c,
                                                                       const std::vector<int64_t>& counts,
                                                                       int64_t epoch) {
    bool weighted = c.drw_epoch == 0 || epoch >= c.drw_epoch;
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
    o.gamma = float(c.gamma);
    if (name == "balanced_focal" && weighted) {
        o.alpha = Tensor::from(class_weights(counts, c.scheme, c.beta), Shape{int64_t(counts.size())});
        o.normalize_by_alpha = true;  // gamma = 0 then gives exactly balanced_ce
    }
    return [o](const Tensor& z, const std::vector<int>& y) { return focal_loss(z, y, o); };
}

// Scores the test-set logits of one model and records them as a run.
void evaluate(Study& s, const std::string& label, int64_t seed, const Tensor& logits, double seconds) {
    Metrics m = compute_metrics(examples::confusion(logits, s.test));
    std::vector<double> recall, minority, majority;
    for (size_t c = 0; c < m.per_class.size(); ++c) {
        recall.push_back(m.per_class[c].recall);
        (s.is_minority[c] ? minority : majority).push_back(m.per_class[c].recall);
    }
    double minority_recall = summarize(minority).mean, majority_recall = summarize(majority).mean;
    s.runs.add(
        label, seed,
        {Metric::vector("per_class_recall", recall), Metric::number("accuracy", m.accuracy),
         Metric::number("balanced_accuracy", m.balanced_accuracy), Metric::number("macro_f1", m.macro_f1),
         Metric::number("minority_recall", minority_recall),
         Metric::number("majority_recall", majority_recall), Metric::number("train_seconds", seconds)});
    if (!s.config.quiet)
        std::fprintf(stderr, "%-16s seed %lld: minority recall %.3f, majority recall %.3f, accuracy %.4f\n",
                     label.c_str(), (long long)seed, minority_recall, majority_recall, m.accuracy);
}

void run_seed(Study& s, int64_t seed) {
    const Config& c = s.config;
    std::vector<int64_t> subset = subset_for(s, seed);
    std::vector<int64_t> counts = class_counts(s.train.labels, subset, s.train.num_classes());
    LoaderOptions lo;
    lo.batch_size = c.batch;
    lo.seed = uint64_t(seed);
    lo.normalize = pixel_stats(s.train, subset);  // standardise with the training subset's own statistics
    LoaderOptions train_options = lo;
    if (c.balanced_sampler) train_options.sampler = Sampler::balanced;
    DataLoader loader(s.train, subset, train_options);

    for (const std::string& name : c.losses) {
        Generator init(uint64_t(seed) * 7919 + 17);  // the same draws for every loss of this seed
        auto model = examples::mlp(c.hidden, init);
        SGD optimizer(model->parameters(), c.lr, c.momentum);
        auto start = std::chrono::steady_clock::now();
        for (int64_t e = 0; e < c.epochs; ++e) {
            std::string label = str(name, " seed ", seed, " epoch ", e + 1, "/", c.epochs);
            examples::train_epoch(*model, optimizer, loader, e, loss_for(name, c, counts, e), label, c.quiet);
        }
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        Tensor logits = examples::predict_logits(*model, s.test, lo);
        evaluate(s, name, seed, logits, seconds);
        if (c.prior_correction) {
            // Logit adjustment (Menon et al. 2021): subtract log n_c / N, the log prior the
            // training set taught the model, so the decision follows the balanced test set.
            std::vector<float> log_prior;
            double total = double(std::accumulate(counts.begin(), counts.end(), int64_t(0)));
            for (int64_t n : counts) log_prior.push_back(float(std::log(double(n) / total)));
            Tensor adjusted = logits - Tensor::from(log_prior, Shape{int64_t(counts.size())});
            evaluate(s, name + "+pc", seed, adjusted, seconds);
        }
    }
}

// ---- Reports -----------------------------------------------------------------------

// A row's minority recall is compared with ce's of the same seed (ce+pc's for a +pc row).
std::string baseline(const std::string& loss) {
    return loss.size() > 3 && loss.compare(loss.size() - 3, 3, "+pc") == 0 ? "ce+pc" : "ce";
}

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
       << (c.drw_epoch ? str(", deferred from epoch ", c.drw_epoch) : "")
       << (c.balanced_sampler ? "; class-balanced sampler (oversampling)" : "") << "\n";
    std::vector<std::string> seeds;
    for (int64_t seed : c.seeds) seeds.push_back(std::to_string(seed));
    os << (seeds.size() > 1 ? "Mean ± std over seeds " + join(seeds, ",") + " (sample std)\n"
                            : "One seed (" + seeds[0] + "): single runs, no standard deviation\n");
    return os.str();
}

std::string tables(const Study& s) {
    Table summary = s.runs.summary_table("loss", {{"accuracy", "accuracy"},
                                                  {"balanced accuracy", "balanced_accuracy"},
                                                  {"macro-F1", "macro_f1"},
                                                  {"minority recall", "minority_recall"},
                                                  {"majority recall", "majority_recall"},
                                                  {"minority gain over ce", "minority_recall", 0, baseline}});
    std::vector<Runs::Column> recall;
    for (size_t c = 0; c < s.test.class_names.size(); ++c)
        recall.push_back({(s.is_minority[c] ? "*" : "") + s.test.class_names[c], "per_class_recall", c});
    return to_markdown(summary) + "\nPer-class recall:\n\n" +
           to_markdown(s.runs.summary_table("loss", recall)) + "\n(* = minority class)\n";
}

// The schema is documented in README.md, "Imbalanced MNIST".
std::string to_json(const Study& s) {
    const Config& c = s.config;
    JsonWriter w;
    w.begin_object(JsonWriter::Layout::lines);
    w.key("dataset").value(s.dataset_label).key("command").value(c.command);
    w.key("imbalance").value(s.imbalance_label).key("minority_classes").array(c.minority);
    w.key("config").begin_object().key("epochs").value(c.epochs).key("lr").value(c.lr);
    w.key("momentum").value(c.momentum).key("batch").value(c.batch).key("hidden").array(c.hidden);
    w.key("gamma")
        .value(c.gamma)
        .key("alpha_scheme")
        .value(c.alpha_scheme)
        .key("drw_epoch")
        .value(c.drw_epoch);
    if (c.balanced_sampler) w.key("sampler").value("balanced");  // absent: each image once per epoch
    w.key("seeds").array(c.seeds).key("threads").value(c.threads).end_object();
    w.key("train_counts").array(s.counts_seed0);
    s.runs.write_runs(w.key("runs"), "loss");
    s.runs.write_summary(w.key("summary"), [&](const std::string& loss, JsonWriter& w) {
        Summary gain = s.runs.paired_difference(loss, baseline(loss), "minority_recall");
        if (gain.n)
            write_mean_std(w.key("minority_recall_gain_over_ce"), gain);
        else
            w.key("minority_recall_gain_over_ce").null();
    });
    w.end_object();
    return w.str();
}

// Per-class recall, one bar per loss side by side within each class, minority classes
// shaded, whiskers of ± 1 sample std over the seeds (none for one seed: n = 1).
BarChart recall_chart(const Study& s) {
    const size_t n = s.config.seeds.size();
    BarChart ch = s.runs.bar_chart("per_class_recall", s.test.class_names);
    ch.title = "Per-class recall by loss, " + s.dataset_label + " (balanced test set)";
    ch.subtitle =
        s.imbalance_label + "; " +
        (n > 1 ? str("mean over ", n, " seeds") : std::string("one seed (n = 1), so no error bars"));
    ch.x_title = s.dataset_label == "MNIST" ? "digit" : "class";
    ch.y.title = "recall";
    ch.y.min = 0, ch.y.max = 1;
    ch.highlight = s.is_minority;
    ch.highlight_label = "minority class";
    ch.width = std::max(1000.0, 120 + 12.0 * double(ch.categories.size() * ch.series.size()));
    ch.height = 440;
    return ch;
}

void study(int argc, char** argv) {
    Study s;
    s.config = parse(argc, argv);
    Config& c = s.config;
    // Fail before minutes of training, not after: every output must be writable.
    make_directories(c.out_dir, "imbalanced_mnist: --out");
    size_t slash = c.json_path.find_last_of('/');
    if (slash != std::string::npos && slash > 0)
        make_directories(c.json_path.substr(0, slash), "imbalanced_mnist: --json");
    const std::string base = c.out_dir + "/imbalanced_mnist";
    for (const char* ext : {".md", ".csv", ".svg"}) check_output_path(base + ext, "--out");
    check_output_path(c.json_path, "--json");

    bool fashion = c.dataset == "fashion";
    std::string dir = fashion ? find_fashion_mnist_dir(c.data_dir) : find_mnist_dir(c.data_dir);
    s.dataset_label = fashion ? "Fashion-MNIST" : "MNIST";
    s.train = fashion ? load_fashion_mnist(dir, Split::train) : load_mnist(dir, Split::train);
    s.test = fashion ? load_fashion_mnist(dir, Split::test) : load_mnist(dir, Split::test);
    std::printf("%s from %s\n", s.dataset_label.c_str(), dir.c_str());

    s.counts_seed0 = class_counts(s.train.labels, subset_for(s, c.seeds[0]), s.train.num_classes());
    if (c.long_tail >= 1) {
        // The tail: the half of the classes with the fewest training images.
        std::vector<int> order(size_t(s.train.num_classes()));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(),
                         [&](int a, int b) { return s.counts_seed0[size_t(a)] < s.counts_seed0[size_t(b)]; });
        c.minority.assign(order.begin(), order.begin() + ptrdiff_t(order.size() / 2));
        std::sort(c.minority.begin(), c.minority.end());
        s.imbalance_label = str("long tail, imbalance factor ", c.long_tail);
    } else {
        std::vector<std::string> names;
        for (int m : c.minority) names.push_back(std::to_string(m));
        s.imbalance_label = str("step imbalance, classes ", join(names, ","), " keep 1/", c.ratio);
    }
    s.is_minority.assign(size_t(s.train.num_classes()), false);
    for (int m : c.minority) s.is_minority[size_t(m)] = true;

    for (int64_t seed : c.seeds) run_seed(s, seed);

    std::string report = header(s) + "\n" + tables(s);
    std::printf("\n%s", report.c_str());
    // One set: a full disk leaves the old four, never some new and some old.
    AtomicFileSet outputs("imbalanced_mnist");
    outputs.add(base + ".md", "# " + report + "\nProduced by:\n\n    " + c.command + "\n");
    outputs.add(base + ".csv", to_csv(s.runs.runs_table("loss")));
    outputs.add(c.json_path, to_json(s));
    outputs.add(base + ".svg", to_svg(recall_chart(s)).str());
    outputs.commit();
    std::printf("\nwrote %s.md, %s.csv, %s, %s.svg\n", base.c_str(), base.c_str(), c.json_path.c_str(),
                base.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    return cli::run_main("imbalanced_mnist", [&] { study(argc, argv); });
}
