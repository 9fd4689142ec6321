// idx.cpp — the IDX reader: a byte stream over a raw or gzip file, then the header checks.
// Memory stays bounded: compressed input is read in 64 KiB chunks and inflated straight
// into the output buffer, so a 47 MB image file never exists twice.
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include <focalgrad/core/error.h>
#include <focalgrad/core/io.h>
#include <focalgrad/data/idx.h>

namespace focalgrad {

namespace {

constexpr size_t kInputChunk = size_t(1) << 16;   // compressed bytes read from disk at a time
constexpr size_t kOutputChunk = size_t(1) << 20;  // payload bytes requested per read
// The payload buffer grows as data arrives, starting at most this large: a header that
// lies about its size cannot make us allocate gigabytes for a file that holds kilobytes.
constexpr size_t kInitialReserve = size_t(64) << 20;
// Deflate codes at best a 258-byte match in 2 bits, so gzip data never inflates more than
// 1032-fold: a header announcing more than that is refused before anything is allocated.
constexpr int64_t kMaxDeflateRatio = 1032;

const char* idx_type_name(uint8_t code) {
    switch (code) {
        case 0x08: return "unsigned byte";
        case 0x09: return "signed byte";
        case 0x0B: return "int16";
        case 0x0C: return "int32";
        case 0x0D: return "float32";
        case 0x0E: return "float64";
        default: return "not an IDX type";
    }
}

std::string hex_bytes(const uint8_t* p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < n; ++i) {
        if (i) s += ' ';
        s += digits[p[i] >> 4];
        s += digits[p[i] & 15];
    }
    return s;
}

// The bytes of a file, inflated on the fly when it is gzip. read() returns fewer bytes
// than asked only at the end of the data, and throws on a read error, corrupt or
// truncated compressed data, or garbage after the last gzip member.
class ByteReader {
public:
    explicit ByteReader(const std::string& path) : path_(path), file_(path, "read_idx") {
        file_size_ = int64_t(file_.size());
        uint8_t magic[2] = {0, 0};
        gzip_ = file_.read_at(0, magic, 2) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        if (!gzip_) return;

        in_.resize(kInputChunk);
        // 16 + MAX_WBITS: expect a gzip wrapper (header and CRC-32 trailer), not zlib.
        FG_CHECK(inflateInit2(&zs_, 16 + MAX_WBITS) == Z_OK, "read_idx: ", path, ": cannot initialise zlib");
    }
    ~ByteReader() {
        if (gzip_) inflateEnd(&zs_);
    }
    ByteReader(const ByteReader&) = delete;
    ByteReader& operator=(const ByteReader&) = delete;

    bool gzip() const { return gzip_; }
    int64_t file_size() const { return file_size_; }

    size_t read(uint8_t* dst, size_t n) { return gzip_ ? read_gzip(dst, n) : read_raw(dst, n); }

private:
    size_t read_raw(uint8_t* dst, size_t n) { return file_.read(dst, n); }

    size_t read_gzip(uint8_t* dst, size_t n) {
        zs_.next_out = dst;
        zs_.avail_out = uInt(n);  // n <= kOutputChunk, far below uInt's range
        while (zs_.avail_out > 0) {
            if (member_done_) {
                // gzip allows members back to back (cat a.gz b.gz is valid gzip); any other
                // bytes after a member's trailer are garbage, e.g. a botched append.
                if (!fill(2)) {
                    FG_CHECK(zs_.avail_in == 0, "read_idx: ", path_,
                             ": 1 byte of garbage after "
                             "the end of the gzip data");
                    break;
                }
                FG_CHECK(zs_.next_in[0] == 0x1f && zs_.next_in[1] == 0x8b, "read_idx: ", path_,
                         ": garbage after the end of the gzip data (bytes ",
                         hex_bytes(zs_.next_in, std::min<size_t>(zs_.avail_in, 4)),
                         " where the file should end)");
                inflateReset(&zs_);
                member_done_ = false;
            }
            FG_CHECK(fill(1), "read_idx: ", path_,
                     ": truncated gzip file: the compressed data "
                     "ends before the end of the stream (",
                     file_size_,
                     " bytes on disk; an "
                     "interrupted download? delete the file and fetch it again)");
            int rc = inflate(&zs_, Z_NO_FLUSH);
            if (rc == Z_STREAM_END) {
                member_done_ = true;
                continue;
            }
            FG_CHECK(rc == Z_OK, "read_idx: ", path_,
                     ": corrupt gzip data (zlib: ", zs_.msg ? zs_.msg : zError(rc),
                     "); delete the file and fetch it again");
        }
        return n - zs_.avail_out;
    }

    // Makes at least k compressed bytes available at zs_.next_in, reading from the file
    // as needed; false if the file ends first.
    bool fill(size_t k) {
        while (zs_.avail_in < k) {
            if (eof_) return false;
            if (zs_.avail_in > 0) std::memmove(in_.data(), zs_.next_in, zs_.avail_in);
            size_t got = file_.read(in_.data() + zs_.avail_in, in_.size() - zs_.avail_in);
            if (got == 0) eof_ = true;
            zs_.next_in = in_.data();
            zs_.avail_in += uInt(got);
        }
        return true;
    }

