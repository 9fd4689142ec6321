// fuzz_image.cpp — libFuzzer target: load_image_from_memory (stb_image decoding of every
// format it reads, then luma, alpha, resizing and inversion).
// The input format and the checks are fgfuzz::image in entries.h; `make fuzz` runs this.
#include "entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return fgfuzz::fuzz_one(fgfuzz::image, data, size);
}
