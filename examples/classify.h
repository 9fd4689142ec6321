// classify.h — what train_csv and train_images share: the training flags, the --loss
// choice, a run of the library's Trainer with a validation split and its files, and the
// report (metrics, confusion matrix as text and as a picture). Header-only.
// Not here: the data (each program loads its own) and the models.
#pragma once

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <focalgrad/core/io.h>
#include <focalgrad/data/imbalance.h>
#include <focalgrad/data/loader.h>
#include <focalgrad/data/metrics.h>
#include <focalgrad/data/sampling.h>
#include <focalgrad/data/tensor_dataset.h>
#include <focalgrad/losses/balanced_cross_entropy.h>
#include <focalgrad/losses/cross_entropy.h>
#include <focalgrad/losses/focal_loss.h>
#include <focalgrad/nn/checkpoint.h>
#include <focalgrad/optim/optimizer.h>
#include <focalgrad/optim/scheduler.h>
#include <focalgrad/report/chart.h>
#include <focalgrad/train/trainer.h>

#include "cli.h"

namespace focalgrad::examples {

struct TrainFlags {
    std::string loss, optimizer, monitor, sampler, out;
    double gamma, lr, val_fraction;
    int64_t epochs, batch, patience, seed;
    bool resume, quiet;
};

// The flags every own-data example takes, with the defaults of a small 2-D problem.
inline TrainFlags training_flags(cli::Args& args, int64_t epochs, double lr, int64_t batch,
                                 const std::string& out) {
    TrainFlags f;
    f.loss = args.str("loss", "ce", "ce, balanced_ce, focal or balanced_focal");
    f.gamma = args.real("gamma", 2, "focal loss gamma", 0, 10);
    f.optimizer = args.str("optimizer", "adam", "adam or sgd (momentum 0.9); both cosine-annealed to 0");
    f.lr = args.real("lr", lr, "learning rate", 1e-9, 10);
    f.epochs = args.integer("epochs", epochs, "training epochs", 1, 100000);
    f.batch = args.integer("batch", batch, "batch size", 1, 1 << 20);
    f.val_fraction =
        args.real("val-fraction", 0.2, "fraction of every class held out for validation", 0, 0.9);
    f.patience = args.integer(
        "patience", 0, "stop after N epochs without a better validation metric (0 = never)", 0, 100000);
    f.monitor = args.str("monitor", "val_loss", "val_loss, val_accuracy or val_balanced_accuracy");
    f.sampler = args.str("sampler", "shuffle", "shuffle, or balanced (every class drawn equally often)");
    f.seed = args.integer("seed", 0, "seed of the data, the split, the initialisation and the batch order", 0,
                          1LL << 40);
    f.out = args.str("out", out, "directory for the history, curves, pictures and checkpoints");
    f.resume = args.flag("resume", "continue the run whose last checkpoint is OUT/last.fgc");
    f.quiet = args.flag("quiet", "no per-epoch lines");
    return f;
}

// Checks the choices the flag parser cannot, before any data is read.
inline void check_training_flags(const TrainFlags& f) {
    const std::vector<std::string> losses = {"ce", "balanced_ce", "focal", "balanced_focal"};
    FG_CHECK(std::find(losses.begin(), losses.end(), f.loss) != losses.end(), "--loss: unknown loss '",
             f.loss, "' (choose from ce, balanced_ce, focal, balanced_focal)");
    FG_CHECK(f.optimizer == "adam" || f.optimizer == "sgd", "--optimizer must be adam or sgd, got '",
             f.optimizer, "'");
    FG_CHECK(f.sampler == "shuffle" || f.sampler == "balanced",
             "--sampler must be shuffle or balanced, got '", f.sampler, "'");
    parse_monitor(f.monitor);
    FG_CHECK(f.patience == 0 || f.val_fraction > 0, "--patience needs validation data (--val-fraction > 0)");
    make_directories(f.out, "--out");
    check_output_path(f.out + "/confusion.svg",
                      "--out");  // written after training; the Trainer checks its own
}

// The loss `name` with weights from the training set's class counts (a class without
// training items counts as one, so it gets a finite weight).
inline LossFn make_loss(const std::string& name, double gamma, std::vector<int64_t> counts) {
    for (int64_t& n : counts) n = std::max<int64_t>(n, 1);
    if (name == "ce") return [](const Tensor& z, const std::vector<int>& y) { return cross_entropy(z, y); };
    if (name == "balanced_ce")
        return [counts](const Tensor& z, const std::vector<int>& y) {
            return balanced_cross_entropy(z, y, counts);
        };
    FocalLossOptions o;
    o.gamma = float(gamma);
    if (name == "balanced_focal") {
        o.alpha = Tensor::from(class_weights(counts, WeightScheme::InverseFrequency),
                               Shape{int64_t(counts.size())});
        o.normalize_by_alpha = true;  // gamma = 0 then gives exactly balanced_ce
    }
    return [o](const Tensor& z, const std::vector<int>& y) { return focal_loss(z, y, o); };
}

// The indices with class `rare` cut to 1 / ratio of its items (seeded): a rare class the
// losses can be compared on. ratio 1 keeps everything.
inline std::vector<int64_t> with_rare_class(const TensorDataset& data, int rare, double ratio,
                                            uint64_t seed) {
    FG_CHECK(rare >= 0 && rare < data.num_classes(), "--rare-class must be in [0, ", data.num_classes(),
             "), got ", rare);
    return make_step_imbalance(data.labels, {rare}, ratio, seed);
}

struct TrainedClassifier {
    HoldoutSplit split;
    LoaderOptions loader;  // with the training items' standardisation
    TrainResult result;
};

// Trains `model` on data[items] minus a stratified validation hold-out, with the Trainer:
// OUT/history.csv, history.json, curves.svg, best.fgc (when there is validation data; the
// model ends with the best weights) and last.fgc (resumable with --resume). `info` goes
// into the checkpoints; its normalisation is set here from the training items.
inline TrainedClassifier train_classifier(Module& model, const TensorDataset& data,
                                          const std::vector<int64_t>& items, bool flatten,
                                          const TrainFlags& f, ModelInfo& info) {
    TrainedClassifier t;
    t.split = stratified_split(data.labels, f.val_fraction, uint64_t(f.seed), items);
    t.loader.batch_size = f.batch;
    t.loader.seed = uint64_t(f.seed);
    t.loader.flatten = flatten;
    t.loader.per_channel = channel_stats(data, t.split.train);
    info.input_mean.clear();
    info.input_std.clear();
    for (const PixelStats& s : t.loader.per_channel) {
        info.input_mean.push_back(s.mean);
        info.input_std.push_back(s.std);
    }
    info.input_shape = data.item_shape.vec();
    info.flatten_input = flatten;
    info.class_names = data.class_names;

    LoaderOptions train_options = t.loader;
    if (f.sampler == "balanced") train_options.sampler = Sampler::balanced;
    DataLoader train(data, t.split.train, train_options);
    LoaderOptions in_order = t.loader;
    in_order.shuffle = false;
    in_order.batch_size = 256;
    std::unique_ptr<DataLoader> val;
    if (!t.split.val.empty()) val = std::make_unique<DataLoader>(data, t.split.val, in_order);

    std::unique_ptr<Optimizer> optimizer;
    if (f.optimizer == "adam")
        optimizer = std::make_unique<Adam>(model.parameters(), f.lr);
    else
        optimizer = std::make_unique<SGD>(model.parameters(), f.lr, 0.9);
    CosineAnnealingLR schedule(*optimizer, f.epochs * train.num_batches());

    TrainerOptions o;
    o.epochs = f.epochs;
    o.monitor = parse_monitor(f.monitor);
    o.patience = f.patience;
    o.csv_path = f.out + "/history.csv";
    o.json_path = f.out + "/history.json";
    o.chart_path = f.out + "/curves.svg";
    o.last_checkpoint = f.out + "/last.fgc";
    if (val) {
        o.best_checkpoint = f.out + "/best.fgc";
        o.restore_best = true;
    }
    o.info = info;
    o.chart_title = data.name + ", " + f.loss;
    o.verbose = !f.quiet;
    Trainer trainer(model, *optimizer,
                    make_loss(f.loss, f.gamma, class_counts(data.labels, t.split.train, data.num_classes())),
                    o);
    trainer.set_schedule(schedule, true);
    if (f.resume) trainer.resume(o.last_checkpoint);
    t.result = trainer.fit(train, val.get());
    return t;
}

// Prints the accuracy on the training and validation items, the validation metrics per
// class (the training ones without validation data) and the confusion matrix, and draws
// the matrix as OUT/confusion.svg.
inline Metrics report_classifier(Module& model, const TensorDataset& data, const TrainedClassifier& t,
                                 const TrainFlags& f) {
    LoaderOptions in_order = t.loader;
    in_order.shuffle = false;
    in_order.batch_size = 256;
    const LossFn ce = make_loss("ce", 0, {});
    Evaluation train = evaluate(model, DataLoader(data, t.split.train, in_order), ce, data.num_classes());
    std::printf("\ntraining accuracy %.2f %% (%lld items)", 100 * train.metrics.accuracy,
                (long long)t.split.train.size());
    Evaluation shown = train;
    if (!t.split.val.empty()) {
        shown = evaluate(model, DataLoader(data, t.split.val, in_order), ce, data.num_classes());
        std::printf(", validation accuracy %.2f %% (%lld items), balanced %.2f %%",
                    100 * shown.metrics.accuracy, (long long)t.split.val.size(),
                    100 * shown.metrics.balanced_accuracy);
    }
    std::printf("\nbest epoch %lld of %lld%s\n\n", (long long)t.result.best_epoch,
                (long long)t.result.history.size(), t.result.stopped_early ? " (stopped early)" : "");
    const char* which = t.split.val.empty() ? "training" : "validation";
    std::printf("%s metrics:\n%s\n", which, format_metrics(shown.metrics, data.class_names).c_str());
    std::printf("%s confusion matrix (rows: true class, columns: predicted):\n%s\n", which,
                format_confusion_matrix(shown.cm, data.class_names).c_str());
    report::save_svg(f.out + "/confusion.svg",
                     report::confusion_chart(shown.cm, data.class_names,
                                             str("Confusion matrix, ", which, " items (", data.name, ")")));
    return shown.metrics;
}

}  // namespace focalgrad::examples
