// test_checkpoint.cpp — save/load (nn/checkpoint.h): an exact round trip in the
// documented format; every kind of bad file (truncated at each length, each byte
// flipped, wrong shape, missing or extra tensor, wrong magic or version) gives a clear
// error and leaves the model bit-for-bit unchanged; a save that fails part-way (a
// simulated full disk, and a real file-size limit) leaves an existing checkpoint intact
// and no temporary file behind.
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <focalgrad/core/io.h>
#include <focalgrad/core/random.h>
#include <focalgrad/nn/checkpoint.h>
#include <focalgrad/nn/layers.h>

#include "helpers.h"

using namespace focalgrad;
namespace fs = std::filesystem;

namespace {

using fgtest::read_bytes;
using fgtest::write_bytes;

std::unique_ptr<Sequential> small_model(uint64_t seed, int64_t hidden = 3, bool bias = true) {
    Generator gen(seed);
    return std::make_unique<Sequential>(std::make_shared<Linear>(2, hidden, bias, gen), ReLU(),
                                        std::make_shared<Linear>(hidden, 1, true, gen));
}

// Every parameter's bits, for bit-for-bit comparisons.
std::vector<std::vector<uint32_t>> snapshot(const Module& m) {
    std::vector<std::vector<uint32_t>> out;
    for (const auto& [name, t] : m.named_parameters()) {
        std::vector<uint32_t> bits(size_t(t.numel()));
        std::memcpy(bits.data(), t.data(), bits.size() * 4);
        out.push_back(bits);
    }
    return out;
}

uint32_t u32_at(const std::vector<unsigned char>& b, size_t at) {
    return uint32_t(b[at]) | uint32_t(b[at + 1]) << 8 | uint32_t(b[at + 2]) << 16 | uint32_t(b[at + 3]) << 24;
}

void set_u32(std::vector<unsigned char>& b, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + size_t(i)] = static_cast<unsigned char>(v >> (8 * i));
}

// Re-seals an edited file with a correct CRC, so that only the edit itself is wrong.
void reseal(std::vector<unsigned char>& b) {
    set_u32(b, b.size() - 4, uint32_t(::crc32(0, b.data(), uInt(b.size() - 4))));
}

// Where the third record's name starts in a version-2 file of small_model(): after the
// header, the records "model:0.weight" [3, 2] and "model:0.bias" [3], and a name length.
constexpr size_t kThirdName = 16 + (4 + 14 + 4 + 4 + 16 + 4 * 6) + (4 + 12 + 4 + 4 + 8 + 4 * 3) + 4;

// load() must throw an Error containing every part, and leave `m` exactly as it was.
void check_load_fails(Module& m, const std::string& path, std::initializer_list<std::string> parts) {
    auto before = snapshot(m);
    fgtest::check_contains(fgtest::error_of([&] { load(m, path); }), parts);
    CHECK(snapshot(m) == before);
}

}  // namespace

