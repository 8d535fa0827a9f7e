// The CUDA runtime layer: transfers, fill, strided copies of views, the caching allocator and its
// out-of-memory error.
#include <doctest/doctest.h>

#include <numeric>
#include <string>

#include "temper/temper.hpp"

namespace test_cuda_runtime {  // this file's names apart from the others' (unity build, tests/cuda/CMakeLists.txt)

using namespace temper;

TEST_CASE("to(cuda) and back is exact, for contiguous and strided views") {
    Device gpu = Device::cuda(0);
    std::vector<float> v(6 * 7);
    std::iota(v.begin(), v.end(), -3.5f);
    auto cpu = Tensor<float>::from_vector(v, {6, 7});
    auto g = cpu.to(gpu);
    CHECK(g.device() == gpu);
    CHECK(g.to_vector() == v);
    CHECK(g.to(Device::cpu()).to_vector() == v);

    // A transposed view copied on the GPU matches the CPU's strided copy.
    auto t_cpu = transpose(cpu, 0, 1);
    auto t_gpu = transpose(g, 0, 1);
    CHECK(!t_gpu.is_contiguous());
    CHECK(t_gpu.to_vector() == t_cpu.to_vector());
    CHECK(t_gpu.clone().to_vector() == t_cpu.to_vector());
    CHECK(t_gpu.at({3, 2}) == t_cpu.at({3, 2}));
}

TEST_CASE("full / zeros on the GPU") {
    auto z = Tensor<double>::zeros({3, 1000}, Device::cuda());
    for (double x : z.to_vector()) REQUIRE(x == 0.0);
    auto f = Tensor<float>::full({17}, 2.5f, Device::cuda());
    CHECK(f.to_vector() == std::vector<float>(17, 2.5f));
    CHECK(Tensor<float>::full({}, 4.0f, Device::cuda()).item() == 4.0f);
}

TEST_CASE("the caching allocator reuses freed blocks of the same size") {
    cuda::synchronize(Device::cuda());
    { auto warm = Tensor<float>::empty({1024, 1024}, Device::cuda()); }
    size_t before = cuda::allocator_stats().cuda_mallocs;
    for (int i = 0; i < 10; ++i) {
        auto a = Tensor<float>::empty({1024, 1024}, Device::cuda());
        auto b = Tensor<float>::empty({1000, 1024}, Device::cuda());  // 3.9 MiB rounds up to the same 4 MiB
        (void)a;
        (void)b;
    }
    // a reuses the warm-up block; b needs one more the first time round, then nothing new.
    CHECK(cuda::allocator_stats().cuda_mallocs - before == 1);
}

TEST_CASE("out of memory is a temper::Error with the requested size") {
    bool threw = false;
    try {
        auto huge = Tensor<float>::empty({int64_t(1) << 40}, Device::cuda());  // 4 TiB
    } catch (const Error& e) {
        threw = true;
        std::string msg = e.what();
        CHECK(msg.find("out of memory") != std::string::npos);
        CHECK(msg.find("4194304 MiB") != std::string::npos);
    }
    CHECK(threw);
    // The device is still usable afterwards.
    CHECK(Tensor<float>::full({4}, 1.0f, Device::cuda()).to_vector() == std::vector<float>(4, 1.0f));
}

TEST_CASE("a bad device index is a clear error") {
    CHECK_THROWS_AS(Tensor<float>::empty({4}, Device::cuda(cuda::device_count())), Error);
}

}  // namespace test_cuda_runtime
