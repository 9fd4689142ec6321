// test_checkpoint_contents.cpp — what a version-2 checkpoint holds besides parameters:
// buffers and generator states (a loaded model computes what the saved one would have),
// ModelInfo and a StateDict of every kind, load_model rebuilding every built-in layer
// from the architecture text, version-1 files (weights load; what they lack is named),
// and the records a file may not hold. Also architecture() and build_module().
#include <zlib.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/nn/architecture.h>
#include <focalgrad/nn/checkpoint.h>
#include <focalgrad/nn/layers.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

using fgtest::read_bytes;
using fgtest::write_bytes;

// Every layer type, with non-default settings where there are any.
std::shared_ptr<Sequential> every_layer(uint64_t seed) {
    Generator gen(seed);
    auto inner = std::make_shared<Sequential>(Linear(8, 6, false, gen), LayerNorm(6, 1e-6f), Tanh());
    return std::make_shared<Sequential>(Conv2d(1, 2, 3, 1, 1, true, gen), BatchNorm2d(2, 1e-4f, 0.3f),
                                        LeakyReLU(0.125f), MaxPool2d(2), Flatten(), Dropout(0.25f, seed + 7),
                                        std::move(inner), BatchNorm1d(6, 1e-5f, 0.1f, false), Sigmoid(),
                                        Linear(6, 3, true, gen), ReLU());
}

// The model's state as bits: parameters, buffers and generators' next draws (a copy is drawn).
std::vector<uint32_t> state_bits(const Module& m) {
    std::vector<uint32_t> out;
    auto add = [&](const Tensor& t) {
        std::vector<uint32_t> bits(size_t(t.numel()));
        std::memcpy(bits.data(), t.data(), bits.size() * 4);
        out.insert(out.end(), bits.begin(), bits.end());
    };
    for (const auto& [name, t] : m.named_parameters()) add(t);
    for (const auto& [name, t] : m.named_buffers()) add(t);
    for (const auto& [name, g] : m.named_generators()) {
        Generator copy = *g;
        out.push_back(copy.next_u32());
    }
    return out;
}

// A few training-mode forwards: BatchNorm's statistics and Dropout's generator move.
void run_training_forwards(Module& m, int steps) {
    m.train();
    Generator gen(99);
    for (int i = 0; i < steps; ++i) (void)m(Tensor::randn({4, 1, 4, 4}, gen));
}

}  // namespace

TEST_CASE("checkpoint: buffers and generator states round-trip; the loaded model computes the same") {
    fgtest::TempDir dir;
    auto a = every_layer(1);
    run_training_forwards(*a, 3);
    save(*a, dir / "a.fgc");
    auto b = every_layer(2);
    CHECK(state_bits(*a) != state_bits(*b));
    Checkpoint c = load(*b, dir / "a.fgc");
    CHECK(c.version == 2);
    CHECK(c.info.empty());
    CHECK(c.state.empty());
    CHECK(state_bits(*a) == state_bits(*b));
    // The same training-mode forward (same dropout mask, same batch statistics) and eval forward.
    Tensor x = Tensor::randn({4, 1, 4, 4});
    CHECK(a->forward(x).to_vector() == b->forward(x).to_vector());
    a->eval();
    b->eval();
    CHECK(a->forward(x).to_vector() == b->forward(x).to_vector());
    // A model with the same parameters but no BatchNorm: its buffers are named as missing.
    Generator gen(3);
    Sequential plain(Linear(2, 2, true, gen));
    save(plain, dir / "plain.fgc");
    Sequential with_bn(Linear(2, 2, true, gen), BatchNorm1d(2));
    CHECK_ERROR(load(with_bn, dir / "plain.fgc"),
                "tensor '1.running_mean' of shape [2] is in the model but missing from the file");
    Sequential with_dropout(Linear(2, 2, true, gen), Dropout(0.5f, 1));
    CHECK_ERROR(load(with_dropout, dir / "plain.fgc"),
                "generator '1.generator' of shape [2] is in the model but missing from the file");
}

