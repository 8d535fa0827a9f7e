// Host launchers of kernels/activation.cuh: GELU, ReLU, tanh, fused bias + GELU. Compiled by nvcc (or against the CUDA
// simulator) once, in launchers/all.cu; declared for every translation unit in cuda/launchers.hpp, which documents
// them.
#pragma once

#include "kernels/activation.cuh"
#include "temper/cuda/launchers.hpp"
#include "temper/cuda/launchers/common.cuh"
#include "temper/cuda/allocator.hpp"
#include "temper/cuda/runtime.hpp"

namespace temper::cuda {

namespace detail {
template <class T>
void launch_unary(void (*kernel)(const T*, T*, int64_t), const T* x, T* y, int64_t n, Device dev) {
    const OnDevice on(dev);
    check(n >= 0, "negative element count ", n);
    if (n == 0) return;
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, on.stream, kernel)(x, y, n);
    TEMPER_CUDA_CHECK_LAUNCH();
}
template <class T>
void launch_unary_backward(void (*kernel)(const T*, const T*, T*, int64_t), const T* x, const T* dy, T* dx, int64_t n,
                           Device dev) {
    const OnDevice on(dev);
    check(n >= 0, "negative element count ", n);
    if (n == 0) return;
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, on.stream, kernel)(x, dy, dx, n);
    TEMPER_CUDA_CHECK_LAUNCH();
}
}  // namespace detail

template <class T>
void gelu_forward(const T* x, T* y, int64_t n, Device dev) {
    detail::launch_unary<T>(kernels::gelu_forward_kernel<T>, x, y, n, dev);
}
template <class T>
void gelu_backward(const T* x, const T* dy, T* dx, int64_t n, Device dev) {
    detail::launch_unary_backward<T>(kernels::gelu_backward_kernel<T>, x, dy, dx, n, dev);
}
template <class T>
void relu_forward(const T* x, T* y, int64_t n, Device dev) {
    detail::launch_unary<T>(kernels::relu_forward_kernel<T>, x, y, n, dev);
}
template <class T>
void relu_backward(const T* x, const T* dy, T* dx, int64_t n, Device dev) {
    detail::launch_unary_backward<T>(kernels::relu_backward_kernel<T>, x, dy, dx, n, dev);
}
template <class T>
void tanh_forward(const T* x, T* y, int64_t n, Device dev) {
    detail::launch_unary<T>(kernels::tanh_forward_kernel<T>, x, y, n, dev);
}
template <class T>
void tanh_backward(const T* x, const T* dy, T* dx, int64_t n, Device dev) {
    detail::launch_unary_backward<T>(kernels::tanh_backward_kernel<T>, x, dy, dx, n, dev);
}

template <class T>
void bias_gelu_forward(const T* x, const T* bias, T* pre, T* y, int64_t rows, int64_t cols, Device dev) {
    const OnDevice on(dev);
    check(rows >= 0 && cols >= 0, "bias_gelu_forward: negative shape [", rows, ", ", cols, "]");
    if (rows == 0 || cols == 0) return;
    const kernels::RowColGrid g = kernels::rowcol_grid(rows, cols);
    TEMPER_LAUNCH(g.grid, g.block, 0, on.stream, kernels::bias_gelu_forward_kernel<T>)(x, bias, pre, y, rows, cols);
    TEMPER_CUDA_CHECK_LAUNCH();
}

template <class T>
void bias_gelu_backward(const T* pre, const T* dy, T* dx, T* dbias, int64_t rows, int64_t cols, Device dev) {
    const OnDevice on(dev);
    check(rows >= 0 && cols >= 0, "bias_gelu_backward: negative shape [", rows, ", ", cols, "]");
    if (cols == 0) return;
    if (rows > 0) gelu_backward(pre, dy, dx, rows * cols, dev);
    detail::column_reduce<1, T>(kernels::MatrixElement<T>{dx, cols}, rows, cols, dbias, static_cast<T*>(nullptr), dev);
}

}  // namespace temper::cuda
