// test_doc_blocks.cpp — the extractor behind "Code in the docs" (scripts/doc_blocks.sh):
// which fences become files, with what text and which #line, which output belongs to which
// program, and each broken convention refused with the doc and line. (`make test` itself
// compiles and runs the real docs' blocks; this checks the rules on a made-up doc.)
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "helpers.h"

namespace {

using fgtest::read_file;

void write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

struct Result {
    int status;
    std::string stderr_text;
};

// Runs `doc_blocks.sh extract out guide.md` in `dir`, where guide.md holds `markdown`.
Result extract(const fgtest::TempDir& dir, const std::string& markdown) {
    write(dir / "guide.md", markdown);
    std::string script =
        std::filesystem::absolute(fgtest::g_bin_dir + "/../../scripts/doc_blocks.sh").string();
    std::string command = "cd " + dir.path() + " && bash " + script + " extract out guide.md 2> stderr.txt";
    int status = std::system(command.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(dir / "stderr.txt")};
}

}  // namespace

TEST_CASE("doc_blocks extract: programs, their output, fragments, excerpts and indented fences") {
    fgtest::TempDir dir;
    write(dir / "quoted.cpp", "int before;\nint twice(int x) { return 2 * x; }\nint after;\n");
    const std::string doc =
        "# Guide\n"
        "```cpp\n"  // line 2: block 1
        "int main() { return 0; }\n"
        "```\n"
        "Prose between a program and its output is fine.\n"
        "```output\n"
        "hello\n"
        "```\n"
        "```cpp fragment\n"
        "not compiled\n"
        "```\n"
        "```cpp excerpt quoted.cpp\n"
        "int twice(int x) { return 2 * x; }\n"
        "```\n"
        "1. A list item:\n"
        "\n"
        "   ```cpp\n"  // line 17: block 2, indented 3 spaces
        "   void f() {\n"
        "       int i = 0;\n"
        "   }\n"
        "   ```\n"
        "```sh\n"
        "make test\n"
        "```\n";
    Result r = extract(dir, doc);
    REQUIRE_MESSAGE(r.status == 0, r.stderr_text);
    CHECK(read_file(dir / "out/guide-1.cpp") == "#line 3 \"guide.md\"\nint main() { return 0; }\n");
    CHECK(read_file(dir / "out/guide-1.out") == "hello\n");
    CHECK(read_file(dir / "out/guide-2.cpp") == "#line 18 \"guide.md\"\nvoid f() {\n    int i = 0;\n}\n");
    CHECK(!std::ifstream(dir / "out/guide-2.out").good());
    CHECK(read_file(dir / "out/blocks.mk") ==
          "DOC_BLOCKS := out/guide-1 out/guide-2\n"
          "out/guide-1.ok: out/guide-1.out\n");

    // Turning block 2 into a fragment removes its file.
    std::string fragment = doc;
    fragment.replace(fragment.find("   ```cpp\n"), 10, "   ```cpp fragment\n");
    REQUIRE(extract(dir, fragment).status == 0);
    CHECK(!std::ifstream(dir / "out/guide-2.cpp").good());
    CHECK(read_file(dir / "out/blocks.mk") == "DOC_BLOCKS := out/guide-1\nout/guide-1.ok: out/guide-1.out\n");
}

TEST_CASE("doc_blocks extract: every broken convention is refused, naming the doc and the line") {
    fgtest::TempDir dir;
    write(dir / "quoted.cpp", "int twice(int x) { return 2 * x; }\n");
    Result r = extract(dir, "```cpp excerpt quoted.cpp\nint twice(int x) { return 3 * x; }\n```\n");
    CHECK(r.status != 0);
    fgtest::check_contains(r.stderr_text, {"guide.md:1", "not in quoted.cpp as written"});

    r = extract(dir, "```cpp excerpt missing.cpp\nint x;\n```\n");
    CHECK(r.status != 0);
    fgtest::check_contains(r.stderr_text, {"guide.md:1", "missing.cpp, which does not exist"});

    r = extract(dir, "```cpp\nint main() {}\n```\n## Next section\n```output\nhi\n```\n");
    CHECK(r.status != 0);
    fgtest::check_contains(r.stderr_text,
                           {"guide.md:5", "output block must be the next block after a cpp block"});

    r = extract(dir, "```cpp\nint main() {}\n```\n```text\nx\n```\n```output\nhi\n```\n");
    CHECK(r.status != 0);  // another block came between
    fgtest::check_contains(r.stderr_text, {"guide.md:7", "output block"});

    r = extract(dir, "text\n```cpp snippet\nint x;\n```\n");
    CHECK(r.status != 0);
    fgtest::check_contains(r.stderr_text, {"guide.md:2", "unknown C++ block tag \"snippet\""});

    r = extract(dir, "# T\n\n```cpp\nint x;\n");
    CHECK(r.status != 0);
    fgtest::check_contains(r.stderr_text, {"guide.md:3", "never closed"});
}
