// table.h — result tables written as Markdown (for a terminal, a README, a .md report) and
// as CSV (for a spreadsheet or pandas), from the same rows of text cells; the numbers in
// them formatted one way (fixed decimals, mean ± std over runs).
// Not here: parsing, column types (a cell is text: format numbers with fixed / mean_std).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace focalgrad::report {

enum class Align { none, left, right, centre };  // Markdown's ---, :--, --:, :-:

struct Table {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;  // each as wide as the header
    std::vector<Align> align;                    // one per column; empty: none

    Table() = default;
    explicit Table(std::vector<std::string> header_) : header(std::move(header_)) {}
    // Appends a row; throws unless it has one cell per header column.
    Table& add(std::vector<std::string> row);
};

// | a | b |
// |---|---|
// | 1 | 2 |
// One line per row, each ending in '\n'. A '|' inside a cell is escaped as "\|", a line
// break becomes a space; other Markdown in a cell (**bold**, `code`) is kept as written.
std::string to_markdown(const Table& table);

// RFC 4180: fields joined by ',', rows ending in '\n'; a field holding ',', '"', a line
// break or a leading or trailing space is quoted, its '"' doubled.
std::string to_csv(const Table& table);

// v with `digits` decimals: fixed(0.5, 3) = "0.500". NaN and infinities are "nan", "inf", "-inf".
std::string fixed(double v, int digits);

// The mean and the sample standard deviation (divisor n - 1) of a set of runs.
struct Summary {
    double mean = 0;
    double std = 0;  // 0 for a single run
    size_t n = 0;
};
// Of no values: mean NaN, std 0, n 0.
Summary summarize(const std::vector<double>& values);

// "0.795 ± 0.024" — or "0.795" alone when s.n == 1, since one run has no spread to show.
// With `sign`, a non-negative mean gets a '+': "+0.206 ± 0.041".
std::string mean_std(const Summary& s, int digits = 3, bool sign = false);

}  // namespace focalgrad::report
