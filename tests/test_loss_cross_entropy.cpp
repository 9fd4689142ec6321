// test_loss_cross_entropy.cpp — cross_entropy (class-index and probability targets): values
// and gradients against the double reference over every option combination, gradcheck per
// reduction, invariants, extreme inputs, argument errors, and fused = composed from core ops.
#include <cmath>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/losses/cross_entropy.h>

#include "helpers.h"
#include "test_loss_reference.h"

using namespace focalgrad;
using lossref::random_weights;
using lossref::reduce_reference;
using lossref::Ref;
using lossref::to_tensor;
using lossref::Vec;

namespace {

// Random probability rows (softmax of random scores), shape [N, C].
Tensor random_probs(int64_t N, int64_t C, uint64_t seed) {
    Tensor s = lossref::random_logits(N, C, seed + 9000, 1.5f);
    Tensor y = Tensor::empty({N, C});
    for (int64_t i = 0; i < N; ++i) {
        Vec lp = lossref::log_softmax(lossref::row_of(s, i));
        for (int64_t j = 0; j < C; ++j) y.data()[i * C + j] = float(std::exp(lp[size_t(j)]));
    }
    return y;
}

const Reduction kReductions[] = {Reduction::None, Reduction::Mean, Reduction::Sum};

}  // namespace

TEST_CASE("cross_entropy matches the double reference for every option combination") {
    const int64_t N = 64, C = 10;
    for (uint64_t seed : {1u, 2u, 3u})
        for (bool weighted : {false, true})
            for (bool with_ignored : {false, true})
                for (float eps : {0.0f, 0.1f})
                    for (Reduction reduction : kReductions) {
                        CAPTURE(seed);
                        CAPTURE(weighted);
                        CAPTURE(with_ignored);
                        CAPTURE(eps);
                        CAPTURE(reduction);
                        Tensor logits = lossref::random_logits(N, C, seed);
                        std::vector<int> t = lossref::random_targets(N, C, seed, with_ignored ? 0.2 : 0.0);
                        Vec w = weighted ? random_weights(C, seed) : Vec{};
                        CrossEntropyOptions o;
                        if (weighted) o.weight = to_tensor(w);
                        o.label_smoothing = eps;
                        o.reduction = reduction;
                        lossref::Run r = lossref::run([&](const Tensor& x) { return cross_entropy(x, t, o); },
                                                      logits, seed);
                        auto valid = [&](int64_t i) { return t[size_t(i)] != o.ignore_index; };
                        Ref ref = reduce_reference(
                            logits,
                            [&](const Vec& z, int64_t i) {
                                return valid(i) ? lossref::ce_row(z, t[size_t(i)], w, eps) : 0.0;
                            },
                            [&](int64_t i) {
                                return valid(i) ? lossref::weight_of(w, size_t(t[size_t(i)])) : 0.0;
                            },
                            reduction, r.upstream);
                        lossref::check_rel(r.out, ref.out, 1e-5, "loss");
                        lossref::check_rel(r.grad, ref.grad, 1e-5, "gradient");
                    }
}

TEST_CASE("cross_entropy: ignore_index may be a real class, and then that class is ignored") {
    const int64_t N = 32, C = 5;
    Tensor logits = lossref::random_logits(N, C, 11);
    std::vector<int> t = lossref::random_targets(N, C, 11);
    CrossEntropyOptions o;
    o.ignore_index = 2;
    lossref::Run r = lossref::run([&](const Tensor& x) { return cross_entropy(x, t, o); }, logits, 11);
    Ref ref = reduce_reference(
        logits,
        [&](const Vec& z, int64_t i) {
            return t[size_t(i)] == 2 ? 0.0 : lossref::ce_row(z, t[size_t(i)], {}, 0.0);
        },
        [&](int64_t i) { return t[size_t(i)] == 2 ? 0.0 : 1.0; }, Reduction::Mean, r.upstream);
    lossref::check_rel(r.out, ref.out, 1e-5, "loss");
    lossref::check_rel(r.grad, ref.grad, 1e-5, "gradient");
}

