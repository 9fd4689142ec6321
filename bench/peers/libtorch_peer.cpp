// libtorch_peer.cpp — the libtorch (C++ API) side of focalgrad's peer comparison (issue 7).
// The same workloads, seeds and JSON output as bench/peers/torch_peer.py: two MNIST MLP
// epochs and one of examples/mnist_cnn's CNN, composed focal, torchvision's sigmoid focal
// and fused cross-entropy forward+backward on 1M x 10 logits, one small recorded op, and (with --rss, alone in its process) peak memory of a training
// epoch. Leaves out data loaders, GPUs and accuracy; keep it in step with the Python peer.
// Built by `make bench-peers` (mk/peers.mk), never by the plain `make`.
#include <sys/resource.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <torch/torch.h>
#include <utility>
#include <vector>

namespace F = torch::nn::functional;

namespace {

const char* const kWorkloads[] = {"mlp_epoch",        "small_mlp_epoch", "cnn_epoch",  "focal_composed_1m",
                                  "sigmoid_focal_1m", "ce_fused_1m",     "small_op_us"};
const std::string kRssWorkload = "peak_rss_mb";

// Fixed seeds, the same in the Python peer: parameter init, then one shuffle per epoch.
const uint64_t kInitSeed = 0, kShuffleSeed = 1;
const int kWarmupSteps = 20;
const double kLr = 0.05, kMomentum = 0.9;

const int64_t kTrainCount = 60000, kSide = 28;
const int64_t kLossRows = 1000000, kLossClasses = 10;
const double kGamma = 2.0;

[[noreturn]] void fail(const std::string& message) {
    std::fprintf(stderr, "libtorch_peer: error: %s\n", message.c_str());
    std::exit(2);
}

double now_seconds() {
    using clock = std::chrono::steady_clock;
    return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string format(const char* fmt, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, v);
    return buf;
}

// One JSON line per workload; detail strings are ours, but escape them anyway.
void emit(const std::string& workload, double value, const char* unit, const std::string& detail) {
    std::string escaped;
    for (char c : detail) {
        if (c == '"' || c == '\\') escaped += '\\';
        escaped += c;
    }
    std::printf(
        "{\"peer\": \"libtorch\", \"workload\": \"%s\", \"value\": %.9g, \"unit\": \"%s\", "
        "\"detail\": \"%s\"}\n",
        workload.c_str(), value, unit, escaped.c_str());
    std::fflush(stdout);
}

// ---------------------------------------------------------------------------------------
// MNIST from the IDX files: big-endian int32 header (magic, counts, sizes), then bytes.

std::vector<uint8_t> read_idx(const std::string& path, uint32_t magic, const std::vector<int64_t>& dims) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f)
        fail(path +
             " cannot be opened; set MNIST_DIR to a directory holding the four MNIST .gz IDX "
             "files (for example /work/shared/data/mnist)");
    auto close_and_fail = [&](const std::string& message) {
        gzclose(f);
        fail(path + ": " + message);
    };
    std::vector<unsigned char> header(4 * (1 + dims.size()));
    if (gzread(f, header.data(), unsigned(header.size())) != int(header.size()))
        close_and_fail("too short for an IDX header of " + std::to_string(header.size()) + " bytes");
    auto be32 = [&](size_t i) {
        const unsigned char* b = &header[4 * i];
        return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | uint32_t(b[3]);
    };
    if (be32(0) != magic)
        close_and_fail("magic number " + std::to_string(be32(0)) + ", expected " + std::to_string(magic) +
                       "; not an IDX file of this kind");
    int64_t payload = 1;
    for (size_t d = 0; d < dims.size(); ++d) {
        if (int64_t(be32(d + 1)) != dims[d])
            close_and_fail("size " + std::to_string(be32(d + 1)) + " in dimension " + std::to_string(d) +
                           ", expected " + std::to_string(dims[d]));
        payload *= dims[d];
    }
    std::vector<uint8_t> data(size_t(payload) + 1);  // one spare byte detects trailing data
    int got = gzread(f, data.data(), unsigned(data.size()));
    if (got < 0) {
        int code = 0;
        close_and_fail(std::string("cannot decompress (") + gzerror(f, &code) + "); the file is corrupt");
    }
    if (int64_t(got) != payload) {
        int code = 0;
        const char* why = gzerror(f, &code);  // a truncated stream reads short and sets an error
        close_and_fail(std::to_string(got) + (int64_t(got) > payload ? "+" : "") + " data bytes, expected " +
                       std::to_string(payload) +
                       (code != Z_OK ? std::string(" (") + why + ")" : std::string()));
    }
    gzclose(f);
    data.pop_back();
    return data;
}

