// runs.h — the results of an experiment repeated over seeds. Each run is one method (a row
// of the tables: a loss, a sampler) and one seed, with the same named metrics: numbers
// (accuracy) or vectors (per-class recall). Runs summarises each metric over the seeds of a
// method (mean ± sample std), pairs a method with a baseline seed by seed, and writes the
// runs and the summaries as Markdown tables, CSV, JSON and a bar chart.
// Not here: significance tests, confidence intervals, runs with different metrics.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <focalgrad/report/chart.h>
#include <focalgrad/report/json.h>
#include <focalgrad/report/table.h>

namespace focalgrad::report {

struct Metric {
    std::string name;
    std::vector<double> values;  // one for a number
    bool is_vector = false;

    static Metric number(std::string name, double v) { return {std::move(name), {v}, false}; }
    static Metric vector(std::string name, std::vector<double> v) {
        return {std::move(name), std::move(v), true};
    }
};

class Runs {
public:
    // Every run has the metrics of the first, in the same order and of the same lengths.
    void add(const std::string& method, int64_t seed, std::vector<Metric> metrics);

    // The methods in the order of their first run.
    std::vector<std::string> methods() const;
    // Entry `index` of `metric` over the runs of `method` (n = 0 if it has none).
    Summary summary(const std::string& method, const std::string& metric, size_t index = 0) const;
    // method minus baseline, seed by seed, over the seeds both have (n = 0 if none).
    Summary paired_difference(const std::string& method, const std::string& baseline,
                              const std::string& metric, size_t index = 0) const;

    // A column of a summary table: mean ± std of entry `index` of `metric`; with `baseline`,
    // the difference to baseline(method) paired by seed instead, signed ("—" if none).
    struct Column {
        std::string title;
        std::string metric;
        size_t index = 0;
        std::function<std::string(const std::string& method)> baseline;

        Column(std::string title_, std::string metric_, size_t index_ = 0,
               std::function<std::string(const std::string&)> baseline_ = {})
            : title(std::move(title_)),
              metric(std::move(metric_)),
              index(index_),
              baseline(std::move(baseline_)) {}
    };
    // One row per method; the first column, titled `method_title`, holds its name.
    Table summary_table(const std::string& method_title, const std::vector<Column>& columns,
                        int digits = 3) const;
    // One row per run: method, seed, then every metric (a vector as name_0, name_1, ...).
    Table runs_table(const std::string& method_title, int digits = 6) const;

    // The vector metric `metric` as bars: one series per method, one bar per entry (named
    // by `categories`), at the mean over seeds, with whiskers of ± 1 sample std and an
    // error_label saying so when there is more than one seed (none for n = 1). Titles and
    // highlights are left to the caller.
    BarChart bar_chart(const std::string& metric, const std::vector<std::string>& categories) const;

    // The runs as an array, one object per line:
    //   {"<method_key>": "ce", "seed": 0, "<metric>": 0.9 or [...], ...}
    void write_runs(JsonWriter& w, const std::string& method_key) const;
    // The summaries as an object, one method per line:
    //   "ce": {"<number>": {"mean": m, "std": s}, "<vector>": {"mean": [...], "std": [...]}, ...}
    // then whatever extra(method, w) adds to that method's object (keys and values).
    void write_summary(JsonWriter& w,
                       const std::function<void(const std::string& method, JsonWriter& w)>& extra = {}) const;

private:
    struct Run {
        std::string method;
        int64_t seed;
        std::vector<Metric> metrics;
    };
    size_t metric_index(const std::string& metric, size_t index) const;
    std::vector<Run> runs_;
};

// Writes {"mean": s.mean, "std": s.std} as the next value.
void write_mean_std(JsonWriter& w, const Summary& s);

}  // namespace focalgrad::report
