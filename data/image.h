// image.h — user images in, PNG files out. load_image reads PNG, JPEG, BMP, GIF and binary
// PGM/PPM (stb_image, after checks of its own: a truncated file of any of them is refused,
// a PGM/PPM with maxval < 255 rescaled) as a grayscale (or RGB) float image resized to 28 x 28 or any size
// (stb_image_resize), ready to feed a model trained on MNIST or on an image folder;
// save_png writes a PNG atomically (stb_image_write), and encode_png gives the same
// bytes in memory (for an SVG that embeds an image).
// Not here: MNIST's own preprocessing (fitting the digit in a 20 x 20 box and centring
// it by mass), colour spaces other than sRGB values taken as they are, other output formats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <focalgrad/core/tensor.h>

namespace focalgrad {

// MNIST digits are white on black; photos and scans of ink on paper are the opposite.
enum class Invert {
    no,
    yes,
    if_light_background,  // invert when the mean of the border pixels is above 0.5
};

struct ImageOptions {
    int width = 28;  // output size; when it equals the file's size, pixels are not resampled
    int height = 28;
    Invert invert = Invert::no;
    // 1: grey, a [height, width] tensor; 3: RGB, a [3, height, width] tensor (channels
    // first, as conv2d takes them). Grey files give three equal channels.
    int channels = 1;
    // Larger images are refused before decoding. At most 2^25 (an 8k x 4k photo); a server
    // reading uploads may want less: a 140-byte BMP can announce 10 million pixels.
    int64_t max_pixels = int64_t(1) << 25;
};

// The image as a [height, width] (grey) or [3, height, width] (RGB) tensor in [0, 1],
// 0 = black. For grey, colour becomes luma (0.30 R + 0.59 G + 0.11 B, stb_image's
// integer weights); transparent pixels count as white paper. Shrinking averages the
// covered pixels (a box filter, which is how a digit's strokes keep their ink);
// enlarging interpolates linearly.
Tensor load_image(const std::string& path, const ImageOptions& options = {});

// The same from an image file's bytes in memory (an upload, an archive member, a fuzzer's
// input). load_image reads the file and calls this.
Tensor load_image_from_memory(const uint8_t* bytes, size_t size, const ImageOptions& options = {});

// Writes 8-bit pixels, row-major [height][width][channels] with channels 1 (grey),
// 2 (grey + alpha), 3 (RGB) or 4 (RGBA), as a PNG. Atomic: the PNG is written to a
// temporary file next to `path` and renamed over it, so `path` is never half-written.
void save_png(const std::string& path, const uint8_t* pixels, int width, int height, int channels);

// The bytes of the PNG file save_png would write for the same pixels.
std::vector<uint8_t> encode_png(const uint8_t* pixels, int width, int height, int channels);

// A [H, W] (grey) or [H, W, C] (C = 1, 3, 4) tensor with values in [0, 1], as a PNG; each
// value becomes round(255 * clamp(v, 0, 1)).
void save_png(const std::string& path, const Tensor& image);

}  // namespace focalgrad
