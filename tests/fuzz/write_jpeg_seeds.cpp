// write_jpeg_seeds.cpp — writes the JPEG seeds of the image fuzz target, for make_corpus.py
// (Python's standard library has no JPEG encoder; stb_image_write has a baseline one).
// Three tiny images: grey; colour at quality 50 (stb subsamples chroma 2 x 2); colour at
// quality 95 (full-resolution chroma). Not here: progressive JPEG (no encoder at hand).
//   usage: write_jpeg_seeds DIR      writes DIR/grey.jpg, DIR/rgb-q50.jpg, DIR/rgb-q95.jpg
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <cstdio>
#include <stb/stb_image_write.h>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    // 17 x 11: not a multiple of the 8 x 8 (or 16 x 16) blocks, so edge blocks are partial.
    const int w = 17, h = 11;
    std::vector<unsigned char> grey(size_t(w * h)), rgb(size_t(w * h * 3));
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const int i = y * w + x;
            grey[size_t(i)] = (unsigned char)((x * 255) / (w - 1) ^ (y * 16));
            rgb[size_t(3 * i)] = (unsigned char)(x * 15);
            rgb[size_t(3 * i + 1)] = (unsigned char)(y * 23);
            rgb[size_t(3 * i + 2)] = (unsigned char)((x + y) % 2 ? 220 : 30);
        }
    bool ok = stbi_write_jpg((dir + "/grey.jpg").c_str(), w, h, 1, grey.data(), 90) &&
              stbi_write_jpg((dir + "/rgb-q50.jpg").c_str(), w, h, 3, rgb.data(), 50) &&
              stbi_write_jpg((dir + "/rgb-q95.jpg").c_str(), w, h, 3, rgb.data(), 95);
    if (!ok) std::fprintf(stderr, "write_jpeg_seeds: writing to %s failed\n", dir.c_str());
    return ok ? 0 : 1;
}
