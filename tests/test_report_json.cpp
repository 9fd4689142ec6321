// test_report_json.cpp — the JSON writer: both layouts to the byte, string escaping, numbers
// (float32 exact at 9 digits, NaN as null), every misuse refused, and documents that parse.
#include <cmath>
#include <doctest/doctest.h>

#include <focalgrad/core/random.h>
#include <focalgrad/report/json.h>

#include "helpers.h"
#include "json_mini.h"

using namespace focalgrad;
using namespace focalgrad::report;
using fgtest::Json;
using Layout = JsonWriter::Layout;

TEST_CASE("JsonWriter: inline and one-member-per-line layouts, nested") {
    JsonWriter w;
    w.begin_object(Layout::lines);
    w.key("name").value("demo");
    w.key("config").begin_object().key("epochs").value(10).key("lr").value(0.01).key("hidden").array(
        std::vector<int64_t>{256, 128});
    w.end_object();
    w.key("runs").begin_array(Layout::lines);
    w.begin_object().key("loss").value("ce").key("ok").value(true).end_object();
    w.begin_object().key("loss").value("focal").key("missing").null().end_object();
    w.end_array();
    w.key("empty").begin_array(Layout::lines).end_array();
    w.key("inner")
        .begin_object()
        .key("deep")
        .begin_array(Layout::lines)
        .value(1)
        .value(2)
        .end_array()
        .end_object();
    w.end_object();
    CHECK(w.str() ==
          "{\n"
          "  \"name\": \"demo\",\n"
          "  \"config\": {\"epochs\": 10, \"lr\": 0.01, \"hidden\": [256, 128]},\n"
          "  \"runs\": [\n"
          "    {\"loss\": \"ce\", \"ok\": true},\n"
          "    {\"loss\": \"focal\", \"missing\": null}\n"
          "  ],\n"
          "  \"empty\": [],\n"
          "  \"inner\": {\"deep\": [1, 2]}\n"  // inside an inline container, lines becomes inline
          "}\n");
}

TEST_CASE("JsonWriter: numbers keep 9 significant digits (every float32 exactly); NaN and inf are null") {
    JsonWriter w;
    w.begin_array().value(0.5).value(1e-30).value(123456789.0).value(0.1).value(-2.0);
    w.value(std::nan("")).value(std::numeric_limits<double>::infinity()).value(int64_t(1) << 40).end_array();
    CHECK(w.str() == "[0.5, 1e-30, 123456789, 0.1, -2, null, null, 1099511627776]\n");

    // Every float32 written at 9 digits parses back to the same float.
    Generator gen(7);
    JsonWriter many;
    many.begin_array();
    std::vector<float> values;
    for (int i = 0; i < 200; ++i) {
        float v = float(gen.normal() * std::pow(10.0, double(i % 20) - 10));
        values.push_back(v);
        many.value(double(v));
    }
    many.end_array();
    Json j = fgtest::JsonParser(many.str()).parse();
    REQUIRE(j.items.size() == values.size());
    for (size_t i = 0; i < values.size(); ++i) CHECK(float(j.items[i].number) == values[i]);
}

TEST_CASE("JsonWriter::quote: quotes, backslashes and controls escaped; broken UTF-8 replaced") {
    CHECK(JsonWriter::quote("say \"hi\" \\ now") == "\"say \\\"hi\\\" \\\\ now\"");
    CHECK(JsonWriter::quote("tab\tline\n") == "\"tab\\u0009line\\u000a\"");
    CHECK(JsonWriter::quote(std::string("nul\0", 4)) == "\"nul\\u0000\"");
    CHECK(JsonWriter::quote("γ ± σ") == "\"γ ± σ\"");
    CHECK(JsonWriter::quote("bad \xff") == "\"bad \xef\xbf\xbd\"");
    JsonWriter w;
    w.begin_object().key("we\"ird\n").value(std::string("a\x01z")).end_object();
    Json j = fgtest::JsonParser(w.str()).parse();
    CHECK(j.has("we\"ird\n"));
}

TEST_CASE("JsonWriter refuses every misuse instead of writing broken JSON") {
    {
        JsonWriter w;
        w.begin_object();
        CHECK_ERROR(w.value(1), "inside an object needs a key");
        w.key("a");
        CHECK_ERROR(w.key("b"), "right after another key");
        CHECK_ERROR(w.end_object(), "the last key has no value");
        w.value(1);
        CHECK_ERROR(w.end_array(), "end_array closes an open object");
        CHECK_ERROR(w.str(), "not complete", "1 container(s) still open");
        w.end_object();
        CHECK_ERROR(w.value(2), "after the document's one top-level value");
        CHECK_ERROR(w.end_object(), "with nothing open");
    }
    {
        JsonWriter w;
        CHECK_ERROR(w.key("a"), "outside an object");
        CHECK_ERROR(w.str(), "nothing was written");
        w.begin_array();
        CHECK_ERROR(w.key("a"), "outside an object");
    }
    CHECK_ERROR(JsonWriter(0), "significant_digits must be 1 to 17");
    JsonWriter scalar;
    scalar.value("alone");
    CHECK(scalar.str() == "\"alone\"\n");
}
