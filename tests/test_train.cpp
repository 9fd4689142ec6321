// test_train.cpp — train/: train_epoch's divergence messages, evaluate against a hand
// count, the Trainer's files after every epoch (CSV lines, JSON, chart), early stopping
// with patience, the best checkpoint, output paths checked before the first step, and
// exact resume: 3 epochs, or 2 + save + resume for 1, give the same parameter bits on 1
// and 2 threads (BatchNorm's statistics, Dropout's generator, momentum, a per-batch
// cosine schedule all carried over). Also the synthetic 2-D datasets.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/data/synthetic.h>
#include <focalgrad/losses/cross_entropy.h>
#include <focalgrad/nn/architecture.h>
#include <focalgrad/nn/layers.h>
#include <focalgrad/train/trainer.h>

#include "helpers.h"
#include "json_mini.h"

using namespace focalgrad;

namespace {

using fgtest::read_file;

Tensor ce(const Tensor& z, const std::vector<int>& y) { return cross_entropy(z, y); }

// An MLP for 2-D points with everything resume must carry: BatchNorm statistics and a
// Dropout generator, besides the weights.
std::shared_ptr<Sequential> mlp(uint64_t seed) {
    Generator gen(seed);
    return std::make_shared<Sequential>(Linear(2, 16, true, gen), BatchNorm1d(16), ReLU(),
                                        Dropout(0.2f, seed + 1), Linear(16, 3, true, gen));
}

std::vector<uint32_t> bits(const Module& m) {
    std::vector<uint32_t> out;
    auto add = [&](const Tensor& t) {
        std::vector<uint32_t> b(size_t(t.numel()));
        std::memcpy(b.data(), t.data(), b.size() * 4);
        out.insert(out.end(), b.begin(), b.end());
    };
    for (const auto& [name, t] : m.named_parameters()) add(t);
    for (const auto& [name, t] : m.named_buffers()) add(t);
    return out;
}

struct Data {
    TensorDataset all = make_spirals(40, 3, 0.1, 5);
    LoaderOptions options;
    std::unique_ptr<DataLoader> train, val;
    Data() {
        options.batch_size = 16;
        options.seed = 11;
        std::vector<int64_t> even, odd;
        for (int64_t i = 0; i < all.size(); ++i) (i % 2 ? odd : even).push_back(i);
        train = std::make_unique<DataLoader>(all, even, options);
        LoaderOptions in_order = options;
        in_order.shuffle = false;
        val = std::make_unique<DataLoader>(all, odd, in_order);
    }
};

// One run of `epochs` epochs; resumes from `resume_from` when given.
std::vector<uint32_t> run(const Data& data, int64_t epochs, bool adam, const std::string& last = "",
                          const std::string& resume_from = "", uint64_t init_seed = 1) {
    auto model = mlp(init_seed);
    std::unique_ptr<Optimizer> opt;
    if (adam)
        opt = std::make_unique<Adam>(model->parameters(), 0.01);
    else
        opt = std::make_unique<SGD>(model->parameters(), 0.1, 0.9);
    CosineAnnealingLR cosine(*opt, 4 * data.train->num_batches());
    TrainerOptions o;
    o.epochs = epochs;
    o.verbose = false;
    o.last_checkpoint = last;
    Trainer t(*model, *opt, ce, o);
    t.set_schedule(cosine, true);
    if (!resume_from.empty()) t.resume(resume_from);
    t.fit(*data.train, data.val.get());
    return bits(*model);
}

}  // namespace

