// test_data_image.cpp — load_image reads back PNGs this test writes with stb_image_write:
// exact values without resizing, box averages when halving, constants kept when
// resampling; colour, alpha and inversion rules; clear errors; atomic save_png.
#include <cmath>
#include <cstdint>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <focalgrad/data/image.h>

#include "helpers.h"
#include "test_data_helpers.h"

using namespace focalgrad;
using fgtest::Bytes;
using fgtest::TempDir;

namespace {

std::string write_png(const TempDir& dir, const std::string& name, const Bytes& pixels, int w, int h,
                      int channels) {
    std::string path = dir / name;
    REQUIRE(stbi_write_png(path.c_str(), w, h, channels, pixels.data(), w * channels));
    return path;
}

Bytes read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

size_t files_in(const std::string& dir) {
    size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) n += entry.is_regular_file();
    return n;
}

}  // namespace

TEST_CASE("load_image reads a 28 x 28 grey PNG back exactly") {
    TempDir dir;
    Bytes pixels = fgtest::pattern_bytes(28 * 28, 9);
    pixels[0] = 0;
    pixels[1] = 255;
    std::string path = write_png(dir, "digit.png", pixels, 28, 28, 1);
    Tensor img = load_image(path);
    REQUIRE(img.shape() == Shape{28, 28});
    for (int i = 0; i < 28 * 28; ++i) {
        CAPTURE(i);
        CHECK(img.data()[i] == float(pixels[size_t(i)]) / 255.0f);
    }
    ImageOptions invert;
    invert.invert = Invert::yes;
    Tensor inv = load_image(path, invert);
    for (int i = 0; i < 28 * 28; ++i) CHECK(inv.data()[i] == 1.0f - img.data()[i]);
}

TEST_CASE("load_image: colour becomes stb_image's integer luma, transparency becomes white") {
    TempDir dir;
    // RGB: the documented weights (77 R + 150 G + 29 B) >> 8.
    Bytes rgb = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 200, 90};
    Tensor c = load_image(write_png(dir, "rgb.png", rgb, 2, 2, 3), {2, 2, Invert::no});
    for (int i = 0; i < 4; ++i) {
        int r = rgb[size_t(3 * i)], g = rgb[size_t(3 * i + 1)], b = rgb[size_t(3 * i + 2)];
        CHECK(c.data()[i] == float((77 * r + 150 * g + 29 * b) >> 8) / 255.0f);
    }
    // Grey + alpha over white paper: v = (g a + 255 (255 - a)) / 255^2.
    Bytes ga = {0, 0, 0, 255, 100, 51, 255, 128};
    Tensor t = load_image(write_png(dir, "ga.png", ga, 2, 2, 2), {2, 2, Invert::no});
    CHECK(t.data()[0] == 1.0f);  // fully transparent
    CHECK(t.data()[1] == 0.0f);  // opaque black
    CHECK(t.data()[2] == doctest::Approx((100.0 * 51 + 255.0 * 204) / 65025.0).epsilon(1e-6));
    CHECK(t.data()[3] == doctest::Approx((255.0 * 128 + 255.0 * 127) / 65025.0).epsilon(1e-6));
}

TEST_CASE("load_image: halving is an exact 2 x 2 average; resampling keeps a constant") {
    TempDir dir;
    Bytes big = fgtest::pattern_bytes(56 * 56, 10);
    Tensor half = load_image(write_png(dir, "big.png", big, 56, 56, 1));
    REQUIRE(half.shape() == Shape{28, 28});
    for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x) {
            double sum = 0.0;
            for (int dy = 0; dy < 2; ++dy)
                for (int dx = 0; dx < 2; ++dx) sum += big[size_t((2 * y + dy) * 56 + 2 * x + dx)];
            CAPTURE(x);
            CAPTURE(y);
            CHECK(half.at({y, x}) == doctest::Approx(sum / 4.0 / 255.0).epsilon(1e-5));
        }
    // Box and triangle weights sum to 1: shrinking, enlarging, or both, a flat grey stays
    // the same grey.
    for (auto [w, h] : {std::pair{40, 30}, std::pair{9, 13}, std::pair{100, 7}}) {
        CAPTURE(w);
        CAPTURE(h);
        Tensor flat = load_image(write_png(dir, "flat.png", Bytes(size_t(w * h), 77), w, h, 1));
        REQUIRE(flat.shape() == Shape{28, 28});
        for (int64_t i = 0; i < flat.numel(); ++i)
            CHECK(flat.data()[i] == doctest::Approx(77.0 / 255.0).epsilon(1e-5));
    }
    // Other output sizes; values stay in [0, 1].
    ImageOptions opt;
    opt.width = 5;
    opt.height = 3;
    Tensor small = load_image(dir / "big.png", opt);
    CHECK(small.shape() == Shape{3, 5});
    for (float v : small.to_vector()) CHECK((v >= 0.0f && v <= 1.0f));
}

