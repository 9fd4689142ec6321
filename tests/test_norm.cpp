// test_norm.cpp — batch_norm and layer_norm (core/ops_norm.cpp) and their layers: the
// forward and the running statistics against double-precision definitions, gradients
// against central differences (gradcheck, float) and against double-precision finite
// differences of the double definition, train/eval behaviour, buffers, the same bits on
// 1 and 2 threads, and argument errors.
#include <cmath>
#include <functional>
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/ops.h>
#include <focalgrad/core/parallel.h>
#include <focalgrad/core/random.h>
#include <focalgrad/nn/layers.h>

#include "helpers.h"

using namespace focalgrad;

namespace {

std::vector<double> as_double(const Tensor& t) { return std::vector<double>(t.data(), t.data() + t.numel()); }

// Batch norm by its definition, in double: x [N, C, S...] flattened, per channel.
// Returns y; fills the batch mean and biased var.
std::vector<double> ref_batch_norm(const std::vector<double>& x, const Shape& shape,
                                   const std::vector<double>& g, const std::vector<double>& b, double eps,
                                   std::vector<double>* mean_out = nullptr,
                                   std::vector<double>* var_out = nullptr,
                                   const std::vector<double>* fixed_mean = nullptr,
                                   const std::vector<double>* fixed_var = nullptr) {
    const int64_t N = shape[0], C = shape[1], S = shape.numel() / (N * C);
    std::vector<double> y(x.size());
    for (int64_t c = 0; c < C; ++c) {
        double m = 0, v = 0;
        if (fixed_mean) {
            m = (*fixed_mean)[size_t(c)];
            v = (*fixed_var)[size_t(c)];
        } else {
            for (int64_t n = 0; n < N; ++n)
                for (int64_t s = 0; s < S; ++s) m += x[size_t((n * C + c) * S + s)] / double(N * S);
            for (int64_t n = 0; n < N; ++n)
                for (int64_t s = 0; s < S; ++s)
                    v += std::pow(x[size_t((n * C + c) * S + s)] - m, 2) / double(N * S);
        }
        if (mean_out) mean_out->push_back(m);
        if (var_out) var_out->push_back(v);
        for (int64_t n = 0; n < N; ++n)
            for (int64_t s = 0; s < S; ++s) {
                size_t i = size_t((n * C + c) * S + s);
                y[i] = (x[i] - m) / std::sqrt(v + eps) * g[size_t(c)] + b[size_t(c)];
            }
    }
    return y;
}

// Layer norm by its definition, in double: rows of D values.
std::vector<double> ref_layer_norm(const std::vector<double>& x, int64_t D, const std::vector<double>& g,
                                   const std::vector<double>& b, double eps) {
    std::vector<double> y(x.size());
    for (size_t r = 0; r < x.size() / size_t(D); ++r) {
        double m = 0, v = 0;
        for (int64_t j = 0; j < D; ++j) m += x[r * size_t(D) + size_t(j)] / double(D);
        for (int64_t j = 0; j < D; ++j) v += std::pow(x[r * size_t(D) + size_t(j)] - m, 2) / double(D);
        for (int64_t j = 0; j < D; ++j) {
            size_t i = r * size_t(D) + size_t(j);
            y[i] = (x[i] - m) / std::sqrt(v + eps) * g[size_t(j)] + b[size_t(j)];
        }
    }
    return y;
}

// d(sum(u * f(x)))/dx_i by central differences in double (h = 1e-6: error ~1e-10 here).
std::vector<double> numeric_grad(const std::function<std::vector<double>(const std::vector<double>&)>& f,
                                 std::vector<double> x, const std::vector<double>& u) {
    std::vector<double> grad(x.size());
    const double h = 1e-6;
    for (size_t i = 0; i < x.size(); ++i) {
        const double keep = x[i];
        x[i] = keep + h;
        std::vector<double> plus = f(x);
        x[i] = keep - h;
        std::vector<double> minus = f(x);
        x[i] = keep;
        double d = 0;
        for (size_t k = 0; k < u.size(); ++k) d += u[k] * (plus[k] - minus[k]) / (2 * h);
        grad[i] = d;
    }
    return grad;
}

}  // namespace

