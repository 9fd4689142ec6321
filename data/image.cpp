// image.cpp — load_image and save_png, the checks that keep files stb_image mishandles
// away from it (each found by fuzzing, see tests/fuzz/README.md), and the one place the
// stb implementations are compiled (single-file libraries: one .cpp defines them).
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG  // "corrupt PNG" rather than "bad zlib header"
// Zeroed allocations: stb_image ignores short reads in some loaders, which would leave
// uninitialised heap bytes in the image. Truncated files are refused before it sees them
// (image_fault below); calloc makes sure anyway.
#define STBI_MALLOC(size) calloc(1, size)
#define STBI_REALLOC(p, size) realloc(p, size)
#define STBI_FREE(p) free(p)
// Three formats nobody photographs digits in are not read, each for a bug found by
// fuzzing: stb_image's PSD loader converts out-of-range floats to bytes (undefined
// behaviour) when it un-premultiplies alpha, its Softimage PIC loader dereferences a null
// pointer when a file's data is corrupt, and its Radiance HDR loader loops forever on a
// run-length scanline cut short.
// TGA is not read either: it has no magic number, so stb_image takes any file that no
// other loader claims and whose first bytes happen to fit for a TGA, and decodes it as
// noise; and a truncated TGA decodes with its missing pixels black. Every format that is
// read is checked for truncation first (image_fault below).
#define STBI_NO_PSD
#define STBI_NO_PIC
#define STBI_NO_HDR
#define STBI_NO_TGA
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <stb/stb_image_write.h>
#include <utility>
#include <vector>

#include <focalgrad/core/error.h>
#include <focalgrad/core/io.h>
#include <focalgrad/data/image.h>

namespace focalgrad {

namespace {

// The most pixels ImageOptions::max_pixels may allow: larger images are refused before
// decoding. A photo of a digit needs nothing near this, and a decoded 8k x 4k image
// already takes 64 MB as grey + alpha and 128 MB as floats. This bounds memory;
// stb_image's own per-side limit (STBI_MAX_DIMENSIONS, 2^24 by default) only refuses sides
// that could never pass it, and is left alone: when it trips, stb_image reports "not of any
// known type", a vaguer message than the one below.
constexpr int64_t kMaxPixels = int64_t(1) << 25;
// Larger files are refused before reading: stb_image takes its input's length as an int,
// and an image within the pixel limit needs at most 128 MB even as an uncompressed 32-bit BMP.
constexpr int64_t kMaxFileBytes = int64_t(1) << 28;

// The mean of the outermost rows and columns of an [h, w] image.
double border_mean(const float* img, int w, int h) {
    double sum = 0.0;
    int64_t n = 0;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            if (y == 0 || y == h - 1 || x == 0 || x == w - 1) {
                sum += img[int64_t(y) * w + x];
                ++n;
            }
    return sum / double(n);
}

// The offset of the first JPEG Huffman table that declares more than 256 codes, or -1.
// stb_image 2.27 does not check, and writes past its tables for one (found by fuzzing),
// so every table it could reach is checked first, walking the file as its decoder does:
// a segment is skipped by its length, the entropy-coded data after a scan header byte by
// byte up to the next marker. The walk also resynchronises where stb_image would give up,
// so it checks a few tables stb_image never reads: that errs on the side of refusing.
int64_t jpeg_oversized_huffman_table(const uint8_t* p, size_t n) {
    // Past the end, stb_image reads zeros.
    auto byte = [&](size_t i) -> int { return i < n ? p[i] : 0; };
    size_t i = 0;
    while (i < n && p[i] == 0xFF) ++i;
    if (i == 0 || byte(i) != 0xD8) return -1;  // not a JPEG: no FF D8 (start of image)
    while (i + 1 < n) {
        if (p[i] != 0xFF || p[i + 1] == 0xFF) {  // entropy-coded data, junk, fill bytes
            ++i;
            continue;
        }
        const int marker = p[i + 1];
        // Markers without a length: FF 00 (a stuffed FF in entropy-coded data), TEM, RSTn,
        // start and end of image.
        if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD9)) {
            i += 2;
            continue;
        }
        const size_t length = size_t(byte(i + 2) << 8 | byte(i + 3));  // counts itself
        if (marker == 0xC4) {  // DHT: tables of a class/id byte, 16 code counts, the symbols
            size_t t = i + 4;
            for (int64_t left = int64_t(length) - 2; left > 0;) {
                const int q = byte(t);
                if ((q >> 4) > 1 || (q & 15) > 3) break;  // stb_image refuses this itself
                int codes = 0;
                for (size_t k = 1; k <= 16; ++k) codes += byte(t + k);
                if (codes > 256) return int64_t(t);
                t += size_t(17 + codes);
                left -= 17 + codes;
            }
        }
        i += 2 + std::max<size_t>(length, 2);
    }
    return -1;
}