TEST_CASE("load_image: Invert::if_light_background inverts ink on paper, not MNIST style") {
    TempDir dir;
    Bytes paper(28 * 28, 240), night(28 * 28, 0);
    for (int i = 300; i < 320; ++i) {
        paper[size_t(i)] = 10;   // dark stroke on light paper
        night[size_t(i)] = 250;  // light stroke on black
    }
    ImageOptions opt;
    opt.invert = Invert::if_light_background;
    Tensor a = load_image(write_png(dir, "paper.png", paper, 28, 28, 1), opt);
    Tensor b = load_image(write_png(dir, "night.png", night, 28, 28, 1), opt);
    CHECK(a.data()[0] == 1.0f - 240.0f / 255.0f);
    CHECK(a.data()[310] == 1.0f - 10.0f / 255.0f);
    CHECK(b.data()[0] == 0.0f);
    CHECK(b.data()[310] == 250.0f / 255.0f);
}

TEST_CASE("load_image: missing, unreadable and damaged files are clear errors") {
    TempDir dir;
    CHECK_ERROR(load_image(dir / "none.png"), "load_image: ", dir / "none.png", "no such file");
    CHECK_ERROR(load_image(dir.path()), dir.path(), "not a regular file");
    fgtest::write_file(dir / "text.png", {'h', 'e', 'l', 'l', 'o'});
    CHECK_ERROR(load_image(dir / "text.png"), dir / "text.png", "cannot read it as an image",
                "supported formats: PNG, JPEG");
    fgtest::write_file(dir / "empty.jpg", {});
    CHECK_ERROR(load_image(dir / "empty.jpg"), dir / "empty.jpg", "cannot read it as an image");
    // A PNG cut short after its header: recognised, but it cannot be decoded.
    Bytes png = read_file(write_png(dir, "ok.png", fgtest::pattern_bytes(64 * 64, 3), 64, 64, 1));
    fgtest::write_file(dir / "cut.png", Bytes(png.begin(), png.begin() + long(png.size() / 2)));
    CHECK_ERROR(load_image(dir / "cut.png"), dir / "cut.png", "corrupt PNG: the chunk at byte",
                "longer than the rest of the file");
    ImageOptions bad;
    bad.width = 0;
    CHECK_ERROR(load_image(dir / "ok.png", bad), "output size must be between 1 x 1");
}

