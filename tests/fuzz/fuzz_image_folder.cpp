// fuzz_image_folder.cpp — libFuzzer target: load_image_folder of a tree of image files.
// The input format and the checks are fgfuzz::image_folder in entries.h; `make fuzz` runs this.
#include "entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return fgfuzz::fuzz_one(fgfuzz::image_folder, data, size);
}