TEST_CASE("batch_norm, training: the batch's statistics, running statistics moved, against double") {
    Generator gen(1);
    for (Shape shape : {Shape{6, 3}, Shape{4, 3, 5}, Shape{3, 2, 3, 4}}) {
        CAPTURE(shape);
        const int64_t C = shape[1], M = shape.numel() / C;
        Tensor x = Tensor::normal(shape, 2.0f, 3.0f, gen);
        Tensor w = Tensor::uniform({C}, 0.5f, 1.5f, gen), b = Tensor::uniform({C}, -1.0f, 1.0f, gen);
        Tensor rm = Tensor::uniform({C}, -1.0f, 1.0f, gen), rv = Tensor::uniform({C}, 0.5f, 2.0f, gen);
        std::vector<double> rm0 = as_double(rm), rv0 = as_double(rv);
        Tensor y = batch_norm(x, w, b, rm, rv, true, 0.25f, 1e-5f);
        std::vector<double> mean, var;
        fgtest::check_close(
            y, ref_batch_norm(as_double(x), shape, as_double(w), as_double(b), 1e-5, &mean, &var), 1e-5,
            1e-5);
        std::vector<double> rm1, rv1;
        for (int64_t c = 0; c < C; ++c) {
            rm1.push_back(0.75 * rm0[size_t(c)] + 0.25 * mean[size_t(c)]);
            rv1.push_back(0.75 * rv0[size_t(c)] + 0.25 * var[size_t(c)] * double(M) / double(M - 1));
        }
        fgtest::check_close(rm, rm1, 1e-6, 1e-6);
        fgtest::check_close(rv, rv1, 1e-6, 1e-6);
        // Eval mode uses the running statistics and leaves them as they are.
        Tensor z = batch_norm(x, w, b, rm, rv, false, 0.25f, 1e-5f);
        fgtest::check_close(z,
                            ref_batch_norm(as_double(x), shape, as_double(w), as_double(b), 1e-5, nullptr,
                                           nullptr, &rm1, &rv1),
                            1e-5, 1e-5);
        fgtest::check_close(rm, rm1, 1e-6, 1e-6);
    }
}

TEST_CASE("batch_norm: gradients match gradcheck and double-precision differences, train and eval") {
    Generator gen(2);
    for (bool training : {true, false}) {
        for (Shape shape : {Shape{5, 3}, Shape{3, 2, 4}, Shape{2, 3, 2, 3}}) {
            CAPTURE(training);
            CAPTURE(shape);
            const int64_t C = shape[1];
            Tensor x = Tensor::normal(shape, 0.5f, 2.0f, gen);
            Tensor w = Tensor::uniform({C}, 0.5f, 1.5f, gen), b = Tensor::uniform({C}, -1.0f, 1.0f, gen);
            Tensor rm = Tensor::uniform({C}, -0.5f, 0.5f, gen), rv = Tensor::uniform({C}, 0.5f, 2.0f, gen);
            auto f = [&](const std::vector<Tensor>& in) {
                // Fresh copies: training mode moves the running statistics on every call.
                return batch_norm(in[0], in[1], in[2], rm.clone(), rv.clone(), training, 0.1f, 1e-5f);
            };
            GradcheckOptions opt;
            opt.seed = 7;
            fgtest::check_gradcheck(f, {x, w, b}, opt);

            // dx against the double definition's finite differences, for a random upstream u.
            Tensor u = Tensor::randn(shape, gen);
            Tensor xl = x.clone().set_requires_grad(true);
            batch_norm(xl, w, b, rm.clone(), rv.clone(), training, 0.1f, 1e-5f).backward(u);
            std::vector<double> rmd = as_double(rm), rvd = as_double(rv);
            auto ref = [&](const std::vector<double>& xs) {
                return training ? ref_batch_norm(xs, shape, as_double(w), as_double(b), 1e-5)
                                : ref_batch_norm(xs, shape, as_double(w), as_double(b), 1e-5, nullptr,
                                                 nullptr, &rmd, &rvd);
            };
            fgtest::check_close(xl.grad(), numeric_grad(ref, as_double(x), as_double(u)), 1e-4, 1e-5);
        }
    }
    // Without affine parameters: gamma = 1, beta = 0.
    Tensor x = Tensor::randn({4, 2}, gen);
    fgtest::check_gradcheck(
        [](const std::vector<Tensor>& in) {
            return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true);
        },
        {x});
}

