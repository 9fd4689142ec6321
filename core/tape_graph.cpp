// tape_graph.cpp — TapeRecorder, and the graph it keeps written as text and as DOT.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <sstream>
#include <unordered_map>

#include <focalgrad/core/tape_graph.h>

namespace focalgrad {

TapeRecorder::TapeRecorder(bool keep_gradients)
    : keep_gradients_(keep_gradients), previous_(detail::set_tape_recorder(this)) {}

TapeRecorder::~TapeRecorder() { detail::set_tape_recorder(previous_); }

void TapeRecorder::add(const char* op, const Tensor* begin, const Tensor* end, const Tensor& y) {
    TapeOp& node = ops_.emplace_back();
    node.op = op;
    node.output = y;
    for (const Tensor* x = begin; x != end; ++x)
        if (x->defined()) node.inputs.push_back(*x);
    if (keep_gradients_) node.output.retain_grad();
}

namespace {

// Who made each tensor of the graph: op k's output is "#k"; every other tensor (a leaf, or
// a result from before the recorder started) gets a place in `tensors`, in order of first use.
struct GraphIndex {
    std::unordered_map<const TensorImpl*, int> op_of;      // output -> op index
    std::unordered_map<const TensorImpl*, int> tensor_of;  // other tensor -> index in `tensors`
    std::vector<Tensor> tensors;
    std::vector<bool> on_path;  // op k is called by backward from the last op

    explicit GraphIndex(const std::vector<TapeOp>& ops) : on_path(ops.size(), false) {
        for (size_t k = 0; k < ops.size(); ++k) {
            for (const Tensor& x : ops[k].inputs)
                if (!op_of.count(&x.impl()) && !tensor_of.count(&x.impl())) {
                    tensor_of[&x.impl()] = int(tensors.size());
                    tensors.push_back(x);
                }
            op_of[&ops[k].output.impl()] = int(k);
        }
        // Backward starts at the last op and reaches the producers of whatever needs a gradient.
        if (!ops.empty()) on_path.back() = true;
        for (size_t k = ops.size(); k-- > 0;)
            if (on_path[k])
                for (const Tensor& x : ops[k].inputs)
                    if (x.requires_grad() && op_of.count(&x.impl())) on_path[size_t(op_of[&x.impl()])] = true;
    }

    int op(const Tensor& x) const {
        auto it = op_of.find(&x.impl());
        return it == op_of.end() ? -1 : it->second;
    }
};

std::string shape_text(const Shape& s) {
    std::ostringstream os;
    os << s;
    return os.str();
}

// ‖x.grad‖₂, or a negative number when x has no gradient.
double grad_norm(const Tensor& x) {
    if (!x.has_grad()) return -1.0;
    const Tensor g = x.grad();
    double sum = 0.0;
    for (int64_t i = 0; i < g.numel(); ++i) sum += double(g.data()[i]) * double(g.data()[i]);
    return std::sqrt(sum);
}

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
}

// How a tensor is called in the trace: its name, op k's output "#k", or its shape.
std::string name_of(const GraphIndex& index, const Tensor& x) {
    int k = index.op(x);
    if (k >= 0) return "#" + std::to_string(k);
    if (!x.name().empty()) return x.name();
    return x.is_leaf() ? "tensor" : "(earlier result)";
}

std::string padded(std::string s, size_t width) {
    if (s.size() < width) s.resize(width, ' ');
    return s;
}

// Inside a DOT string: quotes and backslashes escaped, control bytes replaced.
std::string dot_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
    }
    return out;
}

}  // namespace

