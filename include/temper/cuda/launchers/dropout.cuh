// Host launchers of kernels/dropout.cuh: Philox dropout. Compiled by nvcc (or against the CUDA simulator) once, in
// launchers/all.cu; declared for every translation unit in cuda/launchers.hpp, which documents them.
#pragma once

#include "kernels/dropout.cuh"
#include "temper/cuda/launchers.hpp"
#include "temper/cuda/launchers/common.cuh"
#include "temper/cuda/allocator.hpp"
#include "temper/cuda/runtime.hpp"

namespace temper::cuda {

template <class T>
void dropout_apply(const T* x, T* y, int64_t n, double p, uint64_t seed, uint64_t offset, Device dev,
                   const uint64_t* base) {
    const OnDevice on(dev);
    if (n <= 0) return;
    const compute_t<T> scale = compute_t<T>(1.0 / (1.0 - p));  // float for bf16, as PyTorch
    const int64_t blocks = (n + 3) / 4;
    TEMPER_LAUNCH(kernels::grid_for(blocks, 256), 256, 0, on.stream, kernels::dropout_kernel)(
        x, y, n, float(p), scale, seed, offset, base);
    TEMPER_CUDA_CHECK_LAUNCH();
}

}  // namespace temper::cuda
