// error.h — the one exception type of focalgrad, and the check macro that raises it.
// Every message names the op, the shapes or values involved, and what was expected:
//   matmul: inner dimensions differ: a is [32, 784], b is [100, 10]
// Deliberately not here: error codes, warnings, logging.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace focalgrad {

struct Error : std::runtime_error {
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// str("a is ", shape, ", b is ", 3) — concatenates anything with an operator<<.
template <class... Parts>
std::string str(Parts&&... parts) {
    std::ostringstream os;
    (os << ... << std::forward<Parts>(parts));
    return os.str();
}

}  // namespace focalgrad

// FG_CHECK(cond, "op: what went wrong: ", details...) throws focalgrad::Error.
// A macro so that the message is only built when the check fails (hot paths stay cheap).
#define FG_CHECK(cond, ...)                                                   \
    do {                                                                      \
        if (!(cond)) throw ::focalgrad::Error(::focalgrad::str(__VA_ARGS__)); \
    } while (0)
