// Dropout on the CPU with the counter-based Philox stream of core/random.hpp: element i keeps x[i] / (1 - p)
// iff philox_uniform(seed, offset, i) >= p. kernels/dropout.cuh draws the very same mask.
#pragma once

#include <cstdint>

#include "temper/core/dtype.hpp"
#include "temper/core/random.hpp"
#include "temper/cpu/parallel.hpp"

namespace temper::cpu {

// One Philox block gives the draws of four consecutive elements; the loop runs over groups of kPhiloxLanes
// blocks (in parallel), computed together in vector lanes. x and y may be the same buffer.
template <class T>
void dropout_apply(const T* x, T* y, int64_t n, double p, uint64_t seed, uint64_t offset) {
    constexpr int64_t kGroup = 4 * kPhiloxLanes;  // elements per group
    parallel_for((n + kGroup - 1) / kGroup, 10 * kGroup, [&](int64_t g) {
        uint32_t words[kGroup];
        philox4x32_lanes(offset + uint64_t(g * kPhiloxLanes), seed, words);
        const int64_t i0 = g * kGroup, count = n - i0 < kGroup ? n - i0 : kGroup;
        // All locals, so the loop does not reload them through the closure after each store to y (vectorises).
        const T* __restrict xg = x + i0;
        T* __restrict yg = y + i0;
        const compute_t<T> scale = compute_t<T>(1.0 / (1.0 - p));  // float for bf16: one rounding per element
        const float keep_from = float(p);
        for (int64_t j = 0; j < count; ++j)
            yg[j] = u32_to_unit(words[j]) >= keep_from ? T(compute_t<T>(xg[j]) * scale) : T(0);
    });
}

}  // namespace temper::cpu
