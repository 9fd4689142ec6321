// test_tape_graph.cpp — TapeRecorder, trace() and write_dot(): the graph that is drawn is
// the graph that was recorded (nodes, edges, names, gradient norms), and recording
// changes nothing about backward.
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <focalgrad/core/ops.h>
#include <focalgrad/core/tape_graph.h>
#include <focalgrad/nn/layers.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

struct Dot {
    std::vector<std::pair<std::string, std::string>> nodes;  // (id, label), in file order
    std::multiset<std::string> edges;                        // "from -> to"
};

// The nodes and edges of write_dot's output, one statement per line.
Dot parse_dot(const std::string& text) {
    Dot dot;
    std::istringstream lines(text);
    std::string line;
    const std::regex node(R"re(^  (t\d+|op\d+) \[.*label="(.*)"\];$)re"), edge(R"re(^  (\w+) -> (\w+);$)re");
    std::smatch m;
    while (std::getline(lines, line)) {
        if (std::regex_match(line, m, node)) dot.nodes.emplace_back(m[1], m[2]);
        if (std::regex_match(line, m, edge)) dot.edges.insert(std::string(m[1]) + " -> " + std::string(m[2]));
    }
    return dot;
}

std::string norm_text(std::initializer_list<double> values) {
    double sum = 0;
    for (double v : values) sum += v * v;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", std::sqrt(sum));
    return buf;
}

}  // namespace

TEST_CASE("write_dot: the nodes and edges of a 3-op expression, with gradient norms after backward") {
    // docs/autograd.md's example: L = sum(tanh(x * w)).
    Tensor x = Tensor::from({1, -2}).set_requires_grad().set_name("x");
    Tensor w = Tensor::from({0.5f, 0.5f}).set_requires_grad().set_name("w");
    TapeRecorder recorder;
    Tensor L = sum(tanh(x * w));

    Dot before = parse_dot(to_dot(recorder.ops()));
    using Node = std::pair<std::string, std::string>;
    CHECK(before.nodes == std::vector<Node>{{"t0", "x\\n[2]"},
                                            {"t1", "w\\n[2]"},
                                            {"op0", "#0 mul\\n[2]"},
                                            {"op1", "#1 tanh\\n[2]"},
                                            {"op2", "#2 sum\\n[]"}});
    CHECK(before.edges == std::multiset<std::string>{"t0 -> op0", "t1 -> op0", "op0 -> op1", "op1 -> op2"});

    L.backward();
    CHECK(tape_size() == 0);            // backward cleared the tape ...
    CHECK(recorder.ops().size() == 3);  // ... not the recorder
    // dh = 1, da = 1 - tanh(a)^2, dx = da * w, dw = da * x, with a = x * w = [0.5, -1].
    const double da0 = 1 - std::pow(std::tanh(0.5), 2), da1 = 1 - std::pow(std::tanh(-1.0), 2);
    Dot after = parse_dot(to_dot(recorder.ops()));
    CHECK(after.edges == before.edges);
    REQUIRE(after.nodes.size() == 5);
    CHECK(after.nodes[0].second == "x\\n[2]\\n‖grad‖ " + norm_text({da0 * 0.5, da1 * 0.5}));
    CHECK(after.nodes[1].second == "w\\n[2]\\n‖grad‖ " + norm_text({da0 * 1, da1 * -2}));
    CHECK(after.nodes[3].second == "#1 tanh\\n[2]\\n‖grad‖ " + norm_text({1, 1}));
    CHECK(after.nodes[4].second == "#2 sum\\n[]\\n‖grad‖ 1");
    // The recorder kept the intermediate gradients; backward computed the same leaf
    // gradients as without it.
    fgtest::check_close(x.grad(), {da0 * 0.5, da1 * 0.5});
    fgtest::check_close(w.grad(), {da0 * 1, da1 * -2});

    DotOptions plain;
    plain.gradients = false;
    CHECK(parse_dot(to_dot(recorder.ops(), plain)).nodes == before.nodes);
}

TEST_CASE("write_dot: a tensor read twice gives two edges; results from before the recorder are boxes") {
    Tensor x = Tensor::from({1.5f, 2}).set_requires_grad();
    Tensor early = exp(x);  // recorded on the tape, but before the recorder started
    TapeRecorder recorder;
    Tensor y = x * x + early;
    Dot dot = parse_dot(to_dot(recorder.ops()));
    CHECK(dot.edges == std::multiset<std::string>{"t0 -> op0", "t0 -> op0", "op0 -> op1", "t1 -> op1"});
    REQUIRE(dot.nodes.size() == 4);
    CHECK(dot.nodes[0].second == "tensor\\n[2]");
    CHECK(dot.nodes[1].second == "(earlier result)\\n[2]");
    clear_tape();
}

