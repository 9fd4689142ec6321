// json_mini.h — a small JSON reader for tests: enough to check that a file parses and
// has the documented fields (objects, arrays, strings, numbers, true/false/null).
#pragma once

#include <cctype>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace fgtest {

struct Json {
    enum class Kind { Null, Bool, Number, String, Array, Object } kind = Kind::Null;
    double number = 0;
    bool boolean = false;
    std::string text;
    std::vector<Json> items;
    std::map<std::string, Json> fields;

    bool has(const std::string& key) const { return kind == Kind::Object && fields.count(key); }
    const Json& operator[](const std::string& key) const {
        auto it = fields.find(key);
        if (kind != Kind::Object || it == fields.end())
            throw std::runtime_error("json: no field '" + key + "'");
        return it->second;
    }
};

class JsonParser {
public:
    explicit JsonParser(const std::string& s) : s_(s) {}
    Json parse() {
        Json v = value();
        skip();
        if (at_ != s_.size()) fail("trailing characters");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& what) {
        throw std::runtime_error("json: " + what + " at offset " + std::to_string(at_));
    }
    void skip() {
        while (at_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[at_]))) ++at_;
    }
    bool eat(char c) {
        skip();
        if (at_ < s_.size() && s_[at_] == c) {
            ++at_;
            return true;
        }
        return false;
    }
    void expect(char c) {
        if (!eat(c)) fail(std::string("expected '") + c + "'");
    }
    std::string string() {
        expect('"');
        std::string out;
        while (at_ < s_.size() && s_[at_] != '"') {
            if (s_[at_] == '\\') {
                ++at_;
                if (at_ >= s_.size()) fail("bad escape");
                char e = s_[at_];
                if (e == 'u') {  // \uXXXX as UTF-8 (surrogate pairs are not joined)
                    if (at_ + 4 >= s_.size()) fail("bad \\u escape");
                    unsigned long cp = std::strtoul(s_.substr(at_ + 1, 4).c_str(), nullptr, 16);
                    if (cp < 0x80) {
                        out += char(cp);
                    } else if (cp < 0x800) {
                        out += char(0xc0 | (cp >> 6)), out += char(0x80 | (cp & 0x3f));
                    } else {
                        out += char(0xe0 | (cp >> 12)), out += char(0x80 | ((cp >> 6) & 0x3f));
                        out += char(0x80 | (cp & 0x3f));
                    }
                    at_ += 4;
                } else {
                    out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
                }
                ++at_;
            } else {
                if (static_cast<unsigned char>(s_[at_]) < 0x20) fail("raw control character in a string");
                out += s_[at_++];
            }
        }
        expect('"');
        return out;
    }
    Json value() {
        skip();
        if (at_ >= s_.size()) fail("unexpected end");
        Json v;
        char c = s_[at_];
        if (c == '{') {
            ++at_;
            v.kind = Json::Kind::Object;
            if (eat('}')) return v;
            do {
                std::string key = string();
                expect(':');
                v.fields[key] = value();
            } while (eat(','));
            expect('}');
        } else if (c == '[') {
            ++at_;
            v.kind = Json::Kind::Array;
            if (eat(']')) return v;
            do v.items.push_back(value());
            while (eat(','));
            expect(']');
        } else if (c == '"') {
            v.kind = Json::Kind::String;
            v.text = string();
        } else if (s_.compare(at_, 4, "true") == 0 || s_.compare(at_, 5, "false") == 0) {
            v.kind = Json::Kind::Bool;
            v.boolean = s_[at_] == 't';
            at_ += v.boolean ? 4 : 5;
        } else if (s_.compare(at_, 4, "null") == 0) {
            at_ += 4;
        } else {
            char* end = nullptr;
            v.kind = Json::Kind::Number;
            v.number = std::strtod(s_.c_str() + at_, &end);
            if (end == s_.c_str() + at_) fail("bad value");
            at_ = size_t(end - s_.c_str());
        }
        return v;
    }

    const std::string& s_;
    size_t at_ = 0;
};

}  // namespace fgtest
