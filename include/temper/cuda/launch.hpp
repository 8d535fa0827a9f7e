// The two spellings of CUDA that plain C++ cannot parse, as macros, so that the kernels and their launchers
// compile both with nvcc and as C++ against the CPU simulator of tests/cudasim (docs/gpu.md):
//   TEMPER_LAUNCH(grid, block, smem, stream, kernel)(args...)   is   kernel<<<grid, block, smem, stream>>>(args...)
//   TEMPER_DYNAMIC_SMEM(name);   declares the block's dynamic shared memory as 16-byte aligned bytes `name`.
// The kernel expression comes last so that the commas of its template arguments need no parentheses.
#pragma once

#include <cuda_runtime.h>  // the simulator's defines CUDASIM_LAUNCH

#if defined(__CUDACC__)
#define TEMPER_LAUNCH(grid, block, smem, stream, ...) __VA_ARGS__<<<grid, block, smem, stream>>>
#define TEMPER_DYNAMIC_SMEM(name) extern __shared__ __align__(16) unsigned char name[]
#elif defined(CUDASIM_LAUNCH)
#define TEMPER_LAUNCH(grid, block, smem, stream, ...) CUDASIM_LAUNCH(grid, block, smem, stream, __VA_ARGS__)
#define TEMPER_DYNAMIC_SMEM(name) CUDASIM_DYNAMIC_SMEM(name)
#else
#error "temper: cuda/launch.hpp is for device code, compiled by nvcc (the temper::cuda library, or your own .cu file) or against the CUDA simulator (TEMPER_CUDA_SIM); plain C++ uses temper/cuda/launchers.hpp"
#endif
