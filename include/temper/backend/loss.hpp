// The device layer for the losses: BCE-with-logits and cross-entropy, forward and backward, on the device that
// holds the logits. The upstream gradient dloss is a one-element tensor's data on that device (the GPU reads it
// there: no host sync).
#pragma once

#include "temper/core/device.hpp"
#include "temper/cpu/loss.hpp"
#include "temper/cuda/api.hpp"

namespace temper::backend {

template <class T>
void bce_with_logits_forward(const T* x, const T* y, const T* pos_weight, int64_t n, int64_t c, T* loss, Device dev) {
    if (dev.is_cuda())
        cuda::bce_with_logits_forward(x, y, pos_weight, n, c, loss, dev);
    else
        cpu::bce_with_logits_forward(x, y, pos_weight, n, c, loss);
}

template <class T>
void bce_with_logits_backward(const T* x, const T* y, const T* pos_weight, int64_t n, int64_t c, const T* dloss, T* dx,
                              Device dev) {
    if (dev.is_cuda())
        cuda::bce_with_logits_backward(x, y, pos_weight, n, c, dloss, dx, dev);
    else
        cpu::bce_with_logits_backward(x, y, pos_weight, n, c, dloss, dx);
}

template <class T>
void cross_entropy_forward(const T* logits, const int64_t* labels, int64_t B, int64_t C, int64_t ignore_index, T* loss,
                           Device dev) {
    if (dev.is_cuda())
        cuda::cross_entropy_forward(logits, labels, B, C, ignore_index, loss, dev);
    else
        cpu::cross_entropy_forward(logits, labels, B, C, ignore_index, loss);
}

template <class T>
void cross_entropy_backward(const T* logits, const int64_t* labels, int64_t B, int64_t C, int64_t ignore_index,
                            const T* dloss, T* dlogits, Device dev) {
    if (dev.is_cuda())
        cuda::cross_entropy_backward(logits, labels, B, C, ignore_index, dloss, dlogits, dev);
    else
        cpu::cross_entropy_backward(logits, labels, B, C, ignore_index, dloss, dlogits);
}

}  // namespace temper::backend
