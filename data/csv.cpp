// csv.cpp — the CSV reader: lines, quoted cells, the header decision, numbers parsed
// with std::from_chars (independent of the C locale, unlike strtod), labels to classes.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <string_view>
#include <vector>

#include <focalgrad/core/error.h>
#include <focalgrad/core/io.h>
#include <focalgrad/data/csv.h>

namespace focalgrad {

namespace {

constexpr int64_t kMaxFileBytes = int64_t(1) << 30;  // a table worth training a toy model on
constexpr int kMaxIntegerLabel = 1000;

// A cell as messages show it (printable: control bytes escaped), cut to 40 bytes.
std::string shown(std::string_view text) { return printable(text, 40); }

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// One line split into cells: "a, b" -> {"a", "b"}; "\"x,y\"" -> {"x,y"}; "\"say \"\"hi\"\"\"" ->
// {"say \"hi\""}. Returns "" or what is wrong, with the 1-based column where it is.
std::string split_cells(std::string_view line, char delimiter, std::vector<std::string>& cells) {
    cells.clear();
    size_t i = 0;
    for (;;) {
        const int column = int(cells.size()) + 1;
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t') && line[i] != delimiter) ++i;
        std::string cell;
        if (i < line.size() && line[i] == '"') {
            ++i;
            for (;;) {
                if (i >= line.size())
                    return str("column ", column, ": a quoted cell is not closed on its line");
                if (line[i] == '"') {
                    if (i + 1 < line.size() && line[i + 1] == '"') {
                        cell += '"';
                        i += 2;
                        continue;
                    }
                    ++i;
                    break;
                }
                cell += line[i++];
            }
            while (i < line.size() && (line[i] == ' ' || line[i] == '\t') && line[i] != delimiter) ++i;
            if (i < line.size() && line[i] != delimiter)
                return str("column ", column, ": '", shown(line.substr(i, 10)), "' follows a closing quote");
        } else {
            size_t end = line.find(delimiter, i);
            if (end == std::string_view::npos) end = line.size();
            cell = std::string(trim(line.substr(i, end - i)));
            i = end;
        }
        cells.push_back(std::move(cell));
        if (i >= line.size()) return "";
        ++i;  // the delimiter
    }
}

// A finite number, the whole cell: "1.5", "-2e3", "+0.25", ".5". Not "nan", "inf", "0x1p3".
bool parse_number(const std::string& cell, float& value) {
    const char* begin = cell.data();
    const char* end = begin + cell.size();
    if (begin != end && *begin == '+') {  // from_chars takes no plus sign
        ++begin;
        if (begin == end || !((*begin >= '0' && *begin <= '9') || *begin == '.')) return false;
    }
    double v = 0.0;
    auto [ptr, ec] = std::from_chars(begin, end, v, std::chars_format::general);
    if (ec != std::errc() || ptr != end || !std::isfinite(v)) return false;
    if (std::fabs(v) > double(std::numeric_limits<float>::max())) return false;
    value = float(v);
    return true;
}

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

struct Line {
    int64_t number;  // 1-based
    std::string_view text;
};

// The non-blank lines, CRLF or LF ended.
std::vector<Line> split_lines(const char* text, size_t size) {
    std::vector<Line> lines;
    std::string_view all(text, size);
    int64_t number = 0;
    for (size_t pos = 0; pos < all.size();) {
        size_t end = all.find('\n', pos);
        if (end == std::string_view::npos) end = all.size();
        std::string_view line = all.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        ++number;
        if (!trim(line).empty()) lines.push_back({number, line});
        pos = end + 1;
    }
    return lines;
}

}  // namespace

TensorDataset parse_csv(const char* text, size_t size, const std::string& name, const CsvOptions& options) {
    const std::string where = "load_csv: " + name;
    FG_CHECK(text || size == 0, where, ": text is null but size is ", size);
    FG_CHECK(options.delimiter != '"' && options.delimiter != '\n' && options.delimiter != '\r' &&
                 options.delimiter != '\0',
             where, ": the delimiter cannot be a quote, a line break or NUL");
    const std::vector<Line> lines = split_lines(text, size);
    FG_CHECK(!lines.empty(), where, ": the file is empty", size > 0 ? " (only blank lines)" : "");

    std::vector<std::string> cells;
    auto split = [&](const Line& line) {
        std::string problem = split_cells(line.text, options.delimiter, cells);
        FG_CHECK(problem.empty(), where, ":", line.number, ": ", problem);
    };
    split(lines[0]);
    const std::vector<std::string> first = cells;
    const int64_t columns = int64_t(first.size());
    FG_CHECK(columns >= 2 || options.unlabelled, where, ":", lines[0].number, ": one column ('",
             shown(first[0]), "'); a table needs at least one feature column and a label column",
             options.delimiter == ',' ? " (is the delimiter something other than ','?)" : "");
    FG_CHECK(!options.unlabelled || options.label_column.empty(), where,
             ": a label column is named, but the table is read as unlabelled");

    // The label column as a 0-based index, given by name (needs the header) or 1-based number.
    const std::string& wanted = options.label_column;
    const bool by_number = wanted.empty() || all_digits(wanted);
    auto number_to_index = [&]() -> int64_t {
        if (options.unlabelled) return -1;
        if (wanted.empty()) return columns - 1;
        FG_CHECK(wanted.size() <= 9 && std::stoll(wanted) >= 1 && std::stoll(wanted) <= columns, where,
                 ": label column ", wanted, " does not exist: the table has columns 1 to ", columns);
        return std::stoll(wanted) - 1;
    };

    bool header = options.header == CsvHeader::yes;
    if (options.header == CsvHeader::detect) {
        if (!by_number) {
            header = true;
        } else {
            const int64_t label = number_to_index();
            float unused;
            for (int64_t c = 0; c < columns && !header; ++c)
                header = c != label && !parse_number(first[size_t(c)], unused);
        }
    }
    int64_t label = -1;
    if (options.unlabelled) {
    } else if (header) {
        for (int64_t c = 0; c < columns && label < 0 && !wanted.empty(); ++c)
            if (first[size_t(c)] == wanted) label = c;
        if (label < 0 && by_number) label = number_to_index();
        if (label < 0) {
            std::string names;
            for (int64_t c = 0; c < columns && c < 20; ++c)
                names += (c ? ", " : "") + ("'" + shown(first[size_t(c)]) + "'");
            if (columns > 20) names += str(", ... (", columns, " columns)");
            throw Error(str(where, ": no column is named '", shown(wanted), "'; the header (line ",
                            lines[0].number, ") has ", names));
        }
    } else {
        FG_CHECK(by_number, where, ": the label column '", shown(wanted),
                 "' is a name, but the file has no header line (the first line is all numbers)");
        label = number_to_index();
    }
    auto column_name = [&](int64_t c) {
        return header ? str("column ", c + 1, " ('", shown(first[size_t(c)]), "')") : str("column ", c + 1);
    };

    TensorDataset data;
    data.name = name;
    data.item_shape = Shape{options.unlabelled ? columns : columns - 1};
    std::vector<std::string> label_texts;
    for (size_t k = header ? 1 : 0; k < lines.size(); ++k) {
        const Line& line = lines[k];
        split(line);
        FG_CHECK(int64_t(cells.size()) == columns, where, ":", line.number, ": ", cells.size(),
                 cells.size() == 1 ? " cell" : " cells", ", but line ", lines[0].number, " has ", columns,
                 " (a ragged row)");
        for (int64_t c = 0; c < columns; ++c) {
            const std::string& cell = cells[size_t(c)];
            if (c == label) {
                FG_CHECK(!cell.empty(), where, ":", line.number, ": ", column_name(c),
                         ": the label is empty");
                label_texts.push_back(cell);
                continue;
            }
            float v = 0.0f;
            FG_CHECK(!cell.empty(), where, ":", line.number, ": ", column_name(c),
                     ": the cell is empty (missing values are not supported)");
            FG_CHECK(parse_number(cell, v), where, ":", line.number, ": ", column_name(c), ": '", shown(cell),
                     "' is not a finite number");
            data.values.push_back(v);
        }
        if (options.unlabelled) label_texts.push_back("0");
    }
    FG_CHECK(!label_texts.empty(), where, ": the file has a header (line ", lines[0].number,
             ") but no data rows");

    // Integer labels are the classes themselves; any other text makes text classes.
    if (options.unlabelled) {
        data.labels.assign(label_texts.size(), 0);
        data.class_names = {"unlabelled"};
        return data;
    }
    const bool integers = std::all_of(label_texts.begin(), label_texts.end(), [](const std::string& t) {
        return all_digits(t) && t.size() <= 4 && std::stoi(t) <= kMaxIntegerLabel;
    });
    if (integers) {
        int top = 0;
        for (const std::string& t : label_texts) {
            data.labels.push_back(std::stoi(t));
            top = std::max(top, data.labels.back());
        }
        for (int c = 0; c <= top; ++c) data.class_names.push_back(std::to_string(c));
    } else {
        std::map<std::string, int> classes;
        for (const std::string& t : label_texts) classes.emplace(t, 0);
        for (auto& [text_of_class, index] : classes) {
            index = int(data.class_names.size());
            data.class_names.push_back(text_of_class);
        }
        for (const std::string& t : label_texts) data.labels.push_back(classes[t]);
    }
    return data;
}

TensorDataset load_csv(const std::string& path, const CsvOptions& options) {
    InputFile file(path, "load_csv");  // a regular file: a FIFO or a device is refused unopened
    FG_CHECK(file.size() <= uint64_t(kMaxFileBytes), "load_csv: ", path, ": ", file.size(),
             " bytes is more than the ", kMaxFileBytes, "-byte limit for a CSV table");
    std::vector<char> bytes(static_cast<size_t>(file.size()));
    FG_CHECK(file.read(bytes.data(), bytes.size()) == bytes.size(), "load_csv: ", path,
             ": read error (the file changed size while being read?)");
    return parse_csv(bytes.data(), bytes.size(), path, options);
}

}  // namespace focalgrad
