// show_tape.cpp — the tape made visible. Runs the README's two-layer network (4 -> 16 -> 3,
// ReLU, cross-entropy written as -mean(gather(log_softmax))) once under a TapeRecorder,
// prints the tape as text (the ops in recording order, then the order backward walks
// them), and writes it as Graphviz DOT, with each gradient's norm; and as SVG too when
// Graphviz's `dot` is installed (Debian: graphviz). Not here: training.
//
//   build/bin/show_tape                      writes docs/tape.dot (and docs/tape.svg)
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <focalgrad/core/io.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/tape_graph.h>
#include <focalgrad/nn/layers.h>

#include "cli.h"

using namespace focalgrad;

namespace {

// The README's network, as a module: its parameters are named fc1.weight, ..., fc2.bias.
struct TwoLayer : Module {
    std::shared_ptr<Linear> fc1, fc2;
    explicit TwoLayer(Generator& gen)
        : fc1(register_module("fc1", std::make_shared<Linear>(4, 16, true, gen))),
          fc2(register_module("fc2", std::make_shared<Linear>(16, 3, true, gen))) {}
    Tensor forward(const Tensor& x) override { return (*fc2)(relu((*fc1)(x))); }
};

// The path of an executable called `name` on $PATH, or "" when there is none.
std::string find_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "";
    for (size_t begin = 0; begin <= dirs.size();) {
        size_t end = dirs.find(':', begin);
        if (end == std::string::npos) end = dirs.size();
        std::string candidate = dirs.substr(begin, end - begin) + "/" + name;
        if (end > begin && access(candidate.c_str(), X_OK) == 0) return candidate;
        begin = end + 1;
    }
    return "";
}

// dot -Tsvg dot_file -o svg_file, without a shell (paths are passed as they are). The SVG
// is written beside the target and renamed over it only when dot succeeded.
void render_svg(const std::string& dot, const std::string& dot_file, const std::string& svg_file) {
    const std::string tmp = svg_file + ".tmp." + std::to_string(getpid());
    pid_t pid = fork();
    FG_CHECK(pid >= 0, "show_tape: cannot start ", dot);
    if (pid == 0) {
        execl(dot.c_str(), "dot", "-Tsvg", dot_file.c_str(), "-o", tmp.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || std::rename(tmp.c_str(), svg_file.c_str()) != 0) {
        std::remove(tmp.c_str());
        FG_CHECK(false, "show_tape: '", dot, " -Tsvg ", dot_file, " -o ", svg_file, "' failed");
    }
}

void run(int argc, char** argv) {
    cli::Args args(argc, argv,
                   "Prints the tape of the README's two-layer network and writes it as Graphviz DOT "
                   "(and SVG when `dot` is installed).");
    std::string dot_file = args.str("dot", "docs/tape.dot", "where to write the DOT file");
    std::string svg_file = args.str("svg", "docs/tape.svg", "where to write the SVG (needs Graphviz)");
    bool no_svg = args.flag("no-svg", "write only the DOT file");
    args.finish();

    // The README's data: 8 samples of 4 features, 3 classes.
    Generator gen(0);
    Tensor x = Tensor::randn({8, 4}, gen).set_name("x");
    std::vector<int> y = {0, 1, 2, 1, 0, 2, 2, 1};
    TwoLayer model(gen);

    TapeRecorder recorder;
    Tensor logits = model(x);                                // [8, 3]
    Tensor loss = -mean(gather(log_softmax(logits, 1), y));  // cross-entropy, op by op
    std::printf("loss %.6f\n\n", double(loss.item()));
    loss.backward();
    std::printf("%s", trace(recorder.ops()).c_str());

    DotOptions options;
    options.title = "the tape of a two-layer network, after backward (‖grad‖: L2 norm)";
    write_file_atomic(dot_file, to_dot(recorder.ops(), options), "show_tape");
    std::printf("\nwrote %s\n", dot_file.c_str());
    if (no_svg) return;
    std::string dot = find_program("dot");
    if (dot.empty()) {
        std::printf("Graphviz's dot is not installed (Debian: apt-get install graphviz): no SVG written\n");
        return;
    }
    render_svg(dot, dot_file, svg_file);
    std::printf("wrote %s\n", svg_file.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    return cli::run_main("show_tape", [&] { run(argc, argv); });
}
