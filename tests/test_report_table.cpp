// test_report_table.cpp — Markdown and CSV from one table (exact text, escaping and
// quoting), the number formats, and mean ± sample std against a hand computation.
#include <cmath>
#include <doctest/doctest.h>

#include <focalgrad/report/table.h>

#include "helpers.h"

using namespace focalgrad;
using namespace focalgrad::report;

TEST_CASE("to_markdown: a header, its rule, one line per row; '|' and line breaks cannot break a row") {
    Table t({"loss", "recall"});
    t.add({"ce", "0.583"}).add({"a|b", "two\nlines"});
    CHECK(to_markdown(t) ==
          "| loss | recall |\n"
          "|---|---|\n"
          "| ce | 0.583 |\n"
          "| a\\|b | two lines |\n");
    t.align = {Align::left, Align::right};
    CHECK(to_markdown(t).find("|:---|---:|\n") != std::string::npos);
    t.align = {Align::centre, Align::none};
    CHECK(to_markdown(t).find("|:---:|---|\n") != std::string::npos);
}

TEST_CASE("to_csv: RFC 4180 quoting only where a field needs it") {
    Table t({"loss", "note"});
    t.add({"ce", "plain"});
    t.add({"focal, γ = 2", "say \"hi\""});
    t.add({" padded", "a\nb"});
    t.add({"", ""});
    CHECK(to_csv(t) ==
          "loss,note\n"
          "ce,plain\n"
          "\"focal, γ = 2\",\"say \"\"hi\"\"\"\n"
          "\" padded\",\"a\nb\"\n"
          ",\n");
}

TEST_CASE("Table refuses rows of the wrong width and tables without columns") {
    Table t({"a", "b"});
    CHECK_ERROR(t.add({"1"}), "Table::add", "1 cells for 2 columns");
    CHECK_ERROR(to_markdown(Table{}), "to_markdown", "no columns");
    CHECK_ERROR(to_csv(Table{}), "to_csv", "no columns");
    t.align = {Align::left};
    CHECK_ERROR(to_markdown(t), "1 alignments for 2 columns");
}

TEST_CASE("fixed, summarize, mean_std") {
    CHECK(fixed(0.5, 3) == "0.500");
    CHECK(fixed(2.0 / 3, 2) == "0.67");
    CHECK(fixed(-1.25, 0) == "-1");
    CHECK(fixed(std::nan(""), 3) == "nan");

    // 0.2, 0.4, 0.9: mean 0.5, squared deviations 0.09 + 0.01 + 0.16 = 0.26, / (n - 1) = 0.13.
    Summary s = summarize({0.2, 0.4, 0.9});
    CHECK(s.n == 3);
    CHECK(s.mean == doctest::Approx(0.5));
    CHECK(s.std == doctest::Approx(std::sqrt(0.13)));
    CHECK(mean_std(s) == "0.500 ± 0.361");
    CHECK(mean_std(s, 2, true) == "+0.50 ± 0.36");
    CHECK(mean_std(summarize({-0.25, -0.25}), 2, true) == "-0.25 ± 0.00");

    Summary one = summarize({0.7});
    CHECK(one.std == 0);
    CHECK(mean_std(one) == "0.700");  // one run: no spread to show

    Summary none = summarize({});
    CHECK(none.n == 0);
    CHECK(std::isnan(none.mean));
}
