// fuzz_idx.cpp — libFuzzer target: read_idx on raw and gzip IDX files.
// The input format and the checks are fgfuzz::idx in entries.h; `make fuzz` runs this.
#include "entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return fgfuzz::fuzz_one(fgfuzz::idx, data, size);
}
