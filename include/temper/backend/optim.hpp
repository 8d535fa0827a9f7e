// The device layer for the optimiser: multi-tensor AdamW steps and global-norm gradient clipping, on the device
// that holds the parameters. Both are bit for bit the same on the CPU and the GPU (clipping: but for the last
// bit of the norm, whose sum runs in another order).
#pragma once

#include <vector>

#include "temper/core/device.hpp"
#include "temper/cpu/adamw.hpp"
#include "temper/cpu/clip.hpp"
#include "temper/cuda/api.hpp"

namespace temper::backend {

using cuda::AdamWParam;

// One AdamW step for every parameter of params (each with its scalars, or a device pointer to them).
template <class T>
void adamw_update(const std::vector<AdamWParam<T>>& params, Device dev) {
    if (params.empty()) return;
    if (dev.is_cuda()) return cuda::adamw_update_multi(params.data(), params.size(), dev);
    for (const AdamWParam<T>& q : params) {
        check(!q.sd, "AdamW: scalars in device memory (a CUDA graph capture) for parameters on the CPU");
        cpu::adamw_update(q.p, q.g, q.m, q.v, q.n, q.s);
    }
}

// Clips count gradients (grads[j]: n[j] elements on dev) to a global norm of max_norm, as cpu::clip_grad_norm;
// *total_norm (on dev) receives the norm before clipping. On the GPU nothing waits for it, and
// error_if_nonfinite is not available (check the norm instead).
template <class T>
void clip_grad_norm(T* const* grads, const int64_t* n, size_t count, double max_norm, double* total_norm,
                    bool error_if_nonfinite, Device dev) {
    if (dev.is_cpu()) return cpu::clip_grad_norm(grads, n, count, max_norm, total_norm, error_if_nonfinite);
    check(!error_if_nonfinite,
          "clip_grad_norm: error_if_nonfinite is not available for GPU gradients; check "
          "std::isfinite on the returned norm instead");
    cuda::clip_grad_norm(grads, n, count, max_norm, total_norm, dev);
}

}  // namespace temper::backend
