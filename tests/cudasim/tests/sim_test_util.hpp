// Helpers for the simulator's own tests: device buffers and checked calls.
#pragma once

#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#define SIM_CHECK(call) REQUIRE_MESSAGE((call) == cudaSuccess, #call, ": ", cudaGetErrorString(cudaGetLastError()))

namespace simtest {

template <class T>
struct DeviceArray {
    T* p = nullptr;
    size_t n = 0;
    explicit DeviceArray(size_t count) : n(count) { SIM_CHECK(cudaMalloc(&p, count * sizeof(T))); }
    explicit DeviceArray(const std::vector<T>& v) : DeviceArray(v.size()) {
        SIM_CHECK(cudaMemcpy(p, v.data(), n * sizeof(T), cudaMemcpyHostToDevice));
    }
    ~DeviceArray() { cudaFree(p); }
    DeviceArray(const DeviceArray&) = delete;
    DeviceArray& operator=(const DeviceArray&) = delete;
    std::vector<T> get() const {
        std::vector<T> v(n);
        SIM_CHECK(cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
        return v;
    }
};

inline bool all_bytes(const void* p, size_t n, unsigned char b) {
    const auto* c = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i)
        if (c[i] != b) return false;
    return true;
}

}  // namespace simtest
