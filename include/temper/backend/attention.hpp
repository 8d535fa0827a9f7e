// The device layer for fused multi-head attention: the GPU's flash-style kernels for head dim 64. Elsewhere
// ops/attention.hpp composes the op from matmul, masked softmax and dropout, with the same dropout mask.
#pragma once

#include "temper/core/device.hpp"
#include "temper/core/random.hpp"
#include "temper/cuda/api.hpp"

namespace temper::backend {

// Whether scaled_dot_product_attention runs fused on dev for head dim D.
inline bool has_fused_attention(Device dev, int64_t D) { return dev.is_cuda() && D == 64; }

// out = dropout(softmax(mask(scale q kᵀ))) v for [B, H, S, D] and the rows' logsumexp lse [B, H, S], as
// cuda::attention_forward; dropout draws at pos.
template <class T>
void attention_forward(const T* q, const T* k, const T* v, const int64_t* key_mask, int64_t B, int64_t H, int64_t S,
                       int64_t D, T scale, double dropout_p, const PhiloxPosition& pos, T* out, compute_t<T>* lse,
                       Device dev) {
    check(has_fused_attention(dev, D), "fused attention runs on a GPU with head dim 64, not on ", dev,
          " with head dim ", D);
    cuda::attention_forward(q, k, v, key_mask, B, H, S, D, scale, dropout_p, pos.seed, pos.offset, out, lse, dev,
                            pos.device_base);
}

// dq, dk, dv from dout and the forward's out and lse, with the forward's very arguments.
template <class T>
void attention_backward(const T* q, const T* k, const T* v, const int64_t* key_mask, int64_t B, int64_t H, int64_t S,
                        int64_t D, T scale, double dropout_p, const PhiloxPosition& pos, const T* out,
                        const compute_t<T>* lse, const T* dout, T* dq, T* dk, T* dv, Device dev) {
    check(has_fused_attention(dev, D), "fused attention runs on a GPU with head dim 64, not on ", dev,
          " with head dim ", D);
    cuda::attention_backward(q, k, v, key_mask, B, H, S, D, scale, dropout_p, pos.seed, pos.offset, out, lse, dout, dq,
                             dk, dv, dev, pos.device_base);
}

}  // namespace temper::backend
