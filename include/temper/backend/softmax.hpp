// The device layer for the fused masked softmax of attention scores and its backward.
#pragma once

#include "temper/core/device.hpp"
#include "temper/cpu/softmax.hpp"
#include "temper/cuda/api.hpp"

namespace temper::backend {

// y = softmax(scale * x) per row of [rows, cols]; mask [rows / rows_per_batch, cols] (0 = masked key) or nullptr.
template <class T>
void masked_softmax_forward(const T* x, T* y, const int64_t* mask, int64_t rows, int64_t cols, int64_t rows_per_batch,
                            T scale, Device dev) {
    if (dev.is_cuda())
        cuda::masked_softmax_forward(x, y, mask, rows, cols, rows_per_batch, scale, dev);
    else
        cpu::masked_softmax_forward(x, y, mask, rows, cols, rows_per_batch, scale);
}

// dx = scale * y * (dy - sum_j dy * y) per row, 0 at masked keys.
template <class T>
void masked_softmax_backward(const T* y, const T* dy, T* dx, const int64_t* mask, int64_t rows, int64_t cols,
                             int64_t rows_per_batch, T scale, Device dev) {
    if (dev.is_cuda())
        cuda::masked_softmax_backward(y, dy, dx, mask, rows, cols, rows_per_batch, scale, dev);
    else
        cpu::masked_softmax_backward(y, dy, dx, mask, rows, cols, rows_per_batch, scale);
}

}  // namespace temper::backend