TEST_CASE("load_image: 16-bit PGM and PPM files are refused, 8-bit ones read exactly") {
    // The stb_image in use reads 16-bit PNM samples byte-swapped, and asking it for 2
    // channels of one read past its buffer (found by the fuzz corpus under ASan).
    auto pnm = [](const char* magic, int w, int h, int maxval, const Bytes& samples) {
        std::string head = std::string(magic) + "\n" + std::to_string(w) + " " + std::to_string(h) + "\n" +
                           std::to_string(maxval) + "\n";
        Bytes b(head.begin(), head.end());
        b.insert(b.end(), samples.begin(), samples.end());
        return b;
    };
    for (std::string magic : {"P5", "P6"}) {
        CAPTURE(magic);
        Bytes wide = pnm(magic.c_str(), 2, 1, 65535, Bytes(magic == "P5" ? 4 : 12, 0x12));
        CHECK_ERROR(load_image_from_memory(wide.data(), wide.size()),
                    "load_image_from_memory: PGM/PPM file: maxval is 65535",
                    "16-bit PGM/PPM files are not supported");
    }
    const Bytes grey = {0, 0x12, 0xFF, 0x80, 0x01, 0xAB};
    Bytes pgm = pnm("P5", 3, 2, 255, grey);
    Tensor g = load_image_from_memory(pgm.data(), pgm.size(), {3, 2, Invert::no});
    for (size_t i = 0; i < grey.size(); ++i) CHECK(g.data()[i] == float(grey[i]) / 255.0f);
    const Bytes rgb = {255, 0, 0, 0x10, 0x20, 0x30};
    Bytes ppm = pnm("P6", 2, 1, 255, rgb);
    Tensor c = load_image_from_memory(ppm.data(), ppm.size(), {2, 1, Invert::no});
    for (int i = 0; i < 2; ++i) {
        int r = rgb[size_t(3 * i)], gr = rgb[size_t(3 * i + 1)], b = rgb[size_t(3 * i + 2)];
        CHECK(c.data()[i] == float((77 * r + 150 * gr + 29 * b) >> 8) / 255.0f);
    }
}

TEST_CASE("load_image: a PGM/PPM with maxval below 255 is rescaled, and samples above maxval are refused") {
    // stb_image took every sample as a fraction of 255: a maxval-15 digit came out at 6 %.
    auto pnm = [](const char* magic, int w, int h, int maxval, const Bytes& samples) {
        std::string head = std::string(magic) + "\n" + std::to_string(w) + " " + std::to_string(h) + "\n" +
                           std::to_string(maxval) + "\n";
        Bytes b(head.begin(), head.end());
        b.insert(b.end(), samples.begin(), samples.end());
        return b;
    };
    for (int maxval : {1, 15, 100, 254}) {
        CAPTURE(maxval);
        const Bytes grey = {0, uint8_t(maxval),    uint8_t(maxval / 2), uint8_t(maxval / 3),
                            1, uint8_t(maxval - 1)};
        Bytes pgm = pnm("P5", 3, 2, maxval, grey);
        Tensor g = load_image_from_memory(pgm.data(), pgm.size(), {3, 2, Invert::no});
        for (size_t i = 0; i < grey.size(); ++i) {
            // v / maxval, to the nearest of the 256 levels an 8-bit sample has.
            const double level = std::floor(255.0 * grey[i] / maxval + 0.5);
            CHECK(g.data()[i] == float(level) / 255.0f);
        }
        // A PPM's channels are rescaled before stb_image's luma: as the 8-bit file of those values.
        const Bytes rgb = {uint8_t(maxval), 0, 0, 0, uint8_t(maxval / 2), 1};
        Bytes low = pnm("P6", 2, 1, maxval, rgb), full(rgb.size());
        for (size_t i = 0; i < rgb.size(); ++i) full[i] = uint8_t(std::floor(255.0 * rgb[i] / maxval + 0.5));
        Bytes eight = pnm("P6", 2, 1, 255, full);
        CHECK(load_image_from_memory(low.data(), low.size(), {2, 1, Invert::no}).to_vector() ==
              load_image_from_memory(eight.data(), eight.size(), {2, 1, Invert::no}).to_vector());
    }
    Bytes bright = pnm("P5", 2, 1, 15, {15, 16});
    CHECK_ERROR(load_image_from_memory(bright.data(), bright.size()),
                "PGM/PPM file: the sample at byte 11 is 16, above the header's maxval 15");
    Bytes zero = pnm("P5", 2, 1, 0, {0, 0});
    CHECK_ERROR(load_image_from_memory(zero.data(), zero.size()), "maxval is 0");
}

