// csv.h — a CSV table of numeric features and one label column as a TensorDataset of
// items [D]. Cells are separated by a delimiter (',' by default), may be quoted ("a,b",
// with "" for a quote inside), and are trimmed of spaces; blank lines are skipped; CRLF
// line ends are fine. Every error names the file, the line and the column.
// Not here: missing values (an empty cell is an error), quoted line breaks, categorical
// features (every column but the label must be a number), type inference per column.
#pragma once

#include <cstddef>
#include <string>

#include <focalgrad/data/tensor_dataset.h>

namespace focalgrad {

enum class CsvHeader {
    detect,  // the first line is a header when one of its feature cells is not a number
    yes,
    no,
};

struct CsvOptions {
    // The label column: a name from the header, else a column number written in digits,
    // counted from 1 as in the error messages ("1" is the first column, as for cut -f);
    // empty means the last column.
    std::string label_column;
    CsvHeader header = CsvHeader::detect;
    char delimiter = ',';
    // Every column is a feature (rows to classify): the labels are all 0, of one class
    // named "unlabelled"; label_column must then be empty.
    bool unlabelled = false;
};

// Labels: when every label cell is an integer in [0, 1000], label = that integer and the
// classes are 0 .. the largest one, named "0", "1", ... (a class the file never uses is
// kept, empty). Otherwise each distinct label text is a class, the classes sorted by text
// (byte order) and named by it: "cat" < "dog", and "-1" < "1" for a -1/+1 file.
// Features must be finite numbers ("nan", "inf" and hex floats are refused).
TensorDataset load_csv(const std::string& path, const CsvOptions& options = {});

// The same from the file's text in memory; `name` (a file name) starts every message.
TensorDataset parse_csv(const char* text, size_t size, const std::string& name,
                        const CsvOptions& options = {});

}  // namespace focalgrad
