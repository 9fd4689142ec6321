// module.cpp — parameter and buffer registration and hierarchical naming, train/eval, the summary
// table (which watches Module::operator() during one forward) and the printed tree.
#include <algorithm>
#include <ostream>
#include <sstream>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/error.h>
#include <focalgrad/nn/module.h>

namespace focalgrad {

namespace {

// While summary() runs, every Module call appends a row here (see Module::operator()).
struct SummaryRow {
    const Module* module;
    int depth;
    Shape output;
};
struct SummaryTrace {
    std::vector<SummaryRow> rows;
    int depth = 0;
};
thread_local SummaryTrace* t_trace = nullptr;

template <class F>
void for_each_module(Module& m, F&& f) {
    f(m);
    for (auto& child : m.children()) for_each_module(*child.second, f);
}

// 1234567 -> "1,234,567"
std::string with_commas(int64_t n) {
    std::string digits = std::to_string(n), out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string shape_string(const Shape& s) {
    std::ostringstream os;
    os << s;
    return os.str();
}

void print_tree(std::ostream& os, const Module& m, int indent) {
    os << m.describe();
    if (m.children().empty()) return;
    os << "(\n";
    for (const auto& [name, child] : m.children()) {
        os << std::string(size_t(indent + 2), ' ') << '(' << name << "): ";
        print_tree(os, *child, indent + 2);
        os << '\n';
    }
    os << std::string(size_t(indent), ' ') << ')';
}

}  // namespace

bool Module::summarizing() { return t_trace != nullptr; }

Tensor Module::operator()(const Tensor& x) {
    if (!t_trace) return forward(x);
    size_t row = t_trace->rows.size();
    t_trace->rows.push_back({this, t_trace->depth, Shape{}});
    ++t_trace->depth;
    Tensor y = forward(x);
    --t_trace->depth;
    t_trace->rows[row].output = y.shape();
    return y;
}

void Module::check_new_name(const std::string& name) const {
    FG_CHECK(!name.empty() && name.find('.') == std::string::npos, describe(),
             ": parameter and module names must be non-empty and contain no '.', got '", name, "'");
    bool taken = std::any_of(params_.begin(), params_.end(), [&](auto& p) { return p.first == name; }) ||
                 std::any_of(buffers_.begin(), buffers_.end(), [&](auto& b) { return b.first == name; }) ||
                 std::any_of(children_.begin(), children_.end(), [&](auto& c) { return c.first == name; });
    FG_CHECK(!taken, describe(), ": the name '", name, "' is already registered in this module");
}

Tensor Module::register_parameter(const std::string& name, Tensor t) {
    check_new_name(name);
    FG_CHECK(t.defined() && t.is_leaf(), describe(), ": parameter '", name,
             "' must be a defined leaf tensor (detach() a computed one)");
    t.set_requires_grad(true);
    t.set_name(name);
    params_.emplace_back(name, t);
    return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
    check_new_name(name);
    FG_CHECK(t.defined() && t.is_leaf() && !t.requires_grad(), describe(), ": buffer '", name,
             "' must be a defined leaf tensor that does not require grad");
    t.set_name(name);
    buffers_.emplace_back(name, t);
    return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
    check_new_name(name);
    FG_CHECK(module != nullptr, describe(), ": child module '", name, "' is null");
    // The child's parameters and buffers take their names as seen from here ("fc1." +
    // "weight"); a parent registering this module later prefixes them again, so the names
    // always match named_parameters() and named_buffers() of the outermost module.
    for (auto& [param_name, param] : module->named_parameters()) param.set_name(name + "." + param_name);
    for (auto& [buffer_name, buffer] : module->named_buffers()) buffer.set_name(name + "." + buffer_name);
    children_.emplace_back(name, std::move(module));
}

void Module::collect_parameters(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out,
                                bool buffers) const {
    for (const auto& [name, t] : buffers ? buffers_ : params_) out.emplace_back(prefix + name, t);
    for (const auto& [name, child] : children_) child->collect_parameters(prefix + name + ".", out, buffers);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
    std::vector<std::pair<std::string, Tensor>> out;
    collect_parameters("", out, false);
    return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
    std::vector<std::pair<std::string, Tensor>> out;
    collect_parameters("", out, true);
    return out;
}

std::vector<Tensor> Module::parameters() const {
    std::vector<Tensor> out;
    for (auto& named : named_parameters()) out.push_back(named.second);
    return out;
}

std::vector<std::pair<std::string, Generator*>> Module::named_generators() {
    std::vector<std::pair<std::string, Generator*>> out;
    for (auto& [name, gen] : own_generators()) out.emplace_back(name, gen);
    for (auto& [child_name, child] : children_)
        for (auto& [name, gen] : child->named_generators()) out.emplace_back(child_name + "." + name, gen);
    return out;
}

std::vector<std::pair<std::string, const Generator*>> Module::named_generators() const {
    // own_generators() is not const because load() restores through its pointers; here they are only read.
    std::vector<std::pair<std::string, const Generator*>> out;
    for (auto& [name, gen] : const_cast<Module*>(this)->named_generators()) out.emplace_back(name, gen);
    return out;
}

void Module::collect_modules(const std::string& prefix,
                             std::vector<std::pair<std::string, const Module*>>& out) const {
    out.emplace_back(prefix, this);
    for (const auto& [name, child] : children_)
        child->collect_modules(prefix.empty() ? name : prefix + "." + name, out);
}

std::vector<std::pair<std::string, const Module*>> Module::named_modules() const {
    std::vector<std::pair<std::string, const Module*>> out;
    collect_modules("", out);
    return out;
}

void Module::train(bool on) {
    for_each_module(*this, [on](Module& m) { m.training_ = on; });
}

void Module::zero_grad() {
    for (Tensor& p : parameters()) p.zero_grad();
}

int64_t Module::num_parameters() const {
    int64_t n = 0;
    for (const auto& named : named_parameters()) n += named.second.numel();
    return n;
}

std::string Module::summary(const Shape& input_shape) {
    std::vector<std::pair<Module*, bool>> modes;
    for_each_module(*this, [&](Module& m) { modes.emplace_back(&m, m.training_); });
    SummaryTrace trace;
    struct Restore {  // runs on success and on a throwing forward alike
        std::vector<std::pair<Module*, bool>>& modes;
        ~Restore() {
            t_trace = nullptr;
            for (auto& [m, on] : modes) m->training_ = on;
        }
    } restore{modes};
    eval();
    {
        NoGradGuard no_grad;
        t_trace = &trace;
        try {
            (*this)(Tensor::zeros(input_shape));
        } catch (const OutOfMemory& e) {
            throw OutOfMemory(str("Module::summary: the forward pass on an input of shape ", input_shape,
                                  " ran out of memory: ", e.what()));
        }
        t_trace = nullptr;
    }

    std::vector<std::pair<std::string, const Module*>> named = named_modules();
    auto name_of = [&](const Module* m) -> std::string {
        for (const auto& [name, mod] : named)
            if (mod == m) return name.empty() ? "(model)" : name;
        return "(unregistered)";
    };
    std::vector<std::vector<std::string>> table = {{"Layer", "Type", "Output shape", "Params"}};
    table.push_back({"(input)", "", shape_string(input_shape), ""});
    for (const SummaryRow& r : trace.rows)
        table.push_back({std::string(size_t(2 * r.depth), ' ') + name_of(r.module), r.module->describe(),
                         shape_string(r.output), with_commas(r.module->num_parameters())});
    size_t width[4] = {0, 0, 0, 0};
    for (const auto& row : table)
        for (size_t c = 0; c < 4; ++c) width[c] = std::max(width[c], row[c].size());

    std::ostringstream os;
    for (const auto& row : table) {
        std::string line;
        for (size_t c = 0; c < 3; ++c) line += row[c] + std::string(width[c] - row[c].size() + 2, ' ');
        line += std::string(width[3] - row[3].size(), ' ') + row[3];
        os << line.substr(0, line.find_last_not_of(' ') + 1) << '\n';
    }
    os << "Total parameters: " << with_commas(num_parameters()) << '\n';
    return os.str();
}

std::ostream& operator<<(std::ostream& os, const Module& m) {
    print_tree(os, m, 0);
    return os;
}

}  // namespace focalgrad