TEST_CASE("load_image: an image too large for the pixel limit says so, whatever its format") {
    // A 100000 x 100000 PNG used to give stb_image's "Image not of any known type, or corrupt".
    Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    for (uint32_t v : {100000u, 100000u})
        for (int shift = 24; shift >= 0; shift -= 8) png.push_back(uint8_t(v >> shift));
    for (int v : {8, 0, 0,        0,        0,        0,        0,    0,    0,    0,   0,
                  0, 0, int('I'), int('E'), int('N'), int('D'), 0xae, 0x42, 0x60, 0x82})
        png.push_back(uint8_t(v));
    CHECK_ERROR(
        load_image_from_memory(png.data(), png.size()),
        "load_image_from_memory: 100000 x 100000 pixels is larger than the 33554432-pixel limit; scale it "
        "down first");
    Bytes gif = {'G', 'I', 'F', '8', '9', 'a', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x3b};
    CHECK_ERROR(load_image_from_memory(gif.data(), gif.size()), "65535 x 65535 pixels is larger than the");
    Bytes jpeg = {0xff, 0xd8, 0xff, 0xc0, 0, 11, 8, 0xea, 0x60, 0xea, 0x60, 1, 1, 0x11, 0, 0xff, 0xd9};
    CHECK_ERROR(load_image_from_memory(jpeg.data(), jpeg.size()), "60000 x 60000 pixels is larger than the");
}

TEST_CASE("load_image: Photoshop, Softimage and Radiance files are refused") {
    // stb_image's PSD loader has undefined behaviour on semi-transparent pixels (a float
    // out of a byte's range converted to a byte), its PIC loader dereferences a null
    // pointer on corrupt data, its HDR loader loops forever on a cut scanline (all found
    // by fuzzing): all three are compiled out.
    Bytes psd = {'8', 'B', 'P', 'S', 0, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1,  // 1 x 1 RGB
                 0,   0,   0,   1,   0, 8, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 20, 30};
    CHECK_ERROR(load_image_from_memory(psd.data(), psd.size()), "cannot read it as an image",
                "supported formats: PNG, JPEG");
    Bytes pic = {0x53, 0x80, 0xF6, 0x34};  // magic, version and comment, "PICT", 1 x 1
    pic.insert(pic.end(), 84, 0);
    const Bytes header = {'P', 'I', 'C', 'T', 0, 1, 0, 1, 0x3F, 0x80, 0, 0, 0, 3, 0, 0};
    pic.insert(pic.end(), header.begin(), header.end());
    for (uint8_t v : {0, 8, 0, 0xF0, 10, 20, 30, 255}) pic.push_back(v);  // 1 raw RGBA packet
    CHECK_ERROR(load_image_from_memory(pic.data(), pic.size()), "cannot read it as an image");
    const std::string hdr = "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 1\n\x80\x40\x20\x81";
    CHECK_ERROR(load_image_from_memory(reinterpret_cast<const uint8_t*>(hdr.data()), hdr.size()),
                "cannot read it as an image");
}

TEST_CASE("load_image: a JPEG Huffman table with more than 256 codes is refused") {
    // stb_image 2.27 writes past its tables for one (found by fuzzing); load_image checks
    // every table before stb_image sees the file. The JPEG is the smallest there is: one
    // 8 x 8 block, grey, whose DC and AC tables each hold one 1-bit code (symbol 0), and
    // whose data is "DC difference 0, end of block": every pixel is 128.
    auto jpeg = [](uint8_t dc_codes_of_length_16) {
        Bytes j = {0xFF, 0xD8, 0xFF, 0xDB, 0, 67, 0};  // SOI; DQT: table 0, 8-bit, all ones
        j.insert(j.end(), 64, 1);
        for (uint8_t v : {0xFF, 0xC0, 0, 11, 8, 0, 8, 0, 8, 1, 1, 0x11, 0}) j.push_back(v);  // SOF0
        for (int table : {0x00, 0x10}) {  // DHT: DC table 0, then AC table 0
            Bytes counts(16, 0);
            counts[0] = 1;
            if (table == 0x00) counts[15] = dc_codes_of_length_16;
            int codes = 0;
            for (uint8_t c : counts) codes += c;
            int length = 2 + 1 + 16 + codes;
            for (int v : {0xFF, 0xC4, length >> 8, length & 255, table}) j.push_back(uint8_t(v));
            j.insert(j.end(), counts.begin(), counts.end());
            j.insert(j.end(), size_t(codes), 0);
        }
        for (uint8_t v : {0xFF, 0xDA, 0, 8, 1, 1, 0x00, 0, 63, 0}) j.push_back(v);  // SOS
        for (uint8_t v : {0x3F, 0xFF, 0xD9}) j.push_back(v);  // bits 0 0 (+ padding 1s); EOI
        return j;
    };
    Bytes ok = jpeg(0);
    Tensor img = load_image_from_memory(ok.data(), ok.size(), {8, 8, Invert::no});
    for (int i = 0; i < 64; ++i) CHECK(img.data()[i] == 128.0f / 255.0f);

    Bytes full = jpeg(255);  // 256 codes in the DC table: the most there may be
    CHECK(load_image_from_memory(full.data(), full.size(), {8, 8, Invert::no}).to_vector() ==
          std::vector<float>(64, 128.0f / 255.0f));
    Bytes bad = jpeg(255);
    const size_t dht = 2 + 69 + 13;  // after SOI, DQT and SOF0
    REQUIRE((bad[dht] == 0xFF && bad[dht + 1] == 0xC4));
    bad[dht + 5 + 14] = 1;  // and one of length 15: 257
    CHECK_ERROR(load_image_from_memory(bad.data(), bad.size()),
                "load_image_from_memory: corrupt JPEG: the Huffman table at byte " + std::to_string(dht + 4),
                "more than 256 codes");
}

