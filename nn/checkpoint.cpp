// checkpoint.cpp — the writer (atomic: temp file, fsync, rename) and the validating
// reader of the format described in checkpoint.h.
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

#include <focalgrad/core/error.h>
#include <focalgrad/core/io.h>
#include <focalgrad/nn/checkpoint.h>

namespace focalgrad {

namespace {

constexpr char kMagic[8] = {'F', 'O', 'C', 'A', 'L', 'G', 'R', 'D'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kMaxNameBytes = 4096;
constexpr size_t kHeaderBytes = 16;  // magic, version, count
constexpr size_t kCrcBytes = 4;
constexpr size_t kMaxIssues = 8;  // misfits listed in one message; also the extra tensors a file may hold
// A file that is refused before its data is read is still checked against its CRC when
// it is at most this large (a few milliseconds), to say whether it is also corrupt.
constexpr uint64_t kCrcNoteMaxBytes = uint64_t(64) << 20;

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

// ---- Writing ----------------------------------------------------------------------

// The bytes of one save, streamed to an AtomicFile with the CRC kept up to date.
class CheckpointWriter {
public:
    explicit CheckpointWriter(const std::string& path) : file_(path, "save") {}
    void write(const std::vector<unsigned char>& bytes) {
        file_.write(bytes.data(), bytes.size());
        crc_ = crc32_of(bytes.data(), bytes.size(), crc_);
    }
    uint32_t crc() const { return crc_; }
    void commit() { file_.commit(); }

private:
    AtomicFile file_;
    uint32_t crc_ = 0;
};

// ---- Reading ----------------------------------------------------------------------
//
// In three steps, each done before the next reads anything more: the layout (header and
// record headers, every declared size checked against the file's length), its fit to the
// model (names and shapes), and only then the data, streamed into staging buffers with
// the CRC. A file that does not fit costs the reads of its record headers, whatever its size.

struct Record {
    std::string name;
    Shape shape;
    uint64_t numel = 0;
    uint64_t data_offset = 0;  // of the first float, in the file
};

// A tensor name read from the file, as error messages show it: a corrupt name must not cut
// the message short where it is printed with "%s" (a NUL) or garble a terminal (control
// bytes), so those and the backslash are written \xNN; a long one is cut to 64 bytes.
std::string shown_name(const std::string& name) {
    const size_t kShown = 64;
    std::string out;
    for (size_t i = 0; i < name.size() && i < kShown; ++i) {
        const unsigned char c = static_cast<unsigned char>(name[i]);
        if (c < 0x20 || c == 0x7f || c == '\\') {
            char buf[5];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += char(c);
        }
    }
    if (name.size() > kShown) out += str("... (", name.size(), " bytes)");
    return out;
}

// Reads the record headers of a file already known to start with the right magic and
// version, never at or past `end` (where the CRC begins), and skips over the data.
// Returns "" or what is wrong.
std::string read_layout(InputFile& file, uint64_t end, uint32_t count, std::vector<Record>& records) {
    uint64_t pos = kHeaderBytes;
    std::vector<unsigned char> field;
    // The next n bytes, which must lie before the CRC, into `field` (or only skipped).
    auto take = [&](uint64_t n, const std::string& what, bool keep) -> std::string {
        if (n > end - pos)
            return str(what, " needs ", n, " bytes at offset ", pos, " but only ", end - pos,
                       " remain before the CRC (file size ", file.size(), ")");
        if (keep) {
            field.resize(size_t(n));
            if (file.read_at(pos, field.data(), field.size()) != field.size())
                return str(what, " at offset ", pos, " could not be read: the file shrank while being read");
        }
        pos += n;
        return "";
    };
    std::map<std::string, uint32_t> seen;
    for (uint32_t k = 0; k < count; ++k) {
        std::string label = str("tensor #", k);
        std::string err = take(4, label + "'s name length", true);
        if (!err.empty()) return err;
        uint32_t len = get_u32(field.data());
        if (len == 0 || len > kMaxNameBytes)
            return str(label, " has a name length of ", len, " (expected 1 to ", kMaxNameBytes, ")");
        if (!(err = take(len, label + "'s name", true)).empty()) return err;
        Record r;
        r.name.assign(reinterpret_cast<const char*>(field.data()), len);
        label = str("tensor #", k, " ('", shown_name(r.name), "')");
        if (!seen.emplace(r.name, k).second) return str(label, " appears twice in the file");
        if (!(err = take(4, label + "'s rank", true)).empty()) return err;
        uint32_t rank = get_u32(field.data());
        if (rank > uint32_t(kMaxDims)) return str(label, " has rank ", rank, " (at most ", kMaxDims, ")");
        if (!(err = take(8 * uint64_t(rank), label + "'s sizes", true)).empty()) return err;
        // numel stops growing past 2^60 elements (more than any file holds), so corrupt
        // sizes never overflow it; a size 0 anywhere still makes it 0.
        const uint64_t max_numel = (end - pos) / 4, cap = uint64_t(1) << 60;
        uint64_t numel = 1;
        bool too_big = false;
        for (uint32_t d = 0; d < rank; ++d) {
            int64_t size = int64_t(get_u64(&field[8 * d]));
            if (size < 0) return str(label, " has a negative size ", size, " in dimension ", d);
            r.shape.push_back(size);
            if (size == 0) {
                numel = 0;
                too_big = false;
            } else if (too_big || numel > cap / uint64_t(size)) {
                too_big = true;
            } else {
                numel *= uint64_t(size);
            }
        }
        if (too_big || numel > max_numel)
            return str(label, " of shape ", r.shape, " needs ",
                       too_big ? "more than " + std::to_string(end - pos) : std::to_string(4 * numel),
                       " bytes of data at offset ", pos, " but only ", end - pos,
                       " remain before the CRC (file size ", file.size(), ")");
        r.numel = numel;
        r.data_offset = pos;
        if (!(err = take(4 * numel, label + "'s data", false)).empty()) return err;
        records.push_back(std::move(r));
    }
    if (pos != end)
        return str("the file has ", end - pos, " unexpected bytes after its last tensor (offset ", pos, ")");
    return "";
}

// What keeps `records` from being loaded into `params` (names and shapes), or empty.
std::vector<std::string> misfits(const std::vector<Record>& records,
                                 const std::vector<std::pair<std::string, Tensor>>& params) {
    std::map<std::string, const Record*> by_name;
    for (const Record& r : records) by_name[r.name] = &r;
    std::vector<std::string> issues;
    std::map<std::string, bool> in_model;
    for (const auto& [name, t] : params) {
        in_model[name] = true;
        auto it = by_name.find(name);
        if (it == by_name.end())
            issues.push_back(str("tensor '", name, "' of shape ", t.shape(),
                                 " is in the model but missing from the file"));
        else if (it->second->shape != t.shape())
            issues.push_back(str("tensor '", name, "' has shape ", it->second->shape, " in the file but ",
                                 t.shape(), " in the model"));
    }
    for (const Record& r : records)
        if (!in_model.count(r.name))
            issues.push_back(str("tensor '", shown_name(r.name), "' of shape ", r.shape,
                                 " is in the file but not in the model"));
    return issues;
}

// The CRC-32 of the file's first `end` bytes, read in pieces of 1 MiB. When `records` is
// given, each record's data is also decoded (little-endian) into its staging buffer.
uint32_t stream_crc(InputFile& file, uint64_t end, const std::vector<Record>* records,
                    std::vector<std::vector<float>>* staging) {
    std::vector<unsigned char> buf(size_t(std::min<uint64_t>(end, uint64_t(1) << 20)));
    uint32_t crc = 0;
    uint64_t pos = 0;
    auto read_into = [&](unsigned char* dst, uint64_t n) {
        FG_CHECK(file.read_at(pos, dst, size_t(n)) == n, "load: '", file.path(), "' shrank while being read");
        crc = crc32_of(dst, size_t(n), crc);
        pos += n;
    };
    auto skip_to = [&](uint64_t to) {
        while (pos < to) read_into(buf.data(), std::min<uint64_t>(to - pos, buf.size()));
    };
    if (records) {
        for (size_t k = 0; k < records->size(); ++k) {
            const Record& r = (*records)[k];
            skip_to(r.data_offset);
            std::vector<float>& dst = (*staging)[k];
            dst.resize(size_t(r.numel));
            auto* bytes = reinterpret_cast<unsigned char*>(dst.data());
            read_into(bytes, 4 * r.numel);
            for (uint64_t i = 0; i < r.numel; ++i) {  // a no-op on little-endian hosts
                uint32_t bits = get_u32(bytes + 4 * i);
                std::memcpy(&dst[size_t(i)], &bits, 4);
            }
        }
    }
    skip_to(end);
    return crc;
}

std::string hex32(uint32_t v) {
    char buf[11];
    std::snprintf(buf, sizeof buf, "0x%08x", v);
    return buf;
}

}  // namespace

// ---- save -------------------------------------------------------------------------

void save(const Module& module, const std::string& path) {
    std::vector<std::pair<std::string, Tensor>> params = module.named_parameters();
    FG_CHECK(params.size() <= UINT32_MAX, "save: too many tensors (", params.size(), ")");
    for (const auto& [name, t] : params)
        FG_CHECK(!name.empty() && name.size() <= kMaxNameBytes, "save: parameter name '", name,
                 "' must have 1 to ", kMaxNameBytes, " bytes");

    CheckpointWriter file(path);
    std::vector<unsigned char> buf(kMagic, kMagic + 8);
    put_u32(buf, kVersion);
    put_u32(buf, uint32_t(params.size()));
    file.write(buf);
    for (const auto& [name, t] : params) {
        buf.clear();
        put_u32(buf, uint32_t(name.size()));
        buf.insert(buf.end(), name.begin(), name.end());
        put_u32(buf, uint32_t(t.dim()));
        for (int64_t s : t.shape()) put_u64(buf, uint64_t(s));
        file.write(buf);
        // Data in chunks, each float encoded little-endian whatever the host's byte order.
        const float* p = t.data();
        const int64_t chunk = 16384;
        for (int64_t begin = 0; begin < t.numel(); begin += chunk) {
            int64_t end = std::min(t.numel(), begin + chunk);
            buf.clear();
            for (int64_t i = begin; i < end; ++i) {
                uint32_t bits;
                std::memcpy(&bits, p + i, 4);
                put_u32(buf, bits);
            }
            file.write(buf);
        }
    }
    buf.clear();
    put_u32(buf, file.crc());
    file.write(buf);
    file.commit();
}

// ---- load -------------------------------------------------------------------------

void load(Module& module, const std::string& path) {
    InputFile file(path, "load");
    const std::string where = str("load: '", path, "'");
    const uint64_t size = file.size();
    unsigned char header[kHeaderBytes];
    const size_t got = file.read_at(0, header, std::min<uint64_t>(size, kHeaderBytes));

    FG_CHECK(got >= 8 && std::memcmp(header, kMagic, 8) == 0, where,
             " is not a focalgrad checkpoint (it does not start with \"FOCALGRD\"",
             got < 8 ? str("; it has only ", got, " bytes") : std::string(), ")");
    FG_CHECK(size >= kHeaderBytes + kCrcBytes && got == kHeaderBytes, where, " is truncated: ", size,
             " bytes, but a checkpoint has at least ", kHeaderBytes + kCrcBytes);
    uint32_t version = get_u32(&header[8]);
    FG_CHECK(version == kVersion, where, " has format version ", version,
             "; this build of focalgrad reads version ", kVersion);

    // A file whose layout is wrong or that does not fit the model is refused from its
    // headers alone; a small one is also checked against its CRC, which tells a corrupt
    // file from one of another model.
    const uint64_t end = size - kCrcBytes;
    auto crc_note = [&]() -> std::string {
        if (size > kCrcNoteMaxBytes) return "";
        unsigned char stored[4];
        if (file.read_at(end, stored, 4) != 4) return "";
        return get_u32(stored) != stream_crc(file, end, nullptr, nullptr)
                   ? "; its CRC-32 does not match either"
                   : "";
    };
    std::vector<std::pair<std::string, Tensor>> params = module.named_parameters();
    const uint32_t count = get_u32(&header[12]);
    FG_CHECK(count <= params.size() + kMaxIssues, where, " holds ", count, " tensors but the model has ",
             params.size(), crc_note(), " (the model is unchanged)");
    std::vector<Record> records;
    std::string problem = read_layout(file, end, count, records);
    FG_CHECK(problem.empty(), where, " is truncated or corrupt: ", problem, crc_note());
    std::vector<std::string> issues = misfits(records, params);
    if (!issues.empty()) {
        std::string all;
        for (size_t i = 0; i < issues.size() && i < kMaxIssues; ++i) all += (i ? "; " : "") + issues[i];
        if (issues.size() > kMaxIssues) all += str("; and ", issues.size() - kMaxIssues, " more");
        throw Error(str(where, " does not fit the model: ", all, crc_note(), " (the model is unchanged)"));
    }

    // The layout fits: read the data and the CRC, then write the parameters.
    std::vector<std::vector<float>> staging(records.size());
    uint32_t computed = stream_crc(file, end, &records, &staging);
    unsigned char stored_bytes[4];
    FG_CHECK(file.read_at(end, stored_bytes, 4) == 4, where, " shrank while being read");
    uint32_t stored = get_u32(stored_bytes);
    FG_CHECK(stored == computed, where, " is corrupt: CRC-32 mismatch (stored ", hex32(stored), ", computed ",
             hex32(computed), ")");
    std::map<std::string, size_t> index;
    for (size_t k = 0; k < records.size(); ++k) index[records[k].name] = k;
    for (auto& [name, t] : params) {
        const std::vector<float>& src = staging[index[name]];
        std::copy(src.begin(), src.end(), t.data());
    }
}

}  // namespace focalgrad
