// The device layer for memory: allocation, fills, dense and strided copies within a device, copies between
// devices, conversions between element types. Each function runs on the CPU or hands the work to the CUDA
// backend (cuda/api.hpp), by the device it is given; nothing above this layer asks which.
#pragma once

#include <algorithm>
#include <cstring>

#include "temper/core/device.hpp"
#include "temper/core/dtype.hpp"
#include "temper/core/host_memory.hpp"
#include "temper/cpu/memory.hpp"
#include "temper/cpu/parallel.hpp"
#include "temper/cuda/api.hpp"

namespace temper::backend {

// Host memory comes 64-byte aligned from the caching host allocator (Eigen's vectorised kernels stay on their
// fast path), device memory from the CUDA caching allocator.
inline void* allocate(size_t bytes, Device dev) {
    if (dev.is_cuda()) return cuda::device_alloc(bytes, dev);
    void* p = detail::host_allocator().allocate(bytes);
    if (!p) fail("out of memory: could not allocate ", bytes, " bytes on ", dev.str());
    return p;
}

inline void deallocate(void* p, size_t bytes, Device dev) noexcept {
    if (dev.is_cuda())
        cuda::device_free(p);
    else
        detail::host_allocator().deallocate(p, bytes);
}

// out[i] = value for i < n.
template <class T>
void fill(T* out, T value, int64_t n, Device dev) {
    if (dev.is_cuda())
        cuda::fill(out, value, n, dev);
    else
        std::fill_n(out, n, value);
}

// out[i] = i for i < n.
template <class T>
void iota(T* out, int64_t n, Device dev) {
    if (dev.is_cuda()) return cuda::iota(out, n, dev);
    for (int64_t i = 0; i < n; ++i) out[i] = T(i);
}

// out[i] = in[i] as To (one rounding when narrowing), n contiguous elements.
template <class To, class From>
void convert(const From* in, To* out, int64_t n, Device dev) {
    if (dev.is_cuda()) return cuda::convert(in, out, n, dev);
    cpu::parallel_for(n, 1, [&](int64_t i) { out[i] = To(compute_t<From>(in[i])); });
}

// The view (src, shape, strides) to dense dst in row-major order, on one device.
template <class T>
void copy_strided(const T* src, const Shape& shape, const Shape& strides, T* dst, Device dev) {
    if (dev.is_cuda())
        cuda::copy_strided(src, shape, strides, dst, dev);
    else
        cpu::copy_strided(src, shape, strides, dst);
}

// Dense src into the view (dst, shape, strides), on one device.
template <class T>
void copy_into_strided(const T* src, T* dst, const Shape& shape, const Shape& strides, Device dev) {
    if (dev.is_cuda())
        cuda::copy_into_strided(src, dst, shape, strides, dev);
    else
        cpu::copy_into_strided(src, dst, shape, strides);
}

// bytes from src on src_dev to dst on dst_dev, in stream order on the GPU (cuda::copy); a copy to the host
// waits for the GPU, one from the host may return before it has landed.
inline void copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
    if (bytes == 0) return;
    if (dst_dev.is_cpu() && src_dev.is_cpu())
        std::memcpy(dst, src, bytes);
    else
        cuda::copy(dst, dst_dev, src, src_dev, bytes);
}

// Waits for the work queued on dev (nothing to wait for on the CPU).
inline void synchronize(Device dev) {
    if (dev.is_cuda()) cuda::synchronize(dev);
}

}  // namespace temper::backend
