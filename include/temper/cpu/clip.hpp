// Global-norm gradient clipping on the CPU, with torch's roundings (torch.nn.utils.clip_grad_norm_,
// norm_type 2): the reference of kernels/adamw.cuh's clipping kernels.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "temper/core/error.hpp"

namespace temper::cpu {

// total = ||(||g_1||, ..., ||g_k||)||_2 with each norm rounded to T and the sums of squares in double;
// every gradient is multiplied by coef = (1 / (total + 1e-6)) * max_norm (in T) when coef < 1 or NaN (torch's
// clamp(max=1) keeps NaN). *total_norm receives double(total). With error_if_nonfinite a non-finite total is an
// error and the gradients stay untouched.
template <class T>
void clip_grad_norm(T* const* grads, const int64_t* n, size_t count, double max_norm, double* total_norm,
                    bool error_if_nonfinite) {
    double sum_norm_sq = 0;
    for (size_t j = 0; j < count; ++j) {
        double ss = 0;
        for (int64_t i = 0; i < n[j]; ++i) ss += double(grads[j][i]) * double(grads[j][i]);
        const double norm = double(T(std::sqrt(ss)));
        sum_norm_sq += norm * norm;
    }
    const T total = T(std::sqrt(sum_norm_sq));
    if (error_if_nonfinite && !std::isfinite(double(total)))
        fail("clip_grad_norm: the total norm of the gradients is ", double(total),
             ", so they cannot be clipped (error_if_nonfinite is set)");
    // torch: max_norm / (total + 1e-6) is Tensor.__rtruediv__, i.e. reciprocal(total + 1e-6) * max_norm.
    const T coef = (T(1) / (total + T(1e-6))) * T(max_norm);
    if (!(coef >= T(1)))
        for (size_t j = 0; j < count; ++j)
            for (int64_t i = 0; i < n[j]; ++i) grads[j][i] = grads[j][i] * coef;
    *total_norm = double(total);
}

}  // namespace temper::cpu
