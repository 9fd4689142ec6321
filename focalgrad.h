// focalgrad.h — the whole public API in one include: #include <focalgrad/focalgrad.h>.
// Tensors and the tape, the differentiable ops, gradcheck, layers and checkpoints, the
// losses, the optimizers and schedules, the data pipeline, the detection blocks, the
// reports (tables, JSON, SVG charts) and the training loop. Each part can also be included on its own
// (<focalgrad/losses/focal_loss.h>); the layout is in README.md.
// Not here: the machinery the ops are built with (the buffer pool, fast math, the BLAS
// door, the losses' tiles), which a program using focalgrad does not need to include.
#pragma once

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/error.h>
#include <focalgrad/core/gradcheck.h>
#include <focalgrad/core/io.h>
#include <focalgrad/core/kernels.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/core/random.h>
#include <focalgrad/core/state.h>
#include <focalgrad/core/tape_graph.h>
#include <focalgrad/core/tensor.h>
#include <focalgrad/core/version.h>
#include <focalgrad/data/csv.h>
#include <focalgrad/data/idx.h>
#include <focalgrad/data/image.h>
#include <focalgrad/data/image_folder.h>
#include <focalgrad/data/imbalance.h>
#include <focalgrad/data/loader.h>
#include <focalgrad/data/metrics.h>
#include <focalgrad/data/mnist.h>
#include <focalgrad/data/sampling.h>
#include <focalgrad/data/synthetic.h>
#include <focalgrad/data/tensor_dataset.h>
#include <focalgrad/detection/detection.h>
#include <focalgrad/losses/losses.h>
#include <focalgrad/nn/architecture.h>
#include <focalgrad/nn/checkpoint.h>
#include <focalgrad/nn/init.h>
#include <focalgrad/nn/layers.h>
#include <focalgrad/nn/module.h>
#include <focalgrad/optim/optimizer.h>
#include <focalgrad/optim/scheduler.h>
#include <focalgrad/report/chart.h>
#include <focalgrad/report/json.h>
#include <focalgrad/report/runs.h>
#include <focalgrad/report/svg.h>
#include <focalgrad/report/table.h>
#include <focalgrad/train/history.h>
#include <focalgrad/train/loop.h>
#include <focalgrad/train/memory.h>
#include <focalgrad/train/trainer.h>
