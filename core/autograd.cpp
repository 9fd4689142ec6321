// autograd.cpp — the thread-local tape, backward replay, gradient accumulation and
// anomaly detection.
//
// Why a node holds its output weakly: if nobody holds an op's result any more (an
// evaluation loop that forgot NoGradGuard, a branch that was thrown away), that result
// can never receive a gradient, so its node is dead weight. When the tape grows past a
// threshold, one reverse sweep drops such nodes; dropping a node releases the inputs
// its closure held, which can make earlier nodes dead too, and a reverse sweep sees
// them next. The tape therefore never grows without bound, even without backward().
// During backward the roles flip: once a tensor receives a gradient, its node holds it
// strongly ("pinned") until the replay reaches that node, because the closures that
// kept it alive are freed as soon as they have run.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <utility>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/error.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/core/tape_graph.h>

namespace focalgrad {

namespace {

constexpr int kMaxNamedInputs = 4;    // inputs remembered by identity, for messages
constexpr size_t kFirstSweep = 4096;  // tape length that triggers the first dead-node sweep
constexpr int kTapeIdShift = 40;      // node id = tape id << 40 | sequence number

struct Node {
    const char* op = nullptr;
    uint64_t id = 0;
    std::weak_ptr<TensorImpl> output;
    std::shared_ptr<TensorImpl> pinned;  // the output, held once it has received a gradient
    BackwardFn backward;
    const TensorImpl* inputs[kMaxNamedInputs] = {};  // identity only; never dereferenced
    int n_inputs = 0;
};

std::atomic<uint64_t> g_next_tape_id{1};

struct Tape {
    uint64_t id = g_next_tape_id.fetch_add(1);
    uint64_t next_seq = 1;
    std::vector<Node> nodes;
    size_t sweep_at = kFirstSweep;
    const Node* running = nullptr;  // node whose backward closure is running
    size_t running_pos = 0;
    TapeRecorder* recorder = nullptr;  // also sees every node pushed (core/tape_graph.h)

    uint64_t tape_of(uint64_t node_id) const { return node_id >> kTapeIdShift; }

    // Index of the node with this id, or -1 if it is no longer (or never was) here.
    int64_t find(uint64_t node_id) const {
        auto it = std::lower_bound(nodes.begin(), nodes.end(), node_id,
                                   [](const Node& n, uint64_t v) { return n.id < v; });
        return it != nodes.end() && it->id == node_id ? it - nodes.begin() : -1;
    }

    void clear() {
        nodes.clear();
        sweep_at = kFirstSweep;
        running = nullptr;
    }