TEST_CASE("cross_entropy on [N, C, d1, d2] logits equals the per-pixel rows") {
    // Logits [2, 4, 3, 5]: row (n, k) holds x[n, :, k] for the 15 positions k.
    const int64_t N = 2, C = 4, H = 3, W = 5, P = H * W;
    Generator gen(5);
    Tensor logits = Tensor::normal({N, C, H, W}, 0.0f, 2.0f, gen);
    std::vector<int> t = lossref::random_targets(N * P, C, 5, 0.1);
    Tensor rows = Tensor::empty({N * P, C});  // the same logits as [N * H * W, C]
    for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < C; ++j)
            for (int64_t k = 0; k < P; ++k)
                rows.data()[(n * P + k) * C + j] = logits.data()[(n * C + j) * P + k];
    Vec w = random_weights(C, 5);
    for (Reduction reduction : kReductions) {
        CAPTURE(reduction);
        CrossEntropyOptions o;
        o.weight = to_tensor(w);
        o.label_smoothing = 0.05f;
        o.reduction = reduction;
        lossref::Run r = lossref::run([&](const Tensor& x) { return cross_entropy(x, t, o); }, logits, 5);
        if (reduction == Reduction::None) {
            Tensor y = cross_entropy(logits, t, o);
            CHECK(y.shape() == Shape{N, H, W});
        }
        auto valid = [&](int64_t i) { return t[size_t(i)] != o.ignore_index; };
        Ref ref = reduce_reference(
            rows,
            [&](const Vec& z, int64_t i) {
                return valid(i) ? lossref::ce_row(z, t[size_t(i)], w, 0.05) : 0.0;
            },
            [&](int64_t i) { return valid(i) ? w[size_t(t[size_t(i)])] : 0.0; }, reduction, r.upstream);
        lossref::check_rel(r.out, ref.out, 1e-5, "loss");
        Vec grad(ref.grad.size());  // back from rows to [N, C, H, W]
        for (int64_t n = 0; n < N; ++n)
            for (int64_t j = 0; j < C; ++j)
                for (int64_t k = 0; k < P; ++k)
                    grad[size_t((n * C + j) * P + k)] = ref.grad[size_t((n * P + k) * C + j)];
        lossref::check_rel(r.grad, grad, 1e-5, "gradient");
    }
}

TEST_CASE("cross_entropy with probability targets matches the double reference") {
    const int64_t N = 64, C = 10;
    for (uint64_t seed : {1u, 2u, 3u})
        for (bool weighted : {false, true})
            for (float eps : {0.0f, 0.1f})
                for (Reduction reduction : kReductions) {
                    CAPTURE(seed);
                    CAPTURE(weighted);
                    CAPTURE(eps);
                    CAPTURE(reduction);
                    Tensor logits = lossref::random_logits(N, C, seed);
                    Tensor y = random_probs(N, C, seed);
                    Vec w = weighted ? random_weights(C, seed) : Vec{};
                    CrossEntropyOptions o;
                    if (weighted) o.weight = to_tensor(w);
                    o.label_smoothing = eps;
                    o.reduction = reduction;
                    lossref::Run r =
                        lossref::run([&](const Tensor& x) { return cross_entropy(x, y, o); }, logits, seed);
                    // PyTorch's mean for probability targets divides by N, whatever the weights.
                    Ref ref = reduce_reference(
                        logits,
                        [&](const Vec& z, int64_t i) {
                            return lossref::soft_ce_row(z, lossref::row_of(y, i), w, eps);
                        },
                        [](int64_t) { return 1.0; }, reduction, r.upstream);
                    lossref::check_rel(r.out, ref.out, 1e-5, "loss");
                    lossref::check_rel(r.grad, ref.grad, 1e-5, "gradient");
                }
}

TEST_CASE("cross_entropy: one-hot probability targets give the same loss as class indices") {
    const int64_t N = 16, C = 6;
    Tensor logits = lossref::random_logits(N, C, 8);
    std::vector<int> t = lossref::random_targets(N, C, 8);
    Tensor onehot = Tensor::zeros({N, C});
    for (int64_t i = 0; i < N; ++i) onehot.data()[i * C + t[size_t(i)]] = 1.0f;
    CrossEntropyOptions o;
    o.label_smoothing = 0.2f;  // the same smoothing enters both forms alike (no weights)
    CHECK(cross_entropy(logits, onehot, o).item() == lossref::rel(cross_entropy(logits, t, o).item(), 1e-6));
}