TEST_CASE("synthetic data: moons and spirals by their formulas, seeded") {
    TensorDataset m = make_moons(7, 0.0, 1);
    CHECK(m.item_shape == Shape{2});
    CHECK(m.labels == std::vector<int>{0, 0, 0, 0, 1, 1, 1});
    CHECK(m.values[0] == 1.0f);  // t = 0 on the upper moon: (1, 0)
    CHECK(m.values[1] == 0.0f);
    CHECK(m.values[6] == doctest::Approx(-1.0f));  // t = pi: (-1, 0)
    CHECK(m.values[8] == 0.0f);                    // the lower moon starts at (1 - 1, 0.5)
    CHECK(m.values[9] == 0.5f);
    CHECK(make_moons(100, 0.1, 3).values == make_moons(100, 0.1, 3).values);
    CHECK(make_moons(100, 0.1, 3).values != make_moons(100, 0.1, 4).values);
    TensorDataset s = make_spirals(5, 3, 0.0, 1);
    CHECK(s.size() == 15);
    CHECK(s.num_classes() == 3);
    // Class 1, point 4: r = 1, angle 4 (1 + 1) = 8.
    CHECK(s.item(9)[0] == float(std::sin(8.0)));
    CHECK(s.item(9)[1] == float(std::cos(8.0)));
    CHECK_ERROR(make_spirals(1, 3, 0.1, 0), "make_spirals: n_per_class must be in [2, ");
    CHECK_ERROR(make_moons(10, -1, 0), "make_moons: noise must be finite and >= 0");
}

TEST_CASE("train_epoch: a divergence names the epoch and the step, whatever the loss op does") {
    Data data;
    auto model = mlp(1);
    SGD opt(model->parameters(), 0.1);
    int calls = 0;
    LossFn nan_at_2 = [&](const Tensor& z, const std::vector<int>& y) {
        Tensor l = cross_entropy(z, y);
        return ++calls == 3 ? l * NAN : l;
    };
    CHECK_ERROR(train_epoch(*model, opt, *data.train, 4, nan_at_2),
                "training diverged: the loss became nan at epoch 4, step 2", "try a smaller learning rate");
    calls = 0;
    // The loss op refuses the logits of a model that has diverged (here: made infinite).
    Sequential diverging;
    diverging.add(model);
    struct Blowup : Module {
        int calls = 0;
        Tensor forward(const Tensor& z) override { return ++calls == 2 ? z * INFINITY : z; }
        std::string describe() const override { return "Blowup"; }
    };
    auto blowup = std::make_shared<Blowup>();
    diverging.add(blowup);
    CHECK_ERROR(train_epoch(diverging, opt, *data.train, 0,
                            [](const Tensor& z, const std::vector<int>& y) { return cross_entropy(z, y); }),
                "training diverged at epoch 0, step 1: cross_entropy: logits of shape ", "contain", "inf",
                "try a smaller learning rate");
    CHECK(tape_size() == 0);
    // A refusal that is not about the logits is no divergence: it is reported as it is.
    calls = 0;
    LossFn bad_labels = [&](const Tensor& z, const std::vector<int>& y) {
        std::vector<int> wrong = y;
        if (++calls == 2) wrong[0] = 99;
        return cross_entropy(z, wrong);
    };
    const std::string message =
        fgtest::error_of([&] { train_epoch(*model, opt, *data.train, 3, bad_labels); });
    fgtest::check_contains(message, {"train_epoch: epoch 3, step 1: cross_entropy: ", "99"});
    CHECK(message.find("diverged") == std::string::npos);
    CHECK(tape_size() == 0);
}