TEST_CASE("checkpoint: ModelInfo and every kind of state round-trip exactly") {
    fgtest::TempDir dir;
    auto a = every_layer(1);
    ModelInfo info;
    info.architecture = architecture(*a);
    info.input_shape = {1, 4, 4};
    info.flatten_input = true;
    info.input_mean = {0.1307};
    info.input_std = {0.3081};
    info.class_names = {"cat", "dog", "a bird, flying"};
    StateDict state;
    state["optimizer.type"] = std::string("SGD");
    state["optimizer.lr"] = std::vector<double>{0.1 / 3};
    state["epoch"] = std::vector<int64_t>{int64_t(1) << 40, -5};
    state["empty"] = std::vector<int64_t>{};
    state["moment"] = Tensor::from({1.5f, -0.0f, 1e-40f, 3.0f}, {2, 2});
    state["scalar"] = Tensor::scalar(2.5f);
    save(*a, dir / "a.fgc", info, state);

    Checkpoint peek = read_checkpoint(dir / "a.fgc");  // the same, without a model
    CHECK(peek.version == 2);
    CHECK(peek.info.architecture == info.architecture);
    CHECK(peek.info.class_names == info.class_names);
    CHECK(peek.state.size() == state.size());
    auto b = every_layer(2);
    Checkpoint c = load(*b, dir / "a.fgc");
    CHECK(c.info.architecture == info.architecture);
    CHECK(c.info.input_shape == info.input_shape);
    CHECK(c.info.flatten_input);
    CHECK(c.info.input_mean == info.input_mean);
    CHECK(c.info.input_std == info.input_std);
    CHECK(c.info.class_names == info.class_names);
    REQUIRE(c.state.size() == state.size());
    CHECK(state_text(c.state, "optimizer.type", "test") == "SGD");
    CHECK(state_real(c.state, "optimizer.lr", "test") == 0.1 / 3);
    CHECK(state_integers(c.state, "epoch", "test") == std::vector<int64_t>{int64_t(1) << 40, -5});
    CHECK(state_integers(c.state, "empty", "test").empty());
    const Tensor& m = state_tensor(c.state, "moment", "test");
    CHECK(m.shape() == Shape{2, 2});
    uint32_t bits[4], want[4];
    std::memcpy(bits, m.data(), 16);
    std::memcpy(want, std::get<Tensor>(state["moment"]).data(), 16);
    CHECK(std::vector<uint32_t>(bits, bits + 4) ==
          std::vector<uint32_t>(want, want + 4));  // -0 and subnormal kept
    CHECK(state_tensor(c.state, "scalar", "test").shape() == Shape{});
    CHECK_ERROR(state_integer(c.state, "optimizer.lr", "test"),
                "test: state 'optimizer.lr' holds reals, expected integers");
    CHECK_ERROR(state_real(c.state, "missing", "test"), "test: state 'missing' is missing");

    // What save refuses in a ModelInfo, before touching the file.
    ModelInfo bad = info;
    bad.input_std = {};
    CHECK_ERROR(save(*a, dir / "b.fgc", bad), "save: ModelInfo has 1 input means but 0 standard deviations");
    bad = info;
    bad.input_std = {0.0};
    CHECK_ERROR(save(*a, dir / "b.fgc", bad), "save: ModelInfo: channel 0 has mean 0.1307 and std 0");
    bad = info;
    bad.class_names = {"two\nlines"};
    CHECK_ERROR(save(*a, dir / "b.fgc", bad),
                "class name 'two\\x0alines' must be non-empty and hold no line break");
    CHECK(!std::filesystem::exists(dir / "b.fgc"));
}

