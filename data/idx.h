// idx.h — reads IDX files, the format MNIST and Fashion-MNIST ship in, raw or gzip-compressed.
// An IDX file is a 4-byte magic (0, 0, type, number of dims), one big-endian uint32 per
// dim, then the items, row-major. Every byte is checked against the header: a file that
// is short, long, corrupt or of the wrong kind gives an Error naming the file and the fault.
// Not here: IDX element types other than unsigned bytes (0x08), and writing IDX files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace focalgrad {

struct IdxArray {
    std::vector<int64_t> dims;  // from the header, e.g. {60000, 28, 28}
    std::vector<uint8_t> data;  // the items, row-major: the product of dims bytes
};

// Reads an IDX file of unsigned bytes with `expected_ndim` dims (1 for labels, 3 for
// images). Gzip is recognised by its magic bytes (1f 8b), not by the file name: an IDX
// file starts with 00 00, so the two cannot be confused. The data is decompressed as a
// stream into one buffer of exactly the size the header announces; no temporary copy.
IdxArray read_idx(const std::string& path, int expected_ndim);

}  // namespace focalgrad
