// test_fuzz_regressions.cpp — replays the fuzz targets' inputs under `make test`, no
// libFuzzer needed: every file in tests/fuzz/corpus/NAME/ and tests/fuzz/regressions/NAME/
// goes through the entry that fuzz_NAME runs (tests/fuzz/entries.h). Files named ok-* must
// load, err-* must be refused with a focalgrad::Error naming the function; any other name
// (a fuzzer's find) may do either. Nothing may crash or throw anything else, and under
// `make test SANITIZE=1` nothing may trip ASan or UBSan. Not here: fuzzing itself (make fuzz).
#include <algorithm>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "fuzz/entries.h"

namespace fs = std::filesystem;

namespace {

// tests/fuzz of this checkout, found from the working directory upwards (make test runs
// from the repository root; a test binary started from build/bin/ works too), or "".
fs::path fuzz_dir() {
    std::error_code ec;
    for (fs::path dir = fs::current_path(ec); !ec && !dir.empty(); dir = dir.parent_path()) {
        if (fs::exists(dir / "tests/fuzz/entries.h", ec)) return dir / "tests/fuzz";
        if (dir == dir.parent_path()) break;
    }
    return {};
}

std::vector<uint8_t> read_bytes(const fs::path& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Names of the regular files in `dir`, sorted; none if it does not exist.
std::vector<std::string> files_in(const fs::path& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return names;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file()) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

std::set<std::string> subdirs(const fs::path& dir) {
    std::set<std::string> names;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return names;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_directory()) names.insert(e.path().filename().string());
    return names;
}

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

enum class Outcome { loaded, error, other };

struct Result {
    Outcome outcome;
    std::string message;  // the error's, or what else was thrown
};

Result replay(const fgfuzz::Entry& entry, const std::vector<uint8_t>& bytes) {
    try {
        entry.run(bytes.data(), bytes.size());
        return {Outcome::loaded, ""};
    } catch (const focalgrad::Error& e) {
        return {Outcome::error, e.what()};
    } catch (const std::exception& e) {
        return {Outcome::other, std::string("an exception that is not a focalgrad::Error: ") + e.what()};
    } catch (...) {
        return {Outcome::other, "an exception of unknown type"};
    }
}

}  // namespace

TEST_CASE("fuzz: every target has an entry, seeds, and nothing else is lying around") {
    const fs::path dir = fuzz_dir();
    REQUIRE_MESSAGE(!dir.empty(), "tests/fuzz not found above ", fs::current_path().string(),
                    "; run the tests from the repository");
    std::set<std::string> targets, entries;
    for (const std::string& f : files_in(dir))
        if (starts_with(f, "fuzz_") && f.size() > 9 && f.substr(f.size() - 4) == ".cpp")
            targets.insert(f.substr(5, f.size() - 9));
    for (const fgfuzz::Entry& e : fgfuzz::kEntries) entries.insert(e.name);
    CHECK(targets == entries);
    CHECK(targets.count("idx") == 1);
    CHECK(targets.count("image") == 1);
    CHECK(targets.count("checkpoint") == 1);
    CHECK(subdirs(dir / "corpus") == entries);
    for (const std::string& d : subdirs(dir / "regressions")) {
        CAPTURE(d);
        CHECK(entries.count(d) == 1);
    }
}

TEST_CASE("fuzz: every seed and past finding loads or is refused with a clear Error") {
    const fs::path dir = fuzz_dir();
    REQUIRE(!dir.empty());
    for (const fgfuzz::Entry& entry : fgfuzz::kEntries) {
        const std::string target = entry.name;
        CAPTURE(target);
        int loaded = 0, refused = 0;
        for (const char* kind : {"corpus", "regressions"}) {
            const fs::path sub = dir / kind / entry.name;
            for (const std::string& name : files_in(sub)) {
                const std::string file = (sub / name).string();
                CAPTURE(file);
                Result r = replay(entry, read_bytes(sub / name));
                CHECK_MESSAGE(r.outcome != Outcome::other, file, ": ", r.message);
                if (starts_with(name, "ok-"))
                    CHECK_MESSAGE(r.outcome == Outcome::loaded, file, " should load: ", r.message);
                if (starts_with(name, "err-"))
                    CHECK_MESSAGE(r.outcome == Outcome::error, file, " should be refused");
                if (r.outcome == Outcome::error) {
                    bool named = false;
                    for (const std::string& op : entry.ops) named |= starts_with(r.message, op + ": ");
                    CHECK_MESSAGE(named, file,
                                  ": the error does not start with the function's "
                                  "name: ",
                                  r.message);
                }
                loaded += r.outcome == Outcome::loaded;
                refused += r.outcome == Outcome::error;
            }
        }
        // Seeds that load are what the fuzzer mutates; refusals show the error paths run.
        CHECK(loaded >= 4);
        CHECK(refused >= 4);
    }
}

TEST_CASE(
    "load_image: every image seed, cut short at any length, is refused (no format decodes a cut file)") {
    // stb_image decoded a GIF cut short with its missing part white, a BMP with its missing
    // rows black, and a PNG without its IEND chunk's CRC; JPEG and PGM/PPM were refused.
    const fs::path seeds = fuzz_dir() / "corpus" / "image";
    REQUIRE(fs::exists(seeds));
    int files = 0;
    for (const std::string& name : files_in(seeds)) {
        if (!starts_with(name, "ok-")) continue;
        CAPTURE(name);
        const std::vector<uint8_t> seed = read_bytes(seeds / name);
        const std::vector<uint8_t> file(seed.begin() + 2, seed.end());  // after the 2 option bytes
        focalgrad::load_image_from_memory(file.data(), file.size());    // whole, it loads
        int accepted = 0;
        size_t first_accepted = 0;
        for (size_t n = 0; n < file.size(); ++n) {
            bool ok = true;
            try {
                focalgrad::load_image_from_memory(file.data(), n);
            } catch (const focalgrad::Error&) {
                ok = false;
            }
            if (ok && accepted++ == 0) first_accepted = n;
        }
        CHECK_MESSAGE(accepted == 0, accepted, " truncations load, the first at ", first_accepted, " of ",
                      file.size(), " bytes");
        ++files;
    }
    CHECK(files >= 25);  // PNG, JPEG, BMP, GIF, PGM and PPM seeds
}
