// cudasim: a CPU simulator of the CUDA C++ that temper uses (docs/gpu.md, "The CUDA simulator").
//
// This header stands in for the toolkit's cuda_runtime.h when CUDA code is compiled as plain C++ against the
// simulator (CMake option TEMPER_CUDA_SIM). It provides:
//   - the function and variable qualifiers (__global__, __device__, __shared__, ...) as C++ spellings,
//   - the runtime API subset (cudasim/runtime_api.hpp), backed by libcudasim,
//   - the device built-ins: threadIdx & co, barriers, warp collectives, round-to-nearest intrinsics
//     (cudasim/device.hpp),
//   - the kernel launch, CUDASIM_LAUNCH(grid, block, smem, stream, kernel)(args...), which stands in for
//     kernel<<<grid, block, smem, stream>>>(args...) (cudasim/launch.hpp; temper spells it TEMPER_LAUNCH).
// Everything the simulator does not provide fails to compile rather than running wrongly.
#pragma once

#if defined(__CUDACC__)
#error "cudasim's cuda_runtime.h is for compiling CUDA code as plain C++; nvcc must use the toolkit's"
#endif

#define CUDASIM 1

// Qualifiers. Kernels are ordinary functions run once per simulated thread; __shared__ variables live in
// the worker thread that runs the whole block (thread_local), which the simulator refills with 0xFF before
// every block, so that a read of shared memory nobody wrote is NaN, as uninitialised as on a GPU.
#define __host__
#define __device__
#define __global__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __grid_constant__
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static thread_local

#include "cudasim/runtime_api.hpp"
#include "cudasim/device.hpp"
#include "cudasim/launch.hpp"
