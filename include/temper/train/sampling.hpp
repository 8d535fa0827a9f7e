// Seeded, platform-independent random choices for data handling: uniform integers, permutations
// and shuffles drawn from temper's Philox Generator. std::shuffle and
// std::uniform_int_distribution are avoided because their results differ between standard
// libraries; these give the same order on every platform and compiler.
#pragma once

#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "temper/core/error.hpp"
#include "temper/core/random.hpp"

namespace temper::train {

// 64 random bits: one Philox block of the generator's stream (advances its offset by one).
inline uint64_t random_u64(Generator& g) {
    const Philox4 r = philox4x32(g.offset(), g.seed());
    g.set_offset(g.offset() + 1);
    return uint64_t(r.x[0]) | (uint64_t(r.x[1]) << 32);
}

// Uniform integer in [0, bound), unbiased (rejects the top partial range of 2^64).
inline uint64_t randint(Generator& g, uint64_t bound) {
    check(bound > 0, "randint: bound must be positive");
    const uint64_t limit = -bound % bound;  // 2^64 mod bound: draws below it would bias the result
    for (;;) {
        const uint64_t x = random_u64(g);
        if (x >= limit) return x % bound;
    }
}

// Fisher-Yates, from the back: v[i] swaps with v[randint(i + 1)].
template <class T>
void shuffle(std::vector<T>& v, Generator& g) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[size_t(randint(g, i))]);
}

// A random permutation of 0..n-1.
inline std::vector<int64_t> randperm(int64_t n, Generator& g) {
    check(n >= 0, "randperm: negative size ", n);
    std::vector<int64_t> v(static_cast<size_t>(n));
    std::iota(v.begin(), v.end(), int64_t(0));
    shuffle(v, g);
    return v;
}

}  // namespace temper::train
