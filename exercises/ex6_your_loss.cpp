// Exercise 6 — a loss of your own choice, as one op with a hand-written backward.
//
// Pick a loss on logits z [N, C] with class targets t (mean over rows), for example:
//   the Brier score        ℓ = Σ_j (p_j - [j = t])²           (worked out in solutions/)
//   Poly-1                 ℓ = -log p_t + ε (1 - p_t)          (Leng et al. 2022)
//   label smoothing        ℓ = -Σ_j ((1 - ε)[j = t] + ε/C) log p_j
//   your own idea
// Write the math of its forward and backward here, then the code: compute the forward,
// and record() a closure that adds dℓ/dz into z's gradient (accumulate_grad), as
// core/ops_*.cpp and losses/*.cpp do.
//
// Then write my_loss_invariant: something true of your loss that does not use your
// gradient, checked on the logits and targets the test gives (see docs/exercises.md for
// ideas: a value you know by hand, a limit, a symmetry). Return true when it holds.
// The tests gradcheck your loss on random logits and call your invariant.
// Test: make exercises N=6.
#include <vector>

#include <focalgrad/core/autograd.h>
#include <focalgrad/core/tensor.h>

#include "exercise.h"

namespace exercises {

focalgrad::Tensor my_loss(const focalgrad::Tensor& logits, const std::vector<int>& targets) {
    (void)logits, (void)targets;
    throw NotImplemented("exercise 6: my_loss (exercises/ex6_your_loss.cpp)");
}

bool my_loss_invariant(const focalgrad::Tensor& logits, const std::vector<int>& targets) {
    (void)logits, (void)targets;
    throw NotImplemented("exercise 6: my_loss_invariant (exercises/ex6_your_loss.cpp)");
}

}  // namespace exercises