TEST_CASE("load_image: a PGM header with no pixels is refused") {
    // stb_image reads a size that is 0 or not a number as 0 and decodes an empty image,
    // which stb_image_resize then divides by (found by fuzzing: NaN converted to int).
    for (const std::string head : {"P5\n0 4\n255\n", "P5\n3 0\n255\n", "P5\nx 4\n255\n"}) {
        CAPTURE(head);
        Bytes pgm(head.begin(), head.end());
        pgm.insert(pgm.end(), 12, 7);
        CHECK_ERROR(load_image_from_memory(pgm.data(), pgm.size()),
                    "load_image_from_memory: "
                    "the header announces ",
                    "pixels: there is no image");
    }
}

TEST_CASE("load_image: the pixel limit holds for top-down BMPs, whose height is negative") {
    // A 24-bit BMP header (no pixel data); a negative height means rows run top to bottom.
    auto bmp_header = [](int32_t w, int32_t h) {
        Bytes b = {'B', 'M', 0, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0};
        for (int32_t v : {w, h})
            for (int shift = 0; shift < 32; shift += 8) b.push_back(uint8_t(uint32_t(v) >> shift));
        for (uint8_t v : {1, 0, 24, 0}) b.push_back(v);  // planes, bits per pixel
        b.insert(b.end(), 24, 0);
        return b;
    };
    Bytes huge = bmp_header(10000, -10000);
    CHECK_ERROR(load_image_from_memory(huge.data(), huge.size()),
                "10000 x 10000 pixels is "
                "larger than the 33554432-pixel limit");
    Bytes lowest = bmp_header(1, INT32_MIN);
    CHECK_ERROR(load_image_from_memory(lowest.data(), lowest.size()), "1 x 2147483648 pixels");
    Bytes small = bmp_header(2, -2);  // rows of 6 bytes + 2 of padding, top row first
    const Bytes rows = {0, 0, 0, 255, 255, 255, 0, 0, 40, 40, 40, 90, 90, 90, 0, 0};
    small.insert(small.end(), rows.begin(), rows.end());
    Tensor img = load_image_from_memory(small.data(), small.size(), {2, 2, Invert::no});
    CHECK(img.to_vector() == std::vector<float>{0.0f, 1.0f, 40.0f / 255.0f, 90.0f / 255.0f});
}