TEST_CASE("load_model rebuilds every built-in layer from the file alone") {
    fgtest::TempDir dir;
    auto a = every_layer(1);
    run_training_forwards(*a, 2);
    ModelInfo info;
    info.architecture = architecture(*a);
    info.class_names = {"x", "y", "z"};
    save(*a, dir / "a.fgc", info);
    LoadedModel loaded = load_model(dir / "a.fgc");
    REQUIRE(loaded.model);
    std::ostringstream printed_a, printed_b;
    printed_a << *a;
    printed_b << *loaded.model;
    CHECK(printed_a.str() == printed_b.str());
    CHECK(state_bits(*a) == state_bits(*loaded.model));
    CHECK(loaded.checkpoint.info.class_names == info.class_names);
    Tensor x = Tensor::randn({3, 1, 4, 4});
    a->eval();
    loaded.model->eval();
    CHECK((*a)(x).to_vector() == (*loaded.model)(x).to_vector());

    // Without an architecture, and from a version-1 file, load_model says what is missing.
    save(*a, dir / "bare.fgc");
    CHECK_ERROR(load_model(dir / "bare.fgc"), "load_model: '", "' holds no architecture");
    Generator gen(1);
    Sequential small(Linear(2, 1, true, gen));
    std::vector<unsigned char> v1 = {'F', 'O', 'C', 'A', 'L', 'G', 'R', 'D', 1, 0, 0, 0, 2, 0, 0, 0};
    auto put32 = [&](uint32_t v) {
        for (int i = 0; i < 4; ++i) v1.push_back(static_cast<unsigned char>(v >> (8 * i)));
    };
    auto record = [&](const std::string& name, std::vector<int64_t> shape, std::vector<float> values) {
        put32(uint32_t(name.size()));
        v1.insert(v1.end(), name.begin(), name.end());
        put32(uint32_t(shape.size()));
        for (int64_t s : shape) {
            put32(uint32_t(s));
            put32(0);
        }
        for (float f : values) {
            uint32_t b;
            std::memcpy(&b, &f, 4);
            put32(b);
        }
    };
    record("0.weight", {1, 2}, {0.5f, -2.0f});
    record("0.bias", {1}, {0.25f});
    put32(uint32_t(::crc32(0, v1.data(), uInt(v1.size()))));
    write_bytes(dir / "v1.fgc", v1);
    Checkpoint c = load(small, dir / "v1.fgc");  // weights only: still loads
    CHECK(c.version == 1);
    CHECK(c.info.empty());
    CHECK(small.named_parameters()[0].second.to_vector() == std::vector<float>{0.5f, -2.0f});
    CHECK(small.named_parameters()[1].second.to_vector() == std::vector<float>{0.25f});
    CHECK_ERROR(load_model(dir / "v1.fgc"),
                "is a version-1 checkpoint: it holds the weights only, not the architecture");
    // A version-1 file into a model with a Dropout: the generator keeps its state.
    Sequential with_dropout(Linear(2, 1, true, gen), Dropout(0.5f, 3));
    Generator before = *with_dropout.named_generators()[0].second;
    load(with_dropout, dir / "v1.fgc");
    CHECK(with_dropout.named_generators()[0].second->state() == before.state());
}

TEST_CASE("load_model refuses an architecture larger than the file's tensors before building it") {
    fgtest::TempDir dir;
    Generator gen(1);
    Sequential small(Linear(2, 1, true, gen));
    ModelInfo info;
    info.architecture = "Sequential(\n  (0): Linear(100000, 100000)\n)\n";  // 10^10 parameters
    save(small, dir / "lie.fgc", info);
    CHECK_ERROR(load_model(dir / "lie.fgc"), "its architecture cannot be rebuilt",
                "has 10000100000 parameters, more than the 3 allowed");
    info.architecture = "Sequential(\n  (0): Linear(1, 1)\n)\n";  // fits the budget, not the file
    save(small, dir / "other.fgc", info);
    CHECK_ERROR(load_model(dir / "other.fgc"), "load_model: '", "does not fit the model",
                "tensor '0.weight' has shape [1, 2] in the file but [1, 1] in the model");
}