TEST_CASE("cross_entropy passes gradcheck for each reduction (index and probability targets)") {
    const int64_t N = 5, C = 4;
    Tensor logits = lossref::random_logits(N, C, 21, 1.0f);
    std::vector<int> t = {0, 3, -100, 1, 2};
    Tensor y = random_probs(N, C, 21);
    for (Reduction reduction : kReductions) {
        CAPTURE(reduction);
        CrossEntropyOptions o;
        o.weight = Tensor::from({0.5f, 2.0f, 1.0f, 1.5f});
        o.label_smoothing = 0.1f;
        o.reduction = reduction;
        fgtest::check_gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], t, o); },
                                {logits});
        fgtest::check_gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], y, o); },
                                {logits});
    }
}

TEST_CASE("cross_entropy of uniform logits is log C, with gradient (1/C - [j = t]) / N") {
    for (int64_t C : {2, 10, 1000}) {
        CAPTURE(C);
        const int64_t N = 7;
        Tensor logits = Tensor::full({N, C}, 3.5f).set_requires_grad(true);
        std::vector<int> t(static_cast<size_t>(N));
        for (int64_t i = 0; i < N; ++i) t[size_t(i)] = int(i % C);
        Tensor loss = cross_entropy(logits, t);
        CHECK(loss.item() == lossref::rel(std::log(double(C)), 1e-6));
        loss.backward();
        for (int64_t i = 0; i < N; ++i)
            for (int64_t j = 0; j < C; ++j)
                CHECK(logits.grad().at({i, j}) ==
                      lossref::rel((1.0 / double(C) - (j == t[size_t(i)])) / double(N), 1e-5));
    }
}

TEST_CASE("cross_entropy: extreme logits give finite losses and gradients; a perfect sample gives 0") {
    Tensor logits = Tensor::from({1e4f, -1e4f, 0.0f,     //
                                  -1e4f, 1e4f, 1e4f,     //
                                  1e4f, -1e4f, 0.0f,     //
                                  -1e4f, -1e4f, -1e4f},  //
                                 {4, 3});
    std::vector<int> t = {0, 1, 1, 2};
    for (float eps : {0.0f, 0.1f}) {
        CrossEntropyOptions o;
        o.label_smoothing = eps;
        o.reduction = Reduction::None;
        lossref::Run r = lossref::run([&](const Tensor& x) { return cross_entropy(x, t, o); }, logits, 3);
        for (float v : r.out) CHECK(std::isfinite(v));
        for (float g : r.grad) CHECK(std::isfinite(g));
        if (eps == 0.0f) {
            CHECK(r.out[0] == 0.0f);                                       // p_t = 1 exactly in float
            for (int j = 0; j < 3; ++j) CHECK(r.grad[size_t(j)] == 0.0f);  // perfectly classified
            CHECK(r.out[1] == lossref::rel(std::log(2.0), 1e-6));          // a tie between two
            CHECK(r.out[2] == lossref::rel(2e4, 1e-6));                    // maximally wrong
            CHECK(r.out[3] == lossref::rel(std::log(3.0), 1e-6));
        }
    }
}

TEST_CASE("cross_entropy keeps relative accuracy as p_t -> 1 (loss far below float epsilon)") {
    // Row [z, 0]: ℓ = log(1 + e^-z) ~ e^-z. A naive log-sum-exp rounds 1 + e^-z to 1 and
    // returns 0 for z > 17; here the loss and the target's gradient stay relatively exact.
    for (float z : {5.0f, 17.0f, 30.0f, 80.0f}) {
        CAPTURE(z);
        Tensor logits = Tensor::from({z, 0.0f}, {1, 2}).set_requires_grad(true);
        Tensor loss = cross_entropy(logits, std::vector<int>{0});
        double expected = std::log1p(std::exp(-double(z)));
        CHECK(loss.item() == lossref::rel(expected, 1e-6));
        loss.backward();
        double p_other = 1.0 / (1.0 + std::exp(double(z)));
        CHECK(logits.grad().at({0, 0}) == lossref::rel(-p_other, 1e-5));
        CHECK(logits.grad().at({0, 1}) == lossref::rel(p_other, 1e-5));
    }
}

