// bench_dense.cpp — how fast does examples/dense_digits train, and how much of a step is the
// classification loss? Times the training step of its detector (64 x 64 canvases, 2,304
// anchors x 10 classes, batch 16: forward, targets, sigmoid focal loss γ = 2 and smooth L1,
// backward, SGD) and, on the same batch's logits, the classification loss's forward and
// backward alone; prints canvases per second and the loss's share of the step.
//   build/bin/bench_dense [--quick]     (--quick: fewer repetitions)
#include <cstdio>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/detection/detection.h>
#include <focalgrad/losses/losses.h>
#include <focalgrad/optim/optimizer.h>

#include "../examples/tiny_retinanet.h"
#include "workloads.h"

using namespace fgbench;
using focalgrad::examples::HeadOutput;
using focalgrad::examples::TinyRetinaNet;

int main(int argc, char** argv) {
    if (help_requested(
            argc, argv,
            "bench_dense: the training step of examples/dense_digits (canvases per second) and the "
            "share of it spent in the classification loss (forward + backward).\nusage: bench_dense "
            "[--quick] [--no-header]"))
        return 0;
    const bool quick = has_flag(argc, argv, "--quick");
    bool real = false;
    Dataset digits = training_images(&real);
    CanvasSet set = make_canvases(digits, 256, 1);
    AnchorGrid grid = canvas_anchor_grid(set, 4);
    Tensor anchors = make_anchors(grid);
    if (!has_flag(argc, argv, "--no-header")) {
        std::printf("bench_dense: canvases of %s, %d threads\n\n", real ? "MNIST digits" : "random images",
                    num_threads());
        table_header();
    }
    Generator gen(0);
    TinyRetinaNet net({16, 32, 64}, grid.per_cell(), set.num_classes(), gen);
    net.set_prior(0.01);
    SGD opt(net.parameters(), 0.01, 0.9, 0, 1e-4);
    const int64_t batch = 16;  // examples/dense_digits's default
    int64_t next = 0;
    auto batch_indices = [&] {
        std::vector<int64_t> idx;
        for (int64_t i = 0; i < batch; ++i) idx.push_back((next + i) % set.count());
        next += batch;
        return idx;
    };
    auto focal = [](const Tensor& logits, const DenseTargets& t) {
        SigmoidFocalLossOptions o;
        o.weight = t.label_weights;
        o.normalizer = double(std::max<int64_t>(1, t.num_positive));
        return sigmoid_focal_loss(logits, t.labels, o);
    };
    const PixelStats stats{0.05, 0.2};
    const int reps = quick ? 3 : 9;
    double step = median_seconds(
        [&] {
            std::vector<int64_t> idx = batch_indices();
            DenseTargets t = dense_targets(anchors, set.truth, idx, set.num_classes());
            HeadOutput out = net.heads(canvas_batch(set, idx, stats));
            RegressionLossOptions ro;
            ro.weight = t.box_weights;
            ro.normalizer = double(std::max<int64_t>(1, t.num_positive));
            Tensor loss = focal(out.logits, t) + smooth_l1_loss(out.offsets, t.box_targets, 1.0f / 9, ro);
            opt.zero_grad();
            loss.backward();
            opt.step();
        },
        reps, 2);
    std::vector<int64_t> idx = batch_indices();
    DenseTargets t = dense_targets(anchors, set.truth, idx, set.num_classes());
    Tensor logits;
    {
        NoGradGuard no_grad;
        logits = net.heads(canvas_batch(set, idx, stats)).logits;
    }
    logits.set_requires_grad(true);
    double loss = median_seconds(
        [&] {
            logits.zero_grad();
            focal(logits, t).backward();
        },
        reps * 2, 2);
    table_row(
        str("dense_digits training step, batch 16, ", num_threads(), " threads (share in the focal loss)"),
        fmt("%.0f canvases/s", double(batch) / step),
        str(fmt("step %.1f ms, ", step * 1e3), fmt("loss fwd+bwd %.1f ms", loss * 1e3)),
        fmt("%.0f %% in the loss", 100 * loss / step), "");
    return 0;
}
