// architecture.cpp — reads the printed module tree back: a tokenizer, a parser into a
// plan per layer (its arguments checked and its parameter count known before anything is
// allocated), and the build. Layers' describe() lines (nn/layers.cpp) are the grammar.
#include <cstdlib>
#include <functional>
#include <sstream>
#include <utility>
#include <vector>

#include <focalgrad/core/error.h>
#include <focalgrad/core/random.h>
#include <focalgrad/nn/architecture.h>
#include <focalgrad/nn/layers.h>

namespace focalgrad {

namespace {

// ---- Tokens -----------------------------------------------------------------------

struct Token {
    std::string text;  // a punctuation character, or a word: a name or a number
    int line;
};

std::vector<Token> tokenize(const std::string& text) {
    std::vector<Token> out;
    int line = 1;
    auto word_char = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '.' || c == '+' || c == '-';
    };
    for (size_t i = 0; i < text.size();) {
        const char c = text[i];
        if (c == '\n') ++line;
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            ++i;
        } else if (std::string("(),=:[]").find(c) != std::string::npos) {
            out.push_back({std::string(1, c), line});
            ++i;
        } else if (word_char(c)) {
            size_t j = i;
            while (j < text.size() && word_char(text[j])) ++j;
            out.push_back({text.substr(i, j - i), line});
            i = j;
        } else {
            throw Error(str("build_module: line ", line, ": unexpected character ",
                            c >= 0x20 && c < 0x7f ? str("'", c, "'") : str("byte ", int(uint8_t(c)))));
        }
    }
    return out;
}

// ---- The tree -----------------------------------------------------------------------

Error not_built_in(const std::string& type, int line) {
    return Error(
        str("build_module: line ", line, ": '", type,
            "' is not a built-in layer; a model is rebuilt from text when it is a Sequential of "
            "Linear, Conv2d, MaxPool2d, ReLU, LeakyReLU, Sigmoid, Tanh, Dropout, Flatten, BatchNorm1d, "
            "BatchNorm2d and LayerNorm layers"));
}

bool is_layer(const std::string& type) {
    static const char* const kLayers[] = {"Linear",    "Conv2d",      "MaxPool2d",   "ReLU",
                                          "LeakyReLU", "Sigmoid",     "Tanh",        "Dropout",
                                          "Flatten",   "BatchNorm1d", "BatchNorm2d", "LayerNorm"};
    for (const char* l : kLayers)
        if (type == l) return true;
    return false;
}

struct Value {
    std::vector<std::string> words;  // one word, or a [list]
    bool list = false;
};

struct Node {
    std::string type;
    int line = 0;
    std::vector<std::pair<std::string, Value>> args;     // key "" for a positional argument
    std::vector<std::pair<std::string, Node>> children;  // Sequential only
};

class Parser {
public:
    explicit Parser(const std::string& text) : tokens_(tokenize(text)) {}

    Node parse() {
        Node root = node(0);
        FG_CHECK(pos_ == tokens_.size(), "build_module: line ", tokens_[pos_].line, ": unexpected '",
                 tokens_[pos_].text, "' after the end of the model");
        return root;
    }

private:
    const Token& peek() const {
        FG_CHECK(pos_ < tokens_.size(), "build_module: the text ends in the middle of a module");
        return tokens_[pos_];
    }
    bool next_is(const char* t) const { return pos_ < tokens_.size() && tokens_[pos_].text == t; }
    const Token& take() {
        const Token& t = peek();
        ++pos_;
        return t;
    }
    void expect(const char* t) {
        const Token& got = take();
        FG_CHECK(got.text == t, "build_module: line ", got.line, ": expected '", t, "', got '", got.text,
                 "'");
    }

    Node node(int depth) {
        FG_CHECK(depth < 64, "build_module: modules are nested more than 64 deep");
        const Token& t = take();
        Node n;
        n.type = t.text;
        n.line = t.line;
        if (n.type == "Sequential") {
            if (!next_is("(")) return n;  // an empty Sequential prints no parentheses
            expect("(");
            while (!next_is(")")) {
                expect("(");
                std::string name = take().text;
                expect(")");
                expect(":");
                n.children.emplace_back(name, node(depth + 1));
            }
            expect(")");
            return n;
        }
        if (!is_layer(n.type)) throw not_built_in(n.type, n.line);
        expect("(");
        while (!next_is(")")) {
            if (!n.args.empty()) expect(",");
            std::string key;
            if (pos_ + 1 < tokens_.size() && tokens_[pos_ + 1].text == "=") {
                key = take().text;
                expect("=");
            }
            Value v;
            if (next_is("[")) {
                take();
                v.list = true;
                while (!next_is("]")) {
                    if (!v.words.empty()) expect(",");
                    v.words.push_back(take().text);
                }
                expect("]");
            } else {
                v.words.push_back(take().text);
            }
            n.args.emplace_back(key, v);
        }
        expect(")");
        return n;
    }

