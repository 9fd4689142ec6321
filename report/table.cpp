// table.cpp — Markdown and CSV rendering, number formatting, mean and sample std.
#include <cmath>
#include <iomanip>
#include <sstream>

#include <focalgrad/core/error.h>
#include <focalgrad/report/table.h>

namespace focalgrad::report {

Table& Table::add(std::vector<std::string> row) {
    FG_CHECK(row.size() == header.size(), "Table::add: a row of ", row.size(), " cells for ", header.size(),
             " columns");
    rows.push_back(std::move(row));
    return *this;
}

namespace {

std::string markdown_cell(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '|')
            out += "\\|";
        else if (c == '\n' || c == '\r')
            out += ' ';
        else
            out += c;
    }
    return out;
}

void markdown_row(std::ostringstream& os, const std::vector<std::string>& cells) {
    os << "|";
    for (const std::string& c : cells) os << " " << markdown_cell(c) << " |";
    os << "\n";
}

std::string csv_field(const std::string& text) {
    bool quote = !text.empty() && (text.front() == ' ' || text.back() == ' ');
    for (char c : text) quote = quote || c == ',' || c == '"' || c == '\n' || c == '\r';
    if (!quote) return text;
    std::string out = "\"";
    for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

void csv_row(std::ostringstream& os, const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) os << (i ? "," : "") << csv_field(cells[i]);
    os << "\n";
}

}  // namespace

std::string to_markdown(const Table& table) {
    FG_CHECK(!table.header.empty(), "to_markdown: the table has no columns");
    FG_CHECK(table.align.empty() || table.align.size() == table.header.size(),
             "to_markdown: ", table.align.size(), " alignments for ", table.header.size(), " columns");
    std::ostringstream os;
    markdown_row(os, table.header);
    os << "|";
    for (size_t c = 0; c < table.header.size(); ++c) {
        Align a = table.align.empty() ? Align::none : table.align[c];
        os << (a == Align::left || a == Align::centre ? ":" : "") << "---"
           << (a == Align::right || a == Align::centre ? ":" : "") << "|";
    }
    os << "\n";
    for (const auto& row : table.rows) markdown_row(os, row);
    return os.str();
}

std::string to_csv(const Table& table) {
    FG_CHECK(!table.header.empty(), "to_csv: the table has no columns");
    std::ostringstream os;
    csv_row(os, table.header);
    for (const auto& row : table.rows) csv_row(os, row);
    return os.str();
}

std::string fixed(double v, int digits) {
    std::ostringstream os;
    os << std::fixed << std::setprecision(digits) << v;
    return os.str();
}

Summary summarize(const std::vector<double>& values) {
    Summary s;
    s.n = values.size();
    for (double x : values) s.mean += x;
    s.mean /= double(values.size());  // NaN for no values
    if (values.size() > 1) {
        double ss = 0;
        for (double x : values) ss += (x - s.mean) * (x - s.mean);
        s.std = std::sqrt(ss / double(values.size() - 1));
    }
    return s;
}

std::string mean_std(const Summary& s, int digits, bool sign) {
    std::string out = (sign && s.mean >= 0 ? "+" : "") + fixed(s.mean, digits);
    return s.n == 1 ? out : out + " ± " + fixed(s.std, digits);
}

}  // namespace focalgrad::report