TEST_CASE("checkpoint: a round trip is exact, in the documented format") {
    fgtest::TempDir dir;
    std::string path = (dir / "model.fgc");
    auto a = small_model(1);
    save(*a, path);
    CHECK(dir.entries() == std::vector<std::string>{"model.fgc"});  // no temporary left

    auto b = small_model(2);
    CHECK(snapshot(*a) != snapshot(*b));
    load(*b, path);
    CHECK(snapshot(*a) == snapshot(*b));

    // The layout of checkpoint.h, read back independently.
    std::vector<unsigned char> f = read_bytes(path);
    CHECK(std::string(f.begin(), f.begin() + 8) == "FOCALGRD");
    CHECK(u32_at(f, 8) == 2);
    CHECK(u32_at(f, 12) == 4);
    CHECK(u32_at(f, 16) == 14);
    CHECK(std::string(f.begin() + 20, f.begin() + 34) == "model:0.weight");
    CHECK(u32_at(f, 34) == 0);  // float32
    CHECK(u32_at(f, 38) == 2);  // rank
    CHECK(u32_at(f, 42) == 3);  // sizes [3, 2] as int64
    CHECK(u32_at(f, 46) == 0);
    CHECK(u32_at(f, 50) == 2);
    float first;
    uint32_t bits = u32_at(f, 58);
    std::memcpy(&first, &bits, 4);
    CHECK(first == a->named_parameters()[0].second.data()[0]);
    size_t expected_size = 16 + 4;  // header + CRC
    for (const auto& [name, t] : a->named_parameters())
        expected_size += 4 + 6 + name.size() + 4 + 4 + 8 * size_t(t.dim()) + 4 * size_t(t.numel());
    CHECK(f.size() == expected_size);
    CHECK(u32_at(f, f.size() - 4) == uint32_t(::crc32(0, f.data(), uInt(f.size() - 4))));

    // Saving again replaces the file; larger models with conv layers round-trip too.
    Generator gen(3);
    Sequential cnn(Conv2d(1, 4, 3, 1, 1, true, gen), ReLU(), MaxPool2d(2), Flatten(),
                   Linear(64, 10, true, gen));
    save(cnn, path);
    Generator gen2(4);
    Sequential cnn2(Conv2d(1, 4, 3, 1, 1, true, gen2), ReLU(), MaxPool2d(2), Flatten(),
                    Linear(64, 10, true, gen2));
    load(cnn2, path);
    CHECK(snapshot(cnn) == snapshot(cnn2));
}

TEST_CASE("checkpoint: a file truncated at any length is refused and the model is unchanged") {
    fgtest::TempDir dir;
    std::string good = (dir / "good.fgc"), cut = (dir / "cut.fgc");
    auto a = small_model(1);
    save(*a, good);
    std::vector<unsigned char> f = read_bytes(good);
    auto m = small_model(5);
    for (size_t n = 0; n < f.size(); ++n) {
        CAPTURE(n);
        write_bytes(cut, std::vector<unsigned char>(f.begin(), f.begin() + long(n)));
        check_load_fails(*m, cut, {"load: '" + cut + "'"});
    }
    // Cut 2 bytes short: the last tensor's data runs into what must be the CRC.
    write_bytes(cut, std::vector<unsigned char>(f.begin(), f.end() - 2));
    check_load_fails(
        *m, cut,
        {"truncated", "record #3 ('model:2.bias') of shape [1] needs 4 bytes of data", "only 2 remain"});
    write_bytes(cut, std::vector<unsigned char>(f.begin(), f.begin() + 5));
    check_load_fails(*m, cut, {"not a focalgrad checkpoint", "only 5 bytes"});
}

TEST_CASE("checkpoint: any flipped byte is refused and the model is unchanged") {
    fgtest::TempDir dir;
    std::string good = (dir / "good.fgc"), bad = (dir / "bad.fgc");
    auto a = small_model(1);
    save(*a, good);
    std::vector<unsigned char> f = read_bytes(good);
    auto m = small_model(5);
    for (size_t at = 0; at < f.size(); ++at) {
        CAPTURE(at);
        std::vector<unsigned char> g = f;
        g[at] ^= 0x10;
        write_bytes(bad, g);
        check_load_fails(*m, bad, {"load: '" + bad + "'"});
    }
    std::vector<unsigned char> g = f;
    g[f.size() - 6] ^= 0x01;  // inside the last float: only the CRC can tell
    write_bytes(bad, g);
    check_load_fails(*m, bad, {"corrupt", "CRC-32 mismatch"});
}

