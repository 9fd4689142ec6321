// json.h — a JSON writer for result files: objects, arrays, strings, numbers, booleans and
// null, built in order (begin_object, key, value, ..., end_object), with each container
// laid out on one line or one member per line. Misuse (a value without a key inside an
// object, unbalanced ends) is an Error, not a broken file; NaN and infinities become null,
// since JSON has no number for them.
// Not here: reading JSON, pretty-printing rules beyond the two layouts.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace focalgrad::report {

class JsonWriter {
public:
    // inline_:  {"a": 1, "b": [1, 2]}
    // lines:    {
    //             "a": 1,
    //             "b": [1, 2]
    //           }
    // A container inside an inline one is inline too.
    enum class Layout { inline_, lines };

    // Numbers are written with `significant_digits` (printf's %.*g): 9 holds every float32
    // exactly; pass 17 for every double.
    explicit JsonWriter(int significant_digits = 9);

    JsonWriter& begin_object(Layout layout = Layout::inline_);
    JsonWriter& end_object();
    JsonWriter& begin_array(Layout layout = Layout::inline_);
    JsonWriter& end_array();
    JsonWriter& key(const std::string& name);  // inside an object, before each member's value

    JsonWriter& value(double v);
    JsonWriter& value(const std::string& v);
    JsonWriter& value(const char* v);
    JsonWriter& value(bool v);
    template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
    JsonWriter& value(T v) {
        return raw(std::to_string(v));
    }
    JsonWriter& null();

    // An inline array of values: array(std::vector<double>{0.5, 1}) writes [0.5, 1].
    template <class T>
    JsonWriter& array(const std::vector<T>& values) {
        begin_array();
        for (const T& v : values) value(v);
        return end_array();
    }

    // The document, ending in a newline. Throws unless exactly one complete value was written.
    std::string str() const;

    // A JSON string literal, quotes included: '"' and '\' escaped, control characters as
    // \u00XX, bytes that are not UTF-8 replaced by U+FFFD (JSON text is UTF-8).
    static std::string quote(const std::string& text);

private:
    struct Level {
        bool object;
        bool lines;
        bool empty = true;
        bool key_pending = false;
    };
    JsonWriter& raw(const std::string& text);  // a scalar value's text
    void before_value(const char* what);
    void begin(bool object, Layout layout);
    void end(bool object);

    int digits_;
    std::string out_;
    std::vector<Level> stack_;
    bool done_ = false;
};

}  // namespace focalgrad::report
