#!/usr/bin/python3
"""torch_peer.py - the PyTorch side of focalgrad's peer comparison (issue 7).

Runs the shared workloads (two MNIST MLP epochs and one of examples/mnist_cnn's CNN, composed
focal, torchvision's sigmoid focal and fused cross-entropy forward+backward on 1M x 10
logits, one small recorded op) on the CPU with 2 threads and
prints one JSON line per workload. Peak memory is measured only with --rss, in a process
that does nothing else. It leaves out data loaders, GPUs and accuracy: only the time
(and a training loss, as a sanity value) matters here. bench/peers/libtorch_peer.cpp is
the same program in C++; keep the two in step.
"""

import argparse
import gzip
import json
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

PEER = "pytorch"
WORKLOADS = ["mlp_epoch", "small_mlp_epoch", "cnn_epoch", "focal_composed_1m", "sigmoid_focal_1m",
             "ce_fused_1m", "small_op_us"]
RSS_WORKLOAD = "peak_rss_mb"

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049  # IDX: 0x0803 = ubyte, 3 dims; 0x0801 = ubyte, 1 dim
TRAIN_COUNT, SIDE = 60000, 28

# Fixed seeds, the same in the C++ peer: parameter init, then one shuffle per epoch.
INIT_SEED, SHUFFLE_SEED = 0, 1
WARMUP_STEPS = 20
LR, MOMENTUM = 0.05, 0.9


def fail(message):
    print(f"torch_peer: error: {message}", file=sys.stderr)
    sys.exit(2)


def emit(workload, value, unit, detail):
    line = {"peer": PEER, "workload": workload, "value": value, "unit": unit, "detail": detail}
    print(json.dumps(line), flush=True)


# ---------------------------------------------------------------------------------------
# MNIST from the IDX files: big-endian int32 header (magic, counts, sizes), then bytes.

def read_idx(path, magic, dims):
    if not os.path.isfile(path):
        fail(f"{path} is missing; set MNIST_DIR to a directory holding the four MNIST "
             f".gz IDX files (for example /work/shared/data/mnist)")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        fail(f"{path}: cannot decompress ({e}); the file is corrupt or not gzip")
    header_len = 4 * (1 + len(dims))
    if len(raw) < header_len:
        fail(f"{path}: {len(raw)} bytes, too short for an IDX header of {header_len} bytes")
    header = np.frombuffer(raw, dtype=">i4", count=1 + len(dims))
    if header[0] != magic:
        fail(f"{path}: magic number {header[0]}, expected {magic}; not an IDX file of this kind")
    if list(header[1:]) != list(dims):
        fail(f"{path}: sizes {list(header[1:])}, expected {list(dims)}")
    payload = int(np.prod(dims))
    if len(raw) != header_len + payload:
        fail(f"{path}: {len(raw) - header_len} data bytes, expected {payload}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(dims)


def load_mnist_train():
    """Returns images [60000, 784] float32 in [0, 1] and labels [60000] int64."""
    root = os.environ.get("MNIST_DIR")
    if not root:
        fail("MNIST_DIR is not set; point it at the MNIST directory "
             "(for example MNIST_DIR=/work/shared/data/mnist)")
    images = read_idx(os.path.join(root, TRAIN_IMAGES), IMAGE_MAGIC, (TRAIN_COUNT, SIDE, SIDE))
    labels = read_idx(os.path.join(root, TRAIN_LABELS), LABEL_MAGIC, (TRAIN_COUNT,))
    if labels.max() > 9:
        fail(f"{TRAIN_LABELS}: label {labels.max()} out of range 0..9")
    # astype makes the one float copy (the decompressed bytes are read-only); scale in place.
    x = torch.from_numpy(images.reshape(TRAIN_COUNT, SIDE * SIDE).astype(np.float32)).div_(255.0)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


# ---------------------------------------------------------------------------------------
# MLP training: Linear+ReLU stack with default init, cross-entropy, SGD with momentum.

def make_mlp(sizes):
    torch.manual_seed(INIT_SEED)
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def make_cnn():
    """examples/mnist_cnn's network: conv 3x3 (1 -> 16, pad 1), ReLU, 2x2 max-pool, conv 3x3
    (16 -> 32, pad 1), ReLU, 2x2 max-pool, Linear(32 * 7 * 7 -> 10). Input [N, 1, 28, 28]."""
    torch.manual_seed(INIT_SEED)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32 * 7 * 7, 10))


def train_step(model, opt, xb, yb):
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(xb), yb)
    loss.backward()
    opt.step()
    return loss.item()


def train_epoch(model, opt, x, y, batch, gen):
    """One pass over a fresh permutation; the last partial batch is kept. Returns the
    mean training loss over the epoch's examples."""
    n = x.shape[0]
    perm = torch.randperm(n, generator=gen)
    total = 0.0
    for start in range(0, n, batch):
        idx = perm[start:start + batch]
        total += train_step(model, opt, x.index_select(0, idx), y.index_select(0, idx)) * idx.numel()
    return total / n


def bench_epoch(workload, sizes, batch, x, y, epochs):
    """sizes: the MLP's layer widths, or None for the CNN (x is then [N, 1, 28, 28])."""
    model = make_mlp(sizes) if sizes else make_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    for step in range(WARMUP_STEPS):  # the first batches in file order, untimed
        train_step(model, opt, x[step * batch:(step + 1) * batch], y[step * batch:(step + 1) * batch])
    gen = torch.Generator().manual_seed(SHUFFLE_SEED)
    times, loss = [], float("nan")
    for _ in range(epochs):
        start = time.perf_counter()
        loss = train_epoch(model, opt, x, y, batch, gen)
        times.append(time.perf_counter() - start)
    arch = f"MLP {'-'.join(map(str, sizes))}" if sizes else "CNN of examples/mnist_cnn"
    emit(workload, statistics.median(times), "s",
         f"{arch}, batch {batch}, median of {epochs} epochs "
         f"({', '.join(f'{t:.3f}' for t in times)} s); last-epoch mean loss {loss:.4f}")