TEST_CASE("layer_norm: rows standardised, against double; gradients by gradcheck and double differences") {
    Generator gen(3);
    struct Case {
        Shape shape;
        std::vector<int64_t> normalized;
    };
    for (const Case& k : {Case{{4, 5}, {5}}, Case{{2, 3, 4}, {4}}, Case{{2, 3, 2}, {3, 2}}}) {
        CAPTURE(k.shape);
        const int64_t D = Shape(k.normalized).numel();
        Tensor x = Tensor::normal(k.shape, -1.0f, 2.0f, gen);
        Tensor w = Tensor::uniform(Shape(k.normalized), 0.5f, 1.5f, gen);
        Tensor b = Tensor::uniform(Shape(k.normalized), -1.0f, 1.0f, gen);
        fgtest::check_close(layer_norm(x, k.normalized, w, b),
                            ref_layer_norm(as_double(x), D, as_double(w), as_double(b), 1e-5), 1e-5, 1e-5);
        auto f = [&](const std::vector<Tensor>& in) { return layer_norm(in[0], k.normalized, in[1], in[2]); };
        fgtest::check_gradcheck(f, {x, w, b});
        Tensor u = Tensor::randn(k.shape, gen);
        Tensor xl = x.clone().set_requires_grad(true);
        layer_norm(xl, k.normalized, w, b).backward(u);
        auto ref = [&](const std::vector<double>& xs) {
            return ref_layer_norm(xs, D, as_double(w), as_double(b), 1e-5);
        };
        fgtest::check_close(xl.grad(), numeric_grad(ref, as_double(x), as_double(u)), 1e-4, 1e-5);
    }
    Tensor x = Tensor::randn({3, 4}, gen);
    fgtest::check_gradcheck([](const std::vector<Tensor>& in) { return layer_norm(in[0], {4}); }, {x});
}

TEST_CASE("batch_norm and layer_norm: the same bits on 1 and 2 threads") {
    Generator gen(4);
    Tensor x = Tensor::randn({64, 8, 12, 12}, gen);  // large enough to be split across threads
    Tensor w = Tensor::uniform({8}, 0.5f, 1.5f, gen), b = Tensor::randn({8}, gen),
           u = Tensor::randn(x.shape(), gen);
    auto run = [&](int threads) {
        set_num_threads(threads);
        Tensor xl = x.clone().set_requires_grad(true), wl = w.clone().set_requires_grad(true);
        Tensor rm = Tensor::zeros({8}), rv = Tensor::ones({8});
        Tensor y = batch_norm(xl, wl, b, rm, rv, true);
        y.backward(u);
        Tensor xn = x.clone().set_requires_grad(true);
        Tensor z = layer_norm(xn, {12, 12}, Tensor(), Tensor());
        z.backward(u);
        std::vector<std::vector<float>> out = {
            y.to_vector(),  xl.grad().to_vector(), wl.grad().to_vector(), rm.to_vector(),
            rv.to_vector(), z.to_vector(),         xn.grad().to_vector()};
        return out;
    };
    int threads = num_threads();
    auto one = run(1), two = run(2);
    set_num_threads(threads);
    CHECK(one == two);
}