// Returns images [60000, 784] float32 in [0, 1] and labels [60000] int64.
std::pair<torch::Tensor, torch::Tensor> load_mnist_train() {
    const char* root = std::getenv("MNIST_DIR");
    if (!root || !*root)
        fail(
            "MNIST_DIR is not set; point it at the MNIST directory "
            "(for example MNIST_DIR=/work/shared/data/mnist)");
    std::string dir(root);
    std::vector<uint8_t> images =
        read_idx(dir + "/train-images-idx3-ubyte.gz", 0x803, {kTrainCount, kSide, kSide});
    std::vector<uint8_t> labels = read_idx(dir + "/train-labels-idx1-ubyte.gz", 0x801, {kTrainCount});
    uint8_t max_label = *std::max_element(labels.begin(), labels.end());
    if (max_label > 9)
        fail("train-labels-idx1-ubyte.gz: label " + std::to_string(max_label) + " out of range 0..9");
    // from_blob borrows the bytes; .to() makes the one owned copy before they go away.
    torch::Tensor x = torch::from_blob(images.data(), {kTrainCount, kSide * kSide}, torch::kUInt8)
                          .to(torch::kFloat32)
                          .div_(255.0);  // [N, 784]
    torch::Tensor y = torch::from_blob(labels.data(), {kTrainCount}, torch::kUInt8).to(torch::kLong);  // [N]
    return {x, y};
}

// ---------------------------------------------------------------------------------------
// MLP training: Linear+ReLU stack with default init, cross-entropy, SGD with momentum.

torch::nn::Sequential make_mlp(const std::vector<int64_t>& sizes) {
    torch::manual_seed(kInitSeed);
    torch::nn::Sequential model;
    for (size_t i = 0; i + 1 < sizes.size(); ++i) {
        model->push_back(torch::nn::Linear(sizes[i], sizes[i + 1]));
        if (i + 2 < sizes.size()) model->push_back(torch::nn::ReLU());
    }
    return model;
}

// examples/mnist_cnn's network: conv 3x3 (1 -> 16, pad 1), ReLU, 2x2 max-pool, conv 3x3
// (16 -> 32, pad 1), ReLU, 2x2 max-pool, Linear(32 * 7 * 7 -> 10). Input [N, 1, 28, 28].
torch::nn::Sequential make_cnn() {
    namespace nn = torch::nn;
    torch::manual_seed(kInitSeed);
    return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 16, 3).padding(1)), nn::ReLU(),
                          nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                          nn::Conv2d(nn::Conv2dOptions(16, 32, 3).padding(1)), nn::ReLU(),
                          nn::MaxPool2d(nn::MaxPool2dOptions(2)), nn::Flatten(), nn::Linear(32 * 7 * 7, 10));
}

torch::optim::SGD make_sgd(torch::nn::Sequential& model) {
    return torch::optim::SGD(model->parameters(), torch::optim::SGDOptions(kLr).momentum(kMomentum));
}

double train_step(torch::nn::Sequential& model, torch::optim::SGD& opt, const torch::Tensor& xb,
                  const torch::Tensor& yb) {
    model->zero_grad(/*set_to_none=*/true);
    torch::Tensor loss = F::cross_entropy(model->forward(xb), yb);
    loss.backward();
    opt.step();
    return loss.item<float>();
}

// One pass over a fresh permutation; the last partial batch is kept. Returns the mean
// training loss over the epoch's examples.
double train_epoch(torch::nn::Sequential& model, torch::optim::SGD& opt, const torch::Tensor& x,
                   const torch::Tensor& y, int64_t batch, at::Generator& gen) {
    int64_t n = x.size(0);
    torch::Tensor perm = torch::randperm(n, gen, torch::kLong);
    double total = 0;
    for (int64_t start = 0; start < n; start += batch) {
        torch::Tensor idx = perm.slice(0, start, std::min(start + batch, n));
        total += train_step(model, opt, x.index_select(0, idx), y.index_select(0, idx)) * double(idx.numel());
    }
    return total / double(n);
}

