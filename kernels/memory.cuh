// Fill and strided copy on the GPU: the memory movement Tensor needs (zeros/full, clone and contiguous()
// of transposed or sliced views, to(Device)).
#pragma once

#include <cstdint>

#include "temper/core/dtype.hpp"
#include "temper/core/shape.hpp"
#include "temper/cuda/launch.hpp"

namespace temper::kernels {

constexpr int kMaxRank = 8;

template <class T>
__global__ void fill_kernel(T* out, T value, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        out[i] = value;
}

template <class T>
__global__ void iota_kernel(T* out, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        out[i] = T(i);
}

// out[i] = in[i] in another element type (rounded to nearest-even when narrowing to bf16).
template <class To, class From>
__global__ void convert_kernel(const From* __restrict__ in, To* __restrict__ out, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        out[i] = To(compute_t<From>(in[i]));
}

// Shape and strides passed by value (kernel parameter space), outermost dimension first.
struct StridedLayout {
    int rank;
    int64_t shape[kMaxRank];
    int64_t strides[kMaxRank];
};

// Offset of the i-th element (row-major over l.shape) in a buffer with strides l.strides.
__device__ __forceinline__ int64_t strided_offset(const StridedLayout& l, int64_t i) {
    int64_t off = 0;
    for (int d = l.rank - 1; d >= 0; --d) {
        off += (i % l.shape[d]) * l.strides[d];
        i /= l.shape[d];
    }
    return off;
}

// out[i] (row-major, contiguous) = in[offset of the i-th element of the strided view]
template <class T>
__global__ void copy_strided_kernel(const T* __restrict__ in, T* __restrict__ out, StridedLayout l, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        out[i] = in[strided_offset(l, i)];
}

// The inverse: the i-th element of the strided view out = in[i] (in contiguous). Used to write a gradient
// into a region of a larger zero tensor (the backward of slice).
template <class T>
__global__ void copy_into_strided_kernel(const T* __restrict__ in, T* __restrict__ out, StridedLayout l, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        out[strided_offset(l, i)] = in[i];
}

// Enough blocks to fill the GPU several times over; grid-stride loops cover the rest.
inline unsigned grid_for(int64_t n, int threads) {
    int64_t blocks = (n + threads - 1) / threads;
    return unsigned(blocks < 65535 * 8 ? (blocks > 0 ? blocks : 1) : 65535 * 8);
}

}  // namespace temper::kernels
