// mnist_mlp.cpp — the balanced baseline: an MLP 784-256-128-10 trained on all of MNIST
// with cross-entropy and SGD, reaching about 98 % test accuracy; saves a checkpoint.
#include "mnist_classifier.h"

int main(int argc, char** argv) {
    return focalgrad::cli::run_main("mnist_mlp", [&] {
        focalgrad::examples::train_classifier(argc, argv, {"mnist_mlp", "mlp", 10, 0.05, 128});
    });
}
