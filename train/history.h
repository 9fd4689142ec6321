// history.h — what a training run records per epoch, written as it goes so that a run
// killed at any moment leaves files a reader can open: a CSV file gets one line per
// epoch, appended and flushed as one write; a JSON file and a training-curve chart (SVG:
// loss against epoch, and validation accuracy against epoch) are rewritten atomically.
// Not here: per-step logs, TensorBoard's or other tools' formats.
#pragma once

#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <focalgrad/core/io.h>
#include <focalgrad/core/state.h>

namespace focalgrad {

struct EpochRecord {
    static constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
    int64_t epoch = 0;                     // from 1
    double train_loss = kNone;             // mean per item over the epoch's steps
    double val_loss = kNone;               // kNone without validation data
    double val_accuracy = kNone;           // fraction correct, in [0, 1]
    double val_balanced_accuracy = kNone;  // mean recall over the classes present
    double lr = kNone;                     // the learning rate of the epoch's first step
    double seconds = kNone;                // wall time of the epoch, training and validation
};

// The CSV header and one line per record; a missing value is an empty cell.
//   epoch,train_loss,val_loss,val_accuracy,val_balanced_accuracy,lr,seconds
std::string history_csv_header();
std::string history_csv_line(const EpochRecord& r);

// A CSV log: open() rewrites the file atomically with the header and the records so far
// (none, or those of a resumed run), then append() adds one line per epoch with a single
// write, flushed at once (a line that crosses a 4 KiB page, with a copy of the file that
// replaces it): a killed run leaves whole lines only. The appends are not atomic
// (core/io.h AppendFile): one that fails part-way, on a full disk, is cut back to the
// last whole line.
class CsvLog {
public:
    CsvLog() = default;
    ~CsvLog();
    CsvLog(const CsvLog&) = delete;
    CsvLog& operator=(const CsvLog&) = delete;

    void open(const std::string& path, const std::vector<EpochRecord>& so_far);
    void append(const EpochRecord& r);
    bool is_open() const { return file_ != nullptr; }

private:
    std::unique_ptr<AppendFile> file_;
};

// What the JSON file says besides the records.
struct HistorySummary {
    std::string monitor;  // "val_loss", ...; empty without early stopping
    int64_t best_epoch = 0;
    double best_value = EpochRecord::kNone;
    bool stopped_early = false;
    bool finished = false;  // false while the run goes on
};

// {"monitor": ..., "best_epoch": ..., "best_value": ..., "stopped_early": ..., "finished": ...,
//  "epochs": [{"epoch": 1, "train_loss": ..., ...}, ...]}, written atomically.
void write_history_json(const std::string& path, const std::vector<EpochRecord>& history,
                        const HistorySummary& summary);

// Two panels: train and validation loss against epoch (log scale when it spans more than
// a decade), and validation accuracy and balanced accuracy against epoch, the best epoch
// named. Written atomically.
void save_training_curves(const std::string& path, const std::vector<EpochRecord>& history,
                          const HistorySummary& summary, const std::string& title);

// The records as StateDict entries under prefix ("trainer.history."), and back: how a
// checkpoint carries the history of a run it can resume.
void put_history(StateDict& state, const std::string& prefix, const std::vector<EpochRecord>& history);
std::vector<EpochRecord> get_history(const StateDict& state, const std::string& prefix);

}  // namespace focalgrad
