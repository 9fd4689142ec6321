// json.cpp — the writer's state machine: a stack of open containers, each knowing its
// layout, whether it has members yet, and (for objects) whether a key awaits its value.
#include <cmath>
#include <cstdio>

#include <focalgrad/core/error.h>
#include <focalgrad/report/json.h>
#include <focalgrad/report/utf8.h>

namespace focalgrad::report {

JsonWriter::JsonWriter(int significant_digits) : digits_(significant_digits) {
    FG_CHECK(significant_digits >= 1 && significant_digits <= 17,
             "JsonWriter: significant_digits must be 1 to 17, got ", significant_digits);
}

std::string JsonWriter::quote(const std::string& text) {
    std::string out = "\"";
    for (size_t i = 0; i < text.size();) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        const size_t n = detail::utf8_sequence(text, i);
        if (n == 0) {
            out += "\xef\xbf\xbd";  // U+FFFD
            ++i;
            continue;
        }
        if (c == '"' || c == '\\') {
            out += '\\';
            out += char(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out.append(text, i, n);
        }
        i += n;
    }
    return out + "\"";
}

// Where the next value goes: after a key in an object, or as the next item of an array
// (with its separator and, in a `lines` container, its own indented line).
void JsonWriter::before_value(const char* what) {
    FG_CHECK(!done_, "JsonWriter: ", what, " after the document's one top-level value");
    if (stack_.empty()) return;
    Level& top = stack_.back();
    if (top.object) {
        FG_CHECK(top.key_pending, "JsonWriter: ", what, " inside an object needs a key() first");
        top.key_pending = false;
        return;
    }
    if (!top.empty) out_ += top.lines ? ",\n" : ", ";
    if (top.lines) out_ += (top.empty ? "\n" : "") + std::string(2 * stack_.size(), ' ');
    top.empty = false;
}

JsonWriter& JsonWriter::key(const std::string& name) {
    FG_CHECK(!stack_.empty() && stack_.back().object, "JsonWriter: key(\"", name, "\") outside an object");
    Level& top = stack_.back();
    FG_CHECK(!top.key_pending, "JsonWriter: key(\"", name,
             "\") right after another key (the first has no value)");
    if (!top.empty) out_ += top.lines ? ",\n" : ", ";
    if (top.lines) out_ += (top.empty ? "\n" : "") + std::string(2 * stack_.size(), ' ');
    out_ += quote(name) + ": ";
    top.empty = false;
    top.key_pending = true;
    return *this;
}

JsonWriter& JsonWriter::raw(const std::string& text) {
    before_value("a value");
    out_ += text;
    if (stack_.empty()) done_ = true;
    return *this;
}

JsonWriter& JsonWriter::value(double v) {
    if (!std::isfinite(v)) return null();
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.*g", digits_, v);
    return raw(buf);
}

JsonWriter& JsonWriter::value(const std::string& v) { return raw(quote(v)); }
JsonWriter& JsonWriter::value(const char* v) { return raw(quote(v)); }
JsonWriter& JsonWriter::value(bool v) { return raw(v ? "true" : "false"); }
JsonWriter& JsonWriter::null() { return raw("null"); }

void JsonWriter::begin(bool object, Layout layout) {
    before_value(object ? "begin_object" : "begin_array");
    const bool parent_inline = !stack_.empty() && !stack_.back().lines;
    stack_.push_back({object, layout == Layout::lines && !parent_inline});
    out_ += object ? '{' : '[';
}

void JsonWriter::end(bool object) {
    const char* what = object ? "end_object" : "end_array";
    FG_CHECK(!stack_.empty(), "JsonWriter: ", what, " with nothing open");
    const Level top = stack_.back();
    FG_CHECK(top.object == object, "JsonWriter: ", what, " closes an open ", top.object ? "object" : "array");
    FG_CHECK(!top.key_pending, "JsonWriter: ", what, ": the last key has no value");
    stack_.pop_back();
    if (top.lines && !top.empty) out_ += "\n" + std::string(2 * stack_.size(), ' ');
    out_ += object ? '}' : ']';
    if (stack_.empty()) done_ = true;
}

JsonWriter& JsonWriter::begin_object(Layout layout) {
    begin(true, layout);
    return *this;
}
JsonWriter& JsonWriter::end_object() {
    end(true);
    return *this;
}
JsonWriter& JsonWriter::begin_array(Layout layout) {
    begin(false, layout);
    return *this;
}
JsonWriter& JsonWriter::end_array() {
    end(false);
    return *this;
}

std::string JsonWriter::str() const {
    FG_CHECK(done_, "JsonWriter::str: the document is not complete (", stack_.size(),
             " container(s) still open", stack_.empty() ? ", or nothing was written" : "", ")");
    return out_ + "\n";
}

}  // namespace focalgrad::report
