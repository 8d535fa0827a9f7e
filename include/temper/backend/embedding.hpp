// The device layer for embeddings: gather rows by id, and the gradient's scatter-add (deterministic on both
// devices: token order).
#pragma once

#include "temper/core/device.hpp"
#include "temper/cpu/embedding.hpp"
#include "temper/cuda/api.hpp"

namespace temper::backend {

template <class T>
void embedding_forward(const T* weight, const int64_t* ids, T* out, int64_t n_ids, int64_t V, int64_t D, Device dev) {
    if (dev.is_cuda())
        cuda::embedding_forward(weight, ids, out, n_ids, V, D, dev);
    else
        cpu::embedding_forward(weight, ids, out, n_ids, D);
}

// Accumulates into dweight, which starts at zero.
template <class T>
void embedding_backward(const T* dout, const int64_t* ids, T* dweight, int64_t n_ids, int64_t V, int64_t D,
                        int64_t padding_idx, Device dev) {
    if (dev.is_cuda())
        cuda::embedding_backward(dout, ids, dweight, n_ids, V, D, padding_idx, dev);
    else
        cpu::embedding_backward(dout, ids, dweight, n_ids, V, D, padding_idx);
}

}  // namespace temper::backend
