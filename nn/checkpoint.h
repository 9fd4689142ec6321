// checkpoint.h — saving and loading a model, what a program needs to use it, and what a
// training loop needs to resume, in a small binary format with a CRC. Saving is atomic:
// the file is written beside the target, flushed to disk, then renamed over it, so the
// target path holds either the old checkpoint or the complete new one, never a mix.
// Loading validates the whole file, and its fit to the model, before it writes a single
// tensor: on any error the model is unchanged. It reads the header and every record's
// header first, checking each declared size against the file's length and each name,
// type and shape against the model, so a file that does not fit is refused before its
// data is read, whatever its size.
// Not here: other frameworks' formats, memory-mapped loading, compression.
//
// A checkpoint holds
//   - the model's state: every parameter and buffer (module.h) and the state of every
//     generator its forward draws from (Dropout's), by name;
//   - optionally a ModelInfo: the architecture (nn/architecture.h) a program can rebuild
//     the model from, the shape of one input item, the input normalisation and the class
//     names — all that examples/predict needs;
//   - optionally a StateDict (core/state.h): what a training loop needs to resume exactly
//     (the optimizer's state, the schedule's step, the epoch; see train/trainer.h).
//
// Format, version 2. Integers are unsigned little-endian unless marked; floats are
// IEEE-754, little-endian.
//
//   offset  size      field
//   0       8         magic: the ASCII bytes "FOCALGRD"
//   8       4         format version (2)
//   12      4         number of records T (at most 65536)
//   16      ...       T records:
//                       4         name length L (1 to 4096)
//                       L         name, UTF-8, unique in the file (below)
//                       4         element type: 0 float32, 1 float64, 2 int64 (signed), 3 byte
//                       4         rank R (0 to 8)
//                       8 R       sizes, signed 64-bit each, >= 0
//                       e n       data: n = product of the sizes, e = 4, 8, 8 or 1 bytes each
//   end - 4 4         CRC-32 (zlib's, as in gzip and PNG) of every byte before it
//
// A record's name says what it is, by the part before the first ':':
//   model:NAME           float32: parameter or buffer NAME ("model:0.weight",
//                        "model:1.running_mean"); int64 [2]: generator NAME's state and
//                        increment ("model:3.generator")
//   info:architecture    byte [n]: the architecture text
//   info:input_shape     int64 [k]: one item's shape, batch excluded ([2], [1, 28, 28])
//   info:flatten_input   int64 [1]: 1 when the model takes items flattened to [D]
//   info:input_mean      float64 [C]: x = (v - mean[c]) / std[c] per channel (or one for all)
//   info:input_std       float64 [C]
//   info:class_names     byte [n]: the class names, each followed by '\n'
//   state:KEY            a StateDict entry: float32 (a tensor of any rank), int64 [n],
//                        float64 [n], or byte [n] (text)
//
// Version 1 files (weights only: records without the type field, every one a float32
// parameter named without "model:") still load into a model; they hold no ModelInfo and
// no training state, and say so when one is needed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <focalgrad/core/state.h>
#include <focalgrad/nn/module.h>

namespace focalgrad {

// What a program needs besides the tensors to use a model on new inputs.
struct ModelInfo {
    std::string architecture;          // architecture(model), or empty
    std::vector<int64_t> input_shape;  // one item as the data holds it: {D} or {C, H, W}; empty if unknown
    bool flatten_input = false;        // the model takes items flattened to [N, D] (an MLP on images)
    // Standardisation of the inputs, per channel (an item's first dim), or one entry for
    // every value: x = (v - mean[c]) / std[c]. Empty: inputs are used as they are.
    std::vector<double> input_mean, input_std;
    std::vector<std::string> class_names;  // class_names[label]; empty if unknown

    bool empty() const {
        return architecture.empty() && input_shape.empty() && !flatten_input && input_mean.empty() &&
               class_names.empty();
    }
};

// What a file holds besides the model's tensors.
struct Checkpoint {
    uint32_t version = 0;  // 1 or 2
    ModelInfo info;        // empty for version 1
    StateDict state;       // empty for version 1 and for files saved without one
};

// Writes the model's parameters, buffers and generator states, `info` and `state` to
// `path` atomically (core/io.h AtomicFile: a temporary file beside it, fsync, rename; a
// device, FIFO or directory at `path` is refused). Throws
// focalgrad::Error if anything fails; the target is then left as it was and the
// temporary file is removed. `info` is checked first: matching mean and std lengths,
// finite means, std > 0, class names non-empty and without '\n'.
void save(const Module& module, const std::string& path, const ModelInfo& info = {},
          const StateDict& state = {});

// Reads `path` into the module: the file must hold exactly the module's parameters and
// buffers, each with the module's shape, and its generators (a version-1 file holds none
// and leaves them as they are). Returns the rest of the file. Throws focalgrad::Error
// naming the problem (truncated or corrupt file, wrong magic or version, a missing,
// extra or mis-shaped tensor) and leaves the module unchanged.
Checkpoint load(Module& module, const std::string& path);

// The model a file describes, rebuilt from its architecture (nn/architecture.h) and
// loaded, with what else the file holds. A file without an architecture (version 1, or
// saved without one) is refused with a message that says so.
struct LoadedModel {
    std::shared_ptr<Module> model;
    Checkpoint checkpoint;
};
LoadedModel load_model(const std::string& path);

// Throws an Error, led by `what` ("predict: checkpoint 'm.ckpt'"), when a parameter or a
// buffer of `module` holds a NaN or an infinity: it names the first such tensor, the flat
// index and the value, and counts them all. A model trained until it diverged saves and
// loads like any other (load keeps every bit), and then gives the same plausible output
// for every input: a program about to use the weights checks them first.
void check_finite_weights(const Module& module, const std::string& what);

// What a file holds besides the model's tensors (its version, ModelInfo and state),
// checked as load() checks the whole file, without a model: to decide how to use a file
// before building anything, as predict does.
Checkpoint read_checkpoint(const std::string& path);

}  // namespace focalgrad