TEST_CASE("load_image: PNG chunks stb_image mishandles are refused before it sees them") {
    // stb_image allocates a chunk's declared length before reading it (found by fuzzing:
    // a 170-byte file asked for 1.5 GB).
    TempDir dir;
    Bytes png = read_file(write_png(dir, "ok.png", fgtest::pattern_bytes(16, 1), 4, 4, 1));
    REQUIRE(load_image_from_memory(png.data(), png.size(), {4, 4, Invert::no}).numel() == 16);
    const size_t idat = 8 + 12 + 13;  // after the signature and IHDR
    REQUIRE(std::string(png.begin() + long(idat) + 4, png.begin() + long(idat) + 8) == "IDAT");
    for (uint32_t length : {0x4E00623Cu, 0xFFFFFFFFu}) {
        Bytes bad = png;
        for (int k = 0; k < 4; ++k) bad[idat + size_t(k)] = uint8_t(length >> (24 - 8 * k));
        CHECK_ERROR(load_image_from_memory(bad.data(), bad.size()),
                    "load_image_from_memory: "
                    "corrupt PNG: the chunk at byte " +
                        std::to_string(idat));
    }
    // An empty IDAT chunk first: stb_image would copy its 0 bytes to a null pointer.
    Bytes empty_first = png;
    const Bytes empty_idat = {0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x35, 0xAF, 0x06, 0x1E};
    empty_first.insert(empty_first.begin() + long(idat), empty_idat.begin(), empty_idat.end());
    CHECK_ERROR(load_image_from_memory(empty_first.data(), empty_first.size()),
                "corrupt PNG: its first IDAT chunk, at byte " + std::to_string(idat), "is empty");
}

TEST_CASE("load_image: a PNG whose data inflates beyond its header's size is refused early") {
    // stb_image inflates all of a PNG's image data before it compares the size with the
    // header's, so a small file could make it inflate gigabytes (found by fuzzing).
    auto chunk = [](Bytes& png, const char* type, const Bytes& data) {
        for (int k = 0; k < 4; ++k) png.push_back(uint8_t(data.size() >> (24 - 8 * k)));
        size_t start = png.size();
        png.insert(png.end(), type, type + 4);
        png.insert(png.end(), data.begin(), data.end());
        uLong crc = crc32(0, png.data() + start, uInt(png.size() - start));
        for (int k = 0; k < 4; ++k) png.push_back(uint8_t(crc >> (24 - 8 * k)));
    };
    // An 8 x 8 grey 8-bit PNG needs 8 rows of a filter byte and 8 samples: 72 bytes.
    auto png_with_raw = [&](const Bytes& raw, int interlace) {
        Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
        chunk(png, "IHDR", {0, 0, 0, 8, 0, 0, 0, 8, 8, 0, 0, 0, uint8_t(interlace)});
        uLongf size = compressBound(uLong(raw.size()));
        Bytes z(size);
        REQUIRE(compress2(z.data(), &size, raw.data(), uLong(raw.size()), 9) == Z_OK);
        z.resize(size);
        chunk(png, "IDAT", z);
        chunk(png, "IEND", {});
        return png;
    };
    Bytes exact(72, 0);
    for (int r = 0; r < 8; ++r) exact[size_t(r * 9 + 1 + r)] = 255;  // a diagonal, filter 0
    Bytes good = png_with_raw(exact, 0);
    Tensor img = load_image_from_memory(good.data(), good.size(), {8, 8, Invert::no});
    CHECK(img.data()[0] == 1.0f);
    CHECK(img.data()[9] == 1.0f);
    CHECK(img.data()[1] == 0.0f);

    Bytes bomb = png_with_raw(Bytes(size_t(64) << 20, 0), 0);  // 64 MB of zeros in ~65 KB
    CHECK(bomb.size() < 100000);
    CHECK_ERROR(load_image_from_memory(bomb.data(), bomb.size()), "corrupt PNG",
                "inflates to more than the 72 bytes");
    // Interlaced: up to 14 more bytes per row (the seven passes' filter bytes and rounding).
    Bytes interlaced_bomb = png_with_raw(Bytes(72 + 14 * 8 + 1, 0), 1);
    CHECK_ERROR(load_image_from_memory(interlaced_bomb.data(), interlaced_bomb.size()),
                "inflates to more than the 184 bytes");
}

