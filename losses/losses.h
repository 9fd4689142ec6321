// losses.h — every loss of focalgrad in one include. Each is a single fused op on logits
// (never probabilities) with an analytic backward; docs/losses.md derives them. Each also
// has a reference:: form, the same math as plain loops in double, for reading and testing.
//   cross_entropy            softmax CE: class weights, ignore_index, label smoothing,
//                            probability targets (torch.nn.functional.cross_entropy)
//   balanced_cross_entropy   CE weighted from class counts (class_weights: inverse
//                            frequency, inverse sqrt, effective number)
//   balanced_binary_cross_entropy   sigmoid BCE, α for positives and 1 - α for negatives
//                            (element weights, α per class, a caller's denominator)
//   focal_loss               softmax (multiclass) focal loss, α none / scalar / per class
//   sigmoid_focal_loss       binary / multilabel focal loss (torchvision; SMP variants;
//                            element weights, α per class, a caller's denominator)
//   smp_multiclass_focal_loss   SMP's FocalLoss(mode="multiclass"): C binary focal losses
//   l1_loss, smooth_l1_loss, giou_loss   box regression (weights, a caller's denominator)
//   ohem, hard_negative_mining   hard-example mining on per-example losses (OHEM, SSD)
//   loss_toolkit.h           what they share (layout, target checks, reductions), for a loss of
//                            your own (docs/extending.md)
// Not here: ranking losses.
#pragma once

#include <focalgrad/losses/balanced_cross_entropy.h>
#include <focalgrad/losses/box_regression.h>
#include <focalgrad/losses/cross_entropy.h>
#include <focalgrad/losses/focal_loss.h>
#include <focalgrad/losses/hard_mining.h>
#include <focalgrad/losses/loss_toolkit.h>
#include <focalgrad/losses/reduction.h>
#include <focalgrad/losses/sigmoid_focal_loss.h>
