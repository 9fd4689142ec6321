// generalized_ce.h — this project's own loss: the generalized cross-entropy of Zhang and
// Sabuncu (2018), which trades some of cross-entropy's pull on hard samples for robustness
// to wrong labels:
//
//   ℓ = (1 - p_t^q) / q           p = softmax(z), t the target class, 0 < q <= 1
//   dℓ/dz_j = p_t^q (p_j - [j = t])       (cross-entropy's gradient, weighted by p_t^q)
//
// q -> 0 gives cross-entropy, q = 1 gives 1 - p_t. Logits [N, C], targets [N], mean over
// the batch. Not here: class weights, ignore_index, extra dimensions.
#pragma once

#include <vector>

#include <focalgrad/core/tensor.h>

namespace userproject {

focalgrad::Tensor generalized_cross_entropy(const focalgrad::Tensor& logits, const std::vector<int>& targets,
                                            float q);

}  // namespace userproject