TEST_CASE("cross_entropy: a mean over no sample is 0 with a zero gradient") {
    Tensor logits = lossref::random_logits(4, 3, 2).set_requires_grad(true);
    Tensor loss = cross_entropy(logits, std::vector<int>(4, -100));
    CHECK(loss.item() == 0.0f);
    loss.backward();
    for (float g : logits.grad().to_vector()) CHECK(g == 0.0f);
    CrossEntropyOptions o;  // the same when every counted sample has weight 0
    o.weight = Tensor::from({0.0f, 1.0f, 1.0f});
    CHECK(cross_entropy(logits, std::vector<int>{0, 0, -100, 0}, o).item() == 0.0f);
}

TEST_CASE("losses of an empty batch: Mean and Sum are 0, None is empty, backward works") {
    Tensor logits = Tensor::zeros({0, 4}).set_requires_grad(true);
    for (Reduction reduction : kReductions) {
        CAPTURE(reduction);
        CrossEntropyOptions o;
        o.reduction = reduction;
        Tensor a = cross_entropy(logits, std::vector<int>{}, o);
        Tensor b = cross_entropy(logits, Tensor::zeros({0, 4}), o);
        CHECK(a.numel() == (reduction == Reduction::None ? 0 : 1));
        if (reduction != Reduction::None) {
            CHECK(a.item() == 0.0f);
            CHECK(b.item() == 0.0f);
        }
        a.backward(Tensor::ones(a.shape()));
        CHECK(logits.grad().numel() == 0);
        logits.zero_grad();
    }
}

TEST_CASE("cross_entropy is one op on the tape, and records nothing without grad") {
    Tensor logits = lossref::random_logits(8, 4, 3).set_requires_grad(true);
    std::vector<int> t = lossref::random_targets(8, 4, 3);
    clear_tape();
    Tensor loss = cross_entropy(logits, t);
    CHECK(tape_size() == 1);
    loss.backward();
    {
        NoGradGuard no_grad;
        Tensor l2 = cross_entropy(logits, t);
        CHECK(tape_size() == 0);
        CHECK(!l2.requires_grad());
        CHECK(l2.item() == loss.item());
    }
}

TEST_CASE("cross_entropy gives bit-identical results on 1 and 2 threads") {
    const int64_t N = 20000, C = 10;
    Tensor logits = lossref::random_logits(N, C, 4);
    std::vector<int> t = lossref::random_targets(N, C, 4, 0.1);
    int threads = num_threads();
    set_num_threads(1);
    lossref::Run one = lossref::run([&](const Tensor& x) { return cross_entropy(x, t); }, logits, 4);
    set_num_threads(2);
    lossref::Run two = lossref::run([&](const Tensor& x) { return cross_entropy(x, t); }, logits, 4);
    set_num_threads(threads);
    CHECK(one.out == two.out);
    CHECK(one.grad == two.grad);
}

TEST_CASE("cross_entropy equals the same loss composed from core ops") {
    // log_softmax -> gather -> (weights) -> smoothing term -> mean, through the tape.
    const int64_t N = 32, C = 6;
    Tensor logits = lossref::random_logits(N, C, 6);
    std::vector<int> t = lossref::random_targets(N, C, 6);
    Vec w = random_weights(C, 6);
    const float eps = 0.1f;
    Tensor wt = Tensor::empty({N});  // w[t_i]
    for (int64_t i = 0; i < N; ++i) wt.data()[i] = float(w[size_t(t[size_t(i)])]);
    Tensor weight = to_tensor(w);

    Tensor x1 = logits.clone().set_requires_grad(true);
    CrossEntropyOptions o;
    o.weight = weight;
    o.label_smoothing = eps;
    Tensor fused = cross_entropy(x1, t, o);
    fused.backward();

    Tensor x2 = logits.clone().set_requires_grad(true);
    Tensor logp = log_softmax(x2, 1);                                 // [N, C]
    Tensor nll = neg(gather(logp, t)) * wt;                           // [N]
    Tensor smooth = neg(sum(logp * reshape(weight, {1, C}), 1));      // [N]
    Tensor per_row = nll * (1.0f - eps) + smooth * (eps / float(C));  // [N]
    Tensor composed = sum(per_row) / sum(wt);
    composed.backward();

    CHECK(fused.item() == lossref::rel(composed.item(), 1e-5));
    std::vector<double> g2;
    for (float v : x2.grad().to_vector()) g2.push_back(v);
    fgtest::check_close(x1.grad(), g2, 1e-5, 1e-7);
}

