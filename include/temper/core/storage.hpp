// Storage: one reference-counted buffer of T on a device. Tensors are views (shape, strides, offset) on it.
#pragma once

#include <memory>
#include <new>

#include "temper/core/device.hpp"
#include "temper/core/error.hpp"
#include "temper/core/host_memory.hpp"
#if defined(TEMPER_WITH_CUDA)
#include "temper/cuda/allocator.hpp"
#endif

namespace temper {

template <class T>
class Storage {
public:
    Storage(size_t n, Device dev) : n_(n), dev_(dev) {
        if (dev.is_cuda()) {
#if defined(TEMPER_WITH_CUDA)
            if (n > 0) ptr_ = static_cast<T*>(cuda::device_alloc(n * sizeof(T), dev));
            return;
#else
            fail("device ", dev.str(), " is not available: this build of temper has no CUDA backend "
                 "(link temper::cuda and compile with nvcc)");
#endif
        }
        if (n == 0) return;
        // 64-byte aligned, so Eigen's vectorised kernels stay on their fast path.
        ptr_ = static_cast<T*>(detail::host_allocator().allocate(n * sizeof(T)));
        if (!ptr_) fail("out of memory: could not allocate ", n * sizeof(T), " bytes on ", dev.str());
    }
    ~Storage() {
#if defined(TEMPER_WITH_CUDA)
        if (dev_.is_cuda()) {
            cuda::device_free(ptr_);
            return;
        }
#endif
        detail::host_allocator().deallocate(ptr_, n_ * sizeof(T));
    }
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    T* data() { return ptr_; }
    const T* data() const { return ptr_; }
    size_t size() const { return n_; }
    Device device() const { return dev_; }

private:
    T* ptr_ = nullptr;
    size_t n_ = 0;
    Device dev_;
};

}  // namespace temper
