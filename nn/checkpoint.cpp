// checkpoint.cpp — the writer (atomic: temp file, fsync, rename) and the validating
// reader of the format described in checkpoint.h.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
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

struct Record {
    std::string name;
    Shape shape;
    size_t data_offset;  // of the first float, in the file
};

std::string shape_string(const Shape& s) { return str(s); }

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

// Parses the records of a file already known to start with the right magic and version,
// never reading at or past `end` (where the CRC begins). Returns "" or what is wrong.
std::string parse_records(const std::vector<unsigned char>& bytes, size_t end, std::vector<Record>& records) {
    size_t pos = kHeaderBytes;
    uint32_t count = get_u32(&bytes[12]);
    auto take = [&](size_t n, const std::string& what, size_t& at) -> std::string {
        if (n > end - pos)
            return str(what, " needs ", n, " bytes at offset ", pos, " but only ", end - pos,
                       " remain before the CRC (file size ", bytes.size(), ")");
        at = pos;
        pos += n;
        return "";
    };
    std::map<std::string, size_t> seen;
    for (uint32_t k = 0; k < count; ++k) {
        size_t at = 0;
        std::string label = str("tensor #", k);
        std::string err = take(4, label + "'s name length", at);
        if (!err.empty()) return err;
        uint32_t len = get_u32(&bytes[at]);
        if (len == 0 || len > kMaxNameBytes)
            return str(label, " has a name length of ", len, " (expected 1 to ", kMaxNameBytes, ")");
        if (!(err = take(len, label + "'s name", at)).empty()) return err;
        Record r;
        r.name.assign(reinterpret_cast<const char*>(&bytes[at]), len);
        label = str("tensor #", k, " ('", shown_name(r.name), "')");
        if (!seen.emplace(r.name, k).second) return str(label, " appears twice in the file");
        if (!(err = take(4, label + "'s rank", at)).empty()) return err;
        uint32_t rank = get_u32(&bytes[at]);
        if (rank > uint32_t(kMaxDims)) return str(label, " has rank ", rank, " (at most ", kMaxDims, ")");
        if (!(err = take(8 * size_t(rank), label + "'s sizes", at)).empty()) return err;
        // numel stops growing past 2^60 elements (more than any file holds), so corrupt
        // sizes never overflow it; a size 0 anywhere still makes it 0.
        const uint64_t max_numel = (end - pos) / 4, cap = uint64_t(1) << 60;
        uint64_t numel = 1;
        bool too_big = false;
        for (uint32_t d = 0; d < rank; ++d) {
            int64_t size = int64_t(get_u64(&bytes[at + 8 * d]));
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
            return str(label, " of shape ", shape_string(r.shape), " needs ",
                       too_big ? "more than " + std::to_string(end - pos) : std::to_string(4 * numel),
                       " bytes of data at offset ", pos, " but only ", end - pos,
                       " remain before the CRC (file size ", bytes.size(), ")");
        if (!(err = take(4 * size_t(numel), label + "'s data", at)).empty()) return err;
        r.data_offset = at;
        records.push_back(std::move(r));
    }
    if (pos != end)
        return str("the file has ", end - pos, " unexpected bytes after its last tensor (offset ", pos, ")");
    return "";
}

// The whole file, which must be a regular file (not a directory or a pipe).
std::vector<unsigned char> read_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY);
    FG_CHECK(fd >= 0, "load: cannot open '", path, "': ", std::strerror(errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st;
    FG_CHECK(::fstat(fd, &st) == 0 && S_ISREG(st.st_mode), "load: '", path, "' is not a regular file");
    std::vector<unsigned char> bytes(size_t(st.st_size));
    size_t got = 0;
    while (got < bytes.size()) {
        ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
        if (n < 0 && errno == EINTR) continue;
        FG_CHECK(n >= 0, "load: reading '", path, "' failed: ", std::strerror(errno));
        if (n == 0) break;  // the file shrank while we read it: parse what is there
        got += size_t(n);
    }
    bytes.resize(got);
    return bytes;
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
    std::vector<unsigned char> bytes = read_file(path);
    const std::string where = str("load: '", path, "'");

    FG_CHECK(bytes.size() >= 8 && std::memcmp(bytes.data(), kMagic, 8) == 0, where,
             " is not a focalgrad checkpoint (it does not start with \"FOCALGRD\"",
             bytes.size() < 8 ? str("; it has only ", bytes.size(), " bytes") : std::string(), ")");
    FG_CHECK(bytes.size() >= kHeaderBytes + kCrcBytes, where, " is truncated: ", bytes.size(),
             " bytes, but a checkpoint has at least ", kHeaderBytes + kCrcBytes);
    uint32_t version = get_u32(&bytes[8]);
    FG_CHECK(version == kVersion, where, " has format version ", version,
             "; this build of focalgrad reads version ", kVersion);

    const size_t end = bytes.size() - kCrcBytes;
    uint32_t stored = get_u32(&bytes[end]);
    uint32_t computed = crc32_of(bytes.data(), end);
    std::vector<Record> records;
    std::string problem = parse_records(bytes, end, records);
    FG_CHECK(problem.empty(), where, " is truncated or corrupt: ", problem,
             stored != computed ? "; its CRC-32 does not match either" : "");
    FG_CHECK(stored == computed, where, " is corrupt: CRC-32 mismatch (stored ", hex32(stored), ", computed ",
             hex32(computed), ")");

    // The file is sound; now its fit to the model, all of it before any write.
    std::vector<std::pair<std::string, Tensor>> params = module.named_parameters();
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
    if (!issues.empty()) {
        std::string all;
        for (size_t i = 0; i < issues.size() && i < 8; ++i) all += (i ? "; " : "") + issues[i];
        if (issues.size() > 8) all += str("; and ", issues.size() - 8, " more");
        throw Error(str("load: ", all, " (checkpoint '", path, "'; the model is unchanged)"));
    }

    for (auto& [name, t] : params) {
        const unsigned char* src = &bytes[by_name[name]->data_offset];
        float* dst = t.data();
        for (int64_t i = 0; i < t.numel(); ++i) {
            uint32_t bits = get_u32(src + 4 * i);
            std::memcpy(dst + i, &bits, 4);
        }
    }
}

}  // namespace focalgrad
