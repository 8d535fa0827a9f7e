// Deliberately broken CUDA programs, one per checker of the simulator: `cudasim_broken <case>`. ctest runs
// each case and expects the simulator's report (tests/cudasim/tests/CMakeLists.txt). Where the checker makes
// a bug visible instead of stopping it (0xFF-filled memory, work that runs only when waited for), the program
// checks that the wrong value appeared and says so; it exits 1 if the bug went unnoticed.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace {

#define CHECKED(call)                                                                                   \
    do {                                                                                                \
        if ((call) != cudaSuccess) {                                                                    \
            std::printf("unexpected failure: %s: %s\n", #call, cudaGetErrorString(cudaGetLastError())); \
            std::exit(2);                                                                               \
        }                                                                                               \
    } while (0)

template <class T>
T* device(size_t n) {
    T* p = nullptr;
    CHECKED(cudaMalloc(&p, n * sizeof(T)));
    return p;
}

float first(const float* d) {
    float v = 0;
    CHECKED(cudaMemcpy(&v, d, sizeof v, cudaMemcpyDeviceToHost));
    return v;
}

int visible(bool shown, const char* what) {
    std::printf(shown ? "cudasim made the bug visible: %s\n" : "BUG NOT CAUGHT: %s\n", what);
    return shown ? 0 : 1;
}

// ---- the broken kernels --------------------------------------------------------------------------------

__global__ void write_one_past(float* out, int n) { out[n] = 1.0f; }
__global__ void read_one_past(const float* in, float* out, int n) { out[0] = in[n]; }

__global__ void dynamic_shared_overflow(float* out, int bytes) {
    CUDASIM_DYNAMIC_SMEM(smem);
    out[0] = float(smem[bytes]);
}

__global__ void static_shared_overflow(float* out) {
    __shared__ float cell[32];
    cell[threadIdx.x] = 1.0f;  // launched with 33 threads
    out[0] = cell[0];
}

__global__ void divergent_barriers(float* out) {
    if (threadIdx.x < 16) {
        __syncthreads();
    } else {
        out[threadIdx.x] = 1.0f;
        __syncthreads();
    }
}

__global__ void barrier_against_shuffle(float* out) {
    float v = float(threadIdx.x);
    if (threadIdx.x < 16)
        __syncthreads();
    else
        v = __shfl_xor_sync(0xffffffffu, v, 1);
    out[threadIdx.x] = v;
}

__global__ void shuffle_with_exited_lanes(float* out) {
    if (threadIdx.x >= 16) return;
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, float(threadIdx.x), 1);
}

__global__ void shuffle_with_absent_lanes(float* out) {  // launched with 16 threads
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, float(threadIdx.x), 1);
}

__global__ void lanes_at_different_shuffles(float* out) {
    float v = float(threadIdx.x);
    if (threadIdx.x % 2)
        v = __shfl_xor_sync(0xffffffffu, v, 1);
    else
        v = __shfl_xor_sync(0xffffffffu, v, 2);
    out[threadIdx.x] = v;
}

// Reads a neighbour's shared value without a barrier between the write and the read.
__global__ void missing_barrier(const float* in, float* out) {
    __shared__ float buf[64];
    buf[threadIdx.x] = in[threadIdx.x];
    out[threadIdx.x] = buf[threadIdx.x ^ 1];
}

__global__ void blocks_write_one_place(float* out) {
    if (threadIdx.x == 0) out[0] = float(blockIdx.x);
}

__global__ void read_shared_before_write(float* out) {
    __shared__ float acc[32];
    acc[threadIdx.x] += 1.0f;  // never initialised
    __syncthreads();
    out[threadIdx.x] = acc[threadIdx.x];
}

__global__ void sum_into(const float* in, float* out) { out[threadIdx.x] = in[threadIdx.x] + 1.0f; }

__global__ void fill(float* out, float v) { out[threadIdx.x] = v; }

// ---- the cases -----------------------------------------------------------------------------------------

