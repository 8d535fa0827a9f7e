// The device layer for LayerNorm over the last dimension, the residual-fused LN(a + b), and their backward.
#pragma once

#include "temper/core/device.hpp"
#include "temper/cpu/layernorm.hpp"
#include "temper/cuda/api.hpp"

namespace temper::backend {

// y = (x - mean) / sqrt(var + eps) * gamma + beta per row of [rows, d], keeping mean and 1/std per row.
template <class T>
void layernorm_forward(const T* x, const T* gamma, const T* beta, T* y, compute_t<T>* mean, compute_t<T>* rstd,
                       int64_t rows, int64_t d, double eps, Device dev) {
    if (dev.is_cuda())
        cuda::layernorm_forward(x, gamma, beta, y, mean, rstd, rows, d, eps, dev);
    else
        cpu::layernorm_forward(x, gamma, beta, y, mean, rstd, rows, d, eps);
}

// x = a + b written to sum_out, then y = LayerNorm(x) as layernorm_forward.
template <class T>
void layernorm_residual_forward(const T* a, const T* b, const T* gamma, const T* beta, T* sum_out, T* y,
                                compute_t<T>* mean, compute_t<T>* rstd, int64_t rows, int64_t d, double eps,
                                Device dev) {
    if (dev.is_cuda())
        cuda::layernorm_residual_forward(a, b, gamma, beta, sum_out, y, mean, rstd, rows, d, eps, dev);
    else
        cpu::layernorm_residual_forward(a, b, gamma, beta, sum_out, y, mean, rstd, rows, d, eps);
}

// dx per row; dgamma and dbeta overwritten with the column sums.
template <class T>
void layernorm_backward(const T* x, const T* gamma, const compute_t<T>* mean, const compute_t<T>* rstd, const T* dy,
                        T* dx, T* dgamma, T* dbeta, int64_t rows, int64_t d, Device dev) {
    if (dev.is_cuda())
        cuda::layernorm_backward(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, rows, d, dev);
    else
        cpu::layernorm_backward(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, rows, d);
}

}  // namespace temper::backend