TEST_CASE("checkpoint: wrong magic, wrong version, not a file: clear errors, model unchanged") {
    fgtest::TempDir dir;
    std::string path = (dir / "x.fgc");
    auto a = small_model(1);
    save(*a, path);
    std::vector<unsigned char> f = read_bytes(path);
    auto m = small_model(5);

    std::vector<unsigned char> g = f;
    std::memcpy(g.data(), "PK\x03\x04", 4);
    reseal(g);
    write_bytes(path, g);
    check_load_fails(*m, path, {"not a focalgrad checkpoint", "FOCALGRD"});

    g = f;
    set_u32(g, 8, 3);
    reseal(g);
    write_bytes(path, g);
    check_load_fails(*m, path, {"format version 3", "reads versions 1 and 2"});

    check_load_fails(*m, (dir / "missing.fgc"), {"load: ", "missing.fgc: no such file"});
    check_load_fails(*m, dir.path(), {"not a regular file (it is a directory)"});
}

TEST_CASE("checkpoint: a wrong shape, a missing or an extra tensor is named; the model is unchanged") {
    fgtest::TempDir dir;
    std::string path = (dir / "x.fgc");
    save(*small_model(1, 3), path);

    auto wider = small_model(5, 4);
    check_load_fails(
        *wider, path,
        {"tensor '0.weight' has shape [3, 2] in the file but [4, 2] in the model",
         "tensor '0.bias' has shape [3] in the file but [4] in the model",
         "tensor '2.weight' has shape [1, 3] in the file but [1, 4] in the model", "the model is unchanged"});

    save(*small_model(1, 3, false), path);  // no bias in the first layer
    auto with_bias = small_model(5, 3, true);
    check_load_fails(*with_bias, path,
                     {"tensor '0.bias' of shape [3] is in the model but missing from the file"});

    save(*small_model(1, 3, true), path);
    auto without_bias = small_model(5, 3, false);
    check_load_fails(*without_bias, path,
                     {"tensor '0.bias' of shape [3] is in the file but not in the model"});

    // A duplicated name (a hand-made file) is refused too: rename "2.weight" to "0.weight".
    std::vector<unsigned char> f = read_bytes(path);
    size_t third_name = kThirdName + 6;
    REQUIRE(std::string(f.begin() + long(third_name), f.begin() + long(third_name) + 8) == "2.weight");
    f[third_name] = '0';
    reseal(f);
    write_bytes(path, f);
    auto m = small_model(5);
    check_load_fails(*m, path, {"record #2 ('model:0.weight') appears twice in the file"});
}

TEST_CASE("checkpoint: a save that fails part-way keeps the old checkpoint and leaves no temporary") {
    fgtest::TempDir dir;
    std::string path = (dir / "model.fgc");
    auto old_model = small_model(1);
    save(*old_model, path);
    const std::vector<unsigned char> old_bytes = read_bytes(path);

    Generator gen(8);
    Sequential bigger(Linear(20, 30, true, gen), ReLU(), Linear(30, 5, true, gen));  // ~3 KB file
    SUBCASE("a disk that fills up after n bytes, for many n") {
        for (int64_t n : {0, 1, 15, 16, 17, 100, 1000, 2500}) {
            CAPTURE(n);
            detail::set_write_fault_after_bytes(n);
            CHECK_ERROR(save(bigger, path), "save", "No space left on device", "was left as it was");
            detail::set_write_fault_after_bytes(-1);
            CHECK(read_bytes(path) == old_bytes);
            CHECK(dir.entries() == std::vector<std::string>{"model.fgc"});
        }
        auto m = small_model(5);
        load(*m, path);
        CHECK(snapshot(*m) == snapshot(*old_model));
    }
    SUBCASE("a real file-size limit (RLIMIT_FSIZE)") {
        // The kernel refuses writes past the limit with EFBIG (SIGXFSZ ignored for the test).
        struct rlimit saved;
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
        struct sigaction ignore {
        }, previous{};
        ignore.sa_handler = SIG_IGN;
        REQUIRE(::sigaction(SIGXFSZ, &ignore, &previous) == 0);
        struct rlimit limited = saved;
        limited.rlim_cur = 1000;
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
        std::string message = fgtest::error_of([&] { save(bigger, path); });
        ::setrlimit(RLIMIT_FSIZE, &saved);
        ::sigaction(SIGXFSZ, &previous, nullptr);
        fgtest::check_contains(message, {"save", "File too large", "was left as it was"});
        CHECK(read_bytes(path) == old_bytes);
        CHECK(dir.entries() == std::vector<std::string>{"model.fgc"});
    }
    SUBCASE("a directory that does not exist") {
        CHECK_ERROR(save(bigger, (dir / "no/such/dir.fgc")), "save: cannot create",
                    "No such file or directory");
    }
    // Afterwards a normal save works and replaces the old file.
    save(bigger, path);
    Generator gen2(9);
    Sequential again(Linear(20, 30, true, gen2), ReLU(), Linear(30, 5, true, gen2));
    load(again, path);
    CHECK(snapshot(again) == snapshot(bigger));
}