// The first bytes of a file, for a message about what it is: "3c 21 44 4f".
std::string hex_start(const uint8_t* p, size_t n) {
    std::string out;
    for (size_t i = 0; i < n && i < 4; ++i) {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%s%02x", i ? " " : "", p[i]);
        out += buf;
    }
    return n ? out : "none: it is empty";
}

uint32_t big_endian32(const uint8_t* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

// The most bytes a PNG's image data can inflate to, from its IHDR chunk (13 bytes:
// width, height, bit depth, colour type, compression, filter, interlace): a filter-type
// byte plus the packed samples per row. Adam7 interlacing stores seven sub-images, each
// row with its own filter byte and rounding, which adds at most 14 bytes per image row.
// 0 when the header makes no sense (stb_image will refuse it).
uint64_t png_max_raw_bytes(const uint8_t* ihdr) {
    const uint64_t width = big_endian32(ihdr), height = big_endian32(ihdr + 4);
    const int depth = ihdr[8], colour = ihdr[9], interlace = ihdr[12];
    const int channels = colour == 0 || colour == 3 ? 1
                         : colour == 2              ? 3
                         : colour == 4              ? 2
                         : colour == 6              ? 4
                                                    : 0;
    if (channels == 0 || depth < 1 || depth > 16) return 0;
    const uint64_t row_bytes = (width * uint64_t(channels * depth) + 7) / 8;
    return height * (1 + row_bytes) + (interlace ? 14 * height : 0);
}

// Whether the IDAT data inflates to more than `limit` bytes. stb_image inflates all of
// it before comparing the size with the header's, so a small file can make it inflate
// gigabytes (deflate compresses zeros about 1000-fold). This inflates into a small
// scratch buffer and stops as soon as the limit is passed. A stream zlib cannot read is
// left for stb_image to judge.
bool png_inflates_beyond(const std::vector<std::pair<const uint8_t*, size_t>>& idat, uint64_t limit) {
    z_stream z{};
    if (inflateInit(&z) != Z_OK) return false;
    uint8_t scratch[1 << 15];
    uint64_t produced = 0;
    bool beyond = false, done = false;
    for (size_t k = 0; k < idat.size() && !done && !beyond; ++k) {
        z.next_in = const_cast<uint8_t*>(idat[k].first);
        z.avail_in = uInt(idat[k].second);
        while (z.avail_in > 0 && !done && !beyond) {
            z.next_out = scratch;
            z.avail_out = sizeof scratch;
            int status = inflate(&z, Z_NO_FLUSH);
            produced += sizeof scratch - z.avail_out;
            beyond = produced > limit;
            done = status != Z_OK;  // the end of the stream, or an error
        }
    }
    inflateEnd(&z);
    return beyond;
}

// What is wrong with a PNG's chunk structure, or "" if nothing is. A chunk is a 4-byte
// big-endian length, a 4-byte type, the data and a 4-byte CRC; stb_image walks them the
// same way up to IEND, but it allocates a chunk's declared length before reading it (found
// by fuzzing: a 170-byte file asked for 1.5 GB), copies an empty first IDAT chunk to a
// null pointer (undefined behaviour, found by fuzzing; no encoder writes one), and
// inflates the image data without a bound (found by fuzzing: a 1 MB file inflated to
// 1 GB).
std::string png_chunk_fault(const uint8_t* p, size_t n) {
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (n < 8 || std::memcmp(p, signature, 8) != 0) return "";
    bool idat_seen = false, iend_seen = false;
    uint64_t max_raw = 0;
    std::vector<std::pair<const uint8_t*, size_t>> idat_chunks;
    for (size_t i = 8; i < n;) {
        if (n - i < 12) return str("the file ends inside the chunk at byte ", i, " (a truncated file?)");
        const size_t length = big_endian32(p + i);
        if (length > n - i - 12)
            return str("the chunk at byte ", i,
                       " is longer than the rest of the file (a "
                       "truncated file?)");
        if (std::memcmp(p + i + 4, "IHDR", 4) == 0 && length == 13) max_raw = png_max_raw_bytes(p + i + 8);
        const bool idat = std::memcmp(p + i + 4, "IDAT", 4) == 0;
        if (idat && length == 0 && !idat_seen)
            return str("its first IDAT chunk, at byte ", i,
                       ", is empty, which stb_image "
                       "cannot read");
        if (idat) idat_chunks.emplace_back(p + i + 8, length);
        idat_seen |= idat;
        if (std::memcmp(p + i + 4, "IEND", 4) == 0) {
            iend_seen = true;
            break;
        }
        i += 12 + length;
    }
    if (!iend_seen) return "the file ends before its IEND chunk (a truncated file?)";
    if (max_raw > 0 && png_inflates_beyond(idat_chunks, max_raw))
        return str("its image data inflates to more than the ", max_raw,
                   " bytes its header's "
                   "size needs (a decompression bomb?)");
    return "";
}

// What a file's own header says, read here before stb_image sees the file: which of the
// formats load_image reads it is (by its magic number), and its size.
struct ImageHeader {
    const char* format = nullptr;  // "PNG", "JPEG", "BMP", "GIF", "PGM/PPM"; null: none of them
    bool sized = false;            // whether width and height were read from the header
    int64_t width = 0, height = 0;
    int64_t maxval = 255;  // PGM/PPM: the largest sample value
    size_t samples = 0;    // PGM/PPM: where the samples start
};

// What load_image cannot accept in a binary PGM/PPM file (P5, P6), or "" if nothing.
// The header is parsed as stb_image parses it: the magic, then width, height and maxval,
// each after whitespace and #-comments, and one byte after maxval; the samples follow.
// stb_image reads a number of 10 or more digits into an int that overflows (undefined
// behaviour, found by fuzzing), reads 16-bit samples byte-swapped and then past its
// buffer (found by the fuzz corpus), ignores a file too short for its pixels, and takes
// every sample as a fraction of 255 whatever maxval says (a maxval-15 digit came out at
// 6 % brightness): decode_image rescales those, after the check here that every sample is
// at most maxval.
std::string pnm_fault(const uint8_t* p, size_t n, ImageHeader& header) {
    auto space = [](uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
    size_t i = 2;
    int64_t fields[3] = {0, 0, 0};  // width, height, maxval
    for (int64_t& v : fields) {
        for (;;) {
            while (i < n && space(p[i])) ++i;
            if (i >= n || p[i] != '#') break;
            while (i < n && p[i] != '\n' && p[i] != '\r') ++i;
        }
        for (int digits = 0; i < n && p[i] >= '0' && p[i] <= '9'; ++i, ++digits) {
            if (digits == 9) return str("the number at byte ", i - 9, " has more than 9 digits");
            v = 10 * v + (p[i] - '0');
        }
    }
    header.sized = true;
    header.width = fields[0];
    header.height = fields[1];
    header.maxval = fields[2];
    header.samples = i + 1;
    if (fields[0] == 0 || fields[1] == 0) return "";  // decode_image says there is no image
    if (fields[2] > 255)
        return str("maxval is ", fields[2],
                   ": 16-bit PGM/PPM files are not supported "
                   "(stb_image misreads them); save it with 8 bits per sample (maxval 255)");
    if (fields[2] == 0) return "maxval is 0: the header is corrupt (it must be 1 to 255)";
    const int64_t channels = p[1] == '6' ? 3 : 1;
    const int64_t need = fields[0] * fields[1] * channels, have = int64_t(n) - int64_t(i) - 1;
    if (have < need)
        return str("truncated: the header announces ", fields[0], " x ", fields[1], " pixels (", need,
                   " bytes), the file holds only ", std::max<int64_t>(have, 0));
    if (fields[2] < 255)
        for (int64_t k = 0; k < need; ++k)
            if (p[header.samples + size_t(k)] > fields[2])
                return str("the sample at byte ", header.samples + size_t(k), " is ",
                           int(p[header.samples + size_t(k)]), ", above the header's maxval ", fields[2]);
    return "";
}

uint32_t little_endian32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// What load_image cannot accept in a BMP file, or "": a file shorter than the pixel rows
// its header announces (stb_image decodes the missing rows as black). The header is the
// 14-byte file header (its bytes 10-13: where the pixels start), then the 12-byte OS/2
// header (16-bit sizes) or a 40-byte or longer Windows one (32-bit sizes, the height's
// sign giving the row order). Rows are padded to 4 bytes, the last one too.
std::string bmp_fault(const uint8_t* p, size_t n, ImageHeader& header) {
    if (n < 26) return str("truncated: ", n, " bytes, too few for a BMP header");
    const uint64_t offset = little_endian32(p + 10), dib = little_endian32(p + 14);
    int64_t bpp;
    if (dib == 12) {
        header.width = int64_t(p[18] | p[19] << 8);
        header.height = int64_t(p[20] | p[21] << 8);
        bpp = int64_t(p[24] | p[25] << 8);
        header.sized = true;
    } else {
        if (n < 34) return str("truncated: ", n, " bytes, too few for a BMP header");
        header.width = int32_t(little_endian32(p + 18));
        header.height = std::abs(int64_t(int32_t(little_endian32(p + 22))));
        bpp = int64_t(p[28] | p[29] << 8);
        header.sized = true;
        const uint32_t compression = little_endian32(p + 30);
        if (compression != 0 && compression != 3) return "";  // RLE and the rest: stb_image refuses them
    }
    if (header.width <= 0 || header.height <= 0 || bpp <= 0 || bpp > 32) return "";  // refused below
    const unsigned __int128 stride = (uint64_t(header.width) * uint64_t(bpp) + 31) / 32 * 4;
    const unsigned __int128 need = offset + uint64_t(header.height) * stride;
    if (need > n)
        return str("truncated: the header announces ", header.width, " x ", header.height, " pixels at ", bpp,
                   " bits from byte ", offset, " (", uint64_t(std::min<unsigned __int128>(need, UINT64_MAX)),
                   " bytes), the file holds only ", n);
    return "";
}

// What load_image cannot accept in a GIF file, or "": a file that ends before its
// trailer (stb_image decodes the missing pixels as white). The walk follows the format:
// the 13-byte header and screen descriptor, the global colour table, then blocks until
// the trailer 0x3B: extensions (0x21, a label, sub-blocks) and images (0x2C, a 9-byte
// descriptor, a local colour table, the LZW code size, sub-blocks); sub-blocks are a
// length byte and that many bytes, ended by a length of 0.
std::string gif_fault(const uint8_t* p, size_t n, ImageHeader& header) {
    if (n < 13) return str("truncated: ", n, " bytes, too few for a GIF header");
    header.sized = true;
    header.width = p[6] | p[7] << 8;
    header.height = p[8] | p[9] << 8;
    const std::string cut = " (a truncated file?)";
    size_t i = 13;
    if (p[10] & 0x80) i += 3 * (size_t(2) << (p[10] & 7));
    auto sub_blocks = [&]() -> bool {  // false when the file ends first
        for (;;) {
            if (i >= n) return false;
            const size_t length = p[i++];
            if (length == 0) return true;
            i += length;
        }
    };
    for (;;) {
        if (i >= n) return str("the file ends at byte ", n, " before its trailer", cut);
        if (p[i] == 0x3B) return "";
        if (p[i] == 0x21) {
            i += 2;
            if (!sub_blocks()) return str("the file ends inside an extension block", cut);
        } else if (p[i] == 0x2C) {
            if (n - i < 11) return str("the file ends inside the image descriptor at byte ", i, cut);
            const uint8_t flags = p[i + 9];
            i += 10;
            if (flags & 0x80) i += 3 * (size_t(2) << (flags & 7));
            i += 1;  // the LZW minimum code size
            if (!sub_blocks()) return str("the file ends inside the image data", cut);
        } else {
            return "";  // not a block: stb_image refuses it ("unknown code")
        }
    }
}

// The size a JPEG's frame header (SOFn) announces, found by walking its segments as
// stb_image does up to the first frame; and whether its end-of-image marker (FF D9) is
// there: entropy-coded data stuffs every FF as FF 00 and has no other markers but RSTn,
// so an FF D9 after the first scan is the end of the image. Without it the file was cut.
std::string jpeg_fault(const uint8_t* p, size_t n, ImageHeader& header) {
    size_t i = 2;
    while (i + 9 < n && p[i] == 0xFF) {
        const int marker = p[i + 1];
        if (marker == 0xFF) {  // fill byte
            ++i;
            continue;
        }
        const bool sof =
            marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (sof) {
            header.sized = true;
            header.height = p[i + 5] << 8 | p[i + 6];
            header.width = p[i + 7] << 8 | p[i + 8];
            break;
        }
        if (marker == 0xDA) break;  // a scan before any frame: stb_image refuses it
        i += 2 + size_t(p[i + 2] << 8 | p[i + 3]);
    }
    const uint8_t sos[2] = {0xFF, 0xDA}, eoi[2] = {0xFF, 0xD9};
    const uint8_t* scan = std::search(p, p + n, sos, sos + 2);
    if (scan != p + n && std::search(scan, p + n, eoi, eoi + 2) == p + n)
        return "the file ends before its end-of-image marker (a truncated file?)";
    return "";
}

// Which format the bytes are (by magic number), its size as its header says, and what
// load_image cannot accept in it ("" if nothing), each as the format's own check finds it.
std::string image_fault(const uint8_t* p, size_t n, ImageHeader& header) {
    auto starts = [&](const char* magic, size_t k) { return n >= k && std::memcmp(p, magic, k) == 0; };
    std::string fault;
    if (starts("\x89PNG\r\n\x1a\n", 8)) {
        header.format = "PNG";
        if (n >= 24 && std::memcmp(p + 12, "IHDR", 4) == 0) {
            header.sized = true;
            header.width = big_endian32(p + 16);
            header.height = big_endian32(p + 20);
        }
        fault = png_chunk_fault(p, n);
        return fault.empty() ? "" : "corrupt PNG: " + fault;
    }
    if (starts("\xFF\xD8", 2)) {
        header.format = "JPEG";
        const int64_t bad_table = jpeg_oversized_huffman_table(p, n);
        if (bad_table >= 0)
            return str("corrupt JPEG: the Huffman table at byte ", bad_table,
                       " declares more than 256 codes");
        fault = jpeg_fault(p, n, header);
        return fault.empty() ? "" : "corrupt JPEG: " + fault;
    }
    if (starts("BM", 2)) {
        header.format = "BMP";
        fault = bmp_fault(p, n, header);
        return fault.empty() ? "" : "BMP file: " + fault;
    }
    if (starts("GIF87a", 6) || starts("GIF89a", 6)) {
        header.format = "GIF";
        fault = gif_fault(p, n, header);
        return fault.empty() ? "" : "GIF file: " + fault;
    }
    if (starts("P5", 2) || starts("P6", 2)) {
        header.format = "PGM/PPM";
        fault = pnm_fault(p, n, header);
        return fault.empty() ? "" : "PGM/PPM file: " + fault;
    }
    return "";
}

// A PGM/PPM file with maxval < 255 as the same image with maxval 255: each sample v
// becomes round(255 v / maxval). Fewer than 256 levels map to distinct bytes, so nothing
// is lost; stb_image then reads it as every other 8-bit file.
std::vector<uint8_t> pnm_to_8_bits(const uint8_t* p, size_t n, const ImageHeader& h) {
    const std::string head =
        str(std::string(reinterpret_cast<const char*>(p), 2), "\n", h.width, " ", h.height, "\n255\n");
    std::vector<uint8_t> out(head.begin(), head.end());
    const int64_t m = h.maxval;
    for (size_t k = h.samples; k < n; ++k) out.push_back(uint8_t((255 * int64_t(p[k]) + m / 2) / m));
    return out;
}

void check_options(const ImageOptions& options, const std::string& what) {
    FG_CHECK(options.width >= 1 && options.height >= 1 && options.width <= 4096 && options.height <= 4096,
             what, ": output size must be between 1 x 1 and 4096 x 4096, got ", options.width, " x ",
             options.height);
    FG_CHECK(options.channels == 1 || options.channels == 3, what,
             ": channels must be 1 (grey) or 3 (RGB), got ", options.channels);
    FG_CHECK(options.max_pixels >= 1 && options.max_pixels <= kMaxPixels, what,
             ": max_pixels "
             "must be between 1 and ",
             kMaxPixels, ", got ", options.max_pixels);
}

// load_image once the bytes are in memory (and the options checked); `what` starts
// every message: "load_image: photo.png" or "load_image_from_memory".
Tensor decode_image(const uint8_t* bytes, size_t size, const ImageOptions& options, const std::string& what) {
    FG_CHECK(int64_t(size) <= kMaxFileBytes, what, ": ", size, " bytes is more than the ", kMaxFileBytes,
             "-byte limit for an image file");
    ImageHeader header;
    const std::string fault = image_fault(bytes, size, header);
    FG_CHECK(header.format, what, ": cannot read it as an image: it is none of the formats load_image reads ",
             "(it starts with bytes ", hex_start(bytes, size), "); supported formats: PNG, JPEG, BMP, GIF, ",
             "PGM/PPM (binary P5/P6)");
    // The size first, from the header itself: for a size it cannot handle, stb_image says
    // only "not of any known type", and a header that announces a huge image would
    // otherwise be reported as a truncated file.
    FG_CHECK(!header.sized || (header.width >= 1 && header.height >= 1), what, ": the header announces ",
             header.width, " x ", header.height, " pixels: there is no image (a corrupt file?)");
    FG_CHECK(double(header.width) * double(header.height) <= double(options.max_pixels), what, ": ",
             header.width, " x ", header.height, " pixels is larger than the ", options.max_pixels,
             "-pixel limit; scale it down first");
    FG_CHECK(fault.empty(), what, ": ", fault);
    std::vector<uint8_t> rescaled;
    if (header.maxval < 255) {
        rescaled = pnm_to_8_bits(bytes, size, header);
        bytes = rescaled.data();
        size = rescaled.size();
    }
    static const stbi_uc no_bytes = 0;  // stb_image wants a pointer even for 0 bytes
    const stbi_uc* in = size ? bytes : &no_bytes;
    const int len = int(size);

    int w = 0, h = 0, channels = 0;
    FG_CHECK(stbi_info_from_memory(in, len, &w, &h, &channels), what, ": cannot read it as ", header.format,
             " (", stbi_failure_reason(), ")");
    // stbi_info gives a top-down BMP's height as negative (the sign is the row order), and
    // accepts a PGM/PPM header whose width or height is 0 or not a number.
    const int64_t width = std::abs(int64_t(w)), height = std::abs(int64_t(h));
    FG_CHECK(width >= 1 && height >= 1, what, ": the header announces ", width, " x ", height,
             " pixels: there is no image (a corrupt file?)");
    FG_CHECK(width * height <= options.max_pixels, what, ": ", width, " x ", height,
             " pixels "
             "is larger than the ",
             options.max_pixels, "-pixel limit; scale it down first");

    // Grey asks stb_image for luma and alpha, RGB for RGBA; opaque formats get alpha = 255.
    const int C = options.channels, stb_channels = C == 1 ? 2 : 4;
    std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
        stbi_load_from_memory(in, len, &w, &h, &channels, stb_channels), stbi_image_free);
    FG_CHECK(pixels, what, ": cannot decode it (", stbi_failure_reason(), ")");
    // The limits above hold only if the decoded size is the one the header announced.
    FG_CHECK(w == width && h == height, what, ": stb_image decoded ", w, " x ", h,
             " pixels "
             "where the header announced ",
             width, " x ", height);

    // Composite over white paper, channel by channel: v = (v * alpha + 255 (255 - alpha)) / 255^2.
    // planes is [C, h, w]: each channel resized on its own, then laid out channels first.
    const int64_t HW = int64_t(w) * h;
    std::vector<float> planes(size_t(C * HW));
    const stbi_uc* p = pixels.get();
    for (int64_t i = 0; i < HW; ++i) {
        const float alpha = p[stb_channels * i + stb_channels - 1];
        for (int c = 0; c < C; ++c) {
            const float v = p[stb_channels * i + c];
            planes[size_t(c * HW + i)] = (v * alpha + 255.0f * (255.0f - alpha)) / (255.0f * 255.0f);
        }
    }

    Tensor out = C == 1 ? Tensor::empty({options.height, options.width})      // [H, W]
                        : Tensor::empty({C, options.height, options.width});  // [C, H, W]
    float* o = out.data();
    const int64_t out_HW = int64_t(options.width) * options.height;
    if (w == options.width && h == options.height) {
        std::copy(planes.begin(), planes.end(), o);
    } else {
        // Per axis: a box filter when shrinking (each output pixel averages the input pixels
        // it covers), a triangle (bilinear) filter when enlarging; edges repeat outward.
        stbir_filter fx = options.width < w ? STBIR_FILTER_BOX : STBIR_FILTER_TRIANGLE;
        stbir_filter fy = options.height < h ? STBIR_FILTER_BOX : STBIR_FILTER_TRIANGLE;
        for (int c = 0; c < C; ++c) {
            int ok =
                stbir_resize(planes.data() + c * HW, w, h, 0, o + c * out_HW, options.width, options.height,
                             0, STBIR_TYPE_FLOAT, 1, STBIR_ALPHA_CHANNEL_NONE, 0, STBIR_EDGE_CLAMP,
                             STBIR_EDGE_CLAMP, fx, fy, STBIR_COLORSPACE_LINEAR, nullptr);
            FG_CHECK(ok, what, ": resizing ", w, " x ", h, " to ", options.width, " x ", options.height,
                     " failed (out of memory?)");
        }
        // Box and triangle weights are non-negative, so only float rounding can step
        // outside [0, 1]; clamp so callers can rely on the range.
        for (int64_t i = 0; i < out.numel(); ++i) o[i] = std::min(1.0f, std::max(0.0f, o[i]));
    }

    // The border of every channel together decides, so RGB channels are inverted alike.
    double border = 0.0;
    for (int c = 0; c < C; ++c) border += border_mean(o + c * out_HW, options.width, options.height) / C;
    bool invert =
        options.invert == Invert::yes || (options.invert == Invert::if_light_background && border > 0.5);
    if (invert)
        for (int64_t i = 0; i < out.numel(); ++i) o[i] = 1.0f - o[i];
    return out;
}

}  // namespace