TEST_CASE("load_image: ImageOptions::max_pixels refuses larger images before decoding") {
    // A BMP header announcing 5 x 2162693 pixels in 54 bytes (found by fuzzing: stb_image
    // decodes the missing rows as zeros, 30 s under ASan). 10.8 M pixels pass the default
    // limit, not a lower one.
    Bytes bmp = {'B', 'M', 0, 0, 0, 0, 0, 0,    0,    0,    54,   0, 0, 0,  40,
                 0,   0,   0, 5, 0, 0, 0, 0x05, 0x00, 0x21, 0x00, 1, 0, 24, 0};
    bmp.insert(bmp.end(), 24, 0);
    ImageOptions small;
    small.max_pixels = 1 << 20;
    CHECK_ERROR(load_image_from_memory(bmp.data(), bmp.size(), small),
                "load_image_from_memory: "
                "5 x 2162693 pixels is larger than the 1048576-pixel limit");
    Bytes pgm = {'P', '5', ' ', '4', ' ', '3', ' ', '2', '5', '5', '\n'};
    pgm.insert(pgm.end(), 12, 100);
    small.max_pixels = 12;
    CHECK(load_image_from_memory(pgm.data(), pgm.size(), small).numel() == 28 * 28);
    small.max_pixels = 11;
    CHECK_ERROR(load_image_from_memory(pgm.data(), pgm.size(), small),
                "4 x 3 pixels is larger "
                "than the 11-pixel limit");
    for (int64_t bad : {int64_t(0), (int64_t(1) << 25) + 1}) {
        small.max_pixels = bad;
        CHECK_ERROR(load_image_from_memory(pgm.data(), pgm.size(), small),
                    "max_pixels must be "
                    "between 1 and 33554432, got " +
                        std::to_string(bad));
    }
}

TEST_CASE("load_image: a PGM/PPM header with long numbers or too few pixels is refused") {
    // stb_image reads a 10-digit number into an overflowing int (found by fuzzing), and
    // ignores a file too short for its pixels (it copies none of them).
    auto pgm = [](const std::string& head, size_t samples) {
        Bytes b(head.begin(), head.end());
        b.insert(b.end(), samples, 200);
        return b;
    };
    Bytes digits = pgm("P5\n# ten digits:\n4 6288888888\n255\n", 64);
    CHECK_ERROR(load_image_from_memory(digits.data(), digits.size()),
                "load_image_from_memory: "
                "PGM/PPM file: the number at byte 19 has more than 9 digits");
    Bytes nine = pgm("P5 2 000000003 255\n", 6);  // 9 digits are fine
    CHECK(load_image_from_memory(nine.data(), nine.size(), {2, 3, Invert::no}).to_vector() ==
          std::vector<float>(6, 200.0f / 255.0f));
    Bytes cut = pgm("P5\n64 64\n255\n", 10);
    CHECK_ERROR(load_image_from_memory(cut.data(), cut.size()),
                "PGM/PPM file: truncated: the "
                "header announces 64 x 64 pixels (4096 bytes), the file holds only 10");
    Bytes cut_ppm = pgm("P6 2 2 255 ", 11);
    CHECK_ERROR(load_image_from_memory(cut_ppm.data(), cut_ppm.size()), "truncated", "(12 bytes)", "only 11");
}

TEST_CASE("load_image: TGA files are not read: they have no magic number to tell them from noise") {
    // A 4 x 4 grey TGA, top row first: stb_image read it, and a truncated one came out black.
    Bytes tga = {0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 4, 0, 8, 0x20};
    tga.insert(tga.end(), 16, 200);
    CHECK_ERROR(
        load_image_from_memory(tga.data(), tga.size(), {4, 4, Invert::no}),
        "cannot read it as an image: it is none of the formats load_image reads (it starts with bytes 00 00 "
        "03 00); supported formats: PNG, JPEG, BMP, GIF, PGM/PPM");
}

TEST_CASE("load_image_from_memory decodes the bytes exactly as load_image decodes the file") {
    TempDir dir;
    Bytes pixels = fgtest::pattern_bytes(9 * 5 * 3, 4);
    Bytes png = read_file(write_png(dir, "rgb.png", pixels, 9, 5, 3));
    for (ImageOptions options : {ImageOptions{9, 5, Invert::no}, ImageOptions{4, 7, Invert::yes},
                                 ImageOptions{28, 28, Invert::if_light_background}}) {
        CAPTURE(options.width);
        Tensor from_file = load_image(dir / "rgb.png", options);
        Tensor from_memory = load_image_from_memory(png.data(), png.size(), options);
        REQUIRE(from_memory.shape() == Shape{options.height, options.width});
        CHECK(from_memory.to_vector() == from_file.to_vector());
    }
    CHECK_ERROR(load_image_from_memory(nullptr, 3), "load_image_from_memory: bytes is null");
    CHECK_ERROR(load_image_from_memory(nullptr, 0),
                "load_image_from_memory: cannot read it as "
                "an image");
    CHECK_ERROR(load_image_from_memory(png.data(), png.size(), {0, 28, Invert::no}),
                "load_image_from_memory: output size must be between 1 x 1");
}

