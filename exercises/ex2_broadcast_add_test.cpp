// Exercise 2 — the backward of a broadcasting add.
// Its tests (sum_to_shape); run them with `make exercises N=2`.
#include <focalgrad/core/gradcheck.h>
#include <focalgrad/core/kernels.h>
#include <focalgrad/core/ops.h>

#include "../tests/helpers.h"
#include "exercise.h"

using namespace focalgrad;

namespace exercises {
Tensor sum_to_shape(const Tensor& dz, const Shape& shape);  // ex2_broadcast_add.cpp
}

namespace {

// a + b whose backward is yours.
Tensor my_add(const Tensor& a, const Tensor& b) {
    Tensor z = broadcast_zip("my_add", a, b, [](float u, float v) { return u + v; });
    record("my_add", {a, b}, z, [a, b](const Tensor& dz, const Tensor&) {
        if (a.requires_grad()) accumulate_grad(a, exercises::sum_to_shape(dz, a.shape()));
        if (b.requires_grad()) accumulate_grad(b, exercises::sum_to_shape(dz, b.shape()));
    });
    return z;
}

Tensor arange_shaped(const Shape& shape) { return Tensor::arange(float(shape.numel())).view(shape); }

}  // namespace

TEST_CASE("exercise 2: sum_to_shape sums over the stretched dimensions") {
    Tensor dz = arange_shaped({2, 3});  // [[0, 1, 2], [3, 4, 5]]
    Tensor same = exercises::sum_to_shape(dz, {2, 3});
    CHECK(same.shape() == Shape{2, 3});
    fgtest::check_close(same, {0, 1, 2, 3, 4, 5}, 0, 0);
    Tensor rows = exercises::sum_to_shape(dz, {3});  // a missing leading dimension
    CHECK(rows.shape() == Shape{3});
    fgtest::check_close(rows, {3, 5, 7}, 0, 0);
    Tensor cols = exercises::sum_to_shape(dz, {2, 1});  // a size-1 dimension
    CHECK(cols.shape() == Shape{2, 1});
    fgtest::check_close(cols, {3, 12}, 0, 0);
    Tensor both = exercises::sum_to_shape(dz, {1, 3});
    CHECK(both.shape() == Shape{1, 3});
    fgtest::check_close(both, {3, 5, 7}, 0, 0);
    Tensor all = exercises::sum_to_shape(dz, {});  // a 0-d scalar was stretched everywhere
    CHECK(all.shape() == Shape{});
    fgtest::check_close(all, {15}, 0, 0);
    // [2, 3, 4] onto [3, 1]: both kinds at once.
    Tensor big = exercises::sum_to_shape(arange_shaped({2, 3, 4}), {3, 1});
    CHECK(big.shape() == Shape{3, 1});
    fgtest::check_close(big,
                        {(0 + 1 + 2 + 3) + (12 + 13 + 14 + 15), (4 + 5 + 6 + 7) + (16 + 17 + 18 + 19),
                         (8 + 9 + 10 + 11) + (20 + 21 + 22 + 23)},
                        0, 0);
}

TEST_CASE("exercise 2: gradcheck of a broadcasting add built on your sum_to_shape") {
    Generator gen(2);
    const std::vector<std::pair<Shape, Shape>> pairs = {
        {{2, 3}, {2, 3}}, {{2, 3}, {3}}, {{4, 1}, {1, 5}}, {{2, 3, 4}, {3, 1}}, {{3}, {}}};
    for (const auto& [sa, sb] : pairs) {
        CAPTURE(sa);
        CAPTURE(sb);
        // Multiplying by a random tensor makes every output position count differently.
        Tensor w = Tensor::randn(broadcast_shapes(sa, sb, "test"), gen);
        fgtest::check_gradcheck([&w](const std::vector<Tensor>& in) { return my_add(in[0], in[1]) * w; },
                                {Tensor::randn(sa, gen), Tensor::randn(sb, gen)});
    }
}
