// The GPU benchmarks' own kernels (bench_cuda_kernels.cu, compiled by nvcc) and the launch geometry of
// temper's kernels that bench_cuda.cpp counts bytes by, for a plain C++ caller.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace temper::bench {

// p[i] = lo + (hi - lo) * u_i, u_i from a Philox stream: inputs made on the GPU (the largest are ~0.5 GB,
// slow to make on the host). T: float, double, bf16.
template <class T>
void fill_uniform(T* p, int64_t n, uint64_t seed, float lo, float hi, cudaStream_t stream);
// p[i] = 1 with probability prob, else 0.
template <class T>
void fill_bernoulli(T* p, int64_t n, uint64_t seed, float prob, cudaStream_t stream);
// Keeps one GPU thread busy for the given number of SM clock cycles.
void spin(long long cycles, cudaStream_t stream);

int64_t column_chunks(int64_t rows);  // kernels::column_chunks: row chunks of the column reductions
int64_t loss_max_blocks();            // kernels::kLossMaxBlocks: blocks of the BCE kernel's grid

}  // namespace temper::bench
