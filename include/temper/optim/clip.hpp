// Global-norm gradient clipping identical to torch.nn.utils.clip_grad_norm_ (norm_type 2).
#pragma once

#include <cstdint>
#include <vector>

#include "temper/backend/optim.hpp"
#include "temper/core/error.hpp"
#include "temper/core/tensor.hpp"

namespace temper::optim {

namespace detail {
// Clips the gradients of params (those that have one, all on one device) and returns the total norm as a 0-d
// double tensor on their device (0 when none has a gradient).
template <class T>
Tensor<double> clip_gradients(const std::vector<Tensor<T>>& params, double max_norm, bool error_if_nonfinite) {
    std::vector<T*> ptrs;
    std::vector<int64_t> sizes;
    Device dev = Device::cpu();
    for (const Tensor<T>& p : params) {
        const Tensor<T> g = p.grad();
        if (!g.defined()) continue;
        if (ptrs.empty()) dev = g.device();
        check(g.device() == dev, "clip_grad_norm: gradients on ", dev, " and ", g.device());
        check(g.is_contiguous(), "clip_grad_norm: gradients must be contiguous");
        ptrs.push_back(g.data());
        sizes.push_back(g.numel());
    }
    Tensor<double> total = Tensor<double>::zeros({}, dev);
    if (!ptrs.empty())
        backend::clip_grad_norm(ptrs.data(), sizes.data(), ptrs.size(), max_norm, total.data(), error_if_nonfinite,
                                dev);
    return total;
}
}  // namespace detail

// total = || (||g_1||, ..., ||g_k||) ||_2 over the params that have a gradient; every gradient is
// multiplied by coef = max_norm / (total + 1e-6) when coef < 1. Returns total (0 when no param
// has a gradient). Like torch, a NaN/Inf total is returned (and, as in torch, multiplies the
// gradients by NaN/0): check std::isfinite on the result and skip the step. With
// error_if_nonfinite it throws temper::Error instead, leaving the gradients untouched (CPU gradients).
//
// Rounding follows torch: each per-tensor norm and the total are rounded to T, and coef is
// computed in T as (1 / (total + 1e-6)) * max_norm. The sums of squares are accumulated in
// double, so the total can differ from torch's float reduction in the last bit. On a GPU returning the norm
// waits for the backward pass to finish (clip_grad_norm_tensor does not).
template <class T>
double clip_grad_norm(const std::vector<Tensor<T>>& params, double max_norm, bool error_if_nonfinite = false) {
    return detail::clip_gradients(params, max_norm, error_if_nonfinite).item();
}

// clip_grad_norm without waiting for the GPU (torch's clip_grad_norm_ returns a tensor too): the same
// clipping, and the total norm as a 0-d double tensor on the gradients' device (0 when no parameter has a
// gradient). Read it later with item(); a CUDA graph can capture it.
template <class T>
Tensor<double> clip_grad_norm_tensor(const std::vector<Tensor<T>>& params, double max_norm) {
    return detail::clip_gradients(params, max_norm, false);
}

}  // namespace temper::optim