const std::map<std::string, std::function<int()>> cases = {
    {"oob-global-write",  // 64 floats end a page exactly: one past them is the guard page
     [] {
         float* d = device<float>(64);
         CUDASIM_LAUNCH(1, 1, 0, nullptr, write_one_past)(d, 64);
         CHECKED(cudaDeviceSynchronize());
         return visible(false, "a write past the end of an allocation");
     }},
    {"oob-global-read",  // inside the allocation's last page: AddressSanitizer's poisoned tail
     [] {
         float* d = device<float>(10);
         float* out = device<float>(1);
         CUDASIM_LAUNCH(1, 1, 0, nullptr, read_one_past)(d, out, 10);
         CHECKED(cudaDeviceSynchronize());
         return visible(false, "a read past the end of an allocation");
     }},
    {"oob-dynamic-shared",
     [] {
         float* out = device<float>(1);
         CUDASIM_LAUNCH(1, 1, 64, nullptr, dynamic_shared_overflow)(out, 64);
         CHECKED(cudaDeviceSynchronize());
         return visible(false, "a read past the dynamic shared memory");
     }},
    {"oob-static-shared",
     [] {
         float* out = device<float>(1);
         CUDASIM_LAUNCH(1, 33, 0, nullptr, static_shared_overflow)(out);
         CHECKED(cudaDeviceSynchronize());
         return visible(false, "a write past a static __shared__ array");
     }},
    {"barrier-divergent",
     [] {
         float* out = device<float>(32);
         CUDASIM_LAUNCH(1, 32, 0, nullptr, divergent_barriers)(out);
         CHECKED(cudaDeviceSynchronize());
         return visible(false, "threads waiting at different barriers");
     }},
    {"barrier-deadlock",
     [] {
         float* out = device<float>(32);
         CUDASIM_LAUNCH(1, 32, 0, nullptr, barrier_against_shuffle)(out);
         CHECKED(cudaDeviceSynchronize());
         return visible(false, "a barrier that half the block never reaches");
     }},
    {"warp-exited-lane",
     [] {
         float* out = device<float>(32);
         CUDASIM_LAUNCH(1, 32, 0, nullptr, shuffle_with_exited_lanes)(out);
         CHECKED(cudaDeviceSynchronize());
         return visible(false, "a shuffle whose mask names exited lanes");
     }},
    {"warp-absent-lane",
     [] {
         float* out = device<float>(16);
         CUDASIM_LAUNCH(1, 16, 0, nullptr, shuffle_with_absent_lanes)(out);
         CHECKED(cudaDeviceSynchronize());
         return visible(false, "a shuffle whose mask names lanes the block does not have");
     }},
    {"warp-mismatch",
     [] {
         float* out = device<float>(32);
         CUDASIM_LAUNCH(1, 32, 0, nullptr, lanes_at_different_shuffles)(out);
         CHECKED(cudaDeviceSynchronize());
         return visible(false, "lanes meeting at different shuffles");
     }},
    {"race-shared",  // run with CUDASIM_RACECHECK
     [] {
         std::vector<float> h(64);
         for (int i = 0; i < 64; ++i) h[size_t(i)] = float(i);
         float* in = device<float>(64);
         float* out = device<float>(64);
         CHECKED(cudaMemcpy(in, h.data(), 64 * sizeof(float), cudaMemcpyHostToDevice));
         CUDASIM_LAUNCH(1, 64, 0, nullptr, missing_barrier)(in, out);
         CHECKED(cudaDeviceSynchronize());
         return visible(false, "threads exchanging shared memory without a barrier");
     }},
    {"race-blocks",  // run with CUDASIM_RACECHECK
     [] {
         float* out = device<float>(1);
         CUDASIM_LAUNCH(8, 32, 0, nullptr, blocks_write_one_place)(out);
         CHECKED(cudaDeviceSynchronize());
         return visible(false, "blocks writing one location");
     }},
    {"uninit-shared",
     [] {
         float* out = device<float>(32);
         CUDASIM_LAUNCH(1, 32, 0, nullptr, read_shared_before_write)(out);
         return visible(std::isnan(first(out)), "shared memory read before any write is NaN");
     }},
    {"uninit-device",
     [] {
         float* in = device<float>(32);  // never written
         float* out = device<float>(32);
         CUDASIM_LAUNCH(1, 32, 0, nullptr, sum_into)(in, out);
         return visible(std::isnan(first(out)), "device memory read before any write is NaN");
     }},
    {"missing-sync",
     [] {
         cudaStream_t s;
         CHECKED(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
         float* d = device<float>(32);
         CUDASIM_LAUNCH(1, 32, 0, s, fill)(d, 1.0f);
         float h = 0;
         CHECKED(cudaMemcpyAsync(&h, d, sizeof h, cudaMemcpyDeviceToHost, s));
         const bool shown = std::isnan(h);  // read without cudaStreamSynchronize(s)
         CHECKED(cudaStreamSynchronize(s));
         return visible(shown && h == 1.0f, "a result read before waiting for the stream is NaN");
     }},
    {"host-access",
     [] {
         float* d = device<float>(4);
         volatile float v = d[1];  // host code dereferencing device memory
         (void)v;
         return visible(false, "host code reading device memory");
     }},
    {"host-access-freed",
     [] {
         float* d = device<float>(4);
         CHECKED(cudaFree(d));
         d[0] = 1.0f;
         return visible(false, "host code writing freed device memory");
     }},
    {"foreign-pointer",
     [] {
         CHECKED(cudaSetDevice(1));
         float* other = device<float>(32);
         CHECKED(cudaSetDevice(0));
         CUDASIM_LAUNCH(1, 32, 0, nullptr, fill)(other, 1.0f);
         CHECKED(cudaDeviceSynchronize());
         return visible(false, "a kernel given another GPU's memory");
     }},
    {"host-pointer",
     [] {
         std::vector<float> host(32);
         CUDASIM_LAUNCH(1, 32, 0, nullptr, fill)(host.data(), 1.0f);
         CHECKED(cudaDeviceSynchronize());
         return visible(false, "a kernel given host memory");
     }},
    {"use-after-free",
     [] {
         float* d = device<float>(32);
         CHECKED(cudaFree(d));
         CUDASIM_LAUNCH(1, 32, 0, nullptr, fill)(d, 1.0f);
         CHECKED(cudaDeviceSynchronize());
         return visible(false, "a kernel given freed memory");
     }},
};

}  // namespace

int main(int argc, char** argv) {
    const auto it = argc == 2 ? cases.find(argv[1]) : cases.end();
    if (it == cases.end()) {
        std::printf("usage: cudasim_broken <case>; cases:");
        for (const auto& [name, fn] : cases) std::printf(" %s", name.c_str());
        std::printf("\n");
        return 2;
    }
    return it->second();
}