TEST_CASE("checkpoint: records of unknown kinds, wrong types and corrupt values are refused") {
    fgtest::TempDir dir;
    Generator gen(1);
    Sequential m(Linear(2, 1, true, gen), Dropout(0.5f, 4));
    const std::string path = dir / "x.fgc";
    // A file with one more record, written by hand after a real save's records.
    auto with_extra = [&](const std::string& name, uint32_t type, std::vector<int64_t> shape,
                          const std::vector<unsigned char>& data) {
        save(m, path);
        std::vector<unsigned char> f = read_bytes(path);
        f.resize(f.size() - 4);
        f[12] = uint8_t(f[12] + 1);  // the count
        auto put32 = [&](uint32_t v) {
            for (int i = 0; i < 4; ++i) f.push_back(static_cast<unsigned char>(v >> (8 * i)));
        };
        put32(uint32_t(name.size()));
        f.insert(f.end(), name.begin(), name.end());
        put32(type);
        put32(uint32_t(shape.size()));
        for (int64_t s : shape) {
            put32(uint32_t(s));
            put32(0);
        }
        f.insert(f.end(), data.begin(), data.end());
        put32(uint32_t(::crc32(0, f.data(), uInt(f.size()))));
        write_bytes(path, f);
    };
    with_extra("info:colour", 3, {1}, {'x'});
    CHECK_ERROR(load(m, path), "record #3 ('info:colour') is not a known record");
    with_extra("weights", 0, {1}, {0, 0, 0, 0});
    CHECK_ERROR(load(m, path), "record #3 ('weights') is not a known record");
    with_extra("info:input_shape", 1, {1}, std::vector<unsigned char>(8));
    CHECK_ERROR(load(m, path), "'info:input_shape' must be int64 [k], k <= 8");
    with_extra("state:steps", 2, {1, 1}, std::vector<unsigned char>(8));
    CHECK_ERROR(load(m, path), "a state record other than float32 must have rank 1");
    with_extra("state:x", 7, {1}, {0});
    CHECK_ERROR(load(m, path), "has element type 7");
    with_extra("model:0.bias", 0, {1}, {0, 0, 0, 0});
    CHECK_ERROR(load(m, path), "record #3 ('model:0.bias') appears twice");
    with_extra("info:class_names", 3, {3}, {'a', '\n', 'b'});
    CHECK_ERROR(load(m, path), "the class names do not end with a line break");

    // A generator state whose increment is even is no PCG state: refused, the model unchanged.
    save(m, path);
    std::vector<unsigned char> f = read_bytes(path);
    const std::string key = "model:1.generator";
    size_t at = size_t(std::search(f.begin(), f.end(), key.begin(), key.end()) - f.begin());
    REQUIRE(at < f.size());
    size_t increment = at + key.size() + 4 + 4 + 8 + 8;  // type, rank, size [2], state
    f[increment] &= 0xFE;
    f.resize(f.size() - 4);
    uint32_t crc = uint32_t(::crc32(0, f.data(), uInt(f.size())));
    for (int i = 0; i < 4; ++i) f.push_back(uint8_t(crc >> (8 * i)));
    write_bytes(path, f);
    const uint64_t state_before = m.named_generators()[0].second->state();
    std::vector<float> w_before = m.named_parameters()[0].second.to_vector();
    m.named_parameters()[0].second.data()[0] += 1.0f;  // differs from the file: a write would show
    w_before = m.named_parameters()[0].second.to_vector();
    CHECK_ERROR(load(m, path), "generator 'model:1.generator' has an even increment");
    CHECK(m.named_generators()[0].second->state() == state_before);
    CHECK(m.named_parameters()[0].second.to_vector() == w_before);
}

TEST_CASE("architecture and build_module: the printed tree is the recipe; what cannot be built is named") {
    auto net = every_layer(1);
    std::string text = architecture(*net);
    CHECK(text.rfind("Sequential(\n  (0): Conv2d(1, 2, kernel=3, stride=1, padding=1)\n", 0) == 0);
    auto rebuilt = build_module(text);
    std::ostringstream a, b;
    a << *net;
    b << *rebuilt;
    CHECK(a.str() == b.str());
    CHECK(rebuilt->num_parameters() == net->num_parameters());

    struct Custom : Module {
        Tensor forward(const Tensor& x) override { return x; }
    };
    Sequential with_custom(Linear(2, 2), std::make_shared<Custom>());
    CHECK_ERROR(architecture(with_custom), "architecture: this model cannot be rebuilt",
                "line 3: 'Module' is not a built-in layer");
    CHECK_ERROR(build_module("Sequential(\n  (0): Linear(2)\n)"),
                "build_module: line 2: Linear: argument 2 (out_features) is missing");
    CHECK_ERROR(build_module("Linear(2, 3, bias=maybe)"), "bias must be true or false, got 'maybe'");
    CHECK_ERROR(build_module("Linear(2, 3, colour=1)"), "unexpected argument 'colour'");
    CHECK_ERROR(build_module("Linear(2, 0)"), "out_features must be an integer in [1, 1073741824], got '0'");
    CHECK_ERROR(build_module("Sequential(\n  (1): ReLU()\n)"), "child 0 is named '1'");
    CHECK_ERROR(build_module("Sequential(\n  (0): ReLU()\n"), "the text ends in the middle of a module");
    CHECK_ERROR(build_module("ReLU() ReLU()"), "unexpected 'ReLU' after the end of the model");
    CHECK_ERROR(build_module("Linear(2, 3) \x01"), "line 1: unexpected character byte 1");
    CHECK_ERROR(build_module("Linear(1000, 1000)", 1000),
                "has 1001000 parameters, more than the 1000 allowed");
    CHECK_ERROR(build_module("BatchNorm1d(4, eps=0)"), "BatchNorm1d: eps must be finite and > 0");
}
