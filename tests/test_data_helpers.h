// test_data_helpers.h — what the data tests share: an environment-variable guard, and
// writers for IDX and gzip bytes (TempDir is in helpers.h).
#pragma once

#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "helpers.h"

namespace fgtest {

using Bytes = std::vector<uint8_t>;

// Sets (or, with nullptr, unsets) an environment variable and restores it at scope end.
class EnvGuard {
public:
    EnvGuard(const char* name, const char* value) : name_(name) {
        const char* old = std::getenv(name);
        had_ = old != nullptr;
        if (had_) old_ = old;
        if (value)
            ::setenv(name, value, 1);
        else
            ::unsetenv(name);
    }
    ~EnvGuard() {
        if (had_)
            ::setenv(name_.c_str(), old_.c_str(), 1);
        else
            ::unsetenv(name_.c_str());
    }
    EnvGuard(const EnvGuard&) = delete;
    EnvGuard& operator=(const EnvGuard&) = delete;

private:
    std::string name_, old_;
    bool had_ = false;
};

// Runs the scope with another working directory.
class CwdGuard {
public:
    explicit CwdGuard(const std::string& dir) : old_(std::filesystem::current_path()) {
        std::filesystem::current_path(dir);
    }
    ~CwdGuard() {
        std::error_code ec;
        std::filesystem::current_path(old_, ec);
    }
    CwdGuard(const CwdGuard&) = delete;
    CwdGuard& operator=(const CwdGuard&) = delete;

private:
    std::filesystem::path old_;
};

inline void write_file(const std::string& path, const Bytes& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!f) throw std::runtime_error("cannot write " + path);
}

// An IDX file: 00 00 `type` ndims, big-endian uint32 dims, then `data` as given (which
// may deliberately disagree with the dims).
inline Bytes idx_bytes(const std::vector<uint32_t>& dims, const Bytes& data, uint8_t type = 0x08) {
    Bytes out = {0, 0, type, uint8_t(dims.size())};
    for (uint32_t d : dims)
        for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(d >> shift));
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

// `raw` as one gzip member (zlib's deflate with a gzip wrapper).
inline Bytes gzip_bytes(const Bytes& raw) {
    z_stream zs{};
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("deflateInit2 failed");
    Bytes out(deflateBound(&zs, uLong(raw.size())) + 64);
    zs.next_in = const_cast<Bytef*>(raw.data());
    zs.avail_in = uInt(raw.size());
    zs.next_out = out.data();
    zs.avail_out = uInt(out.size());
    int rc = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
    return out;
}

// Deterministic "pixels": a different byte pattern for every seed.
inline Bytes pattern_bytes(size_t n, uint32_t seed) {
    Bytes out(n);
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        out[i] = uint8_t(s >> 24);
    }
    return out;
}

}  // namespace fgtest
