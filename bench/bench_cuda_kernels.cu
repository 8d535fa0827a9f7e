// The GPU benchmarks' own kernels: random inputs made on the GPU and a clock spin (bench_cuda_kernels.hpp).
// The only nvcc-compiled part of temper_bench_cuda; bench_cuda.cpp is plain C++.
#include "bench_cuda_kernels.hpp"

#include "kernels/common.cuh"  // grid_for, column_chunks
#include "kernels/loss.cuh"    // kLossMaxBlocks
#include "temper/core/dtype.hpp"
#include "temper/core/random.hpp"
#include "temper/cuda/check.hpp"
#include "temper/cuda/launch.hpp"

namespace temper::bench {
namespace {

template <class T>
__global__ void uniform_kernel(T* p, int64_t n, uint64_t seed, float lo, float hi) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        p[i] = T(lo + (hi - lo) * philox_uniform(seed, 0, uint64_t(i)));
}
template <class T>
__global__ void bernoulli_kernel(T* p, int64_t n, uint64_t seed, float prob) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        p[i] = philox_uniform(seed, 0, uint64_t(i)) < prob ? T(1) : T(0);
}
__global__ void spin_kernel(long long cycles) {
    const long long t0 = clock64();
    while (clock64() - t0 < cycles) {
    }
}

}  // namespace

template <class T>
void fill_uniform(T* p, int64_t n, uint64_t seed, float lo, float hi, cudaStream_t stream) {
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, stream, uniform_kernel<T>)(p, n, seed, lo, hi);
    TEMPER_CUDA_CHECK_LAUNCH();
}
template <class T>
void fill_bernoulli(T* p, int64_t n, uint64_t seed, float prob, cudaStream_t stream) {
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, stream, bernoulli_kernel<T>)(p, n, seed, prob);
    TEMPER_CUDA_CHECK_LAUNCH();
}
void spin(long long cycles, cudaStream_t stream) {
    TEMPER_LAUNCH(1, 1, 0, stream, spin_kernel)(cycles);
    TEMPER_CUDA_CHECK_LAUNCH();
}

int64_t column_chunks(int64_t rows) { return kernels::column_chunks(rows); }
int64_t loss_max_blocks() { return kernels::kLossMaxBlocks; }

template void fill_uniform<float>(float*, int64_t, uint64_t, float, float, cudaStream_t);
template void fill_uniform<double>(double*, int64_t, uint64_t, float, float, cudaStream_t);
template void fill_uniform<bf16>(bf16*, int64_t, uint64_t, float, float, cudaStream_t);
template void fill_bernoulli<float>(float*, int64_t, uint64_t, float, cudaStream_t);
template void fill_bernoulli<double>(double*, int64_t, uint64_t, float, cudaStream_t);
template void fill_bernoulli<bf16>(bf16*, int64_t, uint64_t, float, cudaStream_t);

}  // namespace temper::bench
