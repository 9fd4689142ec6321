// tape_graph.h — the tape made visible. A TapeRecorder keeps a copy of every op the tape
// records on this thread while it is alive (backward() clears the tape itself); trace()
// prints that graph as text, one line per op, then the order backward walks it, and
// write_dot() writes it as Graphviz DOT (render with `dot -Tsvg tape.dot -o tape.svg`).
// Leaves show their names (Tensor::name: modules name their parameters, "fc1.weight").
// Not here: layout (Graphviz does it), the backward pass as a graph (closures are not ops).
//
//   TapeRecorder recorder;                   // from here on, every recorded op is kept
//   Tensor loss = cross_entropy(model(x), y);
//   loss.backward();                         // clears the tape, not the recorder
//   std::cout << trace(recorder.ops());
//   write_dot(file, recorder.ops());         // with each gradient's norm
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/tensor.h>

namespace focalgrad {

// One recorded op: what it is called, what it returned and every tensor it read.
struct TapeOp {
    std::string op;              // the name the op recorded under, e.g. "linear"
    Tensor output;               //
    std::vector<Tensor> inputs;  // in argument order, the ones that need no gradient too
};

// Records on this thread from construction to destruction. It holds every tensor it saw,
// so they outlive the forward pass: for looking at a graph, not for a training loop.
// With keep_gradients, every op output keeps its gradient after backward (retain_grad),
// so that the picture can show it. Recorders nest; the inner one sees the ops.
class TapeRecorder {
public:
    explicit TapeRecorder(bool keep_gradients = true);
    ~TapeRecorder();
    TapeRecorder(const TapeRecorder&) = delete;
    TapeRecorder& operator=(const TapeRecorder&) = delete;

    // The ops recorded so far, in recording order. A copy is a snapshot that outlives
    // the recorder (tensors are shared handles).
    const std::vector<TapeOp>& ops() const { return ops_; }

private:
    friend void detail::push_node(const char*, const Tensor*, const Tensor*, Tensor&, BackwardFn&&);
    void add(const char* op, const Tensor* begin, const Tensor* end, const Tensor& y);

    std::vector<TapeOp> ops_;
    bool keep_gradients_;
    TapeRecorder* previous_;
};

// The graph as text: the ops in recording order, each with its output shape and the
// tensors it read (by name, or #k for op k's output), then the ops backward() calls, in
// its order, starting from the last op. Gradient norms are shown where gradients exist.
std::string trace(const std::vector<TapeOp>& ops);

struct DotOptions {
    bool gradients = true;  // label tensors with ‖grad‖ (the L2 norm) where they have one
    std::string title;      // a caption under the graph, if not empty
};

// Graphviz DOT: a box for each leaf (named, with its shape; dashed when it needs no
// gradient), an oval for each op (#k, name, output shape), an arrow from every tensor an
// op read to that op. Deterministic: the same graph gives the same bytes.
void write_dot(std::ostream& os, const std::vector<TapeOp>& ops, const DotOptions& options = {});
std::string to_dot(const std::vector<TapeOp>& ops, const DotOptions& options = {});

}  // namespace focalgrad
