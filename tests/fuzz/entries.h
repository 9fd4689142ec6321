// entries.h — what each fuzz target does with one input: read a few option bytes, then
// call a public focalgrad function on the rest, then check what came back. The libFuzzer
// targets (tests/fuzz/fuzz_NAME.cpp) and the replay test under `make test`
// (tests/test_fuzz_regressions.cpp) both call these, so what is fuzzed is what is replayed.
// The contract: an entry returns, or throws focalgrad::Error. A sanitizer report, a crash or
// any other exception (including a broken invariant, below) is a finding.
#pragma once

#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/idx.h"
#include "data/image.h"
#include "data/mnist.h"

namespace fgfuzz {

// A loader returned something impossible: the data is wrong without an error, which is as
// much a bug as a crash. Deliberately not a focalgrad::Error, so that nothing excuses it.
struct InvariantBroken : std::logic_error {
    using std::logic_error::logic_error;
};

#define FG_FUZZ_ASSERT(cond, ...)                                                     \
    do {                                                                              \
        if (!(cond)) throw ::fgfuzz::InvariantBroken(::focalgrad::str(__VA_ARGS__)); \
    } while (0)

// A file that lives in memory (Linux memfd) under the path /proc/self/fd/N, for the loaders
// that take a path: no disk traffic per input, and nothing left behind when a crash ends
// the process. Each write replaces the whole content.
class MemFile {
public:
    explicit MemFile(const char* name) : fd_(::memfd_create(name, 0)) {
        if (fd_ < 0)
            throw std::runtime_error(std::string("memfd_create failed: ") + std::strerror(errno));
        path_ = "/proc/self/fd/" + std::to_string(fd_);
    }
    ~MemFile() { ::close(fd_); }
    MemFile(const MemFile&) = delete;
    MemFile& operator=(const MemFile&) = delete;