TEST_CASE("write_dot escapes names; an input that needs no gradient is drawn dashed") {
    Tensor a = Tensor::from({1}).set_name("say \"hi\"\\\n");
    Tensor b = Tensor::from({2}).set_requires_grad().set_name("b");
    TapeRecorder recorder;
    Tensor y = a * b;
    std::string text = to_dot(recorder.ops());
    CHECK(text.find(R"(label="say \"hi\"\\?\n[1]")") != std::string::npos);
    CHECK(text.find(R"(t0 [shape=box, style="rounded,dashed")") != std::string::npos);
    CHECK(text.find(R"(t1 [shape=box, style="rounded,filled")") != std::string::npos);
    clear_tape();
}

TEST_CASE("trace: the ops in recording order, then backward's order, skipping what backward skips") {
    Tensor x = Tensor::from({0.5f, -1}).set_name("x");  // needs no gradient
    Tensor w = Tensor::from({2, 3}).set_requires_grad().set_name("w");
    TapeRecorder recorder;
    Tensor a = x * w;          // #0
    Tensor side = exp(a);      // #1: not on the way to the loss
    Tensor loss = sum(a * a);  // #2 mul, #3 sum
    std::string before = trace(recorder.ops());
    CHECK(before ==
          "forward, in recording order (4 ops):\n"
          "  #0  mul  [2]        <- x [2], w [2]\n"
          "  #1  exp  [2]        <- #0\n"
          "  #2  mul  [2]        <- #0, #0\n"
          "  #3  sum  []         <- #2\n"
          "backward, from #3 back (d#k is the gradient of #k's output; ‖its norm‖ once computed):\n"
          "  #3  sum  d#3 -> d#2\n"
          "  #2  mul  d#2 -> d#0, d#0\n"
          "  #0  mul  d#0 -> dw   (x: no gradient needed)\n");
    loss.backward();
    // dw = 2 a x = 2 x^2 w = [1, 6].
    std::string after = trace(recorder.ops());
    CHECK(after.find("  #0  mul  d#0 ‖" + norm_text({2, -6}) + "‖ -> dw ‖" + norm_text({1, 6}) +
                     "‖   (x: no gradient needed)\n") != std::string::npos);
    (void)side;
}

TEST_CASE("TapeRecorder: only while alive, nested, not under NoGradGuard; keep_gradients off keeps none") {
    Tensor x = Tensor::from({1, 2}).set_requires_grad();
    {
        TapeRecorder outer;
        Tensor a = relu(x);
        {
            TapeRecorder inner(false);
            Tensor b = tanh(a);
            {
                NoGradGuard no_grad;
                Tensor c = exp(b);
            }
            CHECK(inner.ops().size() == 1);
            sum(b).backward();
            CHECK_FALSE(b.has_grad());  // keep_gradients = false: as without a recorder
            CHECK(inner.ops()[0].op == "tanh");
        }
        Tensor d = sigmoid(a);
        REQUIRE(outer.ops().size() == 2);  // relu and sigmoid: tanh and sum went to the inner one
        CHECK(outer.ops()[0].op == "relu");
        CHECK(outer.ops()[1].op == "sigmoid");
        CHECK(outer.ops()[1].inputs.size() == 1);
        CHECK(outer.ops()[1].inputs[0].same(a));
    }
    clear_tape();
    Tensor e = exp(x);
    CHECK(tape_size() == 1);  // recorded on the tape, and by no recorder (they are gone)
    clear_tape();
}

TEST_CASE("modules name their parameters and buffers as named_parameters() and named_buffers() do") {
    struct Net : Module {
        std::shared_ptr<Sequential> body;
        std::shared_ptr<Linear> head;
        Net()
            : body(register_module("body",
                                   std::make_shared<Sequential>(std::vector<std::shared_ptr<Module>>{
                                       std::make_shared<Linear>(3, 4), std::make_shared<BatchNorm1d>(4),
                                       std::make_shared<ReLU>(), std::make_shared<Linear>(4, 4)}))),
              head(register_module("head", std::make_shared<Linear>(4, 2))) {}
        Tensor forward(const Tensor& x) override { return (*head)((*body)(x)); }
    };
    Net net;
    std::vector<std::string> names;
    for (const auto& [name, p] : net.named_parameters()) {
        CHECK(p.name() == name);
        names.push_back(p.name());
    }
    CHECK(names == std::vector<std::string>{"body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias",
                                            "body.3.weight", "body.3.bias", "head.weight", "head.bias"});
    names.clear();
    for (const auto& [name, b] : net.named_buffers()) {
        CHECK(b.name() == name);
        names.push_back(b.name());
    }
    CHECK(names == std::vector<std::string>{"body.1.running_mean", "body.1.running_var"});
    Sequential seq(Linear(2, 2));
    CHECK(seq.parameters()[0].name() == "0.weight");
    // Unnamed by default; views and clones are new tensors, without the name.
    Tensor t = Tensor::zeros({2});
    CHECK(t.name().empty());
    t.set_name("t");
    CHECK(t.clone().name().empty());
    CHECK(t.detach().name().empty());
    CHECK(t.set_name("").name().empty());
}

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Text as Graphviz writes it into SVG: XML's entities, and '-' as &#45;.
std::string svg_text(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '&')
            out += "&amp;";
        else if (c == '<')
            out += "&lt;";
        else if (c == '>')
            out += "&gt;";
        else if (c == '-')
            out += "&#45;";
        else
            out += c;
    }
    return out;
}

}  // namespace

