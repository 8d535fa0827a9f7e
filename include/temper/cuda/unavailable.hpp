// The CUDA backend's names in a build without it (the CMake option TEMPER_WITH_CUDA off): there is no GPU,
// and anything that would need one raises the "no CUDA backend" error. Included by cuda/api.hpp only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "temper/core/device.hpp"
#include "temper/cuda/launchers.hpp"

namespace temper::cuda {

inline int device_count() { return 0; }
inline bool is_available() { return false; }
[[noreturn]] inline void check_device(Device) { no_backend(); }
[[noreturn]] inline void synchronize(Device) { no_backend(); }
[[noreturn]] inline void* device_alloc(size_t, Device) { no_backend(); }
inline void device_free(void*) noexcept {}
[[noreturn]] inline void copy(void*, Device, const void*, Device, size_t) { no_backend(); }

template <class T>
[[noreturn]] void gemm_strided_batched(Device, bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, int64_t,
                                       const T*, int64_t, int64_t, T, T*, int64_t, int64_t, int64_t) {
    no_backend();
}

// Never captures anything: backend::Graph runs its work eagerly on the CPU.
class Graph {
public:
    template <class Fn>
    [[noreturn]] void capture(Device, Fn&&) {
        no_backend();
    }
    [[noreturn]] void replay() const { no_backend(); }
    bool captured() const { return false; }
    void reset() noexcept {}
};

}  // namespace temper::cuda

namespace temper {
inline Device Device::best() { return Device::cpu(); }
}  // namespace temper
