// The device layer for dropout: the same Philox mask on both devices, bit for bit.
#pragma once

#include "temper/core/device.hpp"
#include "temper/core/error.hpp"
#include "temper/core/random.hpp"
#include "temper/cpu/dropout.hpp"
#include "temper/cuda/api.hpp"

namespace temper::backend {

// y[i] = x[i] / (1 - p) where philox_uniform(pos.seed, pos.offset, i) >= p, else 0 (x and y may be the same
// buffer). A position with a device base (a CUDA graph being captured) reads seed and offset base on the GPU.
template <class T>
void dropout_apply(const T* x, T* y, int64_t n, double p, const PhiloxPosition& pos, Device dev) {
    if (dev.is_cuda()) return cuda::dropout_apply(x, y, n, p, pos.seed, pos.offset, dev, pos.device_base);
    check(!pos.device_base, "dropout: a generator with a device base (a CUDA graph capture) drew a CPU mask");
    cpu::dropout_apply(x, y, n, p, pos.seed, pos.offset);
}

}  // namespace temper::backend
