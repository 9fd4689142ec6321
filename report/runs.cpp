// runs.cpp — summaries over seeds, paired differences, and the tables and JSON of runs.
#include <algorithm>

#include <focalgrad/core/error.h>
#include <focalgrad/report/runs.h>

namespace focalgrad::report {

void Runs::add(const std::string& method, int64_t seed, std::vector<Metric> metrics) {
    FG_CHECK(!metrics.empty(), "Runs::add: run '", method, "' seed ", seed, " has no metrics");
    for (const Run& r : runs_)
        FG_CHECK(r.method != method || r.seed != seed, "Runs::add: '", method, "' seed ", seed,
                 " was added twice");
    if (!runs_.empty()) {
        const std::vector<Metric>& first = runs_.front().metrics;
        FG_CHECK(metrics.size() == first.size(), "Runs::add: run '", method, "' has ", metrics.size(),
                 " metrics, the first run had ", first.size());
        for (size_t m = 0; m < first.size(); ++m)
            FG_CHECK(metrics[m].name == first[m].name && metrics[m].values.size() == first[m].values.size() &&
                         metrics[m].is_vector == first[m].is_vector,
                     "Runs::add: run '", method, "' metric ", m, " is '", metrics[m].name, "' of length ",
                     metrics[m].values.size(), ", the first run had '", first[m].name, "' of length ",
                     first[m].values.size());
    }
    runs_.push_back({method, seed, std::move(metrics)});
}

std::vector<std::string> Runs::methods() const {
    std::vector<std::string> names;
    for (const Run& r : runs_)
        if (std::find(names.begin(), names.end(), r.method) == names.end()) names.push_back(r.method);
    return names;
}

size_t Runs::metric_index(const std::string& metric, size_t index) const {
    FG_CHECK(!runs_.empty(), "Runs: no run was added, so there is no metric '", metric, "'");
    const std::vector<Metric>& first = runs_.front().metrics;
    for (size_t m = 0; m < first.size(); ++m)
        if (first[m].name == metric) {
            FG_CHECK(index < first[m].values.size(), "Runs: metric '", metric, "' has ",
                     first[m].values.size(), " entries, asked for entry ", index);
            return m;
        }
    throw Error(str("Runs: no metric '", metric, "'"));
}

Summary Runs::summary(const std::string& method, const std::string& metric, size_t index) const {
    const size_t m = metric_index(metric, index);
    std::vector<double> v;
    for (const Run& r : runs_)
        if (r.method == method) v.push_back(r.metrics[m].values[index]);
    return summarize(v);
}

Summary Runs::paired_difference(const std::string& method, const std::string& baseline,
                                const std::string& metric, size_t index) const {
    const size_t m = metric_index(metric, index);
    std::vector<double> v;
    for (const Run& r : runs_)
        for (const Run& b : runs_)
            if (r.method == method && b.method == baseline && b.seed == r.seed)
                v.push_back(r.metrics[m].values[index] - b.metrics[m].values[index]);
    return summarize(v);
}

Table Runs::summary_table(const std::string& method_title, const std::vector<Column>& columns,
                          int digits) const {
    std::vector<std::string> header = {method_title};
    for (const Column& c : columns) header.push_back(c.title);
    Table t(header);
    for (const std::string& method : methods()) {
        std::vector<std::string> row = {method};
        for (const Column& c : columns) {
            if (!c.baseline) {
                row.push_back(mean_std(summary(method, c.metric, c.index), digits));
                continue;
            }
            Summary d = paired_difference(method, c.baseline(method), c.metric, c.index);
            row.push_back(d.n ? mean_std(d, digits, true) : "—");
        }
        t.add(row);
    }
    return t;
}

Table Runs::runs_table(const std::string& method_title, int digits) const {
    FG_CHECK(!runs_.empty(), "Runs::runs_table: no run was added");
    std::vector<std::string> header = {method_title, "seed"};
    for (const Metric& m : runs_.front().metrics)
        for (size_t i = 0; i < m.values.size(); ++i)
            header.push_back(m.is_vector ? m.name + "_" + std::to_string(i) : m.name);
    Table t(header);
    for (const Run& r : runs_) {
        std::vector<std::string> row = {r.method, std::to_string(r.seed)};
        for (const Metric& m : r.metrics)
            for (double v : m.values) row.push_back(fixed(v, digits));
        t.add(row);
    }
    return t;
}

BarChart Runs::bar_chart(const std::string& metric, const std::vector<std::string>& categories) const {
    const size_t m = metric_index(metric, 0);
    FG_CHECK(runs_.front().metrics[m].values.size() == categories.size(),
             "Runs::bar_chart: ", categories.size(), " categories for metric '", metric, "' of length ",
             runs_.front().metrics[m].values.size());
    BarChart chart;
    chart.categories = categories;
    size_t most_seeds = 0;
    for (const std::string& method : methods()) {
        BarSeries bars(method, {});
        for (size_t i = 0; i < categories.size(); ++i) {
            Summary s = summary(method, metric, i);
            bars.values.push_back(s.mean);
            bars.errors.push_back(s.n > 1 ? s.std : 0.0);
            most_seeds = std::max(most_seeds, s.n);
        }
        chart.series.push_back(bars);
    }
    if (most_seeds > 1) chart.error_label = "± 1 sample std over seeds";
    return chart;
}

void Runs::write_runs(JsonWriter& w, const std::string& method_key) const {
    w.begin_array(JsonWriter::Layout::lines);
    for (const Run& r : runs_) {
        w.begin_object().key(method_key).value(r.method).key("seed").value(r.seed);
        for (const Metric& m : r.metrics) {
            w.key(m.name);
            if (m.is_vector)
                w.array(m.values);
            else
                w.value(m.values[0]);
        }
        w.end_object();
    }
    w.end_array();
}

void write_mean_std(JsonWriter& w, const Summary& s) {
    w.begin_object().key("mean").value(s.mean).key("std").value(s.std).end_object();
}

void Runs::write_summary(JsonWriter& w,
                         const std::function<void(const std::string& method, JsonWriter& w)>& extra) const {
    w.begin_object(JsonWriter::Layout::lines);
    for (const std::string& method : methods()) {
        w.key(method).begin_object();
        for (const Metric& m : runs_.empty() ? std::vector<Metric>{} : runs_.front().metrics) {
            w.key(m.name);
            if (!m.is_vector) {
                write_mean_std(w, summary(method, m.name));
                continue;
            }
            std::vector<double> mean, std;
            for (size_t i = 0; i < m.values.size(); ++i) {
                Summary s = summary(method, m.name, i);
                mean.push_back(s.mean), std.push_back(s.std);
            }
            w.begin_object().key("mean").array(mean).key("std").array(std).end_object();
        }
        if (extra) extra(method, w);
        w.end_object();
    }
    w.end_object();
}

}  // namespace focalgrad::report
