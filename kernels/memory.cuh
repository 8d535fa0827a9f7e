// Fill and strided copy on the GPU: the memory movement Tensor needs (zeros/full, clone and contiguous()
// of transposed or sliced views, to(Device)).
#pragma once

#include <cstdint>

#include "temper/core/dtype.hpp"
#include "temper/core/shape.hpp"
#include "temper/cuda/launch.hpp"
#include "temper/cuda/runtime.hpp"

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

namespace temper::cuda {

template <class T>
void fill(T* out, T value, int64_t n, cudaStream_t s) {
    const OnStreamDevice on(s);
    if (n == 0) return;
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, s, kernels::fill_kernel)(out, value, n);
    TEMPER_CUDA_CHECK_LAUNCH();
}

// out[i] = i for i < n.
template <class T>
void iota(T* out, int64_t n, cudaStream_t s) {
    const OnStreamDevice on(s);
    if (n == 0) return;
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, s, kernels::iota_kernel)(out, n);
    TEMPER_CUDA_CHECK_LAUNCH();
}

// out[i] = in[i] as To for n contiguous elements (the cast op, mixed precision's weight and gradient copies).
template <class To, class From>
void convert(const From* in, To* out, int64_t n, cudaStream_t s) {
    const OnStreamDevice on(s);
    if (n == 0) return;
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, s, kernels::convert_kernel)(in, out, n);
    TEMPER_CUDA_CHECK_LAUNCH();
}

inline kernels::StridedLayout strided_layout(const Shape& shape, const Shape& strides) {
    check(shape.size() <= size_t(kernels::kMaxRank), "strided copy: rank ", shape.size(),
          " exceeds the CUDA limit of ", kernels::kMaxRank);
    kernels::StridedLayout l{};
    l.rank = int(shape.size());
    for (size_t d = 0; d < shape.size(); ++d) {
        l.shape[d] = shape[d];
        l.strides[d] = strides[d];
    }
    return l;
}

// Writes the elements of the view (in, shape, strides) to out in row-major order; both pointers on the GPU.
template <class T>
void copy_strided(const T* in, const Shape& shape, const Shape& strides, T* out, cudaStream_t s) {
    const OnStreamDevice on(s);
    int64_t n = shape_numel(shape);
    if (n == 0) return;
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, s, kernels::copy_strided_kernel)(
        in, out, strided_layout(shape, strides), n);
    TEMPER_CUDA_CHECK_LAUNCH();
}

// Writes contiguous in (row-major) into the strided view (out, shape, strides); the view must not overlap itself.
template <class T>
void copy_into_strided(const T* in, T* out, const Shape& shape, const Shape& strides, cudaStream_t s) {
    const OnStreamDevice on(s);
    int64_t n = shape_numel(shape);
    if (n == 0) return;
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, s, kernels::copy_into_strided_kernel)(
        in, out, strided_layout(shape, strides), n);
    TEMPER_CUDA_CHECK_LAUNCH();
}

}  // namespace temper::cuda
