// CUDA runtime state: how many GPUs there are, the current device, and one stream per device that all of
// temper's work is queued on (so buffers freed to the caching allocator are safe to reuse in stream order).
#pragma once

#include <array>
#include <mutex>
#include <optional>

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

namespace detail {
struct StreamTable {
    std::array<cudaStream_t, kMaxDevices> streams{};
    std::mutex mu;
};
inline StreamTable& stream_table() {
    static StreamTable t;
    return t;
}
}  // namespace detail

// The stream temper uses on dev, created on first use. Non-blocking: it does not synchronise with the
// legacy default stream, so user code that mixes streams must synchronise explicitly.
inline cudaStream_t stream(Device dev) {
    detail::StreamTable& t = detail::stream_table();
    check_device(dev);
    check(dev.index < kMaxDevices, "device index ", dev.index, " exceeds temper's limit of ", kMaxDevices);
    std::lock_guard<std::mutex> lock(t.mu);
    cudaStream_t& s = t.streams[size_t(dev.index)];
    if (!s) {
        DeviceGuard g(dev);
        TEMPER_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    }
    return s;
}

// The device of temper's stream s (cuda::stream); -1 for a stream temper did not make.
inline int stream_device(cudaStream_t s) {
    detail::StreamTable& t = detail::stream_table();
    std::lock_guard<std::mutex> lock(t.mu);
    for (int i = 0; i < kMaxDevices; ++i)
        if (s && t.streams[size_t(i)] == s) return i;
    return -1;
}

// Makes the device of temper's stream s current for the scope (any other stream: leaves the current device
// alone). Every launcher starts with one: CUDA refuses a kernel launch on a stream of another device than
// the current one, and scratch memory must come from the stream's device, whatever device the caller left
// current.
class OnStreamDevice {
public:
    explicit OnStreamDevice(cudaStream_t s) {
        if (const int d = stream_device(s); d >= 0) guard_.emplace(Device::cuda(d));
    }

private:
    std::optional<DeviceGuard> guard_;
};

// Waits until all queued work on dev is finished; surfaces asynchronous kernel errors as temper::Error.
inline void synchronize(Device dev) { TEMPER_CUDA_CHECK(cudaStreamSynchronize(stream(dev))); }

}  // namespace temper::cuda

namespace temper {
inline Device Device::best() { return cuda::is_available() ? Device::cuda(0) : Device::cpu(); }
}  // namespace temper
