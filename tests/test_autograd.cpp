// test_autograd.cpp — the tape: accumulation, unused branches, grad mode, clearing,
// the error cases of backward, dead-node sweeping, threads and anomaly detection.
#include <cmath>
#include <limits>
#include <thread>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/memory.h>
#include <focalgrad/core/ops.h>

#include "helpers.h"

using namespace focalgrad;

TEST_CASE("a tensor used twice receives both gradient contributions") {
    // y = x * x + 3x  ->  dy/dx = 2x + 3
    Tensor x = Tensor::from({1, -2, 0.5f}).set_requires_grad();
    Tensor y = sum(x * x + x * 3.0f);
    y.backward();
    fgtest::check_close(x.grad(), {5, -1, 4});
}

TEST_CASE("a branch that does not reach the loss contributes nothing") {
    Tensor x = Tensor::from({1, 2}).set_requires_grad();
    Tensor w = Tensor::from({3, 4}).set_requires_grad();
    Tensor unused = exp(w) * x;  // recorded, but the loss does not depend on it
    Tensor loss = sum(x * 2.0f);
    loss.backward();
    fgtest::check_close(x.grad(), {2, 2});
    CHECK_FALSE(w.has_grad());
    CHECK(tape_size() == 0);
    (void)unused;
}

TEST_CASE("no-grad mode records nothing and restores the previous mode") {
    Tensor x = Tensor::from({1, 2}).set_requires_grad();
    {
        NoGradGuard guard;
        CHECK_FALSE(grad_enabled());
        Tensor y = exp(x) * 2.0f;
        CHECK_FALSE(y.requires_grad());
        CHECK(tape_size() == 0);
        { NoGradGuard nested; }
        CHECK_FALSE(grad_enabled());
    }
    CHECK(grad_enabled());
    Tensor z = exp(x);
    CHECK(z.requires_grad());
    CHECK(tape_size() == 1);
    clear_tape();
}

TEST_CASE("the tape is empty after backward and intermediate gradients are freed") {
    Tensor x = Tensor::randn({4, 3}).set_requires_grad();
    Tensor h = tanh(x);
    Tensor loss = mean(h * h);
    CHECK(tape_size() == 3);
    loss.backward();
    CHECK(tape_size() == 0);
    CHECK(x.has_grad());
    CHECK_FALSE(h.has_grad());  // non-leaf gradients are not kept...
    Tensor h2 = tanh(x);
    h2.retain_grad();  // ...unless asked for
    sum(h2).backward();
    CHECK(h2.has_grad());
    fgtest::check_close(h2.grad(), std::vector<double>(12, 1.0));
}

TEST_CASE("leaf gradients persist across backward calls until zeroed") {
    Tensor w = Tensor::from({2}).set_requires_grad();
    sum(w * 3.0f).backward();
    sum(w * 3.0f).backward();
    fgtest::check_close(w.grad(), {6});
    w.zero_grad();
    CHECK_FALSE(w.has_grad());
    sum(w * 5.0f).backward();
    fgtest::check_close(w.grad(), {5});
}

TEST_CASE("backward with an upstream gradient on a non-scalar output") {
    Tensor x = Tensor::from({1, 2, 3}).set_requires_grad();
    Tensor y = x * x;
    y.backward(Tensor::from({1, 0, -1}));
    fgtest::check_close(x.grad(), {2, 0, -6});
}

TEST_CASE("backward errors: non-scalar, no grad, a second backward, wrong dy") {
    Tensor x = Tensor::from({1, 2}).set_requires_grad();
    CHECK_ERROR((x * 2.0f).backward(), "backward", "[2]", "one-element");
    clear_tape();
    CHECK_ERROR(sum(Tensor::ones({2})).backward(), "backward", "does not require grad");
    Tensor y = sum(exp(x));
    y.backward();
    CHECK_ERROR(y.backward(), "backward", "already consumed", "forward pass again");
    Tensor z = x * 2.0f;
    CHECK_ERROR(z.backward(Tensor::ones({3})), "backward", "[3]", "[2]");
    clear_tape();
}

