// tiny_retinanet.h — the detector of examples/dense_digits (and of bench/bench_dense): a
// small fully convolutional backbone at stride 4 and RetinaNet's two heads, A anchors x C
// sigmoid logits and A x 4 box offsets per cell, with RetinaNet's initialisation (the prior
// bias of the classification head included). Not here: FPN levels, the heads' conv towers.
#pragma once

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <focalgrad/core/ops.h>
#include <focalgrad/core/random.h>
#include <focalgrad/nn/init.h>
#include <focalgrad/nn/layers.h>

namespace focalgrad::examples {

struct HeadOutput {
    Tensor logits;   // [B, A, C]
    Tensor offsets;  // [B, A, 4]
};

// conv 3x3 -> ReLU -> max-pool 2, twice, then conv 3x3 -> ReLU for the remaining widths: a
// [B, F, H/4, W/4] feature map; two 1x1 heads read it. RetinaNet's heads are towers of four
// 3x3 convs; at 16 x 16 cells one 1x1 conv keeps the step cheap and still learns.
class TinyRetinaNet : public Module {
public:
    TinyRetinaNet(const std::vector<int64_t>& widths, int64_t per_cell, int64_t classes, Generator& gen)
        : per_cell_(per_cell), classes_(classes) {
        backbone = register_module("backbone", std::make_shared<Sequential>());
        int64_t in = 1;
        for (size_t i = 0; i < widths.size(); ++i) {
            backbone->add(Conv2d(in, widths[i], 3, 1, 1, true, gen));
            backbone->add(ReLU());
            if (i < 2) backbone->add(MaxPool2d(2));
            in = widths[i];
        }
        for (auto& [name, p] : backbone->named_parameters()) {
            if (p.dim() == 4)
                init::kaiming_normal_(p, 0, init::FanMode::fan_in, init::Nonlinearity::relu, gen);
            else
                init::zeros_(p);
        }
        cls = register_module("cls", std::make_shared<Conv2d>(in, per_cell * classes, 1, 1, 0, true, gen));
        box = register_module("box", std::make_shared<Conv2d>(in, per_cell * 4, 1, 1, 0, true, gen));
        // RetinaNet's head init: weights N(0, 0.01), box bias 0, classification bias set by
        // set_prior below.
        init::normal_(cls->weight, 0, 0.01, gen);
        init::normal_(box->weight, 0, 0.01, gen);
        init::zeros_(box->bias);
    }

    // Every classification logit starts at b: σ(b) = π for b = -log((1 - π) / π), so each of
    // the ~1,400 negatives per positive starts with a small loss, -log(1 - π) ≈ π, instead of
    // log 2. π = 0 gives b = 0 (σ = 0.5).
    void set_prior(double prior) {
        float b = prior > 0 ? float(-std::log((1 - prior) / prior)) : 0.0f;
        std::fill(cls->bias.data(), cls->bias.data() + cls->bias.numel(), b);
    }

    Tensor forward(const Tensor& x) override { return heads(x).logits; }
    std::string describe() const override { return "TinyRetinaNet"; }

    // [B, A·C, H, W] -> [B, H, W, A·C] -> [B, H·W·A, C]: the anchor order of make_anchors.
    HeadOutput heads(const Tensor& x) {
        Tensor f = (*backbone)(x);
        int64_t B = f.size(0);
        Tensor c = permute((*cls)(f), {0, 2, 3, 1});
        Tensor o = permute((*box)(f), {0, 2, 3, 1});
        return {reshape(c, {B, -1, classes_}), reshape(o, {B, -1, 4})};
    }

    std::shared_ptr<Sequential> backbone;
    std::shared_ptr<Conv2d> cls, box;

private:
    int64_t per_cell_, classes_;
};

}  // namespace focalgrad::examples
