// main.cpp — the test runner: doctest, plus the one summary line CI reads,
//   tests: N passed, M failed
// printed last. A run in which no test executed is a failure.
#define DOCTEST_CONFIG_IMPLEMENT
#include <sys/wait.h>

#include <cstdio>
#include <doctest/doctest.h>
#include <string>

#include "helpers.h"

namespace fgtest {
// The directory of this binary (build/bin or build-asan/bin): where the example programs
// that tests/test_examples_cli.cpp runs are.
std::string g_bin_dir = ".";

Outcome run_command(const std::string& command) {
    const std::string full = "cd " + g_bin_dir + "/../.. && " + command + " 2>&1";
    Outcome o{-1, ""};
    FILE* p = ::popen(full.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) o.output.append(buf, n);
    const int status = ::pclose(p);
    if (WIFEXITED(status)) o.status = WEXITSTATUS(status);
    return o;
}
}  // namespace fgtest

namespace {

int g_ran = 0;
int g_failed = 0;

// A listener sees the run's totals; main() prints them after doctest's own report.
struct SummaryListener : doctest::IReporter {
    explicit SummaryListener(const doctest::ContextOptions&) {}
    void test_run_end(const doctest::TestRunStats& stats) override {
        g_ran = int(stats.numTestCasesPassingFilters);
        g_failed = int(stats.numTestCasesFailed);
    }
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_case_start(const doctest::TestCaseData&) override {}
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

DOCTEST_REGISTER_LISTENER("summary", 1, SummaryListener);

int main(int argc, char** argv) {
    std::string self = argv[0];
    size_t slash = self.find_last_of('/');
    if (slash != std::string::npos) fgtest::g_bin_dir = self.substr(0, slash);
    doctest::Context context(argc, argv);
    int status = context.run();
    if (context.shouldExit()) return status;  // --help, --list-test-cases, ...
    std::fflush(stdout);
    if (g_ran == 0) std::printf("no test ran: the run counts as failed\n");
    std::printf("tests: %d passed, %d failed\n", g_ran - g_failed, g_failed);
    return g_ran == 0 ? 1 : status;
}
