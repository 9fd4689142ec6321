// fuzz_checkpoint.cpp — libFuzzer target: load() of a checkpoint into a small model.
// The input format and the checks are fgfuzz::checkpoint in entries.h; `make fuzz` runs this.
#include "entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return fgfuzz::fuzz_one(fgfuzz::checkpoint, data, size);
}
