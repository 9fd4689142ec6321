// test_nn_module.cpp — Module: hierarchical parameter names, train/eval, zero_grad,
// parameter counts, the summary table and the printed tree.
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/nn/layers.h>
#include <focalgrad/nn/module.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

// A user-defined module with its own parameter and two registered children.
struct Block : Module {
    std::shared_ptr<Linear> fc1, fc2;
    Tensor scale;
    Block() {
        scale = register_parameter("scale", Tensor::ones({3}));
        fc1 = register_module("fc1", std::make_shared<Linear>(4, 3));
        fc2 = register_module("fc2", std::make_shared<Linear>(3, 2, false));
    }
    Tensor forward(const Tensor& x) override { return (*fc2)(relu((*fc1)(x)) * scale); }
    std::string describe() const override { return "Block"; }
};

std::vector<std::string> names_of(const Module& m) {
    std::vector<std::string> names;
    for (const auto& [name, t] : m.named_parameters()) names.push_back(name);
    return names;
}

}  // namespace

TEST_CASE("Module: parameters have stable hierarchical names in registration order") {
    Sequential net(Linear(4, 8), ReLU(), Linear(8, 3));
    CHECK(names_of(net) == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
    CHECK(net.num_parameters() == 4 * 8 + 8 + 8 * 3 + 3);
    CHECK(net.parameters().size() == 4);
    for (const Tensor& p : net.parameters()) CHECK(p.requires_grad());

    Sequential nested(std::make_shared<Block>(), Sequential(Linear(2, 2), Tanh()));
    CHECK(names_of(nested) == std::vector<std::string>{"0.scale", "0.fc1.weight", "0.fc1.bias",
                                                       "0.fc2.weight", "1.0.weight", "1.0.bias"});
    std::vector<std::string> modules;
    for (const auto& [name, m] : nested.named_modules()) modules.push_back(name);
    CHECK(modules == std::vector<std::string>{"", "0", "0.fc1", "0.fc2", "1", "1.0", "1.1"});
}

TEST_CASE("Module: the named parameter is the layer's own tensor (shared, not copied)") {
    auto fc = std::make_shared<Linear>(3, 2);
    Sequential net(fc, ReLU());
    net.add(Linear(2, 1));
    CHECK(net.size() == 3);
    CHECK(net.named_parameters()[0].second.same(fc->weight));
    CHECK(net.named_parameters()[1].second.same(fc->bias));
    CHECK(&net[0] == fc.get());
    CHECK(net[2].describe() == "Linear(2, 1)");
    CHECK_ERROR(net[3], "Sequential", "index 3", "3 layers");
}

TEST_CASE("Module: registration rejects duplicate, empty and dotted names") {
    struct Bad : Module {
        explicit Bad(int which) {
            if (which == 0) {
                register_parameter("w", Tensor::zeros({1}));
                register_parameter("w", Tensor::zeros({1}));
            } else if (which == 1) {
                register_parameter("a.b", Tensor::zeros({1}));
            } else if (which == 2) {
                register_module("", std::make_shared<ReLU>());
            } else {
                register_parameter("x", Tensor::zeros({1}));
                register_module("x", std::make_shared<ReLU>());
            }
        }
        Tensor forward(const Tensor& x) override { return x; }
    };
    CHECK_ERROR(Bad(0), "'w'", "already registered");
    CHECK_ERROR(Bad(1), "'a.b'", "no '.'");
    CHECK_ERROR(Bad(2), "non-empty");
    CHECK_ERROR(Bad(3), "'x'", "already registered");
}

TEST_CASE("Module: train()/eval() reach every module; zero_grad releases every gradient") {
    Sequential net(std::make_shared<Block>(), Dropout(0.5f));
    CHECK(net.is_training());
    net.eval();
    for (const auto& [name, m] : net.named_modules()) CHECK_FALSE(m->is_training());
    net.train();
    for (const auto& [name, m] : net.named_modules()) CHECK(m->is_training());

    Tensor x = Tensor::randn({5, 4});
    sum(net(x)).backward();
    for (const Tensor& p : net.parameters()) CHECK(p.has_grad());
    net.zero_grad();
    for (const Tensor& p : net.parameters()) CHECK_FALSE(p.has_grad());
}

TEST_CASE("Module: summary lists each layer's output shape and parameter count, and changes nothing") {
    Sequential net(Conv2d(1, 4, 3, 1, 1), ReLU(), MaxPool2d(2), Flatten(), Dropout(0.5f, 7),
                   Linear(4 * 4 * 4, 10));
    std::vector<float> before;
    for (const Tensor& p : net.parameters())
        for (float v : p.to_vector()) before.push_back(v);
    size_t tape_before = tape_size();

    std::string s = net.summary({2, 1, 8, 8});
    INFO(s);
    std::istringstream lines(s);
    std::vector<std::string> rows;
    for (std::string line; std::getline(lines, line);) rows.push_back(line);
    REQUIRE(rows.size() == 10);  // header, input, model, 6 layers, total
    auto has = [&](size_t r, std::vector<std::string> parts) {
        for (const auto& p : parts)
            CHECK_MESSAGE(rows[r].find(p) != std::string::npos, "row ", r, ": ", rows[r]);
    };
    has(0, {"Layer", "Type", "Output shape", "Params"});
    has(1, {"(input)", "[2, 1, 8, 8]"});
    has(2, {"(model)", "Sequential", "[2, 10]", "690"});
    has(3, {"0", "Conv2d(1, 4, kernel=3, stride=1, padding=1)", "[2, 4, 8, 8]", "40"});
    has(4, {"1", "ReLU()", "[2, 4, 8, 8]", " 0"});
    has(5, {"2", "MaxPool2d(kernel=2, stride=2)", "[2, 4, 4, 4]"});
    has(6, {"3", "Flatten(1, -1)", "[2, 64]"});
    has(7, {"4", "Dropout(p=0.5)", "[2, 64]"});
    has(8, {"5", "Linear(64, 10)", "[2, 10]", "650"});
    has(9, {"Total parameters: 690"});

    CHECK(net.is_training());  // restored
    CHECK(tape_size() == tape_before);
    std::vector<float> after;
    for (const Tensor& p : net.parameters())
        for (float v : p.to_vector()) after.push_back(v);
    CHECK(after == before);

    // The dropout stream did not advance: the next training forward equals a fresh twin's.
    Dropout a(0.5f, 7), b(0.5f, 7);
    Sequential with_a(std::move(a));
    with_a.summary({3, 5});
    Tensor x = Tensor::ones({3, 5});
    CHECK(with_a(x).to_vector() == b(x).to_vector());

    // A forward that throws leaves no trace behind and still restores the mode.
    CHECK_ERROR(net.summary({2, 3, 8, 8}), "conv2d", "channels");
    CHECK(net.is_training());
    CHECK(net(Tensor::zeros({1, 1, 8, 8})).shape() == Shape{1, 10});
}

TEST_CASE("Module: printing shows the tree") {
    Sequential net(Linear(2, 3), Sequential(ReLU(), Linear(3, 1, false)));
    std::ostringstream os;
    os << net;
    CHECK(os.str() ==
          "Sequential(\n"
          "  (0): Linear(2, 3)\n"
          "  (1): Sequential(\n"
          "    (0): ReLU()\n"
          "    (1): Linear(3, 1, bias=false)\n"
          "  )\n"
          ")");
}