# ---------------------------------------------------------------------------------------
# Losses on 1M x 10 logits: focal loss composed from primitives, and fused cross-entropy.

LOSS_ROWS, LOSS_CLASSES, GAMMA = 1_000_000, 10, 2.0


def focal_composed(logits, targets):
    # FL = mean_i -(1 - p_t)^gamma * log p_t, built from the ops a user would chain.
    logp = F.log_softmax(logits, dim=1)
    logp_t = logp.gather(1, targets.unsqueeze(1)).squeeze(1)
    p_t = logp_t.exp()
    weight = (1 - p_t).pow(GAMMA)
    return (-weight * logp_t).mean()


def sigmoid_focal_torchvision(logits, targets, alpha=0.25, gamma=GAMMA):
    # torchvision.ops.sigmoid_focal_loss (reduction "mean"), op for op:
    # FL = mean -alpha_t (1 - p_t)^gamma log p_t, on [N, C] logits and 0/1 targets.
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
    return (alpha_t * loss).mean()


def bench_loss(workload, loss_fn, reps, warmup, binary=False):
    """binary: [N, C] 0/1 float targets (each 1 with probability 1/2), else N class indices."""
    torch.manual_seed(INIT_SEED)
    logits = torch.randn(LOSS_ROWS, LOSS_CLASSES, requires_grad=True)  # [N, C]
    if binary:
        targets = torch.randint(0, 2, (LOSS_ROWS, LOSS_CLASSES)).float()  # [N, C]
    else:
        targets = torch.randint(0, LOSS_CLASSES, (LOSS_ROWS,))  # [N]
    times, value = [], float("nan")
    for rep in range(warmup + reps):
        logits.grad = None  # a fresh gradient every run, freed outside the timed region
        start = time.perf_counter()
        loss = loss_fn(logits, targets)
        loss.backward()
        elapsed = time.perf_counter() - start
        value = loss.item()
        if rep >= warmup:
            times.append(elapsed)
    emit(workload, statistics.median(times) * 1e3, "ms",
         f"forward+backward on [{LOSS_ROWS}, {LOSS_CLASSES}] randn logits, median of {reps} "
         f"after {warmup} warm-ups; loss {value:.4f}")


# ---------------------------------------------------------------------------------------
# One small op with grad recording: the per-op cost of dispatch and graph bookkeeping.

def bench_small_op(batches):
    x = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    ops = 1000
    times = []
    for batch in range(batches + 10):  # the first 10 batches warm up, untimed
        start = time.perf_counter()
        for _ in range(ops):
            y = x * x
        elapsed = time.perf_counter() - start
        if batch >= 10:
            times.append(elapsed / ops)
    del y
    emit("small_op_us", statistics.median(times) * 1e6, "us",
         f"y = x * x on 4 elements with requires_grad, median over {batches} batches of {ops} ops")


# ---------------------------------------------------------------------------------------

def peak_rss():
    x, y = load_mnist_train()
    model = make_mlp([784, 256, 128, 10])
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss = train_epoch(model, opt, x, y, 128, torch.Generator().manual_seed(SHUFFLE_SEED))
    max_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    emit(RSS_WORKLOAD, max_rss_kib / 1024.0, "MB",
         f"ru_maxrss (MiB) of a process that loaded the MNIST training set and trained the "
         f"784-256-128-10 MLP for one epoch; epoch loss {loss:.4f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=WORKLOADS + [RSS_WORKLOAD],
                        help="run one workload")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (development)")
    parser.add_argument("--rss", action="store_true",
                        help="measure peak RSS of one MNIST training epoch, and nothing else")
    args = parser.parse_args()

    torch.set_num_threads(2)
    torch.set_num_interop_threads(1)

    # Peak RSS is only meaningful in a process that did nothing else first.
    if args.rss or args.only == RSS_WORKLOAD:
        peak_rss()
        return
    wanted = [args.only] if args.only else WORKLOADS
    epochs, loss_reps, op_batches = (1, 3, 30) if args.quick else (3, 10, 300)

    if {"mlp_epoch", "small_mlp_epoch", "cnn_epoch"} & set(wanted):
        x, y = load_mnist_train()
        if "mlp_epoch" in wanted:
            bench_epoch("mlp_epoch", [784, 256, 128, 10], 128, x, y, epochs)
        if "small_mlp_epoch" in wanted:
            bench_epoch("small_mlp_epoch", [784, 32, 10], 32, x, y, epochs)
        if "cnn_epoch" in wanted:
            bench_epoch("cnn_epoch", None, 64, x.view(-1, 1, SIDE, SIDE), y, epochs)
        del x, y
    if "focal_composed_1m" in wanted:
        bench_loss("focal_composed_1m", focal_composed, loss_reps, 2)
    if "sigmoid_focal_1m" in wanted:
        bench_loss("sigmoid_focal_1m", sigmoid_focal_torchvision, loss_reps, 2, binary=True)
    if "ce_fused_1m" in wanted:
        bench_loss("ce_fused_1m", F.cross_entropy, loss_reps, 2)
    if "small_op_us" in wanted:
        bench_small_op(op_batches)


if __name__ == "__main__":
    main()
