// CUDA runtime state: how many GPUs there are, the current device, and one stream per device that all of
// temper's work is queued on (so buffers freed to the caching allocator are safe to reuse in stream order).
#pragma once

#include <array>
#include <mutex>

#include "temper/core/device.hpp"
#include "temper/cuda/check.hpp"

namespace temper::cuda {

// Number of usable GPUs; 0 (not an error) when there is no GPU or no driver, so CPU-only machines just
// fall back to the CPU.
inline int device_count() {
    static const int n = [] {
        int count = 0;
        if (cudaGetDeviceCount(&count) != cudaSuccess) {
            cudaGetLastError();
            return 0;
        }
        return count;
    }();
    return n;
}

inline bool is_available() { return device_count() > 0; }

inline void check_device(Device dev) {
    check(dev.is_cuda(), "expected a CUDA device, got ", dev.str());
    check(dev.index >= 0 && dev.index < device_count(), "device ", dev.str(), " is not available: this machine has ",
          device_count(), " CUDA GPU(s)");
}

// Makes dev current for the scope and restores the previous device afterwards.
class DeviceGuard {
public:
    explicit DeviceGuard(Device dev) {
        TEMPER_CUDA_CHECK(cudaGetDevice(&prev_));
        if (dev.index != prev_) TEMPER_CUDA_CHECK(cudaSetDevice(dev.index));
        changed_ = dev.index != prev_;
    }
    ~DeviceGuard() {
        if (changed_) cudaSetDevice(prev_);
    }
    DeviceGuard(const DeviceGuard&) = delete;
    DeviceGuard& operator=(const DeviceGuard&) = delete;

private:
    int prev_ = 0;
    bool changed_ = false;
};

constexpr int kMaxDevices = 16;

// The stream temper uses on dev, created on first use. Non-blocking: it does not synchronise with the
// legacy default stream, so user code that mixes streams must synchronise explicitly.
inline cudaStream_t stream(Device dev) {
    static std::array<cudaStream_t, kMaxDevices> streams{};
    static std::mutex mu;
    check_device(dev);
    check(dev.index < kMaxDevices, "device index ", dev.index, " exceeds temper's limit of ", kMaxDevices);
    std::lock_guard<std::mutex> lock(mu);
    cudaStream_t& s = streams[size_t(dev.index)];
    if (!s) {
        DeviceGuard g(dev);
        TEMPER_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    }
    return s;
}

// Waits until all queued work on dev is finished; surfaces asynchronous kernel errors as temper::Error.
inline void synchronize(Device dev) { TEMPER_CUDA_CHECK(cudaStreamSynchronize(stream(dev))); }

}  // namespace temper::cuda

namespace temper {
inline Device Device::best() { return cuda::is_available() ? Device::cuda(0) : Device::cpu(); }
}  // namespace temper