TEST_CASE("batch_norm and layer_norm refuse bad arguments with the shapes in the message") {
    Tensor x = Tensor::randn({4, 3});
    CHECK_ERROR(batch_norm(Tensor::randn({4}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                "batch_norm: input must be [N, C, ...], got [4]");
    CHECK_ERROR(batch_norm(x, Tensor::ones({2}), Tensor(), Tensor(), Tensor(), true),
                "batch_norm: weight must have shape [3], got [2]");
    CHECK_ERROR(batch_norm(x, Tensor(), Tensor(), Tensor::zeros({3}), Tensor(), true),
                "give both running_mean and running_var");
    CHECK_ERROR(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false), "eval mode needs running_mean");
    CHECK_ERROR(batch_norm(Tensor::randn({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                "training needs more than one value per channel, got input [1, 3]");
    CHECK_ERROR(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 1.5f),
                "momentum must be in [0, 1]");
    CHECK_ERROR(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1f, 0.0f),
                "eps must be finite and > 0");
    CHECK_ERROR(layer_norm(x, {4}),
                "layer_norm: normalized_shape [4] does not match the trailing dims of the input [4, 3]");
    CHECK_ERROR(layer_norm(x, {}), "must name 1 to 2 trailing dims");
    CHECK_ERROR(layer_norm(x, {3}, Tensor::ones({4})), "layer_norm: weight must have shape [3], got [4]");
}

TEST_CASE("BatchNorm1d/2d: parameters and buffers, train and eval modes, descriptions") {
    BatchNorm2d bn(3, 1e-5f, 0.5f);
    CHECK(bn.describe() == "BatchNorm2d(3, eps=1e-05, momentum=0.5)");
    CHECK(BatchNorm1d(4, 1e-3f, 0.1f, false).describe() ==
          "BatchNorm1d(4, eps=0.001, momentum=0.1, affine=false)");
    auto params = bn.named_parameters(), buffers = bn.named_buffers();
    REQUIRE(params.size() == 2);
    CHECK(params[0].first == "weight");
    CHECK(params[1].first == "bias");
    REQUIRE(buffers.size() == 2);
    CHECK(buffers[0].first == "running_mean");
    CHECK(buffers[1].first == "running_var");
    CHECK(!buffers[0].second.requires_grad());
    CHECK(bn.parameters().size() == 2);  // what an optimizer receives: no buffer
    CHECK(bn.running_var.to_vector() == std::vector<float>{1, 1, 1});

    Generator gen(5);
    Tensor x = Tensor::normal({4, 3, 2, 2}, 3.0f, 2.0f, gen);
    Tensor y = bn(x);  // training: per-channel mean 0, var 1 (gamma 1, beta 0)
    for (int64_t c = 0; c < 3; ++c) {
        double m = 0, v = 0;
        for (int64_t n = 0; n < 4; ++n)
            for (int64_t s = 0; s < 4; ++s) m += y.data()[(n * 3 + c) * 4 + s] / 16.0;
        for (int64_t n = 0; n < 4; ++n)
            for (int64_t s = 0; s < 4; ++s) v += std::pow(y.data()[(n * 3 + c) * 4 + s] - m, 2) / 16.0;
        CHECK(std::fabs(m) < 1e-6);
        CHECK(v == doctest::Approx(1.0).epsilon(1e-4));
    }
    std::vector<float> moved = bn.running_mean.to_vector();
    CHECK(moved != std::vector<float>{0, 0, 0});
    bn.eval();
    Tensor single = bn(index_select(x, 0, {2}));  // one item: fine in eval mode
    Tensor batch = bn(x);
    for (int64_t k = 0; k < 12; ++k) CHECK(single.data()[k] == batch.data()[2 * 12 + k]);
    CHECK(bn.running_mean.to_vector() == moved);  // eval leaves the statistics alone

    CHECK_ERROR(bn(Tensor::randn({4, 3})),
                "BatchNorm2d(3, eps=1e-05, momentum=0.5): expected input [N, 3, H, W], got [4, 3]");
    BatchNorm1d bn1(3);
    CHECK(bn1(Tensor::randn({4, 3})).shape() == Shape{4, 3});
    CHECK(bn1(Tensor::randn({4, 3, 5})).shape() == Shape{4, 3, 5});
    CHECK_ERROR(bn1(Tensor::randn({4, 2})), "expected input [N, 3] or [N, 3, L], got [4, 2]");
    CHECK_ERROR(BatchNorm1d(0), "BatchNorm1d: num_features must be >= 1, got 0");

    // Buffers get hierarchical names, like parameters.
    Sequential net(Linear(2, 3), BatchNorm1d(3), ReLU(), Linear(3, 1), LayerNorm(1));
    auto named = net.named_buffers();
    REQUIRE(named.size() == 2);
    CHECK(named[0].first == "1.running_mean");
    CHECK(named[1].first == "1.running_var");
    CHECK(net.named_parameters().size() == 8);
    CHECK(LayerNorm(std::vector<int64_t>{2, 3}, 1e-6f).describe() == "LayerNorm([2, 3], eps=1e-06)");
    CHECK(LayerNorm(4, 1e-5f, false).named_parameters().empty());
}

TEST_CASE("Module::register_buffer: names shared with parameters, no gradient-requiring buffers") {
    struct M : Module {
        explicit M(int variant) {
            register_parameter("w", Tensor::zeros({1}));
            if (variant == 0) register_buffer("w", Tensor::zeros({1}));
            if (variant == 1) register_buffer("b", Tensor::zeros({1}).set_requires_grad(true));
            if (variant == 2) register_buffer("a.b", Tensor::zeros({1}));
        }
        Tensor forward(const Tensor& x) override { return x; }
    };
    CHECK_ERROR(M(0), "the name 'w' is already registered");
    CHECK_ERROR(M(1), "buffer 'b' must be a defined leaf tensor that does not require grad");
    CHECK_ERROR(M(2), "contain no '.'");
}