Tensor load_image(const std::string& path, const ImageOptions& options) {
    check_options(options, "load_image: " + path);
    InputFile file(path, "load_image");
    const uint64_t size = file.size();
    FG_CHECK(size <= uint64_t(kMaxFileBytes), "load_image: ", path, ": ", size, " bytes is more than the ",
             kMaxFileBytes, "-byte limit for an image file");

    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    FG_CHECK(file.read(bytes.data(), bytes.size()) == bytes.size(), "load_image: ", path,
             ": read error (the file changed size while being read?)");
    return decode_image(bytes.data(), bytes.size(), options, "load_image: " + path);
}

Tensor load_image_from_memory(const uint8_t* bytes, size_t size, const ImageOptions& options) {
    check_options(options, "load_image_from_memory");
    FG_CHECK(bytes || size == 0, "load_image_from_memory: bytes is null but size is ", size);
    return decode_image(bytes, size, options, "load_image_from_memory");
}

namespace {

// `what` starts every message: "save_png: digit.png" or "encode_png".
std::vector<uint8_t> encode(const uint8_t* pixels, int width, int height, int channels,
                            const std::string& what) {
    FG_CHECK(pixels, what, ": pixels is null");
    FG_CHECK(width >= 1 && height >= 1 && int64_t(width) * height <= kMaxPixels, what,
             ": size must be at least 1 x 1 and at most ", kMaxPixels, " pixels, got ", width, " x ", height);
    FG_CHECK(channels >= 1 && channels <= 4, what,
             ": channels must be 1 (grey), "
             "2 (grey + alpha), 3 (RGB) or 4 (RGBA), got ",
             channels);
    std::vector<uint8_t> png;
    auto append = [](void* context, void* data, int size) {
        auto* out = static_cast<std::vector<uint8_t>*>(context);
        auto* bytes = static_cast<const uint8_t*>(data);
        out->insert(out->end(), bytes, bytes + size);
    };
    FG_CHECK(stbi_write_png_to_func(append, &png, width, height, channels, pixels, width * channels), what,
             ": PNG encoding failed (out of memory?)");
    return png;
}

}  // namespace

