// Shared by the kernel tests (test_kernel_*.cpp): GPU buffers, seeded random inputs, and the comparison of
// every output element against the CPU reference. Deliberately light (no temper.hpp, no Eigen) so each
// kernel test compiles quickly.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "temper/cuda/allocator.hpp"
#include "temper/cuda/runtime.hpp"

namespace temper::test {

inline Device gpu() { return Device::cuda(0); }
inline cudaStream_t gpu_stream() { return cuda::stream(gpu()); }
inline void gpu_sync() { cuda::synchronize(Device::cuda(0)); }

// n elements on GPU 0, from the caching allocator. get() points `offset` elements into the allocation:
// an offset of 1 misaligns it (exercises the kernels' scalar paths).
template <class T>
class DeviceBuffer {
public:
    explicit DeviceBuffer(size_t n, size_t offset = 0)
        : n_(n),
          base_(static_cast<T*>(cuda::device_alloc((n + offset) * sizeof(T), Device::cuda(0)))),
          p_(base_ + offset) {}
    explicit DeviceBuffer(const std::vector<T>& host, size_t offset = 0) : DeviceBuffer(host.size(), offset) {
        upload(host);
    }
    ~DeviceBuffer() { cuda::device_free(base_); }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;

    T* get() const { return p_; }
    size_t size() const { return n_; }

    // Copies on temper's stream, where the kernels run, then waits: the stream is non-blocking, so plain
    // cudaMemcpy on the legacy stream would not be ordered with them.
    void upload(const std::vector<T>& host) {
        REQUIRE(host.size() == n_);
        TEMPER_CUDA_CHECK(cudaMemcpyAsync(p_, host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice, gpu_stream()));
        gpu_sync();
    }
    std::vector<T> download() const {
        std::vector<T> host(n_);
        TEMPER_CUDA_CHECK(cudaMemcpyAsync(host.data(), p_, n_ * sizeof(T), cudaMemcpyDeviceToHost, gpu_stream()));
        gpu_sync();
        return host;
    }

private:
    size_t n_;
    T* base_;
    T* p_;
};

template <class T>
std::vector<T> random_vector(size_t n, uint64_t seed, double lo = -2.0, double hi = 2.0) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(lo, hi);
    std::vector<T> v(n);
    for (T& x : v) x = T(u(rng));
    return v;
}

// Relative error bound for the whole output, ||out - ref|| / ||ref||: 1e-5 in float (the kernels sum in
// float, the CPU in double), 1e-12 in double.
template <class T>
constexpr double kTol = std::is_same_v<T, float> ? 1e-5 : 1e-12;

// Checks every element of out against ref: the relative error of the whole output is at most tol, no
// element is more than 100 * tol * (|ref| + rms(ref)) off (so one wrong element cannot hide in a large
// norm), and non-finite values match. tol = 0 demands bit-equal finite results. Prints the numbers.
template <class T>
void check_close(const std::vector<T>& out, const std::vector<T>& ref, const std::string& what, double tol = kTol<T>) {
    REQUIRE(out.size() == ref.size());
    if (out.empty()) return;
    double diff2 = 0, ref2 = 0, max_abs = 0;
    size_t worst = 0, nonfinite = 0, finite = 0;
    for (size_t i = 0; i < out.size(); ++i) {
        const double o = double(out[i]), r = double(ref[i]);
        if (!std::isfinite(o) || !std::isfinite(r)) {
            if (!(o == r)) ++nonfinite;  // NaN never equals: a NaN output fails
            continue;
        }
        ++finite;
        const double e = std::fabs(o - r);
        diff2 += e * e;
        ref2 += r * r;
        if (e > max_abs) {
            max_abs = e;
            worst = i;
        }
    }
    const double rms = finite ? std::sqrt(ref2 / double(finite)) : 0.0;
    size_t far = 0;
    for (size_t i = 0; i < out.size(); ++i) {
        const double o = double(out[i]), r = double(ref[i]);
        if (std::isfinite(o) && std::isfinite(r) && std::fabs(o - r) > 100 * tol * (std::fabs(r) + rms)) ++far;
    }
    const double rel = ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
    MESSAGE(what, ": ", out.size(), " elements, relative error ", rel, ", max abs error ", max_abs, " (element ", worst,
            ")");
    CHECK_MESSAGE(nonfinite == 0, what, ": ", nonfinite, " non-finite mismatches");
    CHECK_MESSAGE(rel <= tol, what, ": relative error ", rel, " > ", tol);
    CHECK_MESSAGE(far == 0, what, ": ", far, " elements far off (worst: element ", worst, ", ", double(out[worst]),
                  " vs ", double(ref[worst]), ")");
}

}  // namespace temper::test
