// fuzz_csv.cpp — libFuzzer target: load_csv of a table.
// The input format and the checks are fgfuzz::csv in entries.h; `make fuzz` runs this.
#include "entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return fgfuzz::fuzz_one(fgfuzz::csv, data, size);
}
