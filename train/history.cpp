// history.cpp — the CSV log (AppendFile: one write per line, whole even if killed), the JSON file and the
// training-curve chart of history.h, and the history as checkpoint state.
#include <algorithm>
#include <cmath>
#include <cstring>

#include <focalgrad/core/error.h>
#include <focalgrad/core/io.h>
#include <focalgrad/report/chart.h>
#include <focalgrad/report/json.h>
#include <focalgrad/train/history.h>

namespace focalgrad {

namespace {

// %.9g: every float32 and the decimals a reader expects; NaN (no value) as an empty cell.
std::string cell(double v) {
    if (!std::isfinite(v)) return "";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

// The fields of a record by name, in the order of the CSV header.
const char* const kFields[] = {"train_loss", "val_loss", "val_accuracy", "val_balanced_accuracy",
                               "lr",         "seconds"};

double EpochRecord::*const kMembers[] = {&EpochRecord::train_loss,   &EpochRecord::val_loss,
                                         &EpochRecord::val_accuracy, &EpochRecord::val_balanced_accuracy,
                                         &EpochRecord::lr,           &EpochRecord::seconds};

}  // namespace

std::string history_csv_header() {
    std::string h = "epoch";
    for (const char* f : kFields) h += std::string(",") + f;
    return h + "\n";
}

std::string history_csv_line(const EpochRecord& r) {
    std::string line = std::to_string(r.epoch);
    for (auto member : kMembers) line += "," + cell(r.*member);
    return line + "\n";
}

CsvLog::~CsvLog() = default;

void CsvLog::open(const std::string& path, const std::vector<EpochRecord>& so_far) {
    file_.reset();
    std::string text = history_csv_header();
    for (const EpochRecord& r : so_far) text += history_csv_line(r);
    write_file_atomic(path, text, "CsvLog");
    file_ = std::make_unique<AppendFile>(path, "CsvLog");
}

void CsvLog::append(const EpochRecord& r) {
    FG_CHECK(file_, "CsvLog::append: the log is not open");
    file_->append(history_csv_line(r), str("the line of epoch ", r.epoch));
}

void write_history_json(const std::string& path, const std::vector<EpochRecord>& history,
                        const HistorySummary& summary) {
    report::JsonWriter w(9);
    w.begin_object(report::JsonWriter::Layout::lines);
    w.key("monitor").value(summary.monitor);
    w.key("best_epoch").value(summary.best_epoch);
    w.key("best_value").value(summary.best_value);
    w.key("stopped_early").value(summary.stopped_early);
    w.key("finished").value(summary.finished);
    w.key("epochs").begin_array(report::JsonWriter::Layout::lines);
    for (const EpochRecord& r : history) {
        w.begin_object();
        w.key("epoch").value(r.epoch);
        for (size_t f = 0; f < std::size(kFields); ++f) w.key(kFields[f]).value(r.*kMembers[f]);
        w.end_object();
    }
    w.end_array();
    w.end_object();
    write_file_atomic(path, w.str(), "write_history_json");
}

void save_training_curves(const std::string& path, const std::vector<EpochRecord>& history,
                          const HistorySummary& summary, const std::string& title) {
    using namespace report;
    std::vector<double> epochs, train, val, acc, bal;
    double lo = INFINITY, hi = 0;
    for (const EpochRecord& r : history) {
        epochs.push_back(double(r.epoch));
        train.push_back(r.train_loss);
        val.push_back(r.val_loss);
        acc.push_back(r.val_accuracy);
        bal.push_back(r.val_balanced_accuracy);
        for (double v : {r.train_loss, r.val_loss})
            if (std::isfinite(v) && v > 0) {
                lo = std::min(lo, v);
                hi = std::max(hi, v);
            }
    }
    const bool has_val = std::any_of(val.begin(), val.end(), [](double v) { return std::isfinite(v); });
    // Markers while they stay apart; beyond 40 epochs they would only blot the line.
    auto marked = [&](Series s) {
        s.markers = history.size() <= 40;
        return s;
    };

    Plot loss;
    loss.title = "Loss";
    loss.x.title = "epoch";
    loss.y.title = "loss per item";
    loss.y.log = hi > 10 * lo;  // a decade or more: the late epochs would be a flat line
    loss.series.push_back(marked({"train", epochs, train}));
    if (has_val) loss.series.push_back(marked({"validation", epochs, val}));
    loss.legend = LegendPosition::top;

    Plot accuracy;
    accuracy.title = "Validation accuracy";
    accuracy.x.title = "epoch";
    accuracy.y.title = "accuracy";
    accuracy.y.max = 1;
    accuracy.legend = LegendPosition::top;
    if (has_val) {
        accuracy.series.push_back(marked({"accuracy", epochs, acc}));
        accuracy.series.push_back(marked({"balanced accuracy", epochs, bal}));
        accuracy.series.back().dash = "6 4";
    } else {
        accuracy.notes.push_back({0.5, 0.5, "no validation data", Font(14, kMutedInk, Anchor::middle)});
        accuracy.x.min = accuracy.y.min = 0;
    }
    if (summary.best_epoch > 0) {
        const std::string best = str("best: epoch ", summary.best_epoch);
        loss.subtitle = accuracy.subtitle = best;
    }
    if (epochs.size() == 1) loss.x.min = accuracy.x.min = 0;

    const double panel_w = 520, panel_h = 380, top = title.empty() ? 0 : 36;
    Svg svg(2 * panel_w, panel_h + top);
    if (!title.empty()) svg.text(panel_w, 24, title, Font(17, kInk, Anchor::middle, true));
    draw(svg, loss, 0, top, panel_w, panel_h);
    draw(svg, accuracy, panel_w, top, panel_w, panel_h);
    save_svg(path, svg);
}

void put_history(StateDict& state, const std::string& prefix, const std::vector<EpochRecord>& history) {
    std::vector<int64_t> epochs;
    for (const EpochRecord& r : history) epochs.push_back(r.epoch);
    state[prefix + "epoch"] = epochs;
    for (size_t f = 0; f < std::size(kFields); ++f) {
        std::vector<double> values;
        for (const EpochRecord& r : history) values.push_back(r.*kMembers[f]);
        state[prefix + kFields[f]] = values;
    }
}

std::vector<EpochRecord> get_history(const StateDict& state, const std::string& prefix) {
    const char* op = "get_history";
    const std::vector<int64_t>& epochs = state_integers(state, prefix + "epoch", op);
    std::vector<EpochRecord> history(epochs.size());
    for (size_t i = 0; i < epochs.size(); ++i) history[i].epoch = epochs[i];
    for (size_t f = 0; f < std::size(kFields); ++f) {
        const std::vector<double>& values = state_reals(state, prefix + kFields[f], op);
        FG_CHECK(values.size() == epochs.size(), op, ": state '", prefix, kFields[f], "' has ", values.size(),
                 " values for ", epochs.size(), " epochs");
        for (size_t i = 0; i < values.size(); ++i) history[i].*kMembers[f] = values[i];
    }
    return history;
}

}  // namespace focalgrad
