// utf8.h — where a UTF-8 sequence ends, for the writers that must emit valid UTF-8 (SVG,
// JSON) and for text width estimates. Internal to report/.
// Not here: decoding to code points, normalisation.
#pragma once

#include <cstddef>
#include <string>

namespace focalgrad::report::detail {

// The length of the UTF-8 sequence starting at s[i] if it is well formed (shortest form,
// no surrogates, at most U+10FFFF), else 0.
inline size_t utf8_sequence(const std::string& s, size_t i) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = byte(i);
    if (c < 0x80) return 1;
    const size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    for (size_t k = 1; k < n; ++k)
        if ((byte(i + k) & 0xc0) != 0x80) return 0;
    const unsigned char c1 = byte(i + 1);
    if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) || (c == 0xf0 && c1 < 0x90) ||
        (c == 0xf4 && c1 > 0x8f))
        return 0;  // overlong, a surrogate, or beyond U+10FFFF
    return n;
}

}  // namespace focalgrad::report::detail
