// detection.h — the building blocks of a one-stage detector in one include: boxes and the
// box coder (box.h), anchors, their assignment and dense targets (anchors.h), NMS and
// inference (nms.h), COCO AP and JSON (coco.h), and the digits-on-a-canvas data (canvas.h).
// Not here: the network, the losses (losses/), training loops (examples/).
#pragma once

#include <focalgrad/detection/anchors.h>
#include <focalgrad/detection/box.h>
#include <focalgrad/detection/canvas.h>
#include <focalgrad/detection/coco.h>
#include <focalgrad/detection/nms.h>
