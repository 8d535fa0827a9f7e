// kernels/dropout.cuh against cpu::dropout_apply (cpu/dropout.hpp): the same Philox stream on the device, and
// bit-identical outputs in float and double for sizes around the 4-element Philox block, counters that
// cross 2^32 (the high counter word), in place and out of place.
#include <cstring>

#include "kernels/dropout.cuh"  // philox_uniform, for a kernel of its own
#include "temper/cuda/launchers.hpp"
#include "kernel_check.hpp"
#include "temper/cpu/dropout.hpp"

namespace test_kernel_dropout {  // this file's names apart from the others' (unity build, tests/cuda/CMakeLists.txt)

using namespace temper;
using test::DeviceBuffer;

namespace {

__global__ void philox_uniform_kernel(uint64_t seed, uint64_t offset, int64_t n, float* out) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        out[i] = philox_uniform(seed, offset, uint64_t(i));
}

template <class T>
bool bit_identical(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

const uint64_t kOffsets[] = {0, 12345, 0xFFFFFFFEull, 0xFFFFFFFFFFFFFFFDull};

}  // namespace

TEST_CASE("philox_uniform computed on the GPU equals the host's, word for word") {
    const int64_t n = 4099;
    for (uint64_t offset : kOffsets) {
        for (uint64_t seed : {uint64_t(0), uint64_t(0x5EED), uint64_t(0xDEADBEEFCAFEF00Dull)}) {
            DeviceBuffer<float> d(static_cast<size_t>(n));
            TEMPER_LAUNCH(8, 128, 0, test::gpu_stream(), philox_uniform_kernel)(seed, offset, n, d.get());
            TEMPER_CUDA_CHECK_LAUNCH();
            std::vector<float> ref(static_cast<size_t>(n));
            for (int64_t i = 0; i < n; ++i) ref[size_t(i)] = philox_uniform(seed, offset, uint64_t(i));
            CHECK_MESSAGE(bit_identical(d.download(), ref), "seed ", seed, " offset ", offset);
        }
    }
}

TEST_CASE_TEMPLATE("dropout_apply on the GPU is bit-identical to the CPU", T, float, double) {
    const int64_t sizes[] = {0, 1, 3, 4, 5, 1000, 4097, (int64_t(1) << 20) + 7};
    uint64_t seed = 11;
    for (int64_t n : sizes) {
        const std::vector<T> x = test::random_vector<T>(size_t(n), seed++);
        for (double p : {0.0, 0.1, 0.5, 0.9}) {
            for (uint64_t offset : kOffsets) {
                const uint64_t key = 0x1234567ull + seed;
                std::vector<T> ref(static_cast<size_t>(n));
                cpu::dropout_apply(x.data(), ref.data(), n, p, key, offset);

                DeviceBuffer<T> dx(x), dy(static_cast<size_t>(n));
                cuda::dropout_apply(dx.get(), dy.get(), n, p, key, offset, test::gpu());
                const std::vector<T> out = dy.download();
                CHECK_MESSAGE(bit_identical(out, ref), "n ", n, " p ", p, " offset ", offset);

                // In place: y aliases x.
                cuda::dropout_apply(dx.get(), dx.get(), n, p, key, offset, test::gpu());
                CHECK_MESSAGE(bit_identical(dx.download(), ref), "in place: n ", n, " p ", p, " offset ", offset);

                if (n == sizes[7] && offset == 0) {
                    int64_t kept = 0;
                    for (const T& v : out) kept += v != T(0);
                    const double frac = double(kept) / double(n);
                    MESSAGE("n ", n, " p ", p, ": kept fraction ", frac, " (expected ", 1 - p, ")");
                    CHECK(std::fabs(frac - (1 - p)) < 0.005);
                }
            }
        }
    }
}

}  // namespace test_kernel_dropout
