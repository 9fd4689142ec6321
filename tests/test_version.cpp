// test_version.cpp — the version is written once (core/version.h) and everything agrees with
// it: the numeric macros, the library's version(), and the newest released entry of
// CHANGELOG.md.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <focalgrad/core/version.h>

#include "helpers.h"

namespace fs = std::filesystem;

TEST_CASE("FOCALGRAD_VERSION is MAJOR.MINOR.PATCH and the library reports the same") {
    const std::string parts = std::to_string(FOCALGRAD_VERSION_MAJOR) + "." +
                              std::to_string(FOCALGRAD_VERSION_MINOR) + "." +
                              std::to_string(FOCALGRAD_VERSION_PATCH);
    CHECK(parts == FOCALGRAD_VERSION);
    CHECK(std::string(focalgrad::version()) == FOCALGRAD_VERSION);
}

TEST_CASE("the newest released entry of CHANGELOG.md is FOCALGRAD_VERSION") {
    // The checkout, found from the working directory upwards (make test runs from its root).
    fs::path root;
    std::error_code ec;
    for (fs::path dir = fs::current_path(ec); !ec && !dir.empty(); dir = dir.parent_path()) {
        if (fs::exists(dir / "CHANGELOG.md", ec) && fs::exists(dir / "core/version.h", ec)) {
            root = dir;
            break;
        }
        if (dir == dir.parent_path()) break;
    }
    REQUIRE_MESSAGE(!root.empty(), "run from inside the checkout: CHANGELOG.md not found");
    std::ifstream in(root / "CHANGELOG.md");
    std::string line, newest;
    // "## Unreleased" (changes since the newest version, not yet released) may come first.
    while (std::getline(in, line))
        if (line.rfind("## ", 0) == 0 && line != "## Unreleased") {
            newest = line.substr(3, line.find(' ', 3) - 3);  // "## 0.1.0 — date" -> "0.1.0"
            break;
        }
    CHECK(newest == FOCALGRAD_VERSION);
}
