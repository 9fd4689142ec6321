// reduction.h — how a loss turns per-sample values into its output, shared by every loss.
// Not here: the per-loss details of "mean" (weighted means, which samples count): each
// loss's header states its own denominator.
#pragma once

#include <ostream>

namespace focalgrad {

// None: the per-sample (or per-element) losses, shaped like the targets.
// Mean: their sum divided by the loss's denominator (see each loss; e.g. Σ w_t for
//       weighted cross-entropy). A mean over nothing (every sample ignored, or total
//       weight 0) is 0, with a zero gradient; PyTorch returns NaN there instead.
// Sum:  their sum.
enum class Reduction { None, Mean, Sum };

inline const char* to_string(Reduction r) {
    switch (r) {
        case Reduction::None: return "None";
        case Reduction::Mean: return "Mean";
        case Reduction::Sum: return "Sum";
    }
    return "?";
}

inline std::ostream& operator<<(std::ostream& os, Reduction r) { return os << to_string(r); }

}  // namespace focalgrad