std::string trace(const std::vector<TapeOp>& ops) {
    GraphIndex index(ops);
    size_t width = 0;
    for (const TapeOp& node : ops) width = std::max(width, node.op.size());
    std::ostringstream os;
    os << "forward, in recording order (" << ops.size() << " op" << (ops.size() == 1 ? "" : "s") << "):\n";
    for (size_t k = 0; k < ops.size(); ++k) {
        const TapeOp& node = ops[k];
        os << "  " << padded("#" + std::to_string(k), 4) << padded(node.op, width + 2)
           << padded(shape_text(node.output.shape()), 10) << " <- ";
        for (size_t i = 0; i < node.inputs.size(); ++i) {
            const Tensor& x = node.inputs[i];
            os << (i ? ", " : "") << name_of(index, x);
            if (index.op(x) < 0) os << ' ' << x.shape();
        }
        os << '\n';
    }
    if (ops.empty()) return os.str();

    os << "backward, from #" << ops.size() - 1
       << " back (d#k is the gradient of #k's output; ‖its norm‖ once computed):\n";
    auto with_norm = [](const std::string& name, const Tensor& x) {
        double n = grad_norm(x);
        return n < 0 ? name : name + " ‖" + number(n) + "‖";
    };
    for (size_t k = ops.size(); k-- > 0;) {
        if (!index.on_path[k]) continue;
        const TapeOp& node = ops[k];
        os << "  " << padded("#" + std::to_string(k), 4) << padded(node.op, width + 2)
           << with_norm("d#" + std::to_string(k), node.output) << " -> ";
        std::string needs_none;
        bool first = true;
        for (const Tensor& x : node.inputs) {
            if (!x.requires_grad()) {
                needs_none += (needs_none.empty() ? "" : ", ") + name_of(index, x);
                continue;
            }
            os << (first ? "" : ", ") << with_norm("d" + name_of(index, x), x);
            first = false;
        }
        if (first) os << "(nothing)";
        if (!needs_none.empty()) os << "   (" << needs_none << ": no gradient needed)";
        os << '\n';
    }
    return os.str();
}

void write_dot(std::ostream& os, const std::vector<TapeOp>& ops, const DotOptions& options) {
    GraphIndex index(ops);
    auto norm_line = [&](const Tensor& x) {
        double n = options.gradients ? grad_norm(x) : -1.0;
        return n < 0 ? std::string() : "\\n‖grad‖ " + number(n);
    };
    os << "digraph tape {\n"
       << "  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=10, nodesep=0.3, ranksep=0.35";
    if (!options.title.empty()) os << ", labelloc=b, label=\"" << dot_escape(options.title) << "\"";
    os << "];\n"
       << "  node [fontname=\"Helvetica\", fontsize=10];\n"
       << "  edge [color=\"#555555\", arrowsize=0.7];\n";
    for (size_t i = 0; i < index.tensors.size(); ++i) {
        const Tensor& x = index.tensors[i];
        std::string label = dot_escape(name_of(index, x)) + "\\n" + shape_text(x.shape()) + norm_line(x);
        os << "  t" << i << " [shape=box, "
           << (x.requires_grad() ? "style=\"rounded,filled\", fillcolor=\"#dbeafe\""
                                 : "style=\"rounded,dashed\"")
           << ", label=\"" << label << "\"];\n";
    }
    for (size_t k = 0; k < ops.size(); ++k) {
        const TapeOp& node = ops[k];
        std::string label = "#" + std::to_string(k) + " " + dot_escape(node.op) + "\\n" +
                            shape_text(node.output.shape()) + norm_line(node.output);
        os << "  op" << k << " [shape=ellipse, style=filled, fillcolor=\"#fef3c7\", label=\"" << label
           << "\"];\n";
    }
    for (size_t k = 0; k < ops.size(); ++k)
        for (const Tensor& x : ops[k].inputs) {
            int from = index.op(x);
            if (from >= 0)
                os << "  op" << from << " -> op" << k << ";\n";
            else
                os << "  t" << index.tensor_of.at(&x.impl()) << " -> op" << k << ";\n";
        }
    os << "}\n";
}

std::string to_dot(const std::vector<TapeOp>& ops, const DotOptions& options) {
    std::ostringstream os;
    write_dot(os, ops, options);
    return os.str();
}

}  // namespace focalgrad