TEST_CASE("evaluate: the mean loss per item and the confusion matrix, counted by hand") {
    // A fixed linear model on 1-D inputs: logits = [x, -x]; class 0 wins when x > 0.
    TensorDataset d;
    d.name = "line";
    d.item_shape = Shape{1};
    d.class_names = {"pos", "neg"};
    d.values = {2, -1, 0.5f, -3, 1};
    d.labels = {0, 1, 1, 0, 0};
    Linear lin(1, 2, false);
    lin.weight.data()[0] = 1;
    lin.weight.data()[1] = -1;
    LoaderOptions o;
    o.batch_size = 2;
    o.shuffle = false;
    DataLoader loader(d, o);
    Evaluation ev = evaluate(lin, loader, ce);
    CHECK(ev.cm(0, 0) == 2);  // x = 2, 1
    CHECK(ev.cm(0, 1) == 1);  // x = -3
    CHECK(ev.cm(1, 1) == 1);  // x = -1
    CHECK(ev.cm(1, 0) == 1);  // x = 0.5
    CHECK(ev.metrics.accuracy == doctest::Approx(0.6));
    // CE of logits [x, -x] for label 0 is log(1 + e^{-2x}), for label 1 log(1 + e^{2x}).
    double sum = std::log1p(std::exp(-4.0)) + std::log1p(std::exp(-2.0)) + std::log1p(std::exp(1.0)) +
                 std::log1p(std::exp(6.0)) + std::log1p(std::exp(-2.0));
    CHECK(ev.loss == doctest::Approx(sum / 5).epsilon(1e-6));
    CHECK(lin.is_training());  // the mode is restored
    LoaderOptions balanced = o;
    balanced.sampler = Sampler::balanced;
    DataLoader drawn(d, balanced);
    CHECK_ERROR(evaluate(lin, drawn, ce), "evaluate: the loader draws with a balanced sampler");
    Tensor logits = predict_logits(lin, loader);
    CHECK(logits.shape() == Shape{5, 2});
    CHECK(logits.data()[0] == 2.0f);
}

TEST_CASE("Trainer: CSV, JSON and chart after every epoch; the best checkpoint; early stopping") {
    fgtest::TempDir dir;
    Data data;
    auto model = mlp(1);
    SGD opt(model->parameters(), 0.1, 0.9);
    TrainerOptions o;
    o.epochs = 50;
    o.verbose = false;
    o.csv_path = dir / "history.csv";
    o.json_path = dir / "history.json";
    o.chart_path = dir / "curves.svg";
    o.best_checkpoint = dir / "best.fgc";
    o.monitor = Monitor::val_accuracy;
    o.patience = 3;
    o.info.architecture = architecture(*model);
    o.info.class_names = data.all.class_names;
    std::vector<uint32_t> best_bits;
    int64_t epochs_seen = 0;
    double best_seen = -1;
    o.on_epoch = [&](const EpochRecord& r) {
        ++epochs_seen;
        // After each epoch the files are there, whole, with this epoch in them.
        std::string csv = read_file(dir / "history.csv");
        CHECK(std::count(csv.begin(), csv.end(), '\n') == r.epoch + 1);
        CHECK(csv.rfind(history_csv_header(), 0) == 0);
        fgtest::Json j = fgtest::JsonParser(read_file(dir / "history.json")).parse();
        CHECK(j["epochs"].items.size() == size_t(r.epoch));
        CHECK(j["finished"].boolean == false);
        CHECK(read_file(dir / "curves.svg").find("</svg>") != std::string::npos);
        if (r.val_accuracy > best_seen) {
            best_seen = r.val_accuracy;
            best_bits = bits(*model);
        }
    };
    Trainer trainer(*model, opt, ce, o);
    TrainResult res = trainer.fit(*data.train, data.val.get());
    REQUIRE(res.stopped_early);
    const int64_t n = int64_t(res.history.size());
    CHECK(n == epochs_seen);
    CHECK(n < 50);
    // Stopped after `patience` epochs without improvement on the best.
    CHECK(res.best_epoch == n - 3);
    CHECK(res.best_value == best_seen);
    for (const EpochRecord& r : res.history) {
        CHECK(r.val_accuracy <= res.best_value);
        CHECK(std::isfinite(r.train_loss));
        CHECK(r.lr == 0.1);
        CHECK(r.seconds >= 0);
    }
    // The CSV's lines are the records, the JSON says how the run ended.
    std::string csv = read_file(dir / "history.csv");
    CHECK(csv.find(history_csv_line(res.history[1])) != std::string::npos);
    fgtest::Json j = fgtest::JsonParser(read_file(dir / "history.json")).parse();
    CHECK(j["finished"].boolean);
    CHECK(j["stopped_early"].boolean);
    CHECK(j["monitor"].text == "val_accuracy");
    CHECK(j["best_epoch"].number == double(res.best_epoch));
    CHECK(j["epochs"].items[0]["val_accuracy"].number == doctest::Approx(res.history[0].val_accuracy));
    // The best checkpoint is the model of the best epoch, and carries its info.
    LoadedModel best = load_model(dir / "best.fgc");
    CHECK(bits(*best.model) == best_bits);
    CHECK(best.checkpoint.info.class_names == data.all.class_names);
    CHECK_ERROR(Trainer(*model, opt, ce, o).resume(dir / "best.fgc"), "holds no training state",
                "it is a best checkpoint");
}

