// Host launchers of kernels/layernorm.cuh: LayerNorm, residual LayerNorm, their backward. Compiled by nvcc (or against
// the CUDA simulator) once, in launchers/all.cu; declared for every translation unit in cuda/launchers.hpp, which
// documents them.
#pragma once

#include "kernels/layernorm.cuh"
#include "temper/cuda/launchers.hpp"
#include "temper/cuda/launchers/common.cuh"
#include "temper/cuda/allocator.hpp"
#include "temper/cuda/runtime.hpp"

namespace temper::cuda {

namespace detail {
template <class T, bool kResidual>
void layernorm_forward_impl(const T* a, const T* b, const T* gamma, const T* beta, T* sum_out, T* y, compute_t<T>* mean,
                            compute_t<T>* rstd, int64_t rows, int64_t d, double eps, Device dev) {
    const OnDevice on(dev);
    check(rows >= 0 && d >= 0, "layernorm: negative shape [", rows, ", ", d, "]");
    if (rows == 0 || d == 0) return;  // d == 0: the CPU's mean and rstd would be NaN; nothing to normalise
    constexpr int V = kernels::kPack<T>;
    const unsigned grid = kernels::grid_for(rows, kernels::kLayerNormRowsPerBlock);
    const auto e = compute_t<T>(eps);
    const bool packed = d % V == 0 && kernels::aligned16(a) && kernels::aligned16(y) && kernels::aligned16(gamma) &&
                        kernels::aligned16(beta) &&
                        (!kResidual || (kernels::aligned16(b) && kernels::aligned16(sum_out)));
    const int threads = kernels::kLayerNormThreads;
    if (packed)
        TEMPER_LAUNCH(grid, threads, 0, on.stream, kernels::layernorm_forward_kernel<T, V, kResidual>)(
            a, b, gamma, beta, sum_out, y, mean, rstd, rows, d, e);
    else
        TEMPER_LAUNCH(grid, threads, 0, on.stream, kernels::layernorm_forward_kernel<T, 1, kResidual>)(
            a, b, gamma, beta, sum_out, y, mean, rstd, rows, d, e);
    TEMPER_CUDA_CHECK_LAUNCH();
}
}  // namespace detail

template <class T>
void layernorm_forward(const T* x, const T* gamma, const T* beta, T* y, compute_t<T>* mean, compute_t<T>* rstd,
                       int64_t rows, int64_t d, double eps, Device dev) {
    detail::layernorm_forward_impl<T, false>(x, nullptr, gamma, beta, nullptr, y, mean, rstd, rows, d, eps, dev);
}

template <class T>
void layernorm_residual_forward(const T* a, const T* b, const T* gamma, const T* beta, T* sum_out, T* y,
                                compute_t<T>* mean, compute_t<T>* rstd, int64_t rows, int64_t d, double eps,
                                Device dev) {
    detail::layernorm_forward_impl<T, true>(a, b, gamma, beta, sum_out, y, mean, rstd, rows, d, eps, dev);
}

template <class T>
void layernorm_backward(const T* x, const T* gamma, const compute_t<T>* mean, const compute_t<T>* rstd, const T* dy,
                        T* dx, T* dgamma, T* dbeta, int64_t rows, int64_t d, Device dev) {
    const OnDevice on(dev);
    check(rows >= 0 && d >= 0, "layernorm_backward: negative shape [", rows, ", ", d, "]");
    if (d == 0) return;
    if (rows > 0) {
        constexpr int V = kernels::kPack<T>;
        const unsigned grid = kernels::grid_for(rows, kernels::kLayerNormRowsPerBlock);
        const bool packed = d % V == 0 && kernels::aligned16(x) && kernels::aligned16(gamma) &&
                            kernels::aligned16(dy) && kernels::aligned16(dx);
        if (packed)
            TEMPER_LAUNCH(grid, kernels::kLayerNormThreads, 0, on.stream, kernels::layernorm_backward_dx_kernel<T, V>)(
                x, gamma, mean, rstd, dy, dx, rows, d);
        else
            TEMPER_LAUNCH(grid, kernels::kLayerNormThreads, 0, on.stream, kernels::layernorm_backward_dx_kernel<T, 1>)(
                x, gamma, mean, rstd, dy, dx, rows, d);
        TEMPER_CUDA_CHECK_LAUNCH();
    }
    detail::column_reduce<2, T>(kernels::LayerNormParamGrads<T>{x, dy, mean, rstd, d}, rows, d, dgamma, dbeta, dev);
}

}  // namespace temper::cuda
