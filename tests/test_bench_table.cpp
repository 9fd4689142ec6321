// test_bench_table.cpp — scripts/bench.sh, which prints `make bench`'s table: one build's
// rows under the header, or two builds' rows side by side (the NATIVE=1 column), row k of
// one beside row k of the other, with the arguments passed to every program. Checked on
// made-up benchmark programs (shell scripts) in a temp dir; the real programs' rows are
// what `make bench` prints.
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "helpers.h"

namespace {

// A benchmark program at `path` that prints its arguments' count (to stderr) and `rows`.
void write_program(const std::string& path, const std::string& rows) {
    std::ofstream(path) << "#!/bin/sh\necho \"$#|args\" >&2\nprintf '%s' '" << rows << "'\n";
    ::chmod(path.c_str(), 0755);
}

std::string bench_sh() { return fgtest::g_bin_dir + "/../../scripts/bench.sh"; }

}  // namespace

TEST_CASE("bench.sh: one build's rows under the header, or two builds' rows side by side") {
    fgtest::TempDir dir;
    fgtest::run_command("mkdir " + (dir / "default") + " " + (dir / "native"));
    write_program(dir / "default/first",
                  "| loss fwd+bwd, AVX2+FMA | 15.7 ms | floor 2.2 ms | 7.0x floor | <= 2.5x |\n");
    write_program(dir / "default/second", "| epoch | 0.50 s | floor 0.29 s | 1.72x floor |  |\n");
    write_program(dir / "native/first",
                  "| loss fwd+bwd, AVX-512 | 12.9 ms | floor 2.0 ms | 6.4x floor | <= 2.5x |\n");
    write_program(dir / "native/second", "| epoch | 0.48 s | floor 0.29 s | 1.66x floor |  |\n");

    fgtest::Outcome one = fgtest::run_command("bash " + bench_sh() + " " + (dir / "default") +
                                              " -- first second -- --quick --threads 2");
    REQUIRE_MESSAGE(one.status == 0, one.output);
    // Each program got --no-header and the three arguments after the second --.
    CHECK(one.output ==
          "| benchmark | measured | floor or reference | ratio | target |\n"
          "|---|---|---|---|---|\n"
          "4|args\n"
          "| loss fwd+bwd, AVX2+FMA | 15.7 ms | floor 2.2 ms | 7.0x floor | <= 2.5x |\n"
          "4|args\n"
          "| epoch | 0.50 s | floor 0.29 s | 1.72x floor |  |\n");

    fgtest::Outcome two = fgtest::run_command("bash " + bench_sh() + " " + (dir / "default") + " " +
                                              (dir / "native") + " -- first second -- --quick");
    REQUIRE_MESSAGE(two.status == 0, two.output);
    // The rows are printed after both builds have run (their programs' stderr comes first).
    CHECK(
        two.output ==
        "2|args\n2|args\n2|args\n2|args\n"
        "| benchmark | measured | floor or reference | ratio | target | NATIVE=1: measured | NATIVE=1: ratio "
        "|\n"
        "|---|---|---|---|---|---|---|\n"
        "| loss fwd+bwd, AVX2+FMA | 15.7 ms | floor 2.2 ms | 7.0x floor | <= 2.5x | 12.9 ms | 6.4x floor |\n"
        "| epoch | 0.50 s | floor 0.29 s | 1.72x floor |  | 0.48 s | 1.66x floor |\n");
}

TEST_CASE("bench.sh: a failing benchmark program fails the table") {
    fgtest::TempDir dir;
    std::ofstream(dir / "broken") << "#!/bin/sh\necho 'bench_broken: error: MNIST not found' >&2\nexit 2\n";
    ::chmod((dir / "broken").c_str(), 0755);
    fgtest::Outcome o =
        fgtest::run_command("bash " + bench_sh() + " " + dir.path() + " " + dir.path() + " -- broken --");
    CHECK(o.status != 0);
    fgtest::check_contains(o.output, {"bench_broken: error: MNIST not found"});
}
