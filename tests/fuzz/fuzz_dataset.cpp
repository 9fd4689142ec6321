// fuzz_dataset.cpp — libFuzzer target: load_idx_dataset on an image file and a label
// file, both from one input (the count match and the label range checks).
// The input format and the checks are fgfuzz::dataset in entries.h; `make fuzz` runs this.
#include "entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return fgfuzz::fuzz_one(fgfuzz::dataset, data, size);
}