TEST_CASE("load_image: a header announcing a huge image is refused before decoding") {
    // A PNG signature and IHDR chunk (8-bit grey) with no image data: stb_image reads sizes
    // from the header alone, so only the size checks stand between it and the allocation.
    auto png_header = [](uint32_t w, uint32_t h) {
        Bytes b = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
        for (uint32_t v : {w, h})
            for (int shift = 24; shift >= 0; shift -= 8) b.push_back(uint8_t(v >> shift));
        for (uint8_t v : {8, 0, 0, 0, 0, 0, 0, 0, 0}) b.push_back(v);  // depth .. CRC
        for (int v : {0, 0, 0, 0, int('I'), int('E'), int('N'), int('D'), 0xae, 0x42, 0x60, 0x82})
            b.push_back(uint8_t(v));
        return b;
    };
    Bytes ok = png_header(4, 4);
    CHECK_ERROR(load_image_from_memory(ok.data(), ok.size()), "cannot decode it");
    Bytes big = png_header(6000, 6000);
    CHECK_ERROR(load_image_from_memory(big.data(), big.size()),
                "6000 x 6000 pixels is larger "
                "than the 33554432-pixel limit");
    Bytes strip = png_header(100000, 1);  // within the pixel limit: stb_image tries to decode
    CHECK_ERROR(load_image_from_memory(strip.data(), strip.size()), "cannot decode it");
    Bytes absurd = png_header((1u << 24) + 1, 1);  // beyond stb_image's own side limit
    CHECK_ERROR(load_image_from_memory(absurd.data(), absurd.size()), "cannot read it as PNG");
}

TEST_CASE("save_png writes a PNG atomically and round-trips exactly") {
    TempDir dir;
    Bytes rgb = fgtest::pattern_bytes(7 * 5 * 3, 4);
    std::string path = dir / "chart.png";
    save_png(path, rgb.data(), 7, 5, 3);
    int w = 0, h = 0, c = 0;
    stbi_uc* back = stbi_load(path.c_str(), &w, &h, &c, 3);
    REQUIRE(back);
    CHECK(w == 7);
    CHECK(h == 5);
    CHECK(Bytes(back, back + rgb.size()) == rgb);
    stbi_image_free(back);
    CHECK(files_in(dir.path()) == 1);  // no temporary left behind

    // Overwriting replaces the file; a float tensor is clamped and rounded.
    Tensor t = Tensor::from({-0.5f, 0.0f, 0.5f, 1.0f, 2.0f, 0.2f}, {2, 3});
    save_png(path, t);
    Tensor r = load_image(path, {3, 2, Invert::no});
    std::vector<float> expected = {0, 0, 128 / 255.0f, 1, 1, 51 / 255.0f};
    CHECK(r.to_vector() == expected);
    CHECK(files_in(dir.path()) == 1);

    // Failures leave nothing behind, not even a half-written file.
    CHECK_ERROR(save_png(dir / "no/such/dir/x.png", rgb.data(), 7, 5, 3), "save_png", "cannot create");
    CHECK_ERROR(save_png(path, rgb.data(), 7, 5, 5), "channels must be 1 (grey)");
    CHECK_ERROR(save_png(path, rgb.data(), 0, 5, 3), "size must be at least 1 x 1");
    CHECK_ERROR(save_png(path, Tensor::zeros({2, 3, 2})), "expected a [H, W] or [H, W, C]");
    CHECK_ERROR(save_png(path, Tensor::from({0.0f, std::nanf("")}, {1, 2})), "value 1 is NaN");
    CHECK(files_in(dir.path()) == 1);
}
