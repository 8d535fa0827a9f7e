// Dropout with the counter-based Philox stream of core/random.hpp: the GPU twin of dropout_apply in
// ops/dropout.hpp, with the same arguments. Element i keeps x[i] * 1/(1-p) when philox_uniform(seed,
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

namespace temper::cuda {

// y[i] = x[i] / (1 - p) where philox_uniform(seed, offset, i) >= p, else 0, for i < n; x, y on the GPU
// (may be the same buffer). p in [0, 1), checked by the caller as on the CPU. Arguments as
// temper::dropout_apply; the backward is the same call on the gradient. base: see PhiloxPosition (the
// kernel then reads the seed and the offset base from device memory).
template <class T>
void dropout_apply(const T* x, T* y, int64_t n, double p, uint64_t seed, uint64_t offset, cudaStream_t s,
                   const uint64_t* base = nullptr) {
    const OnStreamDevice on(s);
    if (n <= 0) return;
    const compute_t<T> scale = compute_t<T>(1.0 / (1.0 - p));  // float for bf16, as PyTorch
    const int64_t blocks = (n + 3) / 4;
    TEMPER_LAUNCH(kernels::grid_for(blocks, 256), 256, 0, s, kernels::dropout_kernel)(
        x, y, n, float(p), scale, seed, offset, base);
    TEMPER_CUDA_CHECK_LAUNCH();
}

}  // namespace temper::cuda
