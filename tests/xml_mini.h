// xml_mini.h — a small XML reader for tests: enough to check that an SVG file is well
// formed (one root, tags balanced, attributes quoted, entities known, no raw '<' or '&' in
// text) and to find its elements by name and class. Not a validating parser.
#pragma once

#include <cctype>
#include <cstdlib>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace fgtest {

struct Xml {
    std::string name;
    std::map<std::string, std::string> attributes;  // entity references decoded
    std::vector<Xml> children;
    std::string text;  // the character data directly inside, entities decoded

    bool has(const std::string& key) const { return attributes.count(key) > 0; }
    const std::string& attr(const std::string& key) const {
        auto it = attributes.find(key);
        if (it == attributes.end())
            throw std::runtime_error("xml: <" + name + "> has no attribute '" + key + "'");
        return it->second;
    }
    double number(const std::string& key) const { return std::strtod(attr(key).c_str(), nullptr); }
    // The class attribute holds every word of `words` ("tick-label x": both words).
    bool has_class(const std::string& words) const {
        if (!has("class")) return false;
        const std::string padded = " " + attr("class") + " ";
        for (size_t at = 0; at < words.size();) {
            size_t end = words.find(' ', at);
            if (end == std::string::npos) end = words.size();
            if (padded.find(" " + words.substr(at, end - at) + " ") == std::string::npos) return false;
            at = end + 1;
        }
        return true;
    }
    // Every element below this one (depth first, document order) for which keep() is true.
    std::vector<const Xml*> find(const std::function<bool(const Xml&)>& keep) const {
        std::vector<const Xml*> out;
        for (const Xml& c : children) {
            if (keep(c)) out.push_back(&c);
            std::vector<const Xml*> deeper = c.find(keep);
            out.insert(out.end(), deeper.begin(), deeper.end());
        }
        return out;
    }
    std::vector<const Xml*> find(const std::string& element, const std::string& css_class = "") const {
        return find(
            [&](const Xml& x) { return x.name == element && (css_class.empty() || x.has_class(css_class)); });
    }
};

class XmlParser {
public:
    explicit XmlParser(const std::string& s) : s_(s) {}
    Xml parse() {
        skip_space();
        if (s_.compare(at_, 5, "<?xml") == 0) {
            size_t end = s_.find("?>", at_);
            if (end == std::string::npos) fail("unterminated XML declaration");
            at_ = end + 2;
        }
        skip_space();
        Xml root = element();
        skip_space();
        if (at_ != s_.size()) fail("content after the root element");
        return root;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw std::runtime_error("xml: " + what + " at offset " + std::to_string(at_));
    }
    void skip_space() {
        while (at_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[at_]))) ++at_;
    }
    std::string name() {
        size_t start = at_;
        while (at_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[at_])) || s_[at_] == '-' ||
                                   s_[at_] == ':' || s_[at_] == '_'))
            ++at_;
        if (at_ == start) fail("expected a name");
        return s_.substr(start, at_ - start);
    }
    std::string decode(const std::string& raw) {
        std::string out;
        for (size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] == '<') fail("raw '<' in text or attribute");
            if (raw[i] != '&') {
                out += raw[i];
                continue;
            }
            size_t end = raw.find(';', i);
            if (end == std::string::npos) fail("unterminated entity");
            std::string e = raw.substr(i + 1, end - i - 1);
            static const std::map<std::string, std::string> known = {
                {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}};
            auto it = known.find(e);
            if (it == known.end()) fail("unknown entity &" + e + ";");
            out += it->second;
            i = end;
        }
        return out;
    }
    Xml element() {
        if (at_ >= s_.size() || s_[at_] != '<') fail("expected '<'");
        ++at_;
        Xml x;
        x.name = name();
        for (;;) {
            skip_space();
            if (at_ >= s_.size()) fail("unterminated tag <" + x.name + ">");
            if (s_.compare(at_, 2, "/>") == 0) {
                at_ += 2;
                return x;
            }
            if (s_[at_] == '>') {
                ++at_;
                break;
            }
            std::string key = name();
            skip_space();
            if (at_ >= s_.size() || s_[at_] != '=') fail("attribute '" + key + "' without '='");
            ++at_;
            skip_space();
            if (at_ >= s_.size() || s_[at_] != '"') fail("attribute '" + key + "' not in double quotes");
            size_t end = s_.find('"', at_ + 1);
            if (end == std::string::npos) fail("unterminated attribute '" + key + "'");
            if (x.attributes.count(key)) fail("attribute '" + key + "' twice");
            x.attributes[key] = decode(s_.substr(at_ + 1, end - at_ - 1));
            at_ = end + 1;
        }
        for (;;) {
            size_t lt = s_.find('<', at_);
            if (lt == std::string::npos) fail("<" + x.name + "> is never closed");
            x.text += decode(s_.substr(at_, lt - at_));
            at_ = lt;
            if (s_.compare(at_, 2, "</") == 0) {
                at_ += 2;
                std::string closing = name();
                if (closing != x.name) fail("</" + closing + "> closes <" + x.name + ">");
                skip_space();
                if (at_ >= s_.size() || s_[at_] != '>') fail("expected '>'");
                ++at_;
                return x;
            }
            x.children.push_back(element());
        }
    }

    const std::string& s_;
    size_t at_ = 0;
};

}  // namespace fgtest