TEST_CASE(
    "show_tape prints the trace of docs/autograd.md and writes docs/tape.dot, which docs/tape.svg draws") {
    fgtest::TempDir out;
    const std::string command = fgtest::g_bin_dir + "/show_tape --no-svg --dot " + (out / "tape.dot") +
                                " > " + (out / "stdout.txt") + " 2>&1";
    const int status = std::system(command.c_str());
    const std::string printed = slurp(out / "stdout.txt");
    REQUIRE_MESSAGE((WIFEXITED(status) && WEXITSTATUS(status) == 0), printed);
    const size_t start = printed.find("forward, in recording order"), end = printed.find("\nwrote ");
    REQUIRE(start != std::string::npos);
    REQUIRE(end != std::string::npos);
    const std::string trace_text = printed.substr(start, end - start);
    const std::string root = fgtest::g_bin_dir + "/../../";
    CHECK_MESSAGE(slurp(root + "docs/autograd.md").find(trace_text) != std::string::npos,
                  "docs/autograd.md no longer shows what show_tape prints; paste it in:\n", trace_text);
    const std::string dot = slurp(out / "tape.dot");
    CHECK_MESSAGE(dot == slurp(root + "docs/tape.dot"), "docs/tape.dot is stale: run build/bin/show_tape");
    // The committed picture was drawn from this graph: every label line is in it.
    const std::string svg = slurp(root + "docs/tape.svg");
    const std::regex label(R"re(label="([^"]*)")re");
    int labels = 0;
    for (auto it = std::sregex_iterator(dot.begin(), dot.end(), label); it != std::sregex_iterator(); ++it) {
        std::string text = (*it)[1];
        for (size_t from = 0, to; from <= text.size(); from = to + 2) {
            to = text.find("\\n", from);
            if (to == std::string::npos) to = text.size();
            std::string line = text.substr(from, to - from);
            CHECK_MESSAGE(svg.find(">" + svg_text(line) + "<") != std::string::npos, "docs/tape.svg lacks '",
                          line, "': redraw it with build/bin/show_tape (needs Graphviz)");
            ++labels;
        }
    }
    CHECK(labels > 30);
}

TEST_CASE("show_tape refuses bad flags and unwritable paths") {
    fgtest::TempDir out;
    const std::string missing = out / "no_such_dir/tape.dot";  // a folder that does not exist
    for (const std::string& flags : {std::string("--bogus"), "--dot " + missing}) {
        CAPTURE(flags);
        const std::string command =
            fgtest::g_bin_dir + "/show_tape --no-svg " + flags + " > " + (out / "stdout.txt") + " 2>&1";
        const int status = std::system(command.c_str());
        CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 2));
        fgtest::check_contains(slurp(out / "stdout.txt"),
                               {"show_tape: error:", flags == "--bogus" ? "unknown flag --bogus" : missing});
    }
    CHECK_FALSE(std::ifstream(missing).good());
}
