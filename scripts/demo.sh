#!/usr/bin/env bash
# demo.sh — what `make demo` runs: the imbalanced-MNIST study with its defaults (and what
# `make demo-dense` runs: DEMO_BIN=build/bin/dense_digits, the dense-detection study).
# Finds MNIST (--data, $MNIST_DIR, datasets/mnist/), else tries to download it into
# datasets/mnist/ (scripts/get_mnist.sh), else says so in one line and runs the same
# study on Fashion-MNIST from the Debian package dataset-fashion-mnist (installed here
# when missing), so the demo runs on any fresh Debian machine.
# Extra arguments are passed to the example, e.g. `make demo ARGS="--seeds 0"`.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${DEMO_BIN:-build/bin/imbalanced_mnist}"  # make demo passes the flavour's binary

if "$bin" --locate-data "$@" >/dev/null 2>&1; then
    exec "$bin" "$@"
fi
echo "demo: MNIST not found (--data, \$MNIST_DIR, datasets/mnist/); trying to download it"
if bash scripts/get_mnist.sh datasets/mnist >/dev/null 2>&1 && "$bin" --locate-data "$@" >/dev/null 2>&1; then
    exec "$bin" "$@"
fi
echo "demo: MNIST could not be found or downloaded: running the same study on Fashion-MNIST instead"
bash scripts/setup.sh dataset-fashion-mnist
exec "$bin" --dataset fashion "$@"
