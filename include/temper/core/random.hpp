// Deterministic random numbers: Philox4x32-10, a counter-based generator. The same (seed, counter)
// gives the same numbers on CPU and in CUDA kernels, so dropout masks agree across devices.
#pragma once

#include <cmath>
#include <cstdint>

#include "temper/core/macros.hpp"

namespace temper {

struct Philox4 {
    uint32_t x[4];
};

// One Philox4x32 round on the counter words with round key (k0, k1), and the key schedule's step.
TEMPER_HD inline void philox_round(uint32_t& c0, uint32_t& c1, uint32_t& c2, uint32_t& c3, uint32_t k0, uint32_t k1) {
    const uint64_t p0 = uint64_t(0xD2511F53u) * c0, p1 = uint64_t(0xCD9E8D57u) * c2;
    const uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0, n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
    c1 = uint32_t(p1), c3 = uint32_t(p0), c0 = n0, c2 = n2;
}
TEMPER_HD inline void philox_bump_key(uint32_t& k0, uint32_t& k1) { k0 += 0x9E3779B9u, k1 += 0xBB67AE85u; }

// Philox4x32 with 10 rounds (Salmon et al., SC'11). counter is 128 bits (we use 64), key 64 bits.
TEMPER_HD inline Philox4 philox4x32(uint64_t counter, uint64_t key) {
    uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
    for (int round = 0; round < 10; ++round) {
        philox_round(c0, c1, c2, c3, k0, k1);
        philox_bump_key(k0, k1);
    }
    return {{c0, c1, c2, c3}};
}

// kPhiloxLanes consecutive blocks at once (counters first, first + 1, ...), written so that the compiler
// runs the lanes in vector registers: the CPU's fast path for whole tensors. Block k is words[4k .. 4k+3],
// the same numbers as philox4x32(first + k, key).
constexpr int kPhiloxLanes = 16;
inline void philox4x32_lanes(uint64_t first, uint64_t key, uint32_t (&words)[4 * kPhiloxLanes]) {
    uint32_t c0[kPhiloxLanes], c1[kPhiloxLanes], c2[kPhiloxLanes], c3[kPhiloxLanes];
    for (int l = 0; l < kPhiloxLanes; ++l) {
        const uint64_t c = first + uint64_t(l);
        c0[l] = uint32_t(c), c1[l] = uint32_t(c >> 32), c2[l] = 0, c3[l] = 0;
    }
    uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
    for (int round = 0; round < 10; ++round) {
#if defined(__GNUC__) && !defined(__CUDACC__)
#pragma GCC unroll 1  // unrolled first, GCC no longer vectorises the lanes
#endif
        for (int l = 0; l < kPhiloxLanes; ++l) philox_round(c0[l], c1[l], c2[l], c3[l], k0, k1);
        philox_bump_key(k0, k1);
    }
    for (int l = 0; l < kPhiloxLanes; ++l)
        words[4 * l] = c0[l], words[4 * l + 1] = c1[l], words[4 * l + 2] = c2[l], words[4 * l + 3] = c3[l];
}

// Uniform float in [0, 1) from the top 24 bits.
TEMPER_HD inline float u32_to_unit(uint32_t u) { return float(u >> 8) * (1.0f / 16777216.0f); }

// Element i of the stream (seed, offset): the i%4-th word of block offset + i/4.
TEMPER_HD inline float philox_uniform(uint64_t seed, uint64_t offset, uint64_t i) {
    return u32_to_unit(philox4x32(offset + i / 4, seed).x[i % 4]);
}

// Uniform float in [0, 1) from block `block` of stream `seed` (its first word).
inline float philox_unit(uint64_t seed, uint64_t block) { return u32_to_unit(philox4x32(block, seed).x[0]); }

// Standard normal from block `block` of stream `seed`, by Box-Muller on two of its words.
inline double philox_normal(uint64_t seed, uint64_t block) {
    const Philox4 r = philox4x32(block, seed);
    const double u1 = (double(r.x[0]) + 1.0) / 4294967296.0;  // (0, 1]: log never sees 0
    const double u2 = double(r.x[1]) / 4294967296.0;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

// Where a dropout mask's Philox numbers start: block `offset` of key `seed`. device_base, when set, points
// to {seed, base} in GPU memory, and the kernels use that seed and base + offset instead: a CUDA graph
// of a training step (train/train_step_graph.hpp) is captured once and replayed with fresh masks by writing
// the generator's state there before each replay.
struct PhiloxPosition {
    uint64_t seed = 0, offset = 0;
    const uint64_t* device_base = nullptr;
};

// A seeded stream. Each draw consumes whole Philox blocks, tracked by `offset`, so a consumer
// (dropout on a tensor of n elements) can reserve ceil(n/4) blocks and compute them in parallel.
class Generator {
public:
    explicit Generator(uint64_t seed = 0) : seed_(seed) {}
    void manual_seed(uint64_t seed) {
        seed_ = seed;
        offset_ = 0;
    }
    uint64_t seed() const { return seed_; }
    uint64_t offset() const { return offset_; }
    void set_offset(uint64_t off) { offset_ = off; }

    // Reserves blocks for n numbers; returns the offset of the first block.
    uint64_t reserve(uint64_t n) {
        uint64_t off = offset_;
        offset_ += (n + 3) / 4;
        return off;
    }

    // reserve(n) as a PhiloxPosition: while a device base is set, relative to the offset it was set at.
    PhiloxPosition reserve_position(uint64_t n) {
        const uint64_t off = reserve(n);
        if (device_base_) return {seed_, off - base_start_, device_base_};
        return {seed_, off, nullptr};
    }
    // From now on positions are relative to the current offset and read their base from device_base
    // ({seed, base} on the GPU); nullptr returns to plain positions.
    void set_device_base(const uint64_t* device_base) {
        device_base_ = device_base;
        base_start_ = offset_;
    }

    // One block per draw.
    float uniform() { return philox_unit(seed_, offset_++); }
    double normal() { return philox_normal(seed_, offset_++); }

    // While set, Tensor::randn / Tensor::uniform from this generator only advance it (by exactly what
    // drawing would take, so later draws do not change) and fill with NaN: for parameters a checkpoint
    // is about to overwrite, whose random initialisation would be wasted work.
    void set_skip_values(bool skip) { skip_values_ = skip; }
    bool skips_values() const { return skip_values_; }

private:
    uint64_t seed_ = 0, offset_ = 0;
    bool skip_values_ = false;
    const uint64_t* device_base_ = nullptr;
    uint64_t base_start_ = 0;
};

// An independent key for another random stream of the same run (init, batch order, dropout): Philox
// streams with the same key and overlapping offsets would draw the very same numbers, e.g. dropout masks
// equal to the initial weights' bits. splitmix64 of (seed, stream).
inline uint64_t derive_seed(uint64_t seed, uint64_t stream) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// The process-wide default generator (like torch.manual_seed). Not thread-safe by design:
// seed it once, draw from one thread.
inline Generator& default_generator() {
    static Generator g(0x5EEDull);
    return g;
}
inline void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace temper