TEST_CASE("cross_entropy with probability targets equals the same loss composed from core ops") {
    // -Σ_c w_c y'_c log p_c per row, then the mean over rows.
    const int64_t N = 24, C = 5;
    const float eps = 0.1f;
    Tensor logits = lossref::random_logits(N, C, 7);
    Tensor y = random_probs(N, C, 7);
    Tensor weight = to_tensor(random_weights(C, 7));
    Tensor x1 = logits.clone().set_requires_grad(true);
    CrossEntropyOptions o;
    o.weight = weight;
    o.label_smoothing = eps;
    Tensor fused = cross_entropy(x1, y, o);
    fused.backward();
    Tensor x2 = logits.clone().set_requires_grad(true);
    Tensor smoothed = y * (1.0f - eps) + eps / float(C);  // [N, C]
    Tensor per_row = neg(sum(log_softmax(x2, 1) * smoothed * reshape(weight, {1, C}), 1));
    Tensor composed = mean(per_row);
    composed.backward();
    CHECK(fused.item() == lossref::rel(composed.item(), 1e-5));
    std::vector<double> g2;
    for (float v : x2.grad().to_vector()) g2.push_back(v);
    fgtest::check_close(x1.grad(), g2, 1e-5, 1e-7);
}

TEST_CASE("cross_entropy rejects bad arguments with clear messages") {
    Tensor logits = lossref::random_logits(4, 3, 1);
    std::vector<int> t = {0, 1, 2, 0};
    CHECK_ERROR(cross_entropy(Tensor::zeros({3}), t), "cross_entropy", "[N, C]", "[3]");
    CHECK_ERROR(cross_entropy(logits, std::vector<int>{0, 1}), "cross_entropy", "2 targets", "4 rows");
    CHECK_ERROR(cross_entropy(logits, std::vector<int>{0, 1, 3, 0}), "target 3", "row 2", "3 classes");
    CHECK_ERROR(cross_entropy(logits, std::vector<int>{0, -1, 2, 0}), "target -1", "row 1");
    CrossEntropyOptions o;
    o.weight = Tensor::from({1.0f, 2.0f});
    CHECK_ERROR(cross_entropy(logits, t, o), "weight", "[3]", "[2]");
    o.weight = Tensor::from({1.0f, -2.0f, 1.0f});
    CHECK_ERROR(cross_entropy(logits, t, o), "weight[1] = -2");
    o.weight = Tensor();
    o.label_smoothing = 1.0f;
    CHECK_ERROR(cross_entropy(logits, t, o), "label_smoothing", "[0, 1)");
    o.label_smoothing = -0.1f;
    CHECK_ERROR(cross_entropy(logits, t, o), "label_smoothing");
    for (float bad : {NAN, INFINITY, -INFINITY}) {
        Tensor x = logits.clone();
        x.data()[7] = bad;
        CHECK_ERROR(cross_entropy(x, t), "cross_entropy", "logits", "[2, 1]");
        CHECK_ERROR(cross_entropy(x, std::vector<int>(4, -100)), "logits", "[2, 1]");  // even if ignored
    }
    // Probability targets.
    Tensor y = Tensor::full({4, 3}, 1.0f / 3);
    CHECK_ERROR(cross_entropy(logits, Tensor::full({4, 2}, 0.5f)), "shape [4, 3]", "[4, 2]");
    Tensor y_bad = y.clone();
    y_bad.data()[5] = 1.5f;
    CHECK_ERROR(cross_entropy(logits, y_bad), "[0, 1]", "1.5");
    o = {};
    o.ignore_index = 0;
    CHECK_ERROR(cross_entropy(logits, y, o), "ignore_index = 0", "probability targets");
}
