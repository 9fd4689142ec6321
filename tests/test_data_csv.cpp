// test_data_csv.cpp — load_csv: good tables (header or not, label by name or number, text
// or integer labels, quotes, CRLF, blank lines, other delimiters) give exact values and
// classes; every malformed file gives an error naming the file, the line and the column.
#include <sys/stat.h>

#include <doctest/doctest.h>
#include <fstream>
#include <string>

#include <focalgrad/data/csv.h>

#include "helpers.h"

using namespace focalgrad;
using fgtest::TempDir;

namespace {

std::string write_text(const TempDir& dir, const std::string& name, const std::string& text) {
    std::string path = dir / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

TensorDataset parse(const std::string& text, const CsvOptions& options = {}) {
    return parse_csv(text.data(), text.size(), "t.csv", options);
}

std::string parse_error(const std::string& text, const CsvOptions& options = {}) {
    return fgtest::error_of([&] { parse(text, options); });
}

}  // namespace

TEST_CASE("load_csv: a header, text labels by name, exact values, sorted class names") {
    TempDir dir;
    std::string path = write_text(dir, "pets.csv",
                                  "weight, species ,height\n"
                                  "4.5,cat,0.25\n"
                                  "30,dog,-0.5\n"
                                  "\n"
                                  "+3.25e1,  dog ,1E-3\n"
                                  "5,\"cat\",.5\n");
    CsvOptions opt;
    opt.label_column = "species";
    TensorDataset d = load_csv(path, opt);
    CHECK(d.name == path);
    CHECK(d.item_shape == Shape{2});
    CHECK(d.size() == 4);
    CHECK(d.class_names == std::vector<std::string>{"cat", "dog"});
    CHECK(d.labels == std::vector<int>{0, 1, 1, 0});
    CHECK(d.values == std::vector<float>{4.5f, 0.25f, 30.0f, -0.5f, 32.5f, 0.001f, 5.0f, 0.5f});
    // The same by column number (2), and as the default last column after moving it.
    opt.label_column = "2";
    CHECK(load_csv(path, opt).labels == d.labels);
    TensorDataset last = parse("a,b,y\n1,2,dog\n3,4,cat\n");
    CHECK(last.class_names == std::vector<std::string>{"cat", "dog"});
    CHECK(last.labels == std::vector<int>{1, 0});
    CHECK(last.values == std::vector<float>{1, 2, 3, 4});
}

TEST_CASE("load_csv: no header, integer labels become classes 0 .. max") {
    TensorDataset d = parse("0.5,1.5,2\r\n-1,2,0\r\n3,4,2\r\n");  // CRLF line ends
    CHECK(d.item_shape == Shape{2});
    CHECK(d.labels == std::vector<int>{2, 0, 2});
    CHECK(d.class_names == std::vector<std::string>{"0", "1", "2"});  // class 1 is kept, empty
    CHECK(d.values == std::vector<float>{0.5f, 1.5f, -1, 2, 3, 4});
    // The label in the first column, detected header with integer labels.
    TensorDataset h = parse("label,x\n1,0.25\n0,0.75\n", {"1", CsvHeader::detect, ','});
    CHECK(h.labels == std::vector<int>{1, 0});
    CHECK(h.values == std::vector<float>{0.25f, 0.75f});
    // -1 / +1 labels are text classes, sorted by text.
    TensorDataset pm = parse("1,-1\n2,1\n3,-1\n");
    CHECK(pm.class_names == std::vector<std::string>{"-1", "1"});
    CHECK(pm.labels == std::vector<int>{0, 1, 0});
    // Forcing a header makes a numeric first line the header.
    TensorDataset forced = parse("1,2\n3,0\n", {"", CsvHeader::yes, ','});
    CHECK(forced.size() == 1);
    CHECK(forced.values == std::vector<float>{3});
    // Another delimiter, and quoted cells holding it and quotes.
    TensorDataset semi = parse("x;name\n1.5;\"a;\"\"b\"\"\"\n2;c\n", {"", CsvHeader::detect, ';'});
    CHECK(semi.class_names == std::vector<std::string>{"a;\"b\"", "c"});
    CHECK(parse_error("x;name\n1,5;a\n", {"", CsvHeader::detect, ';'}) ==
          "load_csv: t.csv:2: column 1 ('x'): '1,5' is not a finite number");
}

TEST_CASE("load_csv: an unlabelled table: every column a feature") {
    CsvOptions opt;
    opt.unlabelled = true;
    TensorDataset d = parse("x,y\n1,2\n3,4\n", opt);
    CHECK(d.item_shape == Shape{2});
    CHECK(d.values == std::vector<float>{1, 2, 3, 4});
    CHECK(d.labels == std::vector<int>{0, 0});
    CHECK(d.class_names == std::vector<std::string>{"unlabelled"});
    CHECK(parse("5\n6\n", opt).item_shape == Shape{1});  // one column is fine without labels
    opt.label_column = "y";
    CHECK(parse_error("x,y\n1,2\n", opt) ==
          "load_csv: t.csv: a label column is named, but the table is read as unlabelled");
}

TEST_CASE("load_csv: a bad cell names the file, the line and the column") {
    CHECK(parse_error("a,b,y\n1,2,0\n3,x7,1\n") ==
          "load_csv: t.csv:3: column 2 ('b'): 'x7' is not a finite number");
    CHECK(parse_error("1,2,0\n3,abc,1\n") == "load_csv: t.csv:2: column 2: 'abc' is not a finite number");
    CHECK(parse_error("a,b,y\n1,nan,0\n") ==
          "load_csv: t.csv:2: column 2 ('b'): 'nan' is not a finite number");
    CHECK(parse_error("a,b,y\n1,-inf,0\n") ==
          "load_csv: t.csv:2: column 2 ('b'): '-inf' is not a finite number");
    CHECK(parse_error("a,b,y\n1,1e39,0\n") ==
          "load_csv: t.csv:2: column 2 ('b'): '1e39' is not a finite number");
    CHECK(parse_error("a,b,y\n1,+-2,0\n") ==
          "load_csv: t.csv:2: column 2 ('b'): '+-2' is not a finite number");
    CHECK(parse_error("a,b,y\n1,,0\n") ==
          "load_csv: t.csv:2: column 2 ('b'): the cell is empty (missing values are not supported)");
    CHECK(parse_error("a,b,y\n1,2, \n") == "load_csv: t.csv:2: column 3 ('y'): the label is empty");
    CHECK(parse_error("a,b,y\n1,\"2,0\n") ==
          "load_csv: t.csv:2: column 2: a quoted cell is not closed on its line");
    CHECK(parse_error("a,b,y\n1,\"2\"x,0\n") == "load_csv: t.csv:2: column 2: 'x,0' follows a closing quote");
    // Control bytes in a cell are shown escaped, never raw.
    CHECK(parse_error(std::string("a,b,y\n1,\x01\x1b[2J,0\n")) ==
          "load_csv: t.csv:2: column 2 ('b'): '\\x01\\x1b[2J' is not a finite number");
}

TEST_CASE("load_csv: ragged rows, empty files and impossible label columns") {
    CHECK(parse_error("a,b,y\n1,2,0\n\n3,4\n") ==
          "load_csv: t.csv:4: 2 cells, but line 1 has 3 (a ragged row)");
    CHECK(parse_error("1,2,0\n3,4,5,6\n") == "load_csv: t.csv:2: 4 cells, but line 1 has 3 (a ragged row)");
    CHECK(parse_error("") == "load_csv: t.csv: the file is empty");
    CHECK(parse_error("\n \r\n\n") == "load_csv: t.csv: the file is empty (only blank lines)");
    CHECK(parse_error("a,b,y\n") == "load_csv: t.csv: the file has a header (line 1) but no data rows");
    CHECK(parse_error("1\n2\n") ==
          "load_csv: t.csv:1: one column ('1'); a table needs at least one feature column and a label column "
          "(is the delimiter something other than ','?)");
    CsvOptions opt;
    opt.label_column = "kind";
    CHECK(parse_error("a,b,y\n1,2,0\n", opt) ==
          "load_csv: t.csv: no column is named 'kind'; the header (line 1) has 'a', 'b', 'y'");
    opt.label_column = "4";
    CHECK(parse_error("a,b,y\n1,2,0\n", opt) ==
          "load_csv: t.csv: label column 4 does not exist: the table has columns 1 to 3");
    opt.label_column = "0";
    CHECK(parse_error("1,2,0\n", opt) ==
          "load_csv: t.csv: label column 0 does not exist: the table has columns 1 to 3");
    opt.label_column = "y";
    opt.header = CsvHeader::no;
    CHECK(parse_error("1,2,0\n", opt) ==
          "load_csv: t.csv: the label column 'y' is a name, but the file has no header line (the first line "
          "is all "
          "numbers)");
}

TEST_CASE("load_csv: files that are missing, not regular or too strange are refused before reading") {
    TempDir dir;
    CHECK_ERROR(load_csv(dir / "none.csv"), "load_csv: ", "none.csv: no such file");
    CHECK_ERROR(load_csv(dir.path()), "load_csv: ", ": not a regular file");
    std::string fifo = dir / "pipe.csv";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK_ERROR(load_csv(fifo), "pipe.csv: not a regular file");  // returns, never waits for a writer
    std::string binary = write_text(dir, "model.ckpt", std::string("FOCALGRD\x01\0\0\0\x02\0\0\0", 16));
    CHECK_ERROR(load_csv(binary), "model.ckpt:1: one column");
}