    const std::string& write(const uint8_t* data, size_t size) {
        if (::ftruncate(fd_, 0) != 0) throw std::runtime_error("ftruncate of a memfd failed");
        for (size_t done = 0; done < size;) {
            ssize_t n = ::pwrite(fd_, data + done, size - done, off_t(done));
            if (n <= 0) throw std::runtime_error("pwrite to a memfd failed");
            done += size_t(n);
        }
        return path_;
    }

private:
    int fd_;
    std::string path_;
};

// `size` bytes as one gzip member. Level 1 and the smallest window and hash table: the
// reader's behaviour does not depend on how well the data was compressed, and zlib's
// defaults would spend more time clearing 256 KB of tables than the reader spends reading.
inline std::vector<uint8_t> gzip(const uint8_t* data, size_t size) {
    z_stream zs{};
    if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + 9, 1, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("deflateInit2 failed");
    std::vector<uint8_t> out(deflateBound(&zs, uLong(size)));
    zs.next_in = const_cast<Bytef*>(data);
    zs.avail_in = uInt(size);
    zs.next_out = out.data();
    zs.avail_out = uInt(out.size());
    const int rc = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
    return out;
}

// The next option byte of an input, or 0 once the input is used up.
inline uint8_t take_byte(const uint8_t*& data, size_t& size) {
    if (size == 0) return 0;
    --size;
    return *data++;
}

// ---- idx: read_idx on a raw or gzip file ---------------------------------------------
// Byte 0 chooses expected_ndim (1 + (b & 3) % 3, so 1, 2, 3, 1) and, when bit 2 is set,
// has the rest gzipped here before it is read: the fuzzer mutates the IDX structure
// and still reaches the gzip path with valid compressed data. The rest is the file, which
// can itself be gzip (the reader sniffs 1f 8b), so compressed bytes are mutated too.
inline void idx(const uint8_t* data, size_t size) {
    const uint8_t mode = take_byte(data, size);
    const int expected_ndim = 1 + (mode & 3) % 3;
    static MemFile file("fuzz-idx");
    std::string path;
    if (mode & 4) {
        std::vector<uint8_t> gz = gzip(data, size);
        path = file.write(gz.data(), gz.size());
    } else {
        path = file.write(data, size);
    }

    focalgrad::IdxArray a = focalgrad::read_idx(path, expected_ndim);
    FG_FUZZ_ASSERT(int(a.dims.size()) == expected_ndim, "read_idx returned ", a.dims.size(),
                   " dims, expected ", expected_ndim);
    int64_t items = 1;
    for (int64_t d : a.dims) {
        FG_FUZZ_ASSERT(d >= 1, "read_idx returned a dim of size ", d);
        items *= d;
    }
    FG_FUZZ_ASSERT(int64_t(a.data.size()) == items, "read_idx returned ", a.data.size(),
                   " bytes for dims whose product is ", items);
}

// ---- dataset: load_idx_dataset on an image file and a label file ------------------------
// The input is the image file, kSplit, then the label file (each raw or gzip); without
// kSplit the label file is empty. The dataset has 10 classes, like MNIST.
inline const std::string kSplit = "\n--labels--\n";

inline void dataset(const uint8_t* data, size_t size) {
    const uint8_t* end = data + size;
    const uint8_t* split = static_cast<const uint8_t*>(
        ::memmem(data, size, kSplit.data(), kSplit.size()));
    const uint8_t* labels = split ? split + kSplit.size() : end;
    static MemFile image_file("fuzz-images"), label_file("fuzz-labels");
    const std::string images_path = image_file.write(data, size_t((split ? split : end) - data));
    const std::string labels_path = label_file.write(labels, size_t(end - labels));

    std::vector<std::string> classes;
    for (int c = 0; c < 10; ++c) classes.push_back(std::to_string(c));
    focalgrad::Dataset d = focalgrad::load_idx_dataset(images_path, labels_path, "fuzz", classes);
    FG_FUZZ_ASSERT(d.size() >= 1 && d.rows >= 1 && d.cols >= 1, "load_idx_dataset returned ",
                   d.size(), " images of ", d.rows, " x ", d.cols);
    FG_FUZZ_ASSERT(int64_t(d.images.size()) == d.size() * d.image_size(), "load_idx_dataset "
                   "returned ", d.images.size(), " pixels for ", d.size(), " images of ", d.rows,
                   " x ", d.cols);
    for (int label : d.labels)
        FG_FUZZ_ASSERT(label >= 0 && label < d.num_classes(), "load_idx_dataset let label ",
                       label, " through with ", d.num_classes(), " classes");
}

// ---- image: load_image_from_memory (stb_image, luma, alpha, resize, inversion) -----------
// Byte 0: output width 1 + (b & 63), and the inversion mode in bits 6-7 (no, yes, and
// if_light_background twice). Byte 1: output height 1 + (b & 63). The rest is the file.
inline void image(const uint8_t* data, size_t size) {
    const uint8_t b0 = take_byte(data, size), b1 = take_byte(data, size);
    focalgrad::ImageOptions options;
    // 2^18 pixels rather than 2^25: stb_image decodes a 140-byte BMP announcing 10 million
    // pixels (the rows it lacks as zeros), 30 s under ASan, and the code paths are the same.
    options.max_pixels = int64_t(1) << 18;
    options.width = 1 + (b0 & 63);
    options.height = 1 + (b1 & 63);
    const int mode = b0 >> 6;
    options.invert = mode == 0   ? focalgrad::Invert::no
                     : mode == 1 ? focalgrad::Invert::yes
                                 : focalgrad::Invert::if_light_background;

    focalgrad::Tensor t = focalgrad::load_image_from_memory(data, size, options);
    FG_FUZZ_ASSERT(t.shape() == focalgrad::Shape({options.height, options.width}),
                   "load_image_from_memory returned shape ", t.shape(), " for ", options.width,
                   " x ", options.height);
    const float* v = t.data();
    for (int64_t i = 0; i < t.numel(); ++i)
        FG_FUZZ_ASSERT(v[i] >= 0.0f && v[i] <= 1.0f, "load_image_from_memory returned ", v[i],
                       " at ", i, ", outside [0, 1]");
}

// ---- the table --------------------------------------------------------------------------
// One line per target: NAME is that of tests/fuzz/fuzz_NAME.cpp and of its directories
// tests/fuzz/corpus/NAME/ and tests/fuzz/regressions/NAME/; `ops` are the functions whose
// names may start its error messages ("read_idx: ..."), as the replay test checks.
using EntryFn = void (*)(const uint8_t* data, size_t size);
struct Entry {
    const char* name;
    EntryFn run;
    std::vector<std::string> ops;
};
inline const Entry kEntries[] = {
    {"idx", idx, {"read_idx"}},
    {"dataset", dataset, {"load_idx_dataset", "read_idx"}},
    {"image", image, {"load_image_from_memory"}},
};

// What a fuzz target's LLVMFuzzerTestOneInput does: an Error is the expected outcome for
// most inputs; anything else propagates and ends the process, which libFuzzer reports.
inline int fuzz_one(EntryFn run, const uint8_t* data, size_t size) {
    try {
        run(data, size);
    } catch (const focalgrad::Error&) {
    }
    return 0;
}

}  // namespace fgfuzz