    std::vector<Token> tokens_;
    size_t pos_ = 0;
};

// ---- Plans --------------------------------------------------------------------------

// A layer ready to build: its parameter count, known before anything is allocated.
struct Plan {
    int64_t parameters = 0;
    std::function<std::shared_ptr<Module>()> make;
};

// The arguments of one node, taken one by one; finish() refuses what was not taken.
class Arguments {
public:
    explicit Arguments(const Node& n) : n_(n), used_(n.args.size(), false) {}

    int64_t integer(size_t position, const char* what, int64_t lo, int64_t hi) {
        return to_integer(positional(position, what), what, lo, hi);
    }
    int64_t integer(const char* key, int64_t fallback, int64_t lo, int64_t hi) {
        const Value* v = keyword(key);
        return v ? to_integer(single(*v, key), key, lo, hi) : fallback;
    }
    float real(size_t position, const char* what) { return to_real(positional(position, what), what); }
    float real(const char* key, float fallback) {
        const Value* v = keyword(key);
        return v ? to_real(single(*v, key), key) : fallback;
    }
    bool boolean(const char* key, bool fallback) {
        const Value* v = keyword(key);
        if (!v) return fallback;
        const std::string& w = single(*v, key);
        FG_CHECK(w == "true" || w == "false", where(), ": ", key, " must be true or false, got '", w, "'");
        return w == "true";
    }
    std::vector<int64_t> integers(size_t position, const char* what) {
        FG_CHECK(
            position < n_.args.size() && n_.args[position].first.empty() && n_.args[position].second.list,
            where(), ": argument ", position + 1, " (", what, ") must be a list [a, b, ...]");
        used_[position] = true;
        std::vector<int64_t> out;
        for (const std::string& w : n_.args[position].second.words)
            out.push_back(to_integer(w, what, 1, 1 << 30));
        return out;
    }
    void finish() const {
        for (size_t i = 0; i < n_.args.size(); ++i)
            FG_CHECK(used_[i], where(), ": unexpected argument ",
                     n_.args[i].first.empty() ? str(i + 1) : "'" + n_.args[i].first + "'");
    }
    std::string where() const { return str("build_module: line ", n_.line, ": ", n_.type); }

private:
    const std::string& positional(size_t position, const char* what) {
        FG_CHECK(position < n_.args.size() && n_.args[position].first.empty(), where(), ": argument ",
                 position + 1, " (", what, ") is missing");
        used_[position] = true;
        return single(n_.args[position].second, what);
    }
    const Value* keyword(const char* key) {
        for (size_t i = 0; i < n_.args.size(); ++i)
            if (n_.args[i].first == key) {
                FG_CHECK(!used_[i], where(), ": '", key, "' is given twice");
                used_[i] = true;
                return &n_.args[i].second;
            }
        return nullptr;
    }
    const std::string& single(const Value& v, const char* what) const {
        FG_CHECK(!v.list && v.words.size() == 1, where(), ": ", what, " must be one value, not a list");
        return v.words[0];
    }
    int64_t to_integer(const std::string& w, const char* what, int64_t lo, int64_t hi) const {
        char* end = nullptr;
        long long x = std::strtoll(w.c_str(), &end, 10);
        FG_CHECK(!w.empty() && *end == '\0' && x >= lo && x <= hi, where(), ": ", what,
                 " must be an integer in [", lo, ", ", hi, "], got '", w, "'");
        return x;
    }
    float to_real(const std::string& w, const char* what) const {
        char* end = nullptr;
        float x = std::strtof(w.c_str(), &end);
        FG_CHECK(!w.empty() && *end == '\0', where(), ": ", what, " must be a number, got '", w, "'");
        return x;
    }

    const Node& n_;
    std::vector<bool> used_;
};

constexpr int64_t kMaxSize = int64_t(1) << 30;  // of any one size argument

// Saturating, so no text can overflow the total.
int64_t add_capped(int64_t a, int64_t b) { return a > INT64_MAX - b ? INT64_MAX : a + b; }
int64_t mul_capped(int64_t a, int64_t b) { return b != 0 && a > INT64_MAX / b ? INT64_MAX : a * b; }