TEST_CASE("checkpoint: a name with control bytes or of 4096 bytes is shown escaped and cut in errors") {
    // Found by fuzzing: names were copied into messages as they were, so a NUL ended the
    // message where the examples print it with "%s", and escape sequences reached the terminal.
    fgtest::TempDir dir;
    std::string path = (dir / "x.fgc");
    save(*small_model(1), path);
    std::vector<unsigned char> f = read_bytes(path);
    size_t third_name = kThirdName + 6;  // after "model:"
    REQUIRE(std::string(f.begin() + long(third_name), f.begin() + long(third_name) + 8) == "2.weight");
    const char odd[8] = {'2', '\0', '\x1b', '[', '2', 'J', '\n', '\\'};
    std::memcpy(&f[third_name], odd, 8);
    reseal(f);
    write_bytes(path, f);
    auto m = small_model(5);
    const std::string shown = "2\\x00\\x1b[2J\\x0a\\x5c";
    check_load_fails(*m, path,
                     {"tensor '" + shown + "' of shape [1, 3] is in the file but not in the model",
                      "tensor '2.weight' of shape [1, 3] is in the model but missing from the file",
                      "the model is unchanged"});
    set_u32(f, third_name + 8 + 4, 9);  // its rank (after the type): now the parser refuses it, and names it
    reseal(f);
    write_bytes(path, f);
    check_load_fails(*m, path, {"record #2 ('model:" + shown + "') has rank 9"});
    std::string message = fgtest::error_of([&] { load(*m, path); });
    for (char c : message) CHECK(static_cast<unsigned char>(c) >= 0x20);

    // A version-1 file of one tensor whose name has the longest length allowed: 64 bytes are shown.
    std::vector<unsigned char> g(16 + (4 + 4096 + 4 + 8 + 4) + 4);  // all zeros
    std::memcpy(g.data(), "FOCALGRD", 8);
    set_u32(g, 8, 1);
    set_u32(g, 12, 1);
    set_u32(g, 16, 4096);
    std::fill(g.begin() + 20, g.begin() + 20 + 4096, 'n');
    set_u32(g, 20 + 4096, 1);      // rank 1
    set_u32(g, 20 + 4096 + 4, 1);  // size 1 (an int64 whose high half is 0); the float is 0
    reseal(g);
    write_bytes(path, g);
    message = fgtest::error_of([&] { load(*m, path); });
    fgtest::check_contains(message, {"tensor '" + std::string(64, 'n') +
                                     "... (4096 bytes)' of shape [1] is in "
                                     "the file but not in the model"});
    CHECK(message.size() < 1000);
}