std::vector<uint8_t> encode_png(const uint8_t* pixels, int width, int height, int channels) {
    return encode(pixels, width, height, channels, "encode_png");
}

void save_png(const std::string& path, const uint8_t* pixels, int width, int height, int channels) {
    // Encode in memory first: nothing touches the disk unless the encoding succeeded.
    const std::vector<uint8_t> png = encode(pixels, width, height, channels, "save_png: " + path);

    write_file_atomic(path, png.data(), png.size(), "save_png");
}

void save_png(const std::string& path, const Tensor& image) {
    const Shape& s = image.shape();
    FG_CHECK(s.size() == 2 || (s.size() == 3 && (s[2] == 1 || s[2] == 3 || s[2] == 4)), "save_png: ", path,
             ": expected a [H, W] or [H, W, C] tensor with C = 1, 3 or 4, "
             "got ",
             s);
    FG_CHECK(s[0] >= 1 && s[1] >= 1 && s[0] * s[1] <= kMaxPixels, "save_png: ", path, ": image size ", s,
             " is empty or too large");
    const int channels = s.size() == 3 ? int(s[2]) : 1;
    std::vector<uint8_t> bytes(size_t(image.numel()));
    const float* v = image.data();
    for (size_t i = 0; i < bytes.size(); ++i) {
        FG_CHECK(!std::isnan(v[i]), "save_png: ", path, ": value ", i, " is NaN");
        bytes[i] = uint8_t(std::lround(255.0f * std::min(1.0f, std::max(0.0f, v[i]))));
    }
    save_png(path, bytes.data(), int(s[1]), int(s[0]), channels);
}

}  // namespace focalgrad
