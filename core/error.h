// error.h — the one exception type of focalgrad, and the check macro that raises it.
// Every message names the op, the shapes or values involved, and what was expected:
//   matmul: inner dimensions differ: a is [32, 784], b is [100, 10]
// An allocation that fails is an Error too (OutOfMemory), naming what and how big.
// Deliberately not here: error codes, warnings, logging.
#pragma once

#include <cstdio>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
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

// A std::bad_alloc turned into an Error: "conv2d: out of memory allocating the im2col
// buffer of shape [9, 40000800001] (1.4 TB)".
struct OutOfMemory : Error {
    explicit OutOfMemory(const std::string& message) : Error(message) {}
};

// Text read from a file, as an error message shows it: control bytes and the backslash as
// \xNN, so that a corrupt file's bytes can neither cut a message short (a NUL printed with
// "%s") nor reach a terminal raw; cut to its first `max` bytes, "..." marking the cut.
inline std::string printable(std::string_view text, size_t max) {
    std::string out;
    for (size_t i = 0; i < text.size() && i < max; ++i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 || c == 0x7f || c == '\\') {
            char buf[5];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += char(c);
        }
    }
    if (text.size() > max) out += "...";
    return out;
}

// 1440028800036 -> "1.4 TB" (decimal units, as `df -H` and `free --si` print them).
inline std::string byte_size(double bytes) {
    const char* units[] = {"bytes", "kB", "MB", "GB", "TB", "PB", "EB"};
    int u = 0;
    while (bytes >= 1000 && u < 6) {
        bytes /= 1000;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
    return buf;
}

// Runs make(); an allocation failure in it (std::bad_alloc, or the std::length_error of a
// container asked for more than it can ever hold) becomes OutOfMemory with the message
// "<op>: out of memory allocating " + what(), what() giving the object and its size.
template <class Make, class What>
decltype(auto) allocating(const char* op, What&& what, Make&& make) {
    try {
        return make();
    } catch (const std::bad_alloc&) {
        throw OutOfMemory(str(op, ": out of memory allocating ", what()));
    } catch (const std::length_error&) {
        throw OutOfMemory(str(op, ": out of memory allocating ", what()));
    }
}

}  // namespace focalgrad

// FG_CHECK(cond, "op: what went wrong: ", details...) throws focalgrad::Error.
// A macro so that the message is only built when the check fails (hot paths stay cheap).
#define FG_CHECK(cond, ...)                                                   \
    do {                                                                      \
        if (!(cond)) throw ::focalgrad::Error(::focalgrad::str(__VA_ARGS__)); \
    } while (0)