TEST_CASE("reusing an intermediate whose graph was consumed is refused, not silently cut") {
    Tensor x = Tensor::from({1, 2}).set_requires_grad();
    Tensor h = exp(x);
    sum(h).backward();
    Tensor loss2 = sum(h * 2.0f);  // h's own node is gone
    CHECK_ERROR(loss2.backward(), "already consumed", "[2]");
    CHECK(tape_size() == 0);
    // detach() is the way to reuse it as a constant
    Tensor w = Tensor::from({1, 1}).set_requires_grad();
    sum(h.detach() * w).backward();
    fgtest::check_close(w.grad(), {std::exp(1.0), std::exp(2.0)}, 1e-6);
}

TEST_CASE("set_requires_grad only on leaves; detach cuts the graph") {
    Tensor x = Tensor::from({1, 2}).set_requires_grad();
    Tensor y = x * 2.0f;
    CHECK_ERROR(y.set_requires_grad(false), "set_requires_grad", "leaf");
    Tensor d = y.detach();
    Tensor loss = sum(d * x);
    loss.backward();
    fgtest::check_close(x.grad(), {2, 4});  // d is a constant: d/dx (d . x) = d
}

TEST_CASE("nodes whose results were dropped are swept: the tape stays bounded without backward") {
    Tensor w = Tensor::randn({64}).set_requires_grad();
    int64_t live_before = live_buffer_count();
    for (int step = 0; step < 20000; ++step) {
        Tensor y = tanh(w * 2.0f);  // forgot NoGradGuard, never calls backward
        (void)y;
    }
    CHECK(tape_size() < 10000);
    CHECK(live_buffer_count() - live_before < 10000);
    clear_tape();
    CHECK(live_buffer_count() == live_before);
}

TEST_CASE("each thread has its own tape; a graph cannot cross threads") {
    auto train = [](float start) {
        Tensor w = Tensor::from({start}).set_requires_grad();
        for (int i = 0; i < 100; ++i) {
            Tensor loss = sum(pow(w - 3.0f, 2.0f));
            loss.backward();
            {
                NoGradGuard g;
                w.data()[0] -= 0.1f * w.grad().item();
            }
            w.zero_grad();
        }
        return w.item();
    };
    float alone = train(0.0f);
    float a = 0, b = 0;
    std::thread t1([&] { a = train(0.0f); });
    std::thread t2([&] { b = train(0.0f); });
    t1.join();
    t2.join();
    CHECK(a == alone);
    CHECK(b == alone);

    Tensor x = Tensor::from({1}).set_requires_grad();
    Tensor h = x * 2.0f;
    std::string message;
    std::thread t3([&] { message = fgtest::error_of([&] { (void)exp(h); }); });
    t3.join();
    fgtest::check_contains(message, {"exp", "another thread"});
    clear_tape();
}

TEST_CASE("anomaly detection names the op in forward and in backward") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    Tensor bad = Tensor::from({1, nan});
    {
        DetectAnomalyGuard on;
        CHECK_ERROR(exp(bad), "anomaly", "exp", "nan", "[2]");
        CHECK_ERROR(log(Tensor::from({1, -1})), "anomaly", "log", "index 1");
        // Finite forward, overflowing backward: y = x^0.5 at x = 0 has dy/dx = inf.
        Tensor x = Tensor::from({0.0f, 4.0f}).set_requires_grad();
        Tensor y = sum(sqrt(x));
        CHECK_ERROR(y.backward(), "anomaly detected in backward", "sqrt", "inf", "input #0");
        CHECK(tape_size() == 0);
    }
    CHECK_FALSE(detect_anomaly());
    // Off: results are unchanged, the NaN simply propagates.
    Tensor x = Tensor::from({0.0f, 4.0f}).set_requires_grad();
    sum(sqrt(x)).backward();
    CHECK(std::isinf(x.grad().data()[0]));
    CHECK(x.grad().data()[1] == 0.25f);
    CHECK(std::isnan(exp(bad).data()[1]));
}

TEST_CASE("the worked example of docs/autograd.md") {
    Tensor x = Tensor::from({1, -2}).set_requires_grad();
    Tensor w = Tensor::from({0.5f, 0.5f}).set_requires_grad();
    Tensor a = x * w;
    Tensor h = tanh(a);
    Tensor L = sum(h);
    CHECK(tape_size() == 3);
    CHECK(L.item() == doctest::Approx(-0.2994769986957551).epsilon(1e-6));
    L.backward();
    fgtest::check_close(x.grad(), {0.3932238664829637, 0.20998717080701307}, 1e-6);
    fgtest::check_close(w.grad(), {0.7864477329659274, -0.8399486832280523}, 1e-6);
}