// sizes: the MLP's layer widths, or empty for the CNN (x is then [N, 1, 28, 28]).
void bench_epoch(const std::string& workload, const std::vector<int64_t>& sizes, int64_t batch,
                 const torch::Tensor& x, const torch::Tensor& y, int epochs) {
    torch::nn::Sequential model = sizes.empty() ? make_cnn() : make_mlp(sizes);
    torch::optim::SGD opt = make_sgd(model);
    for (int64_t step = 0; step < kWarmupSteps; ++step)  // the first batches in file order, untimed
        train_step(model, opt, x.slice(0, step * batch, (step + 1) * batch),
                   y.slice(0, step * batch, (step + 1) * batch));
    at::Generator gen = at::detail::createCPUGenerator(kShuffleSeed);
    std::vector<double> times;
    double loss = NAN;
    for (int e = 0; e < epochs; ++e) {
        double start = now_seconds();
        loss = train_epoch(model, opt, x, y, batch, gen);
        times.push_back(now_seconds() - start);
    }
    std::string arch, list;
    for (size_t i = 0; i < sizes.size(); ++i) arch += (i ? "-" : "") + std::to_string(sizes[i]);
    for (size_t i = 0; i < times.size(); ++i) list += (i ? ", " : "") + format("%.3f", times[i]);
    emit(workload, median(times), "s",
         (sizes.empty() ? std::string("CNN of examples/mnist_cnn") : "MLP " + arch) + ", batch " +
             std::to_string(batch) + ", median of " + std::to_string(epochs) + " epochs (" + list +
             " s); last-epoch mean loss " + format("%.4f", loss));
}

// ---------------------------------------------------------------------------------------
// Losses on 1M x 10 logits: focal loss composed from primitives, and fused cross-entropy.

// FL = mean_i -(1 - p_t)^gamma * log p_t, built from the ops a user would chain.
torch::Tensor focal_composed(const torch::Tensor& logits, const torch::Tensor& targets) {
    torch::Tensor logp = torch::log_softmax(logits, 1);
    torch::Tensor logp_t = logp.gather(1, targets.unsqueeze(1)).squeeze(1);
    torch::Tensor p_t = logp_t.exp();
    torch::Tensor weight = (1 - p_t).pow(kGamma);
    return (-weight * logp_t).mean();
}

// torchvision.ops.sigmoid_focal_loss (reduction "mean"), op for op:
// FL = mean -alpha_t (1 - p_t)^gamma log p_t, on [N, C] logits and 0/1 targets.
torch::Tensor sigmoid_focal_torchvision(const torch::Tensor& logits, const torch::Tensor& targets) {
    const double alpha = 0.25;
    torch::Tensor p = torch::sigmoid(logits);
    torch::Tensor ce = F::binary_cross_entropy_with_logits(
        logits, targets, F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone));
    torch::Tensor p_t = p * targets + (1 - p) * (1 - targets);
    torch::Tensor loss = ce * (1 - p_t).pow(kGamma);
    torch::Tensor alpha_t = alpha * targets + (1 - alpha) * (1 - targets);
    return (alpha_t * loss).mean();
}

torch::Tensor cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets) {
    return F::cross_entropy(logits, targets);
}

// binary: [N, C] 0/1 float targets (each 1 with probability 1/2), else N class indices.
template <class LossFn>
void bench_loss(const std::string& workload, LossFn loss_fn, int reps, int warmup, bool binary = false) {
    torch::manual_seed(kInitSeed);
    torch::Tensor logits = torch::randn({kLossRows, kLossClasses}, torch::requires_grad());          // [N, C]
    torch::Tensor targets = binary ? torch::randint(0, 2, {kLossRows, kLossClasses}, torch::kFloat)  // [N, C]
                                   : torch::randint(0, kLossClasses, {kLossRows}, torch::kLong);     // [N]
    std::vector<double> times;
    double value = NAN;
    for (int rep = 0; rep < warmup + reps; ++rep) {
        logits.mutable_grad() = torch::Tensor();  // a fresh gradient every run, freed untimed
        double start = now_seconds();
        torch::Tensor loss = loss_fn(logits, targets);
        loss.backward();
        double elapsed = now_seconds() - start;
        value = loss.item<float>();
        if (rep >= warmup) times.push_back(elapsed);
    }
    emit(workload, median(times) * 1e3, "ms",
         "forward+backward on [" + std::to_string(kLossRows) + ", " + std::to_string(kLossClasses) +
             "] randn logits, median of " + std::to_string(reps) + " after " + std::to_string(warmup) +
             " warm-ups; loss " + format("%.4f", value));
}

// ---------------------------------------------------------------------------------------
// One small op with grad recording: the per-op cost of dispatch and graph bookkeeping.

