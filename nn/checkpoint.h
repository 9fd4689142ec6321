// checkpoint.h — saving and loading a module's parameters, by name, in a small binary
// format with a CRC. Saving is atomic: the file is written beside the target, flushed to
// disk, then renamed over it, so the target path holds either the old checkpoint or the
// complete new one, never a mix. Loading validates the whole file, and its fit to the
// model, before it writes a single parameter: on any error the model is unchanged. It
// reads the header and every record's header first, checking each declared size against
// the file's length and each name and shape against the model, so a file that does not
// fit is refused before its data is read, whatever its size.
// Not here: optimizer state, non-float tensors, other frameworks' formats.
//
// Format, version 1. Integers are unsigned little-endian unless marked; floats are
// IEEE-754 binary32, little-endian.
//
//   offset  size      field
//   0       8         magic: the ASCII bytes "FOCALGRD"
//   8       4         format version (1)
//   12      4         number of tensors T
//   16      ...       T records, in named_parameters() order:
//                       4         name length L (1 to 4096)
//                       L         name, UTF-8, e.g. "0.weight" (unique in the file)
//                       4         rank R (0 to 8)
//                       8 R       sizes, signed 64-bit each, >= 0
//                       4 n       data: n = product of the sizes, row-major
//   end - 4 4         CRC-32 (zlib's, as in gzip and PNG) of every byte before it
#pragma once

#include <cstdint>
#include <string>

#include <focalgrad/nn/module.h>

namespace focalgrad {

// Writes every parameter of `module` to `path` atomically (core/io.h AtomicFile: a
// temporary file beside it, fsync, rename; a device, FIFO or directory at `path` is
// refused).
// Throws focalgrad::Error if anything fails; the target is then left as it was and the
// temporary file is removed.
void save(const Module& module, const std::string& path);

// Reads `path` into the parameters of `module`. The file must hold exactly the module's
// parameter names, each with the module's shape. Throws focalgrad::Error naming the
// problem (truncated or corrupt file, wrong magic or version, a missing, extra or
// mis-shaped tensor) and leaves the module unchanged.
void load(Module& module, const std::string& path);

}  // namespace focalgrad
