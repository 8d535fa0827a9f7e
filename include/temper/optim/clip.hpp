// Global-norm gradient clipping identical to torch.nn.utils.clip_grad_norm_ (norm_type 2).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "temper/core/error.hpp"
#include "temper/core/tensor.hpp"
#if defined(TEMPER_WITH_CUDA)
#include "temper/cuda/kernels.hpp"
#endif

namespace temper::optim {

namespace detail {
template <class T>
std::vector<Tensor<T>> gradients(const std::vector<Tensor<T>>& params) {
    std::vector<Tensor<T>> grads;
    for (const Tensor<T>& p : params)
        if (p.grad().defined()) grads.push_back(p.grad());
    return grads;
}

#if defined(TEMPER_WITH_CUDA)
// The GPU path: the same arithmetic, the scale factor never leaves the device; the total norm as a 0-d
// double tensor on the device (nothing waits for the GPU).
template <class T>
Tensor<double> clip_grad_norm_gpu(const std::vector<Tensor<T>>& grads, double max_norm) {
    const Device dev = grads[0].device();
    std::vector<T*> ptrs;
    std::vector<int64_t> sizes;
    for (const Tensor<T>& g : grads) {
        check(g.device() == dev, "clip_grad_norm: gradients on ", dev.str(), " and ", g.device().str());
        check(g.is_contiguous(), "clip_grad_norm: gradients must be contiguous");
        ptrs.push_back(g.data());
        sizes.push_back(g.numel());
    }
    Tensor<double> total = Tensor<double>::empty({}, dev);
    cuda::clip_grad_norm(ptrs.data(), sizes.data(), ptrs.size(), max_norm, total.data(), cuda::stream(dev));
    return total;
}
#endif
}  // namespace detail

// total = || (||g_1||, ..., ||g_k||) ||_2 over the params that have a gradient; every gradient is
// multiplied by coef = max_norm / (total + 1e-6) when coef < 1. Returns total (0 when no param
// has a gradient). Like torch, a NaN/Inf total is returned (and, as in torch, multiplies the
// gradients by NaN/0): check std::isfinite on the result and skip the step. With
// error_if_nonfinite it throws temper::Error instead, leaving the gradients untouched.
//
// Rounding follows torch: each per-tensor norm and the total are rounded to T, and coef is
// computed in T as (1 / (total + 1e-6)) * max_norm. The sums of squares are accumulated in
// double, so the total can differ from torch's float reduction in the last bit.
template <class T>
double clip_grad_norm(const std::vector<Tensor<T>>& params, double max_norm, bool error_if_nonfinite = false) {
    std::vector<Tensor<T>> grads = detail::gradients(params);
    if (grads.empty()) return 0.0;

#if defined(TEMPER_WITH_CUDA)
    if (grads[0].device().is_cuda()) {
        // Returning the norm copies it to the host, which waits for the backward pass to finish.
        check(!error_if_nonfinite, "clip_grad_norm: error_if_nonfinite is not available for GPU gradients; "
                                   "check std::isfinite on the returned norm instead");
        return detail::clip_grad_norm_gpu(grads, max_norm).item();
    }
#endif

    double sum_norm_sq = 0;
    for (const Tensor<T>& g : grads) {
        check(g.device().is_cpu(), "clip_grad_norm: gradient on ", g.device().str(), "; this build handles CPU only");
        const std::vector<T> v = g.to_vector();
        double ss = 0;
        for (T x : v) ss += double(x) * double(x);
        const double norm = double(T(std::sqrt(ss)));
        sum_norm_sq += norm * norm;
    }
    const T total = T(std::sqrt(sum_norm_sq));
    if (error_if_nonfinite && !std::isfinite(double(total)))
        fail("clip_grad_norm: the total norm of the gradients is ", double(total),
             ", so they cannot be clipped (error_if_nonfinite is set)");

    // torch: max_norm / (total + 1e-6) is Tensor.__rtruediv__, i.e. reciprocal(total + 1e-6) * max_norm.
    const T coef = (T(1) / (total + T(1e-6))) * T(max_norm);
    if (!(coef >= T(1))) {  // coef < 1, or NaN (torch's clamp(max=1) keeps NaN)
        for (Tensor<T>& g : grads) {
            check(g.is_contiguous(), "clip_grad_norm: gradients must be contiguous");
            T* d = g.data();
            for (int64_t i = 0; i < g.numel(); ++i) d[i] = d[i] * coef;
        }
    }
    return double(total);
}

// clip_grad_norm without waiting for the GPU (torch's clip_grad_norm_ returns a tensor too): the same
// clipping, and the total norm as a 0-d double tensor on the gradients' device (0 when no parameter has a
// gradient). Read it later with item(); a CUDA graph can capture it.
template <class T>
Tensor<double> clip_grad_norm_tensor(const std::vector<Tensor<T>>& params, double max_norm) {
    const std::vector<Tensor<T>> grads = detail::gradients(params);
#if defined(TEMPER_WITH_CUDA)
    if (!grads.empty() && grads[0].device().is_cuda()) return detail::clip_grad_norm_gpu(grads, max_norm);
#endif
    return Tensor<double>::scalar(clip_grad_norm(params, max_norm));
}

}  // namespace temper::optim