    std::string path_;
    InputFile file_;
    int64_t file_size_ = 0;
    bool gzip_ = false;
    z_stream zs_{};
    std::vector<uint8_t> in_;  // compressed input buffer
    bool eof_ = false;
    bool member_done_ = false;
};

}  // namespace

IdxArray read_idx(const std::string& path, int expected_ndim) {
    FG_CHECK(expected_ndim >= 1 && expected_ndim <= 3,
             "read_idx: expected_ndim must be 1, 2 "
             "or 3, got ",
             expected_ndim);
    ByteReader in(path);
    const char* after = in.gzip() ? " (after decompression)" : "";

    uint8_t magic[4];
    size_t got = in.read(magic, 4);
    FG_CHECK(got > 0, "read_idx: ", path, ": the file is empty", after,
             "; expected an IDX "
             "header. Delete it and fetch it again");
    FG_CHECK(got == 4, "read_idx: ", path, ": only ", got, " bytes", after,
             ", too short for "
             "the 4-byte IDX magic number");
    FG_CHECK(magic[0] == 0 && magic[1] == 0, "read_idx: ", path,
             ": not an IDX file: it starts "
             "with bytes ",
             hex_bytes(magic, 4), after, ", expected 00 00 08 0", expected_ndim,
             magic[0] == '<' ? " (it looks like a web page: a failed download?)" : "");
    FG_CHECK(magic[2] == 0x08, "read_idx: ", path, ": IDX element type 0x", hex_bytes(magic + 2, 1), " (",
             idx_type_name(magic[2]), ") is not supported; expected 0x08 (unsigned byte)");
    FG_CHECK(magic[3] == expected_ndim, "read_idx: ", path, ": the header announces ", int(magic[3]),
             " dims, expected ", expected_ndim,
             " (image files have 3: count, rows, columns; "
             "label files have 1: count). Are the image and label files swapped?");

    IdxArray out;
    const int64_t header_bytes = 4 + 4 * int64_t(expected_ndim);
    // Overflow guard: the product of up to three uint32 sizes can exceed int64.
    const int64_t max_bytes = std::numeric_limits<int64_t>::max() / 4;
    int64_t payload = 1;
    for (int d = 0; d < expected_ndim; ++d) {
        uint8_t b[4];
        FG_CHECK(in.read(b, 4) == 4, "read_idx: ", path,
                 ": truncated header: the file ends "
                 "inside the size of dim ",
                 d);
        int64_t size = (int64_t(b[0]) << 24) | (int64_t(b[1]) << 16) | (int64_t(b[2]) << 8) | b[3];
        FG_CHECK(size > 0, "read_idx: ", path, ": dim ", d,
                 " has size 0; an IDX file for a "
                 "dataset needs at least one item of at least one byte");
        FG_CHECK(payload <= max_bytes / size, "read_idx: ", path,
                 ": the header's sizes describe "
                 "an impossibly large array (more than 2^61 bytes); the header is corrupt");
        payload *= size;
        out.dims.push_back(size);
    }

    auto dims_text = [&] {
        std::string s;
        for (size_t d = 0; d < out.dims.size(); ++d) s += (d ? " x " : "") + std::to_string(out.dims[d]);
        return s;
    };
    // A raw file's size is known before reading: compare it with the header up front.
    if (!in.gzip()) {
        int64_t body = in.file_size() - header_bytes;
        FG_CHECK(body >= payload, "read_idx: ", path, ": truncated: the header announces ", dims_text(),
                 " = ", payload, " bytes of data, the file holds only ", body,
                 ". Delete it and fetch it again");
        FG_CHECK(body == payload, "read_idx: ", path, ": ", body - payload,
                 " bytes of trailing "
                 "data after the ",
                 payload, " bytes (", dims_text(), ") the header announces");
    } else {
        const int64_t most = kMaxDeflateRatio * in.file_size();
        FG_CHECK(payload <= most, "read_idx: ", path, ": truncated: the header announces ", dims_text(),
                 " = ", payload, " bytes of data, more than the ", in.file_size(),
                 " bytes of gzip data can inflate to (at most ", most,
                 "). Delete it and fetch "
                 "it again");
    }

    out.data.reserve(size_t(std::min<int64_t>(payload, int64_t(kInitialReserve))));
    while (int64_t(out.data.size()) < payload) {
        size_t start = out.data.size();
        size_t want = size_t(std::min<int64_t>(payload - int64_t(start), int64_t(kOutputChunk)));
        out.data.resize(start + want);
        size_t n = in.read(out.data.data() + start, want);
        FG_CHECK(n == want, "read_idx: ", path, ": truncated: the header announces ", dims_text(), " = ",
                 payload, " bytes of data, the file holds only ", int64_t(start + n), after,
                 ". Delete it and fetch it again");
    }

    // Nothing may follow the data; count what does, without keeping it.
    int64_t extra = 0;
    uint8_t sink[4096];
    for (size_t n; (n = in.read(sink, sizeof sink)) > 0;) extra += int64_t(n);
    FG_CHECK(extra == 0, "read_idx: ", path, ": ", extra, " bytes of trailing data", after, " after the ",
             payload, " bytes (", dims_text(), ") the header announces");
    return out;
}

}  // namespace focalgrad
