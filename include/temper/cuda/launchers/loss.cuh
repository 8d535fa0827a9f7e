// Host launchers of kernels/loss.cuh: BCE-with-logits and cross-entropy with their gradients. Compiled by nvcc (or
// against the CUDA simulator) once, in launchers/all.cu; declared for every translation unit in cuda/launchers.hpp,
// which documents them.
#pragma once

#include "kernels/loss.cuh"
#include "temper/cuda/launchers.hpp"
#include "temper/cuda/launchers/common.cuh"
#include "temper/cuda/allocator.hpp"
#include "temper/cuda/runtime.hpp"

namespace temper::cuda {

namespace detail {
template <class T>
void bce_launch(const T* x, const T* y, const T* pos_weight, int64_t n, int64_t c, const T* dloss, T* dx, T* loss,
                const char* what, Device dev) {
    const OnDevice on(dev);
    check(n >= 0 && (!pos_weight || (c > 0 && n % c == 0)), what, ": ", n,
          " elements do not form rows of pos_weight's ", c, " labels");
    check(!loss || n > 0, what, ": empty input");
    if (n == 0) return;
    const int64_t want = (n + kernels::kLossThreads - 1) / kernels::kLossThreads;
    const int blocks = int(want < kernels::kLossMaxBlocks ? want : kernels::kLossMaxBlocks);
    if (!loss) {
        TEMPER_LAUNCH(blocks, kernels::kLossThreads, 0, on.stream, kernels::bce_kernel<T>)(
            x, y, pos_weight, n, c, dloss, dx, nullptr);
        TEMPER_CUDA_CHECK_LAUNCH();
        return;
    }
    Scratch partial(sizeof(double) * size_t(blocks), dev);
    TEMPER_LAUNCH(blocks, kernels::kLossThreads, 0, on.stream, kernels::bce_kernel<T>)(
        x, y, pos_weight, n, c, dloss, dx, partial.as<double>());
    TEMPER_CUDA_CHECK_LAUNCH();
    TEMPER_LAUNCH(1, kernels::kLossThreads, 0, on.stream, kernels::mean_finish_kernel<T>)(
        partial.as<double>(), blocks, double(n), nullptr, loss);
    TEMPER_CUDA_CHECK_LAUNCH();
}

template <class T>
void cross_entropy_launch(const T* logits, const int64_t* labels, int64_t B, int64_t C, int64_t ignore_index,
                          const T* dloss, T* dlogits, T* loss, Device dev) {
    const OnDevice on(dev);
    check(B >= 0 && C > 0, "cross_entropy: logits [", B, ", ", C, "] need at least one class");
    // Scratch: the count of valid rows, then (for the loss) one term per row.
    Scratch scratch(sizeof(double) * size_t(1 + (loss ? B : 0)), dev);
    double* count = scratch.as<double>();
    double* row_loss = loss ? count + 1 : nullptr;
    TEMPER_LAUNCH(1, kernels::kLossThreads, 0, on.stream, kernels::ce_count_kernel<T>)(
        labels, B, C, ignore_index, count);
    TEMPER_CUDA_CHECK_LAUNCH();
    if (B > 0) {
        const unsigned grid = kernels::grid_for(B, kernels::kCrossEntropyRowsPerBlock);
        TEMPER_LAUNCH(grid, kernels::kLossThreads, 0, on.stream, kernels::ce_rows_kernel<T>)(
            logits, labels, B, C, ignore_index, count, dloss, row_loss, dlogits);
        TEMPER_CUDA_CHECK_LAUNCH();
    }
    if (loss) {
        TEMPER_LAUNCH(1, kernels::kLossThreads, 0, on.stream, kernels::mean_finish_kernel<T>)(
            row_loss, B, 0.0, count, loss);
        TEMPER_CUDA_CHECK_LAUNCH();
    }
}
}  // namespace detail

template <class T>
void bce_with_logits_forward(const T* x, const T* y, const T* pos_weight, int64_t n, int64_t c, T* loss,
                             Device dev) {
    detail::bce_launch<T>(x, y, pos_weight, n, c, nullptr, nullptr, loss, "bce_with_logits_forward", dev);
}

template <class T>
void bce_with_logits_backward(const T* x, const T* y, const T* pos_weight, int64_t n, int64_t c, const T* dloss,
                              T* dx, Device dev) {
    detail::bce_launch<T>(x, y, pos_weight, n, c, dloss, dx, nullptr, "bce_with_logits_backward", dev);
}

template <class T>
void bce_with_logits_fused(const T* x, const T* y, const T* pos_weight, int64_t n, int64_t c, T* loss, T* dx,
                           Device dev) {
    detail::bce_launch<T>(x, y, pos_weight, n, c, nullptr, dx, loss, "bce_with_logits_fused", dev);
}

template <class T>
void cross_entropy_forward(const T* logits, const int64_t* labels, int64_t B, int64_t C, int64_t ignore_index,
                           T* loss, Device dev) {
    detail::cross_entropy_launch<T>(logits, labels, B, C, ignore_index, nullptr, nullptr, loss, dev);
}

template <class T>
void cross_entropy_backward(const T* logits, const int64_t* labels, int64_t B, int64_t C, int64_t ignore_index,
                            const T* dloss, T* dlogits, Device dev) {
    detail::cross_entropy_launch<T>(logits, labels, B, C, ignore_index, dloss, dlogits, nullptr, dev);
}

template <class T>
void cross_entropy_fused(const T* logits, const int64_t* labels, int64_t B, int64_t C, int64_t ignore_index,
                         T* loss, T* dlogits, Device dev) {
    detail::cross_entropy_launch<T>(logits, labels, B, C, ignore_index, nullptr, dlogits, loss, dev);
}

}  // namespace temper::cuda