TEST_CASE("Trainer: bad outputs fail before the first step; early stopping needs validation") {
    fgtest::TempDir dir;
    Data data;
    auto model = mlp(1);
    SGD opt(model->parameters(), 0.1);
    TrainerOptions o;
    o.verbose = false;
    o.csv_path = dir / "no/such/dir/history.csv";
    int steps = 0;
    o.on_step = [&](const StepInfo&) { ++steps; };
    CHECK_ERROR(Trainer(*model, opt, ce, o).fit(*data.train), "Trainer::fit", "no/such/dir");
    CHECK(steps == 0);
    o.csv_path = "";
    o.patience = 2;
    CHECK_ERROR(Trainer(*model, opt, ce, o).fit(*data.train),
                "early stopping and the best checkpoint follow a validation metric");
    o.patience = 0;
    o.restore_best = true;
    CHECK_ERROR(Trainer(*model, opt, ce, o), "restore_best needs a best_checkpoint path");
    CHECK_ERROR(parse_monitor("loss"), "unknown metric 'loss'");
}

TEST_CASE("Trainer: 2 epochs + save + resume for 1 gives the bits of 3 epochs, on 1 and 2 threads") {
    fgtest::TempDir dir;
    Data data;
    const int threads = num_threads();
    std::vector<uint32_t> per_thread_count[2];
    for (int t : {1, 2}) {
        CAPTURE(t);
        set_num_threads(t);
        for (bool adam : {false, true}) {
            CAPTURE(adam);
            std::vector<uint32_t> straight = run(data, 3, adam);
            const std::string last = dir / "last.fgc";
            std::vector<uint32_t> first_two = run(data, 2, adam, last);
            CHECK(first_two != straight);
            // A fresh model with other initial weights: everything comes from the checkpoint.
            std::vector<uint32_t> resumed = run(data, 3, adam, "", last, 77);
            CHECK(resumed == straight);
            if (!adam) per_thread_count[t - 1] = straight;
        }
    }
    set_num_threads(threads);
    CHECK(per_thread_count[0] == per_thread_count[1]);

    // What resume refuses: another schedule setup, another loader seed.
    const std::string last = dir / "last.fgc";
    run(data, 2, false, last);
    auto model = mlp(3);
    SGD opt(model->parameters(), 0.1, 0.9);
    TrainerOptions o;
    o.epochs = 3;
    o.verbose = false;
    Trainer no_schedule(*model, opt, ce, o);
    CHECK_ERROR(no_schedule.resume(last), "the saved run had learning-rate schedule, this one has none",
                "call set_schedule before resume");
    CosineAnnealingLR cosine(opt, 4 * data.train->num_batches());
    Trainer per_epoch(*model, opt, ce, o);
    per_epoch.set_schedule(cosine, false);
    CHECK_ERROR(per_epoch.resume(last), "stepped its schedule per batch, this one per epoch");
    Trainer ok(*model, opt, ce, o);
    ok.set_schedule(cosine, true);
    ok.resume(last);
    CHECK(ok.epochs_done() == 2);
    LoaderOptions other = data.options;
    other.seed = 12;
    DataLoader reshuffled(data.all, other);
    CHECK_ERROR(ok.fit(reshuffled), "the resumed run shuffled with seed 11, this loader with seed 12");
}
