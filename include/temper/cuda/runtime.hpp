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
    check(dev.is_cuda(), "expected a CUDA device, got ", dev);
    check(dev.index >= 0 && dev.index < device_count(), "device ", dev, " is not available: this machine has ",
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

// What a launcher runs under: dev is current for its scope (CUDA refuses a kernel launch on a stream of another
// device than the current one, and cuBLAS needs its handle's device current), and stream is temper's stream
// on dev, where its kernels go.
struct OnDevice {
    explicit OnDevice(Device dev) : guard(dev), stream(cuda::stream(dev)) {}
    DeviceGuard guard;
    cudaStream_t stream;
};

// Waits until all queued work on dev is finished; surfaces asynchronous kernel errors as temper::Error.
inline void synchronize(Device dev) { TEMPER_CUDA_CHECK(cudaStreamSynchronize(stream(dev))); }

// Copies bytes from src on src_dev to dst on dst_dev (one of them at least a GPU) in temper's stream order:
//   host to GPU:       queued on the GPU's stream; the pageable source is staged at the call, so the caller may
//                      reuse it at once;
//   GPU to host:       waits for the source's queued work and the copy;
//   within one GPU:    queued on its stream;
//   between two GPUs:  the source's queued work finishes first, then the copy runs on the destination's stream
//                      (cudaMemcpyPeer would use the legacy stream, which temper's streams do not wait for) and
//                      is waited for, so that the source may go back to its device's cache at once.
inline void copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
    if (bytes == 0) return;
    if (src_dev.is_cpu()) {
        TEMPER_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream(dst_dev)));
    } else if (dst_dev.is_cpu()) {
        TEMPER_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream(src_dev)));
        synchronize(src_dev);
    } else if (dst_dev == src_dev) {
        TEMPER_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream(dst_dev)));
    } else {
        synchronize(src_dev);
        TEMPER_CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_dev.index, src, src_dev.index, bytes, stream(dst_dev)));
        synchronize(dst_dev);
    }
}

}  // namespace temper::cuda

namespace temper {
inline Device Device::best() { return cuda::is_available() ? Device::cuda(0) : Device::cpu(); }
}  // namespace temper
