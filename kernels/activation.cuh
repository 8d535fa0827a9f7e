// Activations: exact (erf) GELU, ReLU and tanh, forward and backward, as cpu/elementwise.hpp; and the fused
// bias + GELU of the feed-forward block, whose backward also gives the bias gradient.
//
// Elementwise kernels are grid-stride loops, one element per thread per step (memory-bound: each element
// is read and written once). bias + GELU walks [rows, cols] on a 2-D grid (columns on x, so the bias index
// is the column: no division per element). The bias gradient is a column sum of dx by common.cuh's
// deterministic column reduction.
#pragma once

#include <cstdint>

#include "common.cuh"

namespace temper::kernels {

// gelu(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)); the same expression as cpu::gelu. C is the compute
// type (compute_t: float for float and bf16, double for double); kernels round the result to T once.
template <class C>
__device__ __forceinline__ C gelu_value(C x) {
    return C(0.5) * x * (C(1) + math_erf(x * C(0.70710678118654752440)));
}
// d/dx gelu = Phi(x) + x * phi(x); as cpu::gelu_grad.
template <class C>
__device__ __forceinline__ C gelu_derivative(C x) {
    const C cdf = C(0.5) * (C(1) + math_erf(x * C(0.70710678118654752440)));
    const C pdf = math_exp(C(-0.5) * x * x) * C(0.39894228040143267794);
    return cdf + x * pdf;
}

// The elementwise kernels allow in-place use (y == x, dx == dy).
template <class T>
__global__ void gelu_forward_kernel(const T* x, T* y, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        y[i] = T(gelu_value(compute_t<T>(x[i])));
}
template <class T>
__global__ void gelu_backward_kernel(const T* x, const T* dy, T* dx, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        dx[i] = T(compute_t<T>(dy[i]) * gelu_derivative(compute_t<T>(x[i])));
}
template <class T>
__global__ void relu_forward_kernel(const T* x, T* y, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        y[i] = x[i] > T(0) ? x[i] : T(0);
}
// Like torch (and the CPU): the gradient at exactly 0 is 0.
template <class T>
__global__ void relu_backward_kernel(const T* x, const T* dy, T* dx, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        dx[i] = x[i] > T(0) ? dy[i] : T(0);
}

// tanh'(x) = 1 - tanh(x)^2, from x (the unary node keeps the input); as cpu::tanh_backward.
template <class T>
__global__ void tanh_forward_kernel(const T* x, T* y, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        y[i] = T(math_tanh(compute_t<T>(x[i])));
}
template <class T>
__global__ void tanh_backward_kernel(const T* x, const T* dy, T* dx, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const compute_t<T> t = math_tanh(compute_t<T>(x[i]));
        dx[i] = T(compute_t<T>(dy[i]) * (compute_t<T>(1) - t * t));
    }
}

// pre = x + bias (row-broadcast), y = gelu(pre); pre may be nullptr (inference: nothing to save).
template <class T>
__global__ void bias_gelu_forward_kernel(const T* x, const T* bias, T* pre, T* y, int64_t rows, int64_t cols) {
    for_each_row_col(rows, cols, [&](int64_t r, int64_t j) {
        const T p = x[r * cols + j] + bias[j];
        if (pre) pre[r * cols + j] = p;
        y[r * cols + j] = T(gelu_value(compute_t<T>(p)));
    });
}

// Reads element (r, j) of a contiguous [rows, cols] matrix: the column reduction's input for dbias.
template <class T>
struct MatrixElement {
    const T* m;
    int64_t cols;
    __device__ void operator()(int64_t r, int64_t j, compute_t<T> (&v)[1]) const {
        v[0] = compute_t<T>(m[r * cols + j]);
    }
};

}  // namespace temper::kernels
