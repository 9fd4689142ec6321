// random.h — the seeded random-number generator behind every random draw in focalgrad.
// PCG32 (O'Neill 2014, "XSH RR" output on a 64-bit LCG): small, fast, statistically
// strong, and fully specified, so a seed gives the same numbers on every machine and
// compiler (unlike std::mt19937 + std::normal_distribution, whose outputs the C++
// standard leaves to the library). Not here: cryptographic randomness.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace focalgrad {

class Generator {
public:
    explicit Generator(uint64_t seed = 0, uint64_t stream = 0x5851f42d4c957f2dULL) { reseed(seed, stream); }

    void reseed(uint64_t seed, uint64_t stream = 0x5851f42d4c957f2dULL);
    uint32_t next_u32();                // uniform on [0, 2^32)
    float uniform();                    // uniform on [0, 1), 24 random bits
    float uniform(float lo, float hi);  // uniform on [lo, hi)
    float normal();                     // standard normal (Box–Muller, one value per call)
    uint32_t below(uint32_t n);         // uniform integer on [0, n), unbiased (rejection)

    // The whole state, to save a generator and restore it exactly (checkpoints): the
    // LCG's state and its increment, which is odd and selects the stream.
    uint64_t state() const { return state_; }
    uint64_t increment() const { return inc_; }
    void set_state(uint64_t state, uint64_t increment);  // throws on an even increment

private:
    uint64_t state_ = 0;
    uint64_t inc_ = 1;
};

// The generator used when none is passed. One per thread, seeded 0 until manual_seed:
// two threads that each seed their own draws get the same numbers as when run alone.
Generator& default_generator();
void manual_seed(uint64_t seed);

// Fisher–Yates shuffle driven by `gen` (std::shuffle's algorithm is not specified).
template <class T>
void shuffle(std::vector<T>& v, Generator& gen) {
    for (size_t i = v.size(); i > 1; --i) {
        size_t j = gen.below(static_cast<uint32_t>(i));
        std::swap(v[i - 1], v[j]);
    }
}

}  // namespace focalgrad