Plan plan(const Node& n) {
    Plan p;
    Arguments a(n);
    const std::string& t = n.type;
    if (t == "Sequential") {
        std::vector<Plan> children;
        for (size_t i = 0; i < n.children.size(); ++i) {
            FG_CHECK(n.children[i].first == std::to_string(i), a.where(), ": child ", i, " is named '",
                     n.children[i].first, "'; a Sequential's children are named 0, 1, 2, ...");
            children.push_back(plan(n.children[i].second));
            p.parameters = add_capped(p.parameters, children.back().parameters);
        }
        p.make = [children] {
            auto seq = std::make_shared<Sequential>();
            for (const Plan& c : children) seq->add(c.make());
            return std::static_pointer_cast<Module>(seq);
        };
    } else if (t == "Linear") {
        int64_t in = a.integer(0, "in_features", 1, kMaxSize),
                out = a.integer(1, "out_features", 1, kMaxSize);
        bool bias = a.boolean("bias", true);
        p.parameters = add_capped(mul_capped(in, out), bias ? out : 0);
        p.make = [=] {
            Generator gen(0);
            return std::make_shared<Linear>(in, out, bias, gen);
        };
    } else if (t == "Conv2d") {
        int64_t in = a.integer(0, "in_channels", 1, kMaxSize),
                out = a.integer(1, "out_channels", 1, kMaxSize);
        int64_t k = a.integer("kernel", 0, 1, 1 << 16), s = a.integer("stride", 1, 1, 1 << 16);
        int64_t pad = a.integer("padding", 0, 0, 1 << 16);
        FG_CHECK(k >= 1, a.where(), ": kernel is missing");
        bool bias = a.boolean("bias", true);
        p.parameters = add_capped(mul_capped(mul_capped(in, out), k * k), bias ? out : 0);
        p.make = [=] {
            Generator gen(0);
            return std::make_shared<Conv2d>(in, out, k, s, pad, bias, gen);
        };
    } else if (t == "MaxPool2d") {
        int64_t k = a.integer("kernel", 0, 1, 1 << 16), s = a.integer("stride", k, 1, 1 << 16);
        FG_CHECK(k >= 1, a.where(), ": kernel is missing");
        p.make = [=] { return std::make_shared<MaxPool2d>(k, s); };
    } else if (t == "ReLU") {
        p.make = [] { return std::make_shared<ReLU>(); };
    } else if (t == "Sigmoid") {
        p.make = [] { return std::make_shared<Sigmoid>(); };
    } else if (t == "Tanh") {
        p.make = [] { return std::make_shared<Tanh>(); };
    } else if (t == "LeakyReLU") {
        float slope = a.real(0, "negative_slope");
        p.make = [=] { return std::make_shared<LeakyReLU>(slope); };
    } else if (t == "Dropout") {
        float prob = a.real("p", 0.5f);
        // Seed 0: a checkpoint restores the generator's state after the build.
        p.make = [=] { return std::make_shared<Dropout>(prob, 0); };
    } else if (t == "Flatten") {
        int64_t start = a.integer(0, "start_dim", -kMaxDims, kMaxDims - 1);
        int64_t end = a.integer(1, "end_dim", -kMaxDims, kMaxDims - 1);
        p.make = [=] { return std::make_shared<Flatten>(start, end); };
    } else if (t == "BatchNorm1d" || t == "BatchNorm2d") {
        int64_t c = a.integer(0, "num_features", 1, kMaxSize);
        float eps = a.real("eps", 1e-5f), momentum = a.real("momentum", 0.1f);
        bool affine = a.boolean("affine", true);
        p.parameters = affine ? 2 * c : 0;
        bool two = t == "BatchNorm2d";
        p.make = [=]() -> std::shared_ptr<Module> {
            if (two) return std::make_shared<BatchNorm2d>(c, eps, momentum, affine);
            return std::make_shared<BatchNorm1d>(c, eps, momentum, affine);
        };
    } else if (t == "LayerNorm") {
        std::vector<int64_t> shape = a.integers(0, "normalized_shape");
        float eps = a.real("eps", 1e-5f);
        bool affine = a.boolean("affine", true);
        int64_t d = 1;
        for (int64_t s : shape) d = mul_capped(d, s);
        p.parameters = affine ? mul_capped(2, d) : 0;
        p.make = [=] { return std::make_shared<LayerNorm>(shape, eps, affine); };
    } else {
        throw not_built_in(n.type, n.line);
    }
    a.finish();
    return p;
}

}  // namespace

std::string architecture(const Module& model) {
    std::ostringstream os;
    os << model;
    const std::string text = os.str();
    Plan p;
    try {
        p = plan(Parser(text).parse());
    } catch (const Error& e) {
        throw Error(str("architecture: this model cannot be rebuilt from its printed tree (", e.what(),
                        "); save it without an architecture, and build it in code to load it"));
    }
    FG_CHECK(p.parameters == model.num_parameters(), "architecture: the printed tree describes ",
             p.parameters, " parameters but the model has ", model.num_parameters(),
             " (a layer whose describe() does not say all it holds?)");
    return text;
}

std::shared_ptr<Module> build_module(const std::string& text, int64_t max_parameters) {
    Plan p = plan(Parser(text).parse());
    FG_CHECK(p.parameters <= max_parameters, "build_module: the architecture has ", p.parameters,
             " parameters, more than the ", max_parameters, " allowed");
    return p.make();
}

}  // namespace focalgrad
