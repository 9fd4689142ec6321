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

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <focalgrad/core/error.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/random.h>
#include <focalgrad/data/csv.h>
#include <focalgrad/data/idx.h>
#include <focalgrad/data/image.h>
#include <focalgrad/data/image_folder.h>
#include <focalgrad/data/mnist.h>
#include <focalgrad/nn/checkpoint.h>
#include <focalgrad/nn/layers.h>

namespace fgfuzz {

// A loader returned something impossible: the data is wrong without an error, which is as
// much a bug as a crash. Deliberately not a focalgrad::Error, so that nothing excuses it.
struct InvariantBroken : std::logic_error {
    using std::logic_error::logic_error;
};

#define FG_FUZZ_ASSERT(cond, ...)                                                    \
    do {                                                                             \
        if (!(cond)) throw ::fgfuzz::InvariantBroken(::focalgrad::str(__VA_ARGS__)); \
    } while (0)

// A file that lives in memory (Linux memfd) under the path /proc/self/fd/N, for the loaders
// that take a path: no disk traffic per input, and nothing left behind when a crash ends
// the process. Each write replaces the whole content.
class MemFile {
public:
    explicit MemFile(const char* name) : fd_(::memfd_create(name, 0)) {
        if (fd_ < 0) throw std::runtime_error(std::string("memfd_create failed: ") + std::strerror(errno));
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
    const uint8_t* split = static_cast<const uint8_t*>(::memmem(data, size, kSplit.data(), kSplit.size()));
    const uint8_t* labels = split ? split + kSplit.size() : end;
    static MemFile image_file("fuzz-images"), label_file("fuzz-labels");
    const std::string images_path = image_file.write(data, size_t((split ? split : end) - data));
    const std::string labels_path = label_file.write(labels, size_t(end - labels));

    std::vector<std::string> classes;
    for (int c = 0; c < 10; ++c) classes.push_back(std::to_string(c));
    focalgrad::Dataset d = focalgrad::load_idx_dataset(images_path, labels_path, "fuzz", classes);
    FG_FUZZ_ASSERT(d.size() >= 1 && d.rows >= 1 && d.cols >= 1, "load_idx_dataset returned ", d.size(),
                   " images of ", d.rows, " x ", d.cols);
    FG_FUZZ_ASSERT(int64_t(d.images.size()) == d.size() * d.image_size(),
                   "load_idx_dataset "
                   "returned ",
                   d.images.size(), " pixels for ", d.size(), " images of ", d.rows, " x ", d.cols);
    for (int label : d.labels)
        FG_FUZZ_ASSERT(label >= 0 && label < d.num_classes(), "load_idx_dataset let label ", label,
                       " through with ", d.num_classes(), " classes");
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
                   "load_image_from_memory returned shape ", t.shape(), " for ", options.width, " x ",
                   options.height);
    const float* v = t.data();
    for (int64_t i = 0; i < t.numel(); ++i)
        FG_FUZZ_ASSERT(v[i] >= 0.0f && v[i] <= 1.0f, "load_image_from_memory returned ", v[i], " at ", i,
                       ", outside [0, 1]");
}

// ---- checkpoint: load() into a small model, or load_model() -------------------------------
// Byte 0 chooses the model, b & 3 (below); when bit 2 is set has the harness write the
// CRC-32 of the rest over its last 4 bytes before loading: the fuzzer mutates counts,
// names and shapes and still gets past the CRC, to the code that fits the file to the
// model and copies the data; when bit 3 is set calls load_model(path) instead, which
// builds the model from the file's architecture (the chosen model is then unused). The
// rest is the file. The contract, checked here: on success every parameter, buffer and
// generator holds the bits its record has in the file (and save() writes them back); on a
// focalgrad::Error the model is bit for bit what it was.

// Model 2: tensors of rank 0 and 4, and names two levels deep. Checkpoints of each model are
// refused by the others (a missing, an extra or a mis-shaped tensor).
struct CheckpointConvNet : focalgrad::Module {
    focalgrad::Tensor temperature;
    std::shared_ptr<focalgrad::Sequential> encoder;
    std::shared_ptr<focalgrad::Linear> head;

