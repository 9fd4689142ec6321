// random.cpp — PCG32 and the distributions built on it.
#include <cmath>

#include <focalgrad/core/error.h>
#include <focalgrad/core/random.h>

namespace focalgrad {

void Generator::reseed(uint64_t seed, uint64_t stream) {
    // The reference pcg32_srandom_r initialisation.
    state_ = 0;
    inc_ = (stream << 1u) | 1u;
    next_u32();
    state_ += seed;
    next_u32();
}

void Generator::set_state(uint64_t state, uint64_t increment) {
    FG_CHECK(increment % 2 == 1, "Generator::set_state: the increment must be odd, got ", increment,
             " (not a saved generator state)");
    state_ = state;
    inc_ = increment;
}

uint32_t Generator::next_u32() {
    uint64_t old = state_;
    state_ = old * 6364136223846793005ULL + inc_;
    uint32_t xorshifted = static_cast<uint32_t>(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = static_cast<uint32_t>(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
}

// The top 24 bits fill a float mantissa exactly, so every value k / 2^24 is equally likely.
float Generator::uniform() { return static_cast<float>(next_u32() >> 8) * (1.0f / 16777216.0f); }

float Generator::uniform(float lo, float hi) {
    FG_CHECK(lo <= hi, "uniform: lo must be <= hi, got lo=", lo, " hi=", hi);
    return lo + (hi - lo) * uniform();
}

// Box–Muller in double: z = sqrt(-2 ln u1) cos(2 pi u2), with u1 in (0, 1] so ln u1 is finite.
float Generator::normal() {
    double u1 = (static_cast<double>(next_u32()) + 1.0) / 4294967296.0;
    double u2 = static_cast<double>(next_u32()) / 4294967296.0;
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

// Rejects the top sliver of [0, 2^32) that would make small values more likely.
uint32_t Generator::below(uint32_t n) {
    FG_CHECK(n > 0, "Generator::below: n must be positive");
    uint32_t threshold = (0u - n) % n;  // = 2^32 mod n
    for (;;) {
        uint32_t r = next_u32();
        if (r >= threshold) return r % n;
    }
}

Generator& default_generator() {
    thread_local Generator gen(0);
    return gen;
}

void manual_seed(uint64_t seed) { default_generator().reseed(seed); }

}  // namespace focalgrad
