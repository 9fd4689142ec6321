// checkpoint.cpp — the writer (atomic: temp file, fsync, rename) and the validating
// reader of the format described in checkpoint.h, versions 1 and 2.
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

#include <focalgrad/core/error.h>
#include <focalgrad/core/io.h>
#include <focalgrad/nn/architecture.h>
#include <focalgrad/nn/checkpoint.h>

namespace focalgrad {

namespace {

constexpr char kMagic[8] = {'F', 'O', 'C', 'A', 'L', 'G', 'R', 'D'};
constexpr uint32_t kVersion = 2;
constexpr uint32_t kMaxNameBytes = 4096;
constexpr uint32_t kMaxRecords = 65536;
constexpr uint64_t kMaxTextBytes = uint64_t(1) << 24;  // an architecture, a list of class names
constexpr size_t kHeaderBytes = 16;                    // magic, version, count
constexpr size_t kCrcBytes = 4;
constexpr size_t kMaxIssues = 8;  // misfits listed in one message; also the extra tensors a v1 file may hold
// A file that is refused before its data is read is still checked against its CRC when
// it is at most this large (a few milliseconds), to say whether it is also corrupt.
constexpr uint64_t kCrcNoteMaxBytes = uint64_t(64) << 20;

enum class Type : uint32_t { f32 = 0, f64 = 1, i64 = 2, bytes = 3 };
constexpr uint32_t kTypes = 4;

uint64_t element_bytes(Type t) { return t == Type::f32 ? 4 : t == Type::bytes ? 1 : 8; }
const char* type_name(Type t) {
    return t == Type::f32 ? "float32" : t == Type::f64 ? "float64" : t == Type::i64 ? "int64" : "byte";
}

void put_u32(std::vector<unsigned char>& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<unsigned char>(v >> (8 * i)));
}
void put_u64(std::vector<unsigned char>& out, uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<unsigned char>(v >> (8 * i)));
}
uint32_t get_u32(const unsigned char* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint64_t get_u64(const unsigned char* p) { return uint64_t(get_u32(p)) | uint64_t(get_u32(p + 4)) << 32; }

uint32_t crc32_of(const unsigned char* p, size_t n, uint32_t crc = 0) {
    // zlib takes uInt lengths: feed large buffers in pieces.
    while (n > 0) {
        uInt piece = n > (1u << 30) ? (1u << 30) : uInt(n);
        crc = uint32_t(::crc32(crc, p, piece));
        p += piece;
        n -= piece;
    }
    return crc;
}

// A name read from the file, as error messages show it (printable: control bytes escaped);
// a long one is cut to 64 bytes, with its length.
std::string shown_name(const std::string& name) {
    const size_t kShown = 64;
    return printable(name, kShown) + (name.size() > kShown ? str(" (", name.size(), " bytes)") : "");
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// What the model holds, as records: parameters and buffers (float32, their shapes), then
// generators (int64 [2]).
struct Slot {
    std::string name;  // the module's name, without "model:"
    Type type;
    Shape shape;
    Tensor tensor;               // parameters and buffers
    const Generator* generator;  // generators
};

std::vector<Slot> model_slots(const Module& module) {
    std::vector<Slot> slots;
    for (const auto& [name, t] : module.named_parameters())
        slots.push_back({name, Type::f32, t.shape(), t, nullptr});
    for (const auto& [name, t] : module.named_buffers())
        slots.push_back({name, Type::f32, t.shape(), t, nullptr});
    for (const auto& [name, g] : module.named_generators())
        slots.push_back({name, Type::i64, Shape{2}, Tensor(), g});
    return slots;
}

// ---- Writing ----------------------------------------------------------------------

// The bytes of one save, streamed to an AtomicFile with the CRC kept up to date.
class CheckpointWriter {
public:
    explicit CheckpointWriter(const std::string& path) : file_(path, "save") {}
    void write(const std::vector<unsigned char>& bytes) {
        file_.write(bytes.data(), bytes.size());
        crc_ = crc32_of(bytes.data(), bytes.size(), crc_);
    }
    // One record; `data` holds n elements of the type, in the host's order (encoded here
    // little-endian whatever that is).
    void record(const std::string& name, Type type, const Shape& shape, const void* data) {
        FG_CHECK(!name.empty() && name.size() <= kMaxNameBytes, "save: the name '", shown_name(name),
                 "' must have 1 to ", kMaxNameBytes, " bytes");
        buf_.clear();
        put_u32(buf_, uint32_t(name.size()));
        buf_.insert(buf_.end(), name.begin(), name.end());
        put_u32(buf_, uint32_t(type));
        put_u32(buf_, uint32_t(shape.size()));
        for (int64_t s : shape) put_u64(buf_, uint64_t(s));
        write(buf_);
        const int64_t n = shape.numel(), chunk = 16384;
        const auto* bytes = static_cast<const unsigned char*>(data);
        for (int64_t begin = 0; begin < n; begin += chunk) {
            const int64_t end = std::min(n, begin + chunk);
            buf_.clear();
            for (int64_t i = begin; i < end; ++i) {
                if (type == Type::bytes) {
                    buf_.push_back(bytes[i]);
                } else if (type == Type::f32) {
                    uint32_t bits;
                    std::memcpy(&bits, bytes + 4 * i, 4);
                    put_u32(buf_, bits);
                } else {
                    uint64_t bits;
                    std::memcpy(&bits, bytes + 8 * i, 8);
                    put_u64(buf_, bits);
                }
            }
            write(buf_);
        }
        ++count_;
    }
    uint32_t count() const { return count_; }
    void finish() {
        buf_.clear();
        put_u32(buf_, crc_);
        file_.write(buf_.data(), buf_.size());
        file_.commit();
    }

private:
    AtomicFile file_;
    std::vector<unsigned char> buf_;
    uint32_t crc_ = 0, count_ = 0;
};

void check_info(const ModelInfo& info) {
    FG_CHECK(info.input_mean.size() == info.input_std.size(), "save: ModelInfo has ", info.input_mean.size(),
             " input means but ", info.input_std.size(), " standard deviations");
    for (size_t c = 0; c < info.input_mean.size(); ++c)
        FG_CHECK(
            std::isfinite(info.input_mean[c]) && std::isfinite(info.input_std[c]) && info.input_std[c] > 0,
            "save: ModelInfo: channel ", c, " has mean ", info.input_mean[c], " and std ", info.input_std[c],
            " (need finite, std > 0)");
    FG_CHECK(info.input_shape.size() <= size_t(kMaxDims), "save: ModelInfo: the input shape has more than ",
             kMaxDims, " dims");
    for (int64_t s : info.input_shape)
        FG_CHECK(s >= 1, "save: ModelInfo: the input shape ", Shape(info.input_shape), " has a size below 1");
    for (const std::string& name : info.class_names)
        FG_CHECK(!name.empty() && name.find('\n') == std::string::npos, "save: ModelInfo: class name '",
                 shown_name(name), "' must be non-empty and hold no line break");
    FG_CHECK(info.architecture.size() <= kMaxTextBytes,
             "save: ModelInfo: the architecture text is longer than ", kMaxTextBytes, " bytes");
}

// ---- Reading ----------------------------------------------------------------------
//
// In three steps, each done before the next reads anything more: the layout (header and
// record headers, every declared size checked against the file's length), its fit to the
// model (names, types and shapes), and only then the data, streamed into staging buffers
// with the CRC. A file that does not fit costs the reads of its record headers, whatever
// its size.

struct Record {
    std::string name;  // as stored
    std::string key;   // with its part: version 1's "0.weight" is "model:0.weight"
    Type type = Type::f32;
    Shape shape;
    uint64_t numel = 0;
    uint64_t data_offset = 0;  // of the first element, in the file
};

// What is wrong with a record's type and shape for what its name says it is, or "".
std::string record_kind_fault(const Record& r, const std::string& label) {
    const std::string& k = r.key;
    const bool vector = r.shape.size() == 1;
    auto want = [&](Type type, const char* shape_text) {
        return str(label, " is ", type_name(r.type), " ", r.shape, "; '", k, "' must be ", type_name(type),
                   " ", shape_text);
    };
    if (starts_with(k, "model:")) {
        if (k.size() == 6) return str(label, " has an empty model tensor name");
        if (r.type == Type::f32 || (r.type == Type::i64 && r.shape == Shape{2})) return "";
        return str(label, " is ", type_name(r.type), " ", r.shape,
                   "; a model record is a float32 tensor or an int64 [2] generator state");
    }
    if (starts_with(k, "state:")) {
        if (k.size() == 6) return str(label, " has an empty state key");
        if (r.type == Type::f32 || vector) {
            if (r.type == Type::bytes && r.numel > kMaxTextBytes)
                return str(label, " holds ", r.numel, " bytes of text, more than ", kMaxTextBytes);
            return "";
        }
        return str(label, " is ", type_name(r.type), " ", r.shape,
                   "; a state record other than float32 must have rank 1");
    }
    if (k == "info:architecture" || k == "info:class_names") {
        if (r.type != Type::bytes || !vector) return want(Type::bytes, "[n]");
        if (r.numel > kMaxTextBytes)
            return str(label, " holds ", r.numel, " bytes, more than ", kMaxTextBytes);
        return "";
    }
    if (k == "info:input_shape") {
        if (r.type != Type::i64 || !vector || r.numel > uint64_t(kMaxDims))
            return want(Type::i64, "[k], k <= 8");
        return "";
    }
    if (k == "info:flatten_input") {
        if (r.type != Type::i64 || r.shape != Shape{1}) return want(Type::i64, "[1]");
        return "";
    }
    if (k == "info:input_mean" || k == "info:input_std") {
        if (r.type != Type::f64 || !vector || r.numel > kMaxRecords)
            return want(Type::f64, "[C], C <= 65536");
        return "";
    }
    return str(label,
               " is not a known record (names start with model:, info: or state:, and info: is one of "
               "architecture, input_shape, flatten_input, input_mean, input_std, class_names)");
}

// The header and record headers of `path`, all checked against the file's length.
class Layout {
public:
    Layout(const std::string& path, const char* op) : file(path, op), where(str(op, ": '", path, "'")) {
        size = file.size();
        unsigned char header[kHeaderBytes];
        const size_t got = file.read_at(0, header, std::min<uint64_t>(size, kHeaderBytes));
        FG_CHECK(got >= 8 && std::memcmp(header, kMagic, 8) == 0, where,
                 " is not a focalgrad checkpoint (it does not start with \"FOCALGRD\"",
                 got < 8 ? str("; it has only ", got, " bytes") : std::string(), ")");
        FG_CHECK(size >= kHeaderBytes + kCrcBytes && got == kHeaderBytes, where, " is truncated: ", size,
                 " bytes, but a checkpoint has at least ", kHeaderBytes + kCrcBytes);
        version = get_u32(&header[8]);
        FG_CHECK(version == 1 || version == 2, where, " has format version ", version,
                 "; this build of focalgrad reads versions 1 and 2");
        end = size - kCrcBytes;
        count = get_u32(&header[12]);
    }

    // Reads every record header; `max_count` bounds the count first, from the header alone.
    void read_records(uint64_t max_count, const std::string& bound_reason) {
        FG_CHECK(count <= max_count, where, " holds ", count, " ", version == 1 ? "tensors" : "records",
                 " but ", bound_reason, crc_note(), " (the model is unchanged)");
        const std::string problem = parse_records();
        FG_CHECK(problem.empty(), where, " is truncated or corrupt: ", problem, crc_note());
    }

    // "; its CRC-32 does not match either", for a small file that is corrupt as well.
    std::string crc_note() {
        if (size > kCrcNoteMaxBytes) return "";
        unsigned char stored[4];
        if (file.read_at(end, stored, 4) != 4) return "";
        return get_u32(stored) != stream(nullptr) ? "; its CRC-32 does not match either" : "";
    }

    const Record* find(const std::string& key) const {
        for (const Record& r : records)
            if (r.key == key) return &r;
        return nullptr;
    }

    // The CRC-32 of the file's first `end` bytes, read in pieces of 1 MiB; with `staging`,
    // each record's data is also kept, as stored (little-endian).
    uint32_t stream(std::vector<std::vector<unsigned char>>* staging) {
        std::vector<unsigned char> buf(size_t(std::min<uint64_t>(end, uint64_t(1) << 20)));
        uint32_t crc = 0;
        uint64_t pos = 0;
        auto read_into = [&](unsigned char* dst, uint64_t n) {
            FG_CHECK(file.read_at(pos, dst, size_t(n)) == n, where, " shrank while being read");
            crc = crc32_of(dst, size_t(n), crc);
            pos += n;
        };
        auto skip_to = [&](uint64_t to) {
            while (pos < to) read_into(buf.data(), std::min<uint64_t>(to - pos, buf.size()));
        };
        if (staging) {
            staging->assign(records.size(), {});
            for (size_t k = 0; k < records.size(); ++k) {
                const Record& r = records[k];
                skip_to(r.data_offset);
                (*staging)[k].resize(size_t(r.numel * element_bytes(r.type)));
                read_into((*staging)[k].data(), (*staging)[k].size());
            }
        }
        skip_to(end);
        return crc;
    }

    InputFile file;
    std::string where;
    uint64_t size = 0, end = 0;
    uint32_t version = 0, count = 0;
    std::vector<Record> records;

private:
    // Returns "" or what is wrong; never reads at or past `end`, where the CRC begins.
    std::string parse_records() {
        uint64_t pos = kHeaderBytes;
        std::vector<unsigned char> field;
        // The next n bytes, which must lie before the CRC, into `field` (or only skipped).
        auto take = [&](uint64_t n, const std::string& what, bool keep) -> std::string {
            if (n > end - pos)
                return str(what, " needs ", n, " bytes at offset ", pos, " but only ", end - pos,
                           " remain before the CRC (file size ", size, ")");
            if (keep) {
                field.resize(size_t(n));
                if (file.read_at(pos, field.data(), field.size()) != field.size())
                    return str(what, " at offset ", pos,
                               " could not be read: the file shrank while being read");
            }
            pos += n;
            return "";
        };
        std::map<std::string, uint32_t> seen;
        for (uint32_t k = 0; k < count; ++k) {
            std::string label = str(version == 1 ? "tensor #" : "record #", k);
            std::string err = take(4, label + "'s name length", true);
            if (!err.empty()) return err;
            uint32_t len = get_u32(field.data());
            if (len == 0 || len > kMaxNameBytes)
                return str(label, " has a name length of ", len, " (expected 1 to ", kMaxNameBytes, ")");
            if (!(err = take(len, label + "'s name", true)).empty()) return err;
            Record r;
            r.name.assign(reinterpret_cast<const char*>(field.data()), len);
            r.key = version == 1 ? "model:" + r.name : r.name;
            label = str(label, " ('", shown_name(r.name), "')");
            if (!seen.emplace(r.name, k).second) return str(label, " appears twice in the file");
            if (version >= 2) {
                if (!(err = take(4, label + "'s type", true)).empty()) return err;
                const uint32_t type = get_u32(field.data());
                if (type >= kTypes)
                    return str(label, " has element type ", type,
                               " (expected 0 float32, 1 float64, 2 int64, 3 byte)");
                r.type = Type(type);
            }
            if (!(err = take(4, label + "'s rank", true)).empty()) return err;
            uint32_t rank = get_u32(field.data());
            if (rank > uint32_t(kMaxDims)) return str(label, " has rank ", rank, " (at most ", kMaxDims, ")");
            if (!(err = take(8 * uint64_t(rank), label + "'s sizes", true)).empty()) return err;
            // numel stops growing past 2^60 elements (more than any file holds), so corrupt
            // sizes never overflow it; a size 0 anywhere still makes it 0. The product of
            // the non-zero sizes must stay within kMaxNumel for the sizes to be a Shape.
            const uint64_t e = element_bytes(r.type);
            const uint64_t max_numel = (end - pos) / e, cap = uint64_t(1) << 60;
            std::vector<int64_t> sizes;
            uint64_t numel = 1, nonzero = 1;
            bool too_big = false;
            for (uint32_t d = 0; d < rank; ++d) {
                int64_t s = int64_t(get_u64(&field[8 * d]));
                if (s < 0) return str(label, " has a negative size ", s, " in dimension ", d);
                sizes.push_back(s);
                if (s == 0) {
                    numel = 0;
                    continue;
                }
                if (too_big || nonzero > cap / uint64_t(s)) {
                    too_big = true;
                } else {
                    nonzero *= uint64_t(s);
                }
                if (numel) numel = nonzero;
            }
            auto shown = [&] {
                std::string t = "[";
                for (size_t d = 0; d < sizes.size(); ++d) t += (d ? ", " : "") + std::to_string(sizes[d]);
                return t + "]";
            };
            if (numel != 0 && (too_big || numel > max_numel))
                return str(label, " of shape ", shown(), " needs ",
                           too_big ? "more than " + std::to_string(end - pos) : std::to_string(e * numel),
                           " bytes of data at offset ", pos, " but only ", end - pos,
                           " remain before the CRC (file size ", size, ")");
            if (too_big || nonzero > uint64_t(kMaxNumel))
                return str(label, " has shape ", shown(),
                           ", whose non-zero sizes multiply past kMaxNumel = 2^46");
            r.shape = Shape(sizes);
            r.numel = numel;
            r.data_offset = pos;
            if (!(err = record_kind_fault(r, label)).empty()) return err;
            if (!(err = take(e * numel, label + "'s data", false)).empty()) return err;
            records.push_back(std::move(r));
        }
        if (pos != end)
            return str("the file has ", end - pos, " unexpected bytes after its last ",
                       version == 1 ? "tensor" : "record", " (offset ", pos, ")");
        return "";
    }
};

// What keeps the file's model records from being loaded into `slots`, or empty. A
// version-1 file has no generator records; the generators then keep their state.
std::vector<std::string> misfits(const Layout& layout, const std::vector<Slot>& slots) {
    std::map<std::string, const Record*> by_name;
    for (const Record& r : layout.records)
        if (starts_with(r.key, "model:")) by_name[r.key.substr(6)] = &r;
    std::vector<std::string> issues;
    std::map<std::string, bool> in_model;
    for (const Slot& s : slots) {
        in_model[s.name] = true;
        auto it = by_name.find(s.name);
        const char* what = s.generator ? "generator" : "tensor";
        if (it == by_name.end()) {
            if (!(s.generator && layout.version == 1))
                issues.push_back(str(what, " '", s.name, "' of shape ", s.shape,
                                     " is in the model but missing from the file"));
        } else if (it->second->type != s.type) {
            issues.push_back(str(what, " '", s.name, "' is ", type_name(it->second->type),
                                 " in the file but ", type_name(s.type), " in the model"));
        } else if (it->second->shape != s.shape) {
            issues.push_back(str(what, " '", s.name, "' has shape ", it->second->shape, " in the file but ",
                                 s.shape, " in the model"));
        }
    }
    for (const auto& [name, r] : by_name)
        if (!in_model.count(name))
            issues.push_back(str(r->type == Type::i64 ? "generator" : "tensor", " '", shown_name(name),
                                 "' of shape ", r->shape, " is in the file but not in the model"));
    return issues;
}

void check_fit(Layout& layout, const std::vector<Slot>& slots) {
    std::vector<std::string> issues = misfits(layout, slots);
    if (issues.empty()) return;
    std::string all;
    for (size_t i = 0; i < issues.size() && i < kMaxIssues; ++i) all += (i ? "; " : "") + issues[i];
    if (issues.size() > kMaxIssues) all += str("; and ", issues.size() - kMaxIssues, " more");
    throw Error(
        str(layout.where, " does not fit the model: ", all, layout.crc_note(), " (the model is unchanged)"));
}

std::vector<int64_t> decode_i64(const std::vector<unsigned char>& b) {
    std::vector<int64_t> v(b.size() / 8);
    for (size_t i = 0; i < v.size(); ++i) v[i] = int64_t(get_u64(&b[8 * i]));
    return v;
}
std::vector<double> decode_f64(const std::vector<unsigned char>& b) {
    std::vector<double> v(b.size() / 8);
    for (size_t i = 0; i < v.size(); ++i) {
        uint64_t bits = get_u64(&b[8 * i]);
        std::memcpy(&v[i], &bits, 8);
    }
    return v;
}
void decode_f32(const std::vector<unsigned char>& b, float* dst) {
    for (size_t i = 0; i < b.size() / 4; ++i) {  // a plain copy on little-endian hosts
        uint32_t bits = get_u32(&b[4 * i]);
        std::memcpy(dst + i, &bits, 4);
    }
}

// Reads the data of a layout that fits `slots`, checks the CRC and every value, and only
// then writes the module's tensors and generators. Returns the info and the state.
Checkpoint read_all(Layout& layout, const std::vector<Slot>& slots, Module* module) {
    const std::string& where = layout.where;
    std::vector<std::vector<unsigned char>> data;
    const uint32_t computed = layout.stream(&data);
    unsigned char stored_bytes[4];
    FG_CHECK(layout.file.read_at(layout.end, stored_bytes, 4) == 4, where, " shrank while being read");
    const uint32_t stored = get_u32(stored_bytes);
    char hex[2][11];
    std::snprintf(hex[0], sizeof hex[0], "0x%08x", stored);
    std::snprintf(hex[1], sizeof hex[1], "0x%08x", computed);
    FG_CHECK(stored == computed, where, " is corrupt: CRC-32 mismatch (stored ", hex[0], ", computed ",
             hex[1], ")");

    Checkpoint out;
    out.version = layout.version;
    std::map<std::string, size_t> model_index;
    for (size_t k = 0; k < layout.records.size(); ++k) {
        const Record& r = layout.records[k];
        const std::vector<unsigned char>& b = data[k];
        const std::string label = str("'", shown_name(r.key), "'");
        if (starts_with(r.key, "model:")) {
            model_index[r.key.substr(6)] = k;
            if (r.type == Type::i64)
                FG_CHECK(get_u64(&b[8]) % 2 == 1, where, ": generator ", label,
                         " has an even increment (corrupt)");
        } else if (r.key == "info:architecture") {
            out.info.architecture.assign(b.begin(), b.end());
        } else if (r.key == "info:input_shape") {
            out.info.input_shape = decode_i64(b);
            for (int64_t s : out.info.input_shape)
                FG_CHECK(s >= 1 && s <= (int64_t(1) << 31), where, ": the input shape holds the size ", s);
        } else if (r.key == "info:flatten_input") {
            const int64_t v = decode_i64(b)[0];
            FG_CHECK(v == 0 || v == 1, where, ": info:flatten_input is ", v, " (0 or 1)");
            out.info.flatten_input = v == 1;
        } else if (r.key == "info:input_mean") {
            out.info.input_mean = decode_f64(b);
        } else if (r.key == "info:input_std") {
            out.info.input_std = decode_f64(b);
        } else if (r.key == "info:class_names") {
            FG_CHECK(b.empty() || b.back() == '\n', where,
                     ": the class names do not end with a line break (corrupt)");
            std::string name;
            for (unsigned char c : b) {
                if (c != '\n') {
                    name += char(c);
                    continue;
                }
                FG_CHECK(!name.empty(), where, ": class ", out.info.class_names.size(), " has an empty name");
                out.info.class_names.push_back(name);
                name.clear();
            }
        } else {  // state:
            const std::string key = r.key.substr(6);
            if (r.type == Type::f32) {
                Tensor t = Tensor::empty(r.shape);
                decode_f32(b, t.data());
                out.state[key] = t;
            } else if (r.type == Type::i64) {
                out.state[key] = decode_i64(b);
            } else if (r.type == Type::f64) {
                out.state[key] = decode_f64(b);
            } else {
                out.state[key] = std::string(b.begin(), b.end());
            }
        }
    }
    const ModelInfo& info = out.info;
    FG_CHECK(info.input_mean.size() == info.input_std.size(), where, ": it has ", info.input_mean.size(),
             " input means but ", info.input_std.size(), " standard deviations");
    for (size_t c = 0; c < info.input_mean.size(); ++c)
        FG_CHECK(
            std::isfinite(info.input_mean[c]) && std::isfinite(info.input_std[c]) && info.input_std[c] > 0,
            where, ": input channel ", c, " has mean ", info.input_mean[c], " and std ", info.input_std[c]);

    // Everything is known good: write the model.
    if (!module) return out;
    for (const Slot& s : slots) {
        if (s.generator) continue;
        Tensor t = s.tensor;
        decode_f32(data[model_index.at(s.name)], t.data());
    }
    for (auto& [name, gen] : module->named_generators()) {
        auto it = model_index.find(name);
        if (it == model_index.end()) continue;  // a version-1 file holds no generators
        gen->set_state(get_u64(&data[it->second][0]), get_u64(&data[it->second][8]));
    }
    return out;
}

Checkpoint load_into(Module& module, Layout& layout) {
    const std::vector<Slot> slots = model_slots(module);
    if (layout.version == 1)
        layout.read_records(slots.size() + kMaxIssues, str("the model has ", slots.size()));
    else
        layout.read_records(std::min<uint64_t>(kMaxRecords, (layout.size - 20) / 14),
                            str("a checkpoint of ", layout.size, " bytes holds at most ",
                                std::min<uint64_t>(kMaxRecords, (layout.size - 20) / 14)));
    check_fit(layout, slots);
    return read_all(layout, slots, &module);
}

}  // namespace

// ---- save -------------------------------------------------------------------------

void save(const Module& module, const std::string& path, const ModelInfo& info, const StateDict& state) {
    check_info(info);
    std::vector<Slot> slots = model_slots(module);
    const uint64_t count = slots.size() + state.size() + 5;
    FG_CHECK(count <= kMaxRecords, "save: ", count, " records are more than a checkpoint holds (",
             kMaxRecords, ")");
    for (const auto& [key, value] : state) {
        if (const Tensor* t = std::get_if<Tensor>(&value))
            FG_CHECK(t->defined(), "save: state '", key, "' is an undefined tensor");
        if (const std::string* s = std::get_if<std::string>(&value))
            FG_CHECK(s->size() <= kMaxTextBytes, "save: state '", key, "' holds more than ", kMaxTextBytes,
                     " bytes of text");
    }

    // The count comes first in the file, so it is worked out before anything is written.
    uint32_t records = uint32_t(slots.size() + state.size());
    records += !info.architecture.empty() + !info.input_shape.empty() + info.flatten_input +
               2 * !info.input_mean.empty() + !info.class_names.empty();
    CheckpointWriter file(path);
    std::vector<unsigned char> header(kMagic, kMagic + 8);
    put_u32(header, kVersion);
    put_u32(header, records);
    file.write(header);
    for (const Slot& s : slots) {
        if (s.generator) {
            const uint64_t g[2] = {s.generator->state(), s.generator->increment()};
            file.record("model:" + s.name, Type::i64, Shape{2}, g);
        } else {
            file.record("model:" + s.name, Type::f32, s.shape, s.tensor.data());
        }
    }
    if (!info.architecture.empty())
        file.record("info:architecture", Type::bytes, Shape{int64_t(info.architecture.size())},
                    info.architecture.data());
    if (!info.input_shape.empty())
        file.record("info:input_shape", Type::i64, Shape{int64_t(info.input_shape.size())},
                    info.input_shape.data());
    if (info.flatten_input) {
        const int64_t one = 1;
        file.record("info:flatten_input", Type::i64, Shape{1}, &one);
    }
    if (!info.input_mean.empty()) {
        file.record("info:input_mean", Type::f64, Shape{int64_t(info.input_mean.size())},
                    info.input_mean.data());
        file.record("info:input_std", Type::f64, Shape{int64_t(info.input_std.size())},
                    info.input_std.data());
    }
    if (!info.class_names.empty()) {
        std::string names;
        for (const std::string& n : info.class_names) names += n + '\n';
        file.record("info:class_names", Type::bytes, Shape{int64_t(names.size())}, names.data());
    }
    for (const auto& [key, value] : state) {
        const std::string name = "state:" + key;
        if (const Tensor* t = std::get_if<Tensor>(&value)) {
            file.record(name, Type::f32, t->shape(), t->data());
        } else if (const auto* i = std::get_if<std::vector<int64_t>>(&value)) {
            file.record(name, Type::i64, Shape{int64_t(i->size())}, i->data());
        } else if (const auto* d = std::get_if<std::vector<double>>(&value)) {
            file.record(name, Type::f64, Shape{int64_t(d->size())}, d->data());
        } else {
            const std::string& s = std::get<std::string>(value);
            file.record(name, Type::bytes, Shape{int64_t(s.size())}, s.data());
        }
    }
    FG_CHECK(file.count() == records, "save: wrote ", file.count(), " records, announced ", records);
    file.finish();
}

// ---- load -------------------------------------------------------------------------

Checkpoint load(Module& module, const std::string& path) {
    Layout layout(path, "load");
    return load_into(module, layout);
}

LoadedModel load_model(const std::string& path) {
    Layout layout(path, "load_model");
    layout.read_records(std::min<uint64_t>(kMaxRecords, (layout.size - 20) / 13),
                        str("a checkpoint of ", layout.size, " bytes holds at most ",
                            std::min<uint64_t>(kMaxRecords, (layout.size - 20) / 13)));
    const Record* arch = layout.find("info:architecture");
    FG_CHECK(arch, layout.where,
             layout.version == 1 ? " is a version-1 checkpoint: it holds the weights only, not the "
                                   "architecture to rebuild the model "
                                   "from; build the model in code and load(model, path) it"
                                 : " holds no architecture (it was saved without ModelInfo::architecture); "
                                   "build the model in code "
                                   "and load(model, path) it");
    // The text is read before the CRC is checked (the model must exist to check the fit),
    // so the build is bounded by the parameters the file itself holds.
    std::string text(size_t(arch->numel), '\0');
    FG_CHECK(layout.file.read_at(arch->data_offset, text.data(), text.size()) == text.size(), layout.where,
             " shrank while being read");
    uint64_t floats = 0;
    for (const Record& r : layout.records)
        if (starts_with(r.key, "model:") && r.type == Type::f32) floats += r.numel;
    LoadedModel out;
    try {
        out.model = build_module(text, int64_t(floats));
    } catch (const Error& e) {
        throw Error(str(layout.where, ": its architecture cannot be rebuilt: ", e.what(), layout.crc_note()));
    }
    const std::vector<Slot> slots = model_slots(*out.model);
    check_fit(layout, slots);
    out.checkpoint = read_all(layout, slots, out.model.get());
    return out;
}

void check_finite_weights(const Module& module, const std::string& what) {
    std::vector<std::pair<std::string, Tensor>> tensors = module.named_parameters();
    for (const auto& b : module.named_buffers()) tensors.push_back(b);
    std::string first;
    int64_t bad = 0, bad_tensors = 0;
    for (const auto& [name, t] : tensors) {
        int64_t here = 0;
        for (int64_t i = 0; i < t.numel(); ++i) {
            if (std::isfinite(t.data()[i])) continue;
            if (first.empty())
                first =
                    str("'", name, "' of shape ", t.shape(), " holds ", t.data()[i], " at flat index ", i);
            ++here;
        }
        bad += here;
        bad_tensors += here > 0;
    }
    FG_CHECK(bad == 0, what, " holds weights that are not finite: ", first, " (", bad,
             " non-finite values in ", bad_tensors, " tensor", bad_tensors == 1 ? "" : "s",
             "); the model diverged while it was trained: train it again with a smaller learning rate");
}

Checkpoint read_checkpoint(const std::string& path) {
    Layout layout(path, "read_checkpoint");
    const uint64_t bound = std::min<uint64_t>(kMaxRecords, (layout.size - 20) / 13);
    layout.read_records(bound, str("a checkpoint of ", layout.size, " bytes holds at most ", bound));
    return read_all(layout, {}, nullptr);
}

}  // namespace focalgrad
