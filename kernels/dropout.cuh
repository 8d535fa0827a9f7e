// Dropout with the counter-based Philox stream of core/random.hpp: the GPU twin of dropout_apply in
// cpu/dropout.hpp, with the same arguments. Element i keeps x[i] * 1/(1-p) when philox_uniform(seed,
// offset, i) >= p, else 0, so the CPU and the GPU draw the very same mask, bit for bit.
//
// philox_uniform(seed, offset, i) is word i % 4 of Philox block offset + i / 4. One thread computes block k
// once and uses its 4 words for elements 4k .. 4k+3 (the CPU recomputes the block for each element; the
// numbers are the same). The uniform, the threshold float(p) and the scale 1/(1-p) (in compute_t<T>: float
// for bf16) are formed exactly as on the CPU (threshold and scale on the host), and y = x * s is a single
// rounding: identical results.
#pragma once

#include <cstdint>

#include "memory.cuh"
#include "temper/core/random.hpp"

namespace temper::kernels {

// x and y may alias (in-place): each element is read and written by the same thread.
// base: {seed, offset base} in device memory (PhiloxPosition::device_base) or nullptr.
template <class T>
__global__ void dropout_kernel(const T* x, T* y, int64_t n, float threshold, compute_t<T> scale, uint64_t seed,
                               uint64_t offset, const uint64_t* base) {
    if (base) {
        seed = base[0];
        offset += base[1];
    }
    const int64_t blocks = (n + 3) / 4;  // Philox blocks
    for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < blocks; k += int64_t(gridDim.x) * blockDim.x) {
        const Philox4 r = philox4x32(offset + uint64_t(k), seed);
#pragma unroll
        for (int w = 0; w < 4; ++w) {
            const int64_t i = 4 * k + w;
            if (i < n) y[i] = u32_to_unit(r.x[w]) >= threshold ? T(compute_t<T>(x[i]) * scale) : T(0);
        }
    }
}

}  // namespace temper::kernels