    // Drops nodes whose output no longer exists (see the file comment).
    void sweep() {
        for (size_t i = nodes.size(); i-- > 0;)
            if (nodes[i].output.expired()) nodes[i].backward.reset();  // releases its inputs now
        nodes.erase(std::remove_if(nodes.begin(), nodes.end(), [](const Node& n) { return !n.backward; }),
                    nodes.end());
        sweep_at = std::max(kFirstSweep, 2 * nodes.size());
    }
};

Tape& tape() {
    thread_local Tape t;
    return t;
}

thread_local bool t_grad_enabled = true;
thread_local bool t_detect_anomaly = false;

// Index of the first NaN or inf in x, or -1.
int64_t first_non_finite(const Tensor& x) {
    const float* p = x.data();
    for (int64_t i = 0; i < x.numel(); ++i)
        if (!std::isfinite(p[i])) return i;
    return -1;
}

}  // namespace

// ---- Modes -----------------------------------------------------------------------

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

void set_detect_anomaly(bool on) { t_detect_anomaly = on; }
bool detect_anomaly() { return t_detect_anomaly; }
DetectAnomalyGuard::DetectAnomalyGuard(bool on) : previous_(t_detect_anomaly) { t_detect_anomaly = on; }
DetectAnomalyGuard::~DetectAnomalyGuard() { t_detect_anomaly = previous_; }

// ---- Recording -------------------------------------------------------------------

namespace detail {

bool should_record(const Tensor* begin, const Tensor* end) {
    if (!t_grad_enabled) return false;
    for (const Tensor* x = begin; x != end; ++x)
        if (x->defined() && x->requires_grad()) return true;
    return false;
}

void check_output(const char* op, const Tensor& y) {
    int64_t bad = first_non_finite(y);
    if (bad < 0) return;
    throw Error(str("anomaly detected: op '", op, "' (tape position ", tape().nodes.size(), ") produced ",
                    y.data()[bad], " at flat index ", bad, " of its output ", y.shape(),
                    "; check this op's inputs for NaN/inf or out-of-domain values"));
}

void push_node(const char* op, const Tensor* begin, const Tensor* end, Tensor& y, BackwardFn&& fn) {
    Tape& t = tape();
    for (const Tensor* x = begin; x != end; ++x)  // one tape per thread: a graph cannot span threads
        FG_CHECK(!x->defined() || x->is_leaf() || !x->requires_grad() || t.tape_of(x->impl().creator) == t.id,
                 op, ": input of shape ", x->shape(),
                 " was computed on another thread's tape; "
                 "a model cannot be shared across threads (see README, Threads)");
    Node& node = t.nodes.emplace_back();
    node.op = op;
    node.id = (t.id << kTapeIdShift) | t.next_seq++;
    node.output = y.impl_ptr();
    node.backward = std::move(fn);
    for (const Tensor* x = begin; x != end && node.n_inputs < kMaxNamedInputs; ++x)
        if (x->defined()) node.inputs[node.n_inputs++] = &x->impl();
    y.impl().requires_grad = true;
    y.impl().creator = node.id;
    if (t.recorder) t.recorder->add(op, begin, end, y);
    if (t.nodes.size() >= t.sweep_at) t.sweep();
}

TapeRecorder* set_tape_recorder(TapeRecorder* recorder) { return std::exchange(tape().recorder, recorder); }

}  // namespace detail

// ---- Accumulation ----------------------------------------------------------------

void accumulate_grad(const Tensor& x, Tensor&& dx) {
    if (!x.requires_grad()) return;
    Tape& t = tape();
    const char* op = t.running ? t.running->op : "backward";
    FG_CHECK(dx.shape() == x.shape(), op, ": gradient of shape ", dx.shape(),
             " cannot accumulate into a tensor of shape ", x.shape());

    TensorImpl& xi = x.impl();
    if (xi.creator != 0) {
        // A non-leaf whose node is gone cannot pass the gradient on: refuse rather than
        // silently stop the chain rule half-way.
        int64_t pos = t.tape_of(xi.creator) == t.id ? t.find(xi.creator) : -1;
        FG_CHECK(pos >= 0, op, ": the gradient reached a tensor of shape ", x.shape(),
                 " whose graph was already consumed by an earlier backward() (or built on "
                 "another thread); recompute it in this forward pass, or detach() it");
        // Its node now holds it: the closures that kept it alive may be freed before the
        // replay reaches that node.
        t.nodes[size_t(pos)].pinned = x.impl_ptr();
    }

    if (detect_anomaly()) {
        int64_t bad = first_non_finite(dx);
        if (bad >= 0) {
            int which = -1;
            if (t.running)
                for (int k = 0; k < t.running->n_inputs; ++k)
                    if (t.running->inputs[k] == &xi) which = k;
            throw Error(str("anomaly detected in backward: op '", op, "' (tape position ", t.running_pos,
                            ") produced ", dx.data()[bad], " at flat index ", bad,
                            " of the gradient for its input #", which, " of shape ", x.shape()));
        }
    }

    if (!xi.grad) {
        // Take dx's buffer as the gradient when nobody else can see it; otherwise copy,
        // so that later accumulation never writes into another tensor's data.
        if (dx.impl_ptr().use_count() == 1 && dx.impl().storage.use_count() == 1) {
            dx.impl().requires_grad = false;
            dx.impl().creator = 0;
            xi.grad = dx.impl_ptr();
        } else {
            xi.grad = dx.clone().impl_ptr();
        }
        return;
    }
    float* g = xi.grad->data;
    const float* d = dx.data();
    parallel_for(x.numel(), kGrain, [g, d](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) g[i] += d[i];
    });
}

void accumulate_grad(const Tensor& x, const Tensor& dx) { accumulate_grad(x, Tensor(dx)); }

// ---- Backward --------------------------------------------------------------------

void backward(const Tensor& y) {
    FG_CHECK(y.numel() == 1, "backward: output has shape ", y.shape(),
             "; backward() without an upstream gradient needs a one-element output "
             "(reduce it first, e.g. with mean(), or pass dy of shape ",
             y.shape(), ")");
    backward(y, Tensor::ones(y.shape()));
}

void backward(const Tensor& y, const Tensor& dy) {
    FG_CHECK(y.requires_grad(), "backward: the output of shape ", y.shape(),
             " does not require grad: no input of its graph has requires_grad set, or it was "
             "computed under NoGradGuard");
    FG_CHECK(dy.defined() && dy.shape() == y.shape(), "backward: upstream gradient of shape ",
             dy.defined() ? dy.shape() : Shape{}, " does not match the output's shape ", y.shape());
    Tape& t = tape();
    if (y.is_leaf()) {
        accumulate_grad(y, dy.clone());
        return;
    }
    FG_CHECK(t.tape_of(y.impl().creator) == t.id,
             "backward: this output was computed on another "
             "thread; call backward() on the thread that ran the forward pass");
    int64_t start = t.find(y.impl().creator);
    FG_CHECK(start >= 0,
             "backward: the graph of this output was already consumed by an earlier "
             "backward() (the tape is cleared after each one); run the forward pass again");

    // Whatever happens below (an anomaly, a shape error), the tape ends up empty.
    struct ClearAtExit {
        Tape& t;
        ~ClearAtExit() { t.clear(); }
    } clear_at_exit{t};

    accumulate_grad(y, dy.clone());
    for (int64_t i = start; i >= 0; --i) {
        Node& node = t.nodes[size_t(i)];
        std::shared_ptr<TensorImpl> out = std::move(node.pinned);
        if (!out) continue;  // received no gradient: not on a path to y
        Tensor dout(out->grad);
        if (!out->retains_grad) out->grad.reset();  // intermediate gradients are not kept
        t.running = &node;
        t.running_pos = size_t(i);
        node.backward(dout, Tensor(out));
        node.backward.reset();  // frees what the forward saved, as early as possible
    }
}

size_t tape_size() { return tape().nodes.size(); }
void clear_tape() { tape().clear(); }

}  // namespace focalgrad
