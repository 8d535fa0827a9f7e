// Storage: one reference-counted buffer of T on a device. Tensors are views (shape, strides, offset) on it.
#pragma once

#include "temper/backend/memory.hpp"
#include "temper/core/device.hpp"

namespace temper {

template <class T>
class Storage {
public:
    Storage(size_t n, Device dev) : n_(n), dev_(dev) {
        if (n > 0) ptr_ = static_cast<T*>(backend::allocate(n * sizeof(T), dev));
    }
    ~Storage() { backend::deallocate(ptr_, n_ * sizeof(T), dev_); }
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