void bench_small_op(int batches) {
    torch::Tensor x = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}, torch::requires_grad());
    const int ops = 1000;
    std::vector<double> times;
    for (int batch = 0; batch < batches + 10; ++batch) {  // the first 10 batches warm up, untimed
        double start = now_seconds();
        for (int i = 0; i < ops; ++i) {
            torch::Tensor y = x * x;  // recorded, then dropped with its graph node
        }
        double elapsed = now_seconds() - start;
        if (batch >= 10) times.push_back(elapsed / ops);
    }
    emit("small_op_us", median(times) * 1e6, "us",
         "y = x * x on 4 elements with requires_grad, median over " + std::to_string(batches) +
             " batches of " + std::to_string(ops) + " ops");
}

// ---------------------------------------------------------------------------------------

void peak_rss() {
    auto [x, y] = load_mnist_train();
    torch::nn::Sequential model = make_mlp({784, 256, 128, 10});
    torch::optim::SGD opt = make_sgd(model);
    at::Generator gen = at::detail::createCPUGenerator(kShuffleSeed);
    double loss = train_epoch(model, opt, x, y, 128, gen);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    emit(kRssWorkload, double(usage.ru_maxrss) / 1024.0, "MB",  // ru_maxrss is in KiB on Linux
         "ru_maxrss (MiB) of a process that loaded the MNIST training set and trained the "
         "784-256-128-10 MLP for one epoch; epoch loss " +
             format("%.4f", loss));
}

void usage_and_exit(int code) {
    std::fprintf(code ? stderr : stdout,
                 "usage: libtorch_peer [--only NAME] [--quick] [--rss]\n"
                 "  --only NAME  run one workload: mlp_epoch, small_mlp_epoch, cnn_epoch,\n"
                 "               focal_composed_1m, sigmoid_focal_1m, ce_fused_1m, small_op_us,\n"
                 "               peak_rss_mb\n"
                 "  --quick      fewer repetitions (development)\n"
                 "  --rss        measure peak RSS of one MNIST training epoch, and nothing else\n"
                 "MNIST is read from $MNIST_DIR.\n");
    std::exit(code);
}

}  // namespace

int main(int argc, char** argv) {
    std::string only;
    bool quick = false, rss = false;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--only" && i + 1 < argc) {
            only = argv[++i];
            bool known = only == kRssWorkload;
            for (const char* w : kWorkloads) known = known || only == w;
            if (!known) {
                std::fprintf(stderr, "libtorch_peer: error: unknown workload '%s'\n", only.c_str());
                usage_and_exit(2);
            }
        } else if (arg == "--quick") {
            quick = true;
        } else if (arg == "--rss") {
            rss = true;
        } else if (arg == "--help" || arg == "-h") {
            usage_and_exit(0);
        } else {
            std::fprintf(stderr, "libtorch_peer: error: unknown argument '%s'\n", arg.c_str());
            usage_and_exit(2);
        }
    }
    auto wanted = [&](const char* w) { return only.empty() || only == w; };

    try {
        at::set_num_threads(2);
        at::set_num_interop_threads(1);

        // Peak RSS is only meaningful in a process that did nothing else first.
        if (rss || only == kRssWorkload) {
            peak_rss();
            return 0;
        }
        const int epochs = quick ? 1 : 3, loss_reps = quick ? 3 : 10, op_batches = quick ? 30 : 300;

        if (wanted("mlp_epoch") || wanted("small_mlp_epoch") || wanted("cnn_epoch")) {
            auto [x, y] = load_mnist_train();
            if (wanted("mlp_epoch")) bench_epoch("mlp_epoch", {784, 256, 128, 10}, 128, x, y, epochs);
            if (wanted("small_mlp_epoch")) bench_epoch("small_mlp_epoch", {784, 32, 10}, 32, x, y, epochs);
            if (wanted("cnn_epoch"))
                bench_epoch("cnn_epoch", {}, 64, x.view({-1, 1, kSide, kSide}), y, epochs);
        }
        if (wanted("focal_composed_1m")) bench_loss("focal_composed_1m", focal_composed, loss_reps, 2);
        if (wanted("sigmoid_focal_1m"))
            bench_loss("sigmoid_focal_1m", sigmoid_focal_torchvision, loss_reps, 2, /*binary=*/true);
        if (wanted("ce_fused_1m")) bench_loss("ce_fused_1m", cross_entropy, loss_reps, 2);
        if (wanted("small_op_us")) bench_small_op(op_batches);
    } catch (const std::exception& e) {
        fail(e.what());
    }
    return 0;
}
