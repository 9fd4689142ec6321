// version.cpp — the library's own copy of FOCALGRAD_VERSION, compiled in when the library is
// built (a program compiled with other headers still reports the library it links).
#include <focalgrad/core/version.h>

namespace focalgrad {

const char* version() { return FOCALGRAD_VERSION; }

}  // namespace focalgrad
