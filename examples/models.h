// models.h — the two MNIST networks of the examples, built in one place so that the
// program that trains a model and the program that loads its checkpoint (predict)
// always agree on the architecture.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <focalgrad/core/error.h>
#include <focalgrad/core/random.h>
#include <focalgrad/nn/layers.h>

namespace focalgrad::examples {

// 784 -> hidden[0] -> ... -> 10, ReLU between layers; input [N, 784].
inline std::shared_ptr<Sequential> mlp(const std::vector<int64_t>& hidden, Generator& gen) {
    auto net = std::make_shared<Sequential>();
    int64_t in = 28 * 28;
    for (int64_t h : hidden) {
        net->add(Linear(in, h, true, gen));
        net->add(ReLU());
        in = h;
    }
    net->add(Linear(in, 10, true, gen));
    return net;
}

// (conv 3x3 - relu - maxpool 2) x 2, then a linear layer; input [N, 1, 28, 28].
//   [N,1,28,28] -> conv 16 -> [N,16,28,28] -> pool -> [N,16,14,14]
//   -> conv 32 -> [N,32,14,14] -> pool -> [N,32,7,7] -> flatten -> [N,1568] -> linear -> [N,10]
// With batchnorm, a BatchNorm2d follows each convolution, which then has no bias (the
// normalisation would subtract it again; BatchNorm's beta takes its place).
inline std::shared_ptr<Sequential> cnn(Generator& gen, bool batchnorm = false) {
    if (!batchnorm)
        return std::make_shared<Sequential>(Conv2d(1, 16, 3, 1, 1, true, gen), ReLU(), MaxPool2d(2),
                                            Conv2d(16, 32, 3, 1, 1, true, gen), ReLU(), MaxPool2d(2),
                                            Flatten(), Linear(32 * 7 * 7, 10, true, gen));
    return std::make_shared<Sequential>(Conv2d(1, 16, 3, 1, 1, false, gen), BatchNorm2d(16), ReLU(),
                                        MaxPool2d(2), Conv2d(16, 32, 3, 1, 1, false, gen), BatchNorm2d(32),
                                        ReLU(), MaxPool2d(2), Flatten(), Linear(32 * 7 * 7, 10, true, gen));
}

// "mlp" or "cnn", and whether its input is flat ([N, 784]) or an image ([N, 1, 28, 28]).
inline std::shared_ptr<Sequential> make_model(const std::string& name, const std::vector<int64_t>& hidden,
                                              Generator& gen, bool* flat, bool batchnorm = false) {
    FG_CHECK(name == "mlp" || name == "cnn", "--model must be mlp or cnn, got '", name, "'");
    FG_CHECK(name == "cnn" || !batchnorm, "--batchnorm is for the cnn (mnist_cnn)");
    *flat = name == "mlp";
    return name == "mlp" ? mlp(hidden, gen) : cnn(gen, batchnorm);
}

}  // namespace focalgrad::examples