    explicit CheckpointConvNet(focalgrad::Generator& gen) {
        using namespace focalgrad;
        // Registered first, so named_parameters() lists it before the children's tensors.
        temperature = register_parameter("temperature", Tensor::scalar(1.0f));
        encoder = register_module(
            "encoder", std::make_shared<Sequential>(Conv2d(1, 2, 2, 1, 0, true, gen), ReLU(), Flatten()));
        head = register_module("head", std::make_shared<Linear>(8, 2, true, gen));
    }
    // x [N, 1, 3, 3] -> [N, 2, 2, 2] -> [N, 8] -> [N, 2], scaled by the temperature
    focalgrad::Tensor forward(const focalgrad::Tensor& x) override {
        return (*head)((*encoder)(x)) * temperature;
    }
};

// The model of option `arch`, always with the same starting state, and its records:
//   0  Sequential(Linear(4, 3), ReLU, Linear(3, 2))
//        0.weight [3, 4], 0.bias [3], 2.weight [2, 3], 2.bias [2]
//   1  the same without the first bias
//        0.weight [3, 4], 2.weight [2, 3], 2.bias [2]
//   2  CheckpointConvNet
//        temperature [], encoder.0.weight [2, 1, 2, 2], encoder.0.bias [2], head.weight [2, 8],
//        head.bias [2]
//   3  Sequential(Linear(4, 3), BatchNorm1d(3), Dropout(0.5), Linear(3, 2)): buffers and a generator
//        0.weight [3, 4], 0.bias [3], 1.weight [3], 1.bias [3], 3.weight [2, 3], 3.bias [2],
//        buffers 1.running_mean [3], 1.running_var [3], generator 2.generator (int64 [2])
inline std::unique_ptr<focalgrad::Module> checkpoint_model(int arch) {
    using namespace focalgrad;
    Generator gen(uint64_t(100 + arch));
    if (arch == 2) return std::make_unique<CheckpointConvNet>(gen);
    if (arch == 3)
        return std::make_unique<Sequential>(std::make_shared<Linear>(4, 3, true, gen), BatchNorm1d(3),
                                            Dropout(0.5f, 7), std::make_shared<Linear>(3, 2, true, gen));
    return std::make_unique<Sequential>(std::make_shared<Linear>(4, 3, arch == 0, gen), ReLU(),
                                        std::make_shared<Linear>(3, 2, true, gen));
}

// The model's state as (name, bits): parameters and buffers as 32-bit words, generators as
// their two 64-bit words split in four. Floats compared as bits, so that a NaN equals itself
// and -0 differs from 0.
inline std::vector<std::pair<std::string, std::vector<uint32_t>>> model_bits(const focalgrad::Module& m) {
    std::vector<std::pair<std::string, std::vector<uint32_t>>> out;
    auto add = [&](const std::string& name, const focalgrad::Tensor& t) {
        std::vector<uint32_t> bits(size_t(t.numel()));
        std::memcpy(bits.data(), t.data(), bits.size() * 4);
        out.emplace_back(name, std::move(bits));
    };
    for (const auto& [name, t] : m.named_parameters()) add(name, t);
    for (const auto& [name, t] : m.named_buffers()) add(name, t);
    for (const auto& [name, g] : m.named_generators()) {
        const uint64_t s = g->state(), i = g->increment();
        out.emplace_back(
            name, std::vector<uint32_t>{uint32_t(s), uint32_t(s >> 32), uint32_t(i), uint32_t(i >> 32)});
    }
    return out;
}

inline uint32_t le32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// One record of a checkpoint, located by the layout documented in nn/checkpoint.h.
struct CheckpointRecord {
    std::string name;  // as stored
    std::string key;   // version 1's names get "model:"
    uint32_t type = 0;
    focalgrad::Shape shape;
    uint64_t numel = 0;
    const uint8_t* data;  // numel elements, little-endian
};

// The records of a file that load() accepted (or save() wrote), read again here without the
// loader's code. Each bound is checked: a file this reading finds malformed should not have
// been accepted, which is an InvariantBroken, not a crash of the harness.
inline std::vector<CheckpointRecord> checkpoint_records(const std::vector<uint8_t>& file,
                                                        uint32_t* version_out) {
    const size_t end = file.size() >= 4 ? file.size() - 4 : 0;  // where the CRC begins
    size_t pos = 0;
    auto take = [&](uint64_t n) {
        FG_FUZZ_ASSERT(n <= end - pos, "a checkpoint that passed has no room for ", n, " bytes at offset ",
                       pos, " (file size ", file.size(), ")");
        pos += size_t(n);
        return file.data() + pos - n;
    };
    take(8);  // magic
    const uint32_t version = le32(take(4));
    FG_FUZZ_ASSERT(version == 1 || version == 2, "a checkpoint that passed has version ", version);
    *version_out = version;
    const uint32_t count = le32(take(4));
    std::vector<CheckpointRecord> records;
    for (uint32_t k = 0; k < count; ++k) {
        CheckpointRecord r;
        const uint32_t length = le32(take(4));
        r.name.assign(reinterpret_cast<const char*>(take(length)), length);
        r.key = version == 1 ? "model:" + r.name : r.name;
        if (version == 2) r.type = le32(take(4));
        FG_FUZZ_ASSERT(r.type < 4, "a checkpoint that passed has '", r.name, "' of type ", r.type);
        const uint64_t element = r.type == 0 ? 4 : r.type == 3 ? 1 : 8;
        const uint32_t rank = le32(take(4));
        FG_FUZZ_ASSERT(rank <= uint32_t(focalgrad::kMaxDims), "a checkpoint that passed has '", r.name,
                       "' of rank ", rank);
        uint64_t numel = 1;
        for (uint32_t d = 0; d < rank; ++d) {
            const uint8_t* p = take(8);
            const uint64_t size = uint64_t(le32(p)) | uint64_t(le32(p + 4)) << 32;
            // Bounded by the file size before multiplying, so numel cannot overflow.
            FG_FUZZ_ASSERT(size <= file.size(), "a checkpoint that passed has '", r.name,
                           "' with a dimension of size ", size, " (file size ", file.size(), ")");
            r.shape.push_back(int64_t(size));
            numel = std::min<uint64_t>(numel * size, file.size());
        }
        r.numel = numel;
        r.data = take(element * numel);
        records.push_back(std::move(r));
    }
    FG_FUZZ_ASSERT(pos == end, "a checkpoint that passed has ", end - pos, " bytes after its last record");
    return records;
}

// Checks that the "model:" records are exactly the model's state, names, shapes and bits.
inline void check_records_match(const std::vector<CheckpointRecord>& records, uint32_t version,
                                const focalgrad::Module& model, const char* what) {
    const auto state = model_bits(model);
    size_t model_records = 0;
    for (const CheckpointRecord& r : records) model_records += r.key.rfind("model:", 0) == 0;
    const size_t generators = model.named_generators().size();
    // A version-1 file holds no generators; they keep their state.
    FG_FUZZ_ASSERT(
        model_records == state.size() || (version == 1 && model_records + generators == state.size()), what,
        " has ", model_records, " model records, the model ", state.size());
    for (const auto& [name, bits] : state) {
        size_t k = 0;
        while (k < records.size() && records[k].key != "model:" + name) ++k;
        if (k == records.size() && version == 1) continue;
        FG_FUZZ_ASSERT(k < records.size(), what, " has no record '", name, "'");
        const CheckpointRecord& r = records[k];
        FG_FUZZ_ASSERT(r.numel * (r.type == 0 ? 1 : 2) == bits.size(), what, " has '", name, "' of ", r.numel,
                       " elements");
        for (size_t j = 0; j < bits.size(); ++j)
            FG_FUZZ_ASSERT(bits[j] == le32(r.data + 4 * j), "'", name, "'[", j, "] holds bits ", bits[j],
                           " in the model but ", le32(r.data + 4 * j), " in ", what);
    }
}

// A directory for files that need a real path (save() writes a temporary beside its target
// and renames it over it): in /dev/shm when possible, so no disk is touched. Made for one
// input and removed after it, so that a crash in another input leaves nothing behind.
class ScratchDir {
public:
    ScratchDir() {
        const std::string bases[] = {"/dev/shm", std::filesystem::temp_directory_path().string()};
        for (const std::string& base : bases) {
            std::string tmpl = base + "/focalgrad-fuzz-XXXXXX";
            if (::mkdtemp(tmpl.data())) {
                path_ = tmpl;
                return;
            }
        }
        throw std::runtime_error(std::string("mkdtemp failed: ") + std::strerror(errno));
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;

    std::string file(const std::string& name) const { return path_ + "/" + name; }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

inline std::vector<uint8_t> read_whole_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// An error message is read on a terminal and printed with "%s": bytes copied from the file
// must not cut it short (a NUL) or garble it (escape sequences, line breaks).
inline void check_message_is_plain(const focalgrad::Error& e, const char* op) {
    const std::string message = e.what();
    for (size_t i = 0; i < message.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(message[i]);
        FG_FUZZ_ASSERT(c >= 0x20 && c != 0x7f, op, "'s error message has the control byte ", int(c), " at ",
                       i, ": ", message);
    }
}

inline void checkpoint(const uint8_t* data, size_t size) {
    const uint8_t mode = take_byte(data, size);
    std::vector<uint8_t> file(data, data + size);
    if ((mode & 4) && file.size() >= 4) {
        const uint32_t crc = uint32_t(::crc32(0, file.data(), uInt(file.size() - 4)));
        for (size_t i = 0; i < 4; ++i) file[file.size() - 4 + i] = uint8_t(crc >> (8 * i));
    }
    static MemFile mem("fuzz-checkpoint");
    const std::string& path = mem.write(file.data(), file.size());

    std::shared_ptr<focalgrad::Module> model;
    focalgrad::Checkpoint contents;
    if (mode & 8) {
        try {
            focalgrad::LoadedModel loaded = focalgrad::load_model(path);
            model = loaded.model;
            contents = loaded.checkpoint;
        } catch (const focalgrad::Error& e) {
            check_message_is_plain(e, "load_model");
            throw;
        }
    } else {
        model = checkpoint_model(mode & 3);
        const auto before = model_bits(*model);
        try {
            contents = focalgrad::load(*model, path);
        } catch (const focalgrad::Error& e) {
            FG_FUZZ_ASSERT(model_bits(*model) == before, "load changed the model, then threw: ", e.what());
            check_message_is_plain(e, "load");
            throw;
        }
    }
    uint32_t version = 0;
    const std::vector<CheckpointRecord> records = checkpoint_records(file, &version);
    FG_FUZZ_ASSERT(contents.version == version, "load says version ", contents.version, ", the file has ",
                   version);
    check_records_match(records, version, *model, "the file loaded");

    // save() writes the same model records back, and the same info and state: the very
    // bytes that were loaded, when the file is version 2 with its records in save's order.
    ScratchDir scratch;
    const std::string saved_path = scratch.file("saved.fgc");
    try {
        focalgrad::save(*model, saved_path, contents.info, contents.state);
    } catch (const focalgrad::Error& e) {
        throw InvariantBroken(focalgrad::str("save failed after a successful load: ", e.what()));
    }
    const std::vector<uint8_t> saved = read_whole_file(saved_path);
    uint32_t saved_version = 0;
    const std::vector<CheckpointRecord> saved_records = checkpoint_records(saved, &saved_version);
    check_records_match(saved_records, saved_version, *model, "the file saved");
    bool same_order = version == 2 && records.size() == saved_records.size();
    for (size_t k = 0; same_order && k < records.size(); ++k)
        same_order = records[k].name == saved_records[k].name;
    FG_FUZZ_ASSERT(!same_order || saved == file, "save wrote ", saved.size(), " bytes that differ from the ",
                   file.size(), " loaded, whose records were in save's order");
}

// ---- csv: load_csv on a table -------------------------------------------------------
// Byte 0: the header rule, (b & 3) % 3 (detect, yes, no); the label column, (b >> 2) & 3
// ("" for the last, "1", "2", or the name "y"); the delimiter, bit 4 (',' or ';'). The
// rest is the file. Checked: a consistent dataset (check_dataset), one feature fewer than
// columns, and messages without control bytes (cells are shown escaped).
inline void csv(const uint8_t* data, size_t size) {
    const uint8_t mode = take_byte(data, size);
    focalgrad::CsvOptions options;
    const focalgrad::CsvHeader headers[] = {focalgrad::CsvHeader::detect, focalgrad::CsvHeader::yes,
                                            focalgrad::CsvHeader::no};
    options.header = headers[(mode & 3) % 3];
    const char* const labels[] = {"", "1", "2", "y"};
    options.label_column = labels[(mode >> 2) & 3];
    options.delimiter = (mode & 16) ? ';' : ',';
    static MemFile file("fuzz-csv");
    const std::string& path = file.write(data, size);
    focalgrad::TensorDataset d;
    try {
        d = focalgrad::load_csv(path, options);
    } catch (const focalgrad::Error& e) {
        check_message_is_plain(e, "load_csv");
        throw;
    }
    try {
        focalgrad::check_dataset(d, "fuzz");
    } catch (const focalgrad::Error& e) {
        throw InvariantBroken(focalgrad::str("load_csv returned an inconsistent dataset: ", e.what()));
    }
    FG_FUZZ_ASSERT(d.item_shape.size() == 1 && d.size() >= 1, "load_csv returned items of shape ",
                   d.item_shape, " and ", d.size(), " rows");
}

// ---- image_folder: load_image_folder on a tree of files -------------------------------
// Byte 0: the size, 1 + (b & 7) square, and the channels, bit 3 (grey or RGB). The rest is
// a list of files separated by kFileSplit; file i is written as root/c(i % 3)/f<i>.png
// (stb_image goes by the bytes, not the name) in a scratch directory. Checked: a
// consistent dataset of items [C, s, s] with values in [0, 1], and plain messages.
inline const std::string kFileSplit = "\n--file--\n";

inline void image_folder(const uint8_t* data, size_t size) {
    const uint8_t mode = take_byte(data, size);
    focalgrad::ImageFolderOptions options;
    options.width = options.height = 1 + (mode & 7);
    options.channels = (mode & 8) ? 3 : 1;
    options.max_pixels = int64_t(1) << 18;  // as in the image target: same paths, faster
    ScratchDir scratch;
    const std::string root = scratch.file("root");
    const uint8_t* end = data + size;
    for (int i = 0; data <= end && i < 16; ++i) {
        const uint8_t* split = static_cast<const uint8_t*>(
            ::memmem(data, size_t(end - data), kFileSplit.data(), kFileSplit.size()));
        const uint8_t* stop = split ? split : end;
        const std::string dir = root + "/c" + std::to_string(i % 3);
        std::filesystem::create_directories(dir);
        std::ofstream(dir + "/f" + std::to_string(i) + ".png", std::ios::binary)
            .write(reinterpret_cast<const char*>(data), std::streamsize(stop - data));
        if (!split) break;
        data = split + kFileSplit.size();
    }
    focalgrad::TensorDataset d;
    try {
        d = focalgrad::load_image_folder(root, options);
    } catch (const focalgrad::Error& e) {
        check_message_is_plain(e, "load_image_folder");
        throw;
    }
    try {
        focalgrad::check_dataset(d, "fuzz");
    } catch (const focalgrad::Error& e) {
        throw InvariantBroken(
            focalgrad::str("load_image_folder returned an inconsistent dataset: ", e.what()));
    }
    FG_FUZZ_ASSERT(d.item_shape == focalgrad::Shape({options.channels, options.height, options.width}),
                   "load_image_folder returned items of shape ", d.item_shape);
    for (float v : d.values)
        FG_FUZZ_ASSERT(v >= 0.0f && v <= 1.0f, "load_image_folder returned the value ", v);
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
    {"checkpoint", checkpoint, {"load", "load_model"}},
    {"csv", csv, {"load_csv"}},
    {"image_folder", image_folder, {"load_image_folder"}},
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