namespace {

// Bytes this process has read through read() and pread() so far (/proc/self/io, rchar).
uint64_t bytes_read_so_far() {
    std::ifstream in("/proc/self/io");
    std::string key;
    uint64_t value = 0;
    while (in >> key >> value)
        if (key == "rchar:") return value;
    return 0;
}

// A checkpoint header followed by one record: its name, rank and sizes, with the data
// left as a hole (ftruncate), so that a file of gigabytes takes no disk space.
void write_sparse_checkpoint(const std::string& path, const std::string& name,
                             const std::vector<int64_t>& shape, uint64_t file_size) {
    std::vector<unsigned char> b(16);
    std::memcpy(b.data(), "FOCALGRD", 8);
    set_u32(b, 8, 1);
    set_u32(b, 12, 1);
    auto put32 = [&](uint32_t v) {
        for (int i = 0; i < 4; ++i) b.push_back(static_cast<unsigned char>(v >> (8 * i)));
    };
    put32(uint32_t(name.size()));
    b.insert(b.end(), name.begin(), name.end());
    put32(uint32_t(shape.size()));
    for (int64_t s : shape) {
        put32(uint32_t(uint64_t(s)));
        put32(uint32_t(uint64_t(s) >> 32));
    }
    write_bytes(path, b);
    fs::resize_file(path, file_size);
}

}  // namespace

TEST_CASE("checkpoint: a large file that does not fit the model is refused from its headers alone") {
    fgtest::TempDir dir;
    const std::string path = dir / "big.fgc";
    const uint64_t size = uint64_t(256) << 20;  // 256 MiB, all of it a hole
    auto m = small_model(5);
    REQUIRE(bytes_read_so_far() > 0);  // /proc/self/io is there to measure with

    // A tensor the model does not have, with as much data as the file holds: the layout is
    // sound, the fit is not.
    const int64_t floats = int64_t((size - 16 - (4 + 8 + 4 + 8) - 4) / 4);
    write_sparse_checkpoint(path, "0.weight", {floats}, size);
    uint64_t before = bytes_read_so_far();
    check_load_fails(*m, path,
                     {"load: '" + path + "' does not fit the model",
                      "tensor '0.weight' has shape [" + std::to_string(floats) + "] in the file but [3, 2]"});
    CHECK_MESSAGE(bytes_read_so_far() - before < 65536, "read ", bytes_read_so_far() - before, " bytes");

    // A size that needs more bytes than the file has: refused from the sizes and the length.
    write_sparse_checkpoint(path, "0.weight", {int64_t(1) << 40}, size);
    before = bytes_read_so_far();
    check_load_fails(*m, path, {"truncated or corrupt", "needs 4398046511104 bytes of data"});
    CHECK(bytes_read_so_far() - before < 65536);

    // A count of tensors far beyond the model's: refused from the header.
    std::vector<unsigned char> header(16);
    std::memcpy(header.data(), "FOCALGRD", 8);
    set_u32(header, 8, 1);
    set_u32(header, 12, 4000000000u);
    write_bytes(path, header);
    fs::resize_file(path, size);
    before = bytes_read_so_far();
    check_load_fails(*m, path, {"holds 4000000000 tensors but the model has 4"});
    CHECK(bytes_read_so_far() - before < 65536);
}

TEST_CASE("check_finite_weights names the first NaN or infinite weight and counts them all") {
    auto m = small_model(1);
    check_finite_weights(*m, "m");               // a fresh model is finite
    Tensor w = m->named_parameters()[2].second;  // 2.weight, [1, 3]
    w.data()[1] = std::nanf("");
    w.data()[2] = -INFINITY;
    CHECK_ERROR(
        check_finite_weights(*m, "checkpoint 'x.fgc'"),
        "checkpoint 'x.fgc' holds weights that are not finite: '2.weight' of shape [1, 3] holds nan at flat "
        "index 1 (2 non-finite values in 1 tensor)");
    // load keeps every bit, NaN included: checking is the caller's choice.
    fgtest::TempDir dir;
    save(*m, dir / "nan.fgc");
    auto back = small_model(2);
    load(*back, dir / "nan.fgc");
    CHECK(std::isnan(back->named_parameters()[2].second.data()[1]));
    CHECK_ERROR(check_finite_weights(*back, "loaded"), "loaded holds weights that are not finite");
}
