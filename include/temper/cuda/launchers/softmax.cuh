// Host launchers of kernels/softmax.cuh: the fused scale + mask + softmax and its backward. Compiled by nvcc (or
// against the CUDA simulator) once, in launchers/all.cu; declared for every translation unit in cuda/launchers.hpp,
// which documents them.
#pragma once

#include "kernels/softmax.cuh"
#include "temper/cuda/launchers.hpp"
#include "temper/cuda/launchers/common.cuh"
#include "temper/cuda/allocator.hpp"
#include "temper/cuda/runtime.hpp"

namespace temper::cuda {

namespace detail {
inline void check_softmax_args(int64_t rows, int64_t cols, int64_t rows_per_batch, const int64_t* mask) {
    check(rows >= 0 && cols >= 0, "masked_softmax: negative shape [", rows, ", ", cols, "]");
    check(!mask || rows_per_batch >= 1, "masked_softmax: rows_per_batch must be >= 1, got ", rows_per_batch);
}
}  // namespace detail

template <class T>
void masked_softmax_forward(const T* x, T* y, const int64_t* mask, int64_t rows, int64_t cols,
                            int64_t rows_per_batch, T scale, Device dev) {
    const OnDevice on(dev);
    detail::check_softmax_args(rows, cols, rows_per_batch, mask);
    if (rows == 0 || cols == 0) return;
    constexpr int V = kernels::kPack<T>;
    const unsigned grid = kernels::grid_for(rows, kernels::kSoftmaxRowsPerBlock);
    if (cols % V == 0 && kernels::aligned16(x) && kernels::aligned16(y))
        TEMPER_LAUNCH(grid, kernels::kSoftmaxThreads, 0, on.stream, kernels::masked_softmax_forward_kernel<T, V>)(
            x, y, mask, rows, cols, rows_per_batch, scale);
    else
        TEMPER_LAUNCH(grid, kernels::kSoftmaxThreads, 0, on.stream, kernels::masked_softmax_forward_kernel<T, 1>)(
            x, y, mask, rows, cols, rows_per_batch, scale);
    TEMPER_CUDA_CHECK_LAUNCH();
}

template <class T>
void masked_softmax_backward(const T* y, const T* dy, T* dx, const int64_t* mask, int64_t rows, int64_t cols,
                             int64_t rows_per_batch, T scale, Device dev) {
    const OnDevice on(dev);
    detail::check_softmax_args(rows, cols, rows_per_batch, mask);
    if (rows == 0 || cols == 0) return;
    constexpr int V = kernels::kPack<T>;
    const unsigned grid = kernels::grid_for(rows, kernels::kSoftmaxRowsPerBlock);
    if (cols % V == 0 && kernels::aligned16(y) && kernels::aligned16(dy) && kernels::aligned16(dx))
        TEMPER_LAUNCH(grid, kernels::kSoftmaxThreads, 0, on.stream, kernels::masked_softmax_backward_kernel<T, V>)(
            y, dy, dx, mask, rows, cols, rows_per_batch, scale);
    else
        TEMPER_LAUNCH(grid, kernels::kSoftmaxThreads, 0, on.stream, kernels::masked_softmax_backward_kernel<T, 1>)(
            y, dy, dx, mask, rows, cols, rows_per_batch, scale);
    TEMPER_CUDA_CHECK_LAUNCH();
}

}  // namespace temper::cuda
