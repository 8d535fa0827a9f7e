// The simulator's semantics against CUDA's definitions: built-in indices, barriers and their reductions,
// warp collectives (widths, partial and exited warps), shared memory per block and its 0xFF start, launch
// limits, streams that run when waited for, copies and their checks, events, graph capture and replay,
// cuBLAS's column-major GEMM with its roundings, several devices, device memory. Run in the forward, reversed
// and shuffled thread orders (tests/cudasim/tests/CMakeLists.txt): the results must not depend on it.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "sim_test_util.hpp"

using simtest::DeviceArray;

namespace {

// ---- kernels -------------------------------------------------------------------------------------------

__global__ void index_kernel(unsigned* out) {
    const unsigned nt = blockDim.x * blockDim.y * blockDim.z;
    const unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    const unsigned b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    unsigned* o = out + 8 * (size_t(b) * nt + t);
    o[0] = threadIdx.x, o[1] = threadIdx.y, o[2] = threadIdx.z;
    o[3] = blockIdx.x, o[4] = blockIdx.y, o[5] = blockIdx.z;
    o[6] = nt;
    o[7] = gridDim.x * gridDim.y * gridDim.z;
}

// Each thread reads its neighbour's value through shared memory: right only with the barrier.
__global__ void rotate_kernel(const float* in, float* out) {
    __shared__ float buf[256];
    const unsigned t = threadIdx.x, base = blockIdx.x * blockDim.x;
    buf[t] = in[base + t];
    __syncthreads();
    out[base + t] = buf[(t + 1) % blockDim.x];
}

__global__ void votes_kernel(const int* pred, int* out) {
    const int p = pred[threadIdx.x];
    const int c = __syncthreads_count(p), a = __syncthreads_and(p), o = __syncthreads_or(p);
    if (threadIdx.x == 0) out[0] = c, out[1] = a, out[2] = o;
}

__global__ void shuffle_kernel(int* out, int width) {
    const int lane = int(threadIdx.x % 32);
    const int v = int(threadIdx.x) * 10;
    int* o = out + 6 * threadIdx.x;
    o[0] = __shfl_xor_sync(0xffffffffu, v, 5, width);
    o[1] = __shfl_sync(0xffffffffu, v, 3, width);
    o[2] = __shfl_up_sync(0xffffffffu, v, 2, width);
    o[3] = __shfl_down_sync(0xffffffffu, v, 2, width);
    o[4] = int(__ballot_sync(0xffffffffu, lane % 3 == 0));
    o[5] = __any_sync(0xffffffffu, lane == 7) + 2 * __all_sync(0xffffffffu, lane < 31);
}

// 40 threads: warp 1 has lanes 0..7 only, and names just those.
__global__ void partial_warp_kernel(double* out) {
    const unsigned mask = threadIdx.x < 32 ? 0xffffffffu : 0xffu;
    double v = threadIdx.x;
    for (int o = 1; o < 8; o <<= 1) v += __shfl_xor_sync(mask, v, o);
    out[threadIdx.x] = v;
}

// Warp 0 leaves at once; warp 1 still exchanges values among its own lanes.
__global__ void early_exit_kernel(float* out) {
    if (threadIdx.x < 32) return;
    float v = float(threadIdx.x);
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    out[threadIdx.x - 32] = v;
}

__global__ void static_shared_kernel(float* seen) {
    __shared__ float cell[2];
    if (threadIdx.x == 0) {
        seen[blockIdx.x] = cell[0];
        cell[0] = float(blockIdx.x);
    }
}

__global__ void dynamic_shared_kernel(float* seen, int n) {
    CUDASIM_DYNAMIC_SMEM(smem);
    float* f = reinterpret_cast<float*>(smem);
    if (threadIdx.x < unsigned(n)) seen[blockIdx.x * n + threadIdx.x] = f[threadIdx.x];
    __syncthreads();
    if (threadIdx.x < unsigned(n)) f[threadIdx.x] = 1.0f;
}

template <class T>
__global__ void fill_kernel(T* out, T value, int n) {
    for (int i = int(blockIdx.x * blockDim.x + threadIdx.x); i < n; i += int(gridDim.x * blockDim.x)) out[i] = value;
}

__global__ void add_one_kernel(float* x, int n) {
    for (int i = int(threadIdx.x); i < n; i += int(blockDim.x)) x[i] += 1.0f;
}

__global__ void empty_kernel() {}

template <class T>
std::vector<T> download(const T* p, size_t n, cudaStream_t s) {
    std::vector<T> v(n);
    SIM_CHECK(cudaMemcpyAsync(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost, s));
    SIM_CHECK(cudaStreamSynchronize(s));
    return v;
}

bool is_poison(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u == 0xFFFFFFFFu;
}

std::string last_error_text() { return cudaGetErrorString(cudaGetLastError()); }

struct Stream {
    cudaStream_t s = nullptr;
    explicit Stream(unsigned flags = cudaStreamNonBlocking) { SIM_CHECK(cudaStreamCreateWithFlags(&s, flags)); }
    ~Stream() { cudaStreamDestroy(s); }
};

}  // namespace

TEST_CASE("threadIdx, blockIdx, blockDim and gridDim in a 3-D grid of 3-D blocks") {
    const dim3 grid(3, 2, 2), block(4, 3, 2);
    const size_t threads = 12 * 24;
    DeviceArray<unsigned> out(8 * threads);
    CUDASIM_LAUNCH(grid, block, 0, nullptr, index_kernel)(out.p);
    SIM_CHECK(cudaGetLastError());
    const std::vector<unsigned> o = out.get();
    size_t i = 0;
    for (unsigned bz = 0; bz < 2; ++bz)
        for (unsigned by = 0; by < 2; ++by)
            for (unsigned bx = 0; bx < 3; ++bx)
                for (unsigned tz = 0; tz < 2; ++tz)
                    for (unsigned ty = 0; ty < 3; ++ty)
                        for (unsigned tx = 0; tx < 4; ++tx, ++i) {
                            const unsigned* r = &o[8 * i];
                            REQUIRE(r[0] == tx);
                            REQUIRE(r[1] == ty);
                            REQUIRE(r[2] == tz);
                            REQUIRE(r[3] == bx);
                            REQUIRE(r[4] == by);
                            REQUIRE(r[5] == bz);
                            REQUIRE(r[6] == 24);
                            REQUIRE(r[7] == 12);
                        }
}

TEST_CASE("__syncthreads orders shared-memory writes before reads; the reductions count, and, or") {
    std::vector<float> in(4 * 256);
    for (size_t i = 0; i < in.size(); ++i) in[i] = float(i);
    DeviceArray<float> din(in), dout(in.size());
    CUDASIM_LAUNCH(4, 256, 0, nullptr, rotate_kernel)(din.p, dout.p);
    const std::vector<float> out = dout.get();
    for (size_t b = 0; b < 4; ++b)
        for (size_t t = 0; t < 256; ++t) REQUIRE(out[b * 256 + t] == in[b * 256 + (t + 1) % 256]);

    for (int ones : {0, 1, 37, 64}) {
        std::vector<int> pred(64, 0);
        for (int t = 0; t < ones; ++t) pred[size_t(t * 7 % 64)] = 1;
        DeviceArray<int> dp(pred), res(3);
        CUDASIM_LAUNCH(1, 64, 0, nullptr, votes_kernel)(dp.p, res.p);
        const std::vector<int> r = res.get();
        CHECK(r[0] == ones);
        CHECK(r[1] == (ones == 64));
        CHECK(r[2] == (ones > 0));
    }
}

TEST_CASE("warp shuffles and votes follow CUDA's definitions, for every width") {
    for (int width : {32, 16, 8, 4, 2, 1}) {
        CAPTURE(width);
        DeviceArray<int> out(64 * 6);
        CUDASIM_LAUNCH(1, 64, 0, nullptr, shuffle_kernel)(out.p, width);
        const std::vector<int> o = out.get();
        for (int t = 0; t < 64; ++t) {
            const int lane = t % 32, seg = lane & ~(width - 1), base = t - lane;
            const int* r = &o[size_t(6 * t)];
            const int x = lane ^ 5;
            CHECK(r[0] == 10 * (base + (x >= seg + width ? lane : x)));
            CHECK(r[1] == 10 * (base + seg + 3 % width));
            CHECK(r[2] == 10 * (base + (lane - 2 < seg ? lane : lane - 2)));
            CHECK(r[3] == 10 * (base + (lane + 2 >= seg + width ? lane : lane + 2)));
            unsigned ballot = 0;
            for (int l = 0; l < 32; l += 3) ballot |= 1u << l;
            CHECK(unsigned(r[4]) == ballot);
            CHECK(r[5] == 1);  // any(lane == 7), not all(lane < 31)
        }
    }
}

TEST_CASE("a partial last warp names only its lanes; a warp may exchange after another warp has exited") {
    DeviceArray<double> out(40);
    CUDASIM_LAUNCH(1, 40, 0, nullptr, partial_warp_kernel)(out.p);
    const std::vector<double> o = out.get();
    for (int t = 0; t < 40; ++t) {
        double expect = 0;  // sum over the lane's group of 8 (xor 1, 2, 4)
        for (int j = t & ~7; j < (t & ~7) + 8; ++j) expect += j;
        CHECK(o[size_t(t)] == expect);
    }
    DeviceArray<float> out2(32);
    CUDASIM_LAUNCH(1, 64, 0, nullptr, early_exit_kernel)(out2.p);
    for (float v : out2.get()) CHECK(v == float((32 + 63) * 32 / 2));
}

TEST_CASE("shared memory is per block and starts as 0xFF bytes (NaN), static and dynamic") {
    DeviceArray<float> seen(64);
    CUDASIM_LAUNCH(64, 32, 0, nullptr, static_shared_kernel)(seen.p);
    for (float v : seen.get()) CHECK(is_poison(v));  // never another block's value

    DeviceArray<float> seen2(16 * 25);
    CUDASIM_LAUNCH(16, 32, 100, nullptr, dynamic_shared_kernel)(seen2.p, 25);
    for (float v : seen2.get()) CHECK(is_poison(v));
}

TEST_CASE("launches beyond CUDA's limits fail as CUDA fails, and launch nothing") {
    SIM_CHECK(cudaGetLastError());
    CUDASIM_LAUNCH(1, 1025, 0, nullptr, empty_kernel)();
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
    CUDASIM_LAUNCH(1, dim3(1, 1, 65), 0, nullptr, empty_kernel)();
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
    CUDASIM_LAUNCH(dim3(1, 65536), 32, 0, nullptr, empty_kernel)();
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
    CUDASIM_LAUNCH(0, 32, 0, nullptr, empty_kernel)();
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
    CUDASIM_LAUNCH(dim3(1, 65535), 1, 0, nullptr, empty_kernel)();  // y at its limit is fine
    CHECK(cudaGetLastError() == cudaSuccess);

    // Dynamic shared memory: 48 KB by default, up to 227 KB once the kernel opts in.
    DeviceArray<float> seen(1);
    CUDASIM_LAUNCH(1, 1, 48 * 1024 + 4, nullptr, dynamic_shared_kernel)(seen.p, 0);
    CHECK(cudaGetLastError() == cudaErrorInvalidValue);
    CHECK(cudaFuncSetAttribute(dynamic_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 227 * 1024 + 1) ==
          cudaErrorInvalidValue);
    cudaGetLastError();
    SIM_CHECK(cudaFuncSetAttribute(dynamic_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 100 * 1024));
    CUDASIM_LAUNCH(1, 1, 100 * 1024, nullptr, dynamic_shared_kernel)(seen.p, 0);
    CHECK(cudaGetLastError() == cudaSuccess);
    CUDASIM_LAUNCH(1, 1, 100 * 1024 + 4, nullptr, dynamic_shared_kernel)(seen.p, 0);
    CHECK(cudaGetLastError() == cudaErrorInvalidValue);
    SIM_CHECK(cudaDeviceSynchronize());
}

TEST_CASE("streams are ordered queues that run when waited for") {
    Stream s1, s2;
    DeviceArray<float> d(4);
    CUDASIM_LAUNCH(1, 4, 0, s1.s, fill_kernel<float>)(d.p, 1.0f, 4);
    std::vector<float> h(4, 0.0f);
    SIM_CHECK(cudaMemcpyAsync(h.data(), d.p, 16, cudaMemcpyDeviceToHost, s1.s));
    CHECK(simtest::all_bytes(h.data(), 16, 0xFF));  // nothing has run: no wait yet
    SIM_CHECK(cudaStreamSynchronize(s1.s));
    CHECK(h == std::vector<float>(4, 1.0f));

    // Another stream is not ordered with s1: waiting for s2 alone leaves s1's kernel unrun.
    DeviceArray<float> e(4);
    CUDASIM_LAUNCH(1, 4, 0, s1.s, fill_kernel<float>)(e.p, 2.0f, 4);
    const std::vector<float> early = download(e.p, 4, s2.s);
    for (float v : early) CHECK(is_poison(v));
    // An event orders them.
    cudaEvent_t ev;
    SIM_CHECK(cudaEventCreate(&ev));
    SIM_CHECK(cudaEventRecord(ev, s1.s));
    SIM_CHECK(cudaStreamWaitEvent(s2.s, ev));
    CHECK(download(e.p, 4, s2.s) == std::vector<float>(4, 2.0f));
    SIM_CHECK(cudaEventSynchronize(ev));
    float ms = -1;
    SIM_CHECK(cudaEventElapsedTime(&ms, ev, ev));
    CHECK(ms == 0.0f);
    SIM_CHECK(cudaEventDestroy(ev));
    CHECK(cudaStreamQuery(s1.s) == cudaSuccess);

    // A blocking stream waits for the legacy stream's earlier work; a non-blocking one does not.
    Stream blocking(cudaStreamDefault);
    DeviceArray<float> f(4);
    SIM_CHECK(cudaMemsetAsync(f.p, 0, 16, nullptr));  // legacy stream
    CHECK(download(f.p, 4, blocking.s) == std::vector<float>(4, 0.0f));
    DeviceArray<float> g(4);
    SIM_CHECK(cudaMemsetAsync(g.p, 0, 16, nullptr));
    for (float v : download(g.p, 4, s1.s)) CHECK(is_poison(v));
    SIM_CHECK(cudaDeviceSynchronize());
}

TEST_CASE("copies: pageable sources are staged at the call, kinds and ranges are checked") {
    Stream s;
    DeviceArray<float> d(4), d2(4);
    std::vector<float> src(4, 3.0f);
    SIM_CHECK(cudaMemcpyAsync(d.p, src.data(), 16, cudaMemcpyHostToDevice, s.s));
    src.assign(4, 99.0f);  // the copy took the bytes already
    CHECK(download(d.p, 4, s.s) == std::vector<float>(4, 3.0f));
    SIM_CHECK(cudaMemcpyAsync(d2.p, d.p, 16, cudaMemcpyDefault, s.s));
    CHECK(download(d2.p, 4, s.s) == std::vector<float>(4, 3.0f));

    std::vector<float> h(4);
    CHECK(cudaMemcpyAsync(h.data(), src.data(), 16, cudaMemcpyHostToDevice, s.s) == cudaErrorInvalidValue);
    CHECK(last_error_text().find("the destination") != std::string::npos);
    CHECK(cudaMemcpyAsync(d.p, h.data(), 16, cudaMemcpyDeviceToHost, s.s) == cudaErrorInvalidValue);
    cudaGetLastError();
    CHECK(cudaMemcpyAsync(d.p, src.data(), 20, cudaMemcpyHostToDevice, s.s) == cudaErrorInvalidValue);
    CHECK(last_error_text().find("run past the end of device allocation") != std::string::npos);
    CHECK(cudaMemsetAsync(d.p + 1, 0, 16, s.s) == cudaErrorInvalidValue);
    cudaGetLastError();
}

TEST_CASE("graph capture records by value and replays; what waits for the GPU invalidates the capture") {
    Stream s;
    DeviceArray<float> x(8), y(8);
    SIM_CHECK(cudaMemsetAsync(x.p, 0, 32, s.s));
    SIM_CHECK(cudaStreamSynchronize(s.s));
    int n = 8;
    SIM_CHECK(cudaStreamBeginCapture(s.s, cudaStreamCaptureModeRelaxed));
    CUDASIM_LAUNCH(1, 32, 0, s.s, add_one_kernel)(x.p, n);
    SIM_CHECK(cudaMemcpyAsync(y.p, x.p, 32, cudaMemcpyDeviceToDevice, s.s));
    cudaGraph_t graph;
    SIM_CHECK(cudaStreamEndCapture(s.s, &graph));
    n = 2;  // the capture holds its own copy of the arguments
    cudaGraphExec_t exec;
    SIM_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    SIM_CHECK(cudaGraphDestroy(graph));
    CHECK(download(x.p, 8, s.s) == std::vector<float>(8, 0.0f));  // capturing ran nothing
    for (int i = 0; i < 3; ++i) SIM_CHECK(cudaGraphLaunch(exec, s.s));
    CHECK(download(x.p, 8, s.s) == std::vector<float>(8, 3.0f));
    CHECK(download(y.p, 8, s.s) == std::vector<float>(8, 3.0f));
    SIM_CHECK(cudaGraphExecDestroy(exec));

    SIM_CHECK(cudaStreamBeginCapture(s.s, cudaStreamCaptureModeRelaxed));
    CHECK(cudaStreamSynchronize(s.s) == cudaErrorStreamCaptureUnsupported);
    CUDASIM_LAUNCH(1, 32, 0, s.s, add_one_kernel)(x.p, n);
    CHECK(cudaGetLastError() == cudaErrorStreamCaptureInvalidated);
    CHECK(cudaStreamEndCapture(s.s, &graph) == cudaErrorStreamCaptureInvalidated);
    CHECK(graph == nullptr);

    std::vector<float> h(8);
    SIM_CHECK(cudaStreamBeginCapture(s.s, cudaStreamCaptureModeRelaxed));
    CHECK(cudaMemcpyAsync(h.data(), x.p, 32, cudaMemcpyDeviceToHost, s.s) == cudaErrorStreamCaptureUnsupported);
    CHECK(cudaStreamEndCapture(s.s, &graph) == cudaErrorStreamCaptureInvalidated);
    cudaGetLastError();
    CHECK(download(x.p, 8, s.s) == std::vector<float>(8, 3.0f));  // the stream works normally again

    // Global mode: cudaMalloc and blocking copies fail and invalidate the capture (relaxed mode allows them).
    SIM_CHECK(cudaStreamBeginCapture(s.s, cudaStreamCaptureModeGlobal));
    void* p = nullptr;
    CHECK(cudaMalloc(&p, 64) == cudaErrorStreamCaptureUnsupported);
    CHECK(cudaStreamEndCapture(s.s, &graph) == cudaErrorStreamCaptureInvalidated);
    SIM_CHECK(cudaStreamBeginCapture(s.s, cudaStreamCaptureModeGlobal));
    CHECK(cudaMemcpy(h.data(), x.p, 32, cudaMemcpyDeviceToHost) == cudaErrorStreamCaptureUnsupported);
    CHECK(cudaStreamEndCapture(s.s, &graph) == cudaErrorStreamCaptureInvalidated);
    SIM_CHECK(cudaStreamBeginCapture(s.s, cudaStreamCaptureModeRelaxed));
    SIM_CHECK(cudaMalloc(&p, 64));
    SIM_CHECK(cudaStreamEndCapture(s.s, &graph));
    SIM_CHECK(cudaGraphDestroy(graph));
    SIM_CHECK(cudaFree(p));
    // A blocking stream under capture: legacy-stream work would have to wait for it.
    Stream blocking(cudaStreamDefault);
    SIM_CHECK(cudaStreamBeginCapture(blocking.s, cudaStreamCaptureModeRelaxed));
    CHECK(cudaMemsetAsync(x.p, 0, 32, nullptr) == cudaErrorStreamCaptureImplicit);
    CHECK(cudaStreamEndCapture(blocking.s, &graph) == cudaErrorStreamCaptureInvalidated);
    cudaGetLastError();
}

TEST_CASE("device memory: 0xFF at first, capacity, cudaFree's checks") {
    DeviceArray<double> d(3);
    for (double v : d.get()) CHECK(std::isnan(v));
    size_t free0 = 0, total = 0;
    SIM_CHECK(cudaMemGetInfo(&free0, &total));
    CHECK(total == size_t(80) << 30);
    void* big = nullptr;
    SIM_CHECK(cudaMalloc(&big, size_t(1) << 20));
    size_t free1 = 0;
    SIM_CHECK(cudaMemGetInfo(&free1, &total));
    CHECK(free0 - free1 == size_t(1) << 20);
    CHECK(reinterpret_cast<uintptr_t>(big) % 256 == 0);
    CHECK(cudaFree(static_cast<char*>(big) + 4) == cudaErrorInvalidValue);
    CHECK(last_error_text().find("not the start of device allocation") != std::string::npos);
    SIM_CHECK(cudaFree(big));
    CHECK(cudaFree(big) == cudaErrorInvalidValue);
    cudaGetLastError();
    void* huge = nullptr;
    CHECK(cudaMalloc(&huge, size_t(1) << 42) == cudaErrorMemoryAllocation);
    CHECK(last_error_text().find("bytes are in use") != std::string::npos);
    CHECK(cudaSetDevice(99) == cudaErrorInvalidDevice);
    cudaGetLastError();
}

TEST_CASE("several devices: a kernel needs a stream of the current device; peer copies are not on temper's streams") {
    int count = 0;
    SIM_CHECK(cudaGetDeviceCount(&count));
    REQUIRE(count >= 2);
    SIM_CHECK(cudaSetDevice(1));
    Stream s1;
    DeviceArray<float> on1(4);
    SIM_CHECK(cudaSetDevice(0));
    CUDASIM_LAUNCH(1, 4, 0, s1.s, fill_kernel<float>)(on1.p, 1.0f, 4);
    CHECK(cudaGetLastError() == cudaErrorInvalidResourceHandle);
    SIM_CHECK(cudaSetDevice(1));
    CUDASIM_LAUNCH(1, 4, 0, s1.s, fill_kernel<float>)(on1.p, 5.0f, 4);
    SIM_CHECK(cudaGetLastError());
    SIM_CHECK(cudaStreamSynchronize(s1.s));

    SIM_CHECK(cudaSetDevice(0));
    DeviceArray<float> on0(4);
    Stream s0;
    SIM_CHECK(cudaMemcpyPeer(on0.p, 0, on1.p, 1, 16));             // queued on the legacy stream
    for (float v : download(on0.p, 4, s0.s)) CHECK(is_poison(v));  // s0 is not ordered with it
    SIM_CHECK(cudaDeviceSynchronize());
    CHECK(download(on0.p, 4, s0.s) == std::vector<float>(4, 5.0f));
    SIM_CHECK(cudaMemcpyPeerAsync(on0.p, 0, on1.p, 1, 16, s0.s));
    CHECK(download(on0.p, 4, s0.s) == std::vector<float>(4, 5.0f));
}

// ---- cuBLAS ---------------------------------------------------------------------------------------------

namespace {

// Column-major reference: C = alpha op(A) op(B) + beta C, in double.
std::vector<double> gemm_ref(bool ta, bool tb, int m, int n, int k, double alpha, const std::vector<double>& A, int lda,
                             const std::vector<double>& B, int ldb, double beta, std::vector<double> C, int ldc) {
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < m; ++i) {
            double acc = 0;
            for (int l = 0; l < k; ++l)
                acc += (ta ? A[size_t(l + i * lda)] : A[size_t(i + l * lda)]) *
                       (tb ? B[size_t(j + l * ldb)] : B[size_t(l + j * ldb)]);
            double& c = C[size_t(i + j * ldc)];
            c = alpha * acc + (beta == 0 ? 0.0 : beta * c);
        }
    return C;
}

struct Handle {
    cublasHandle_t h;
    Handle() { REQUIRE(cublasCreate(&h) == CUBLAS_STATUS_SUCCESS); }
    ~Handle() { cublasDestroy(h); }
};

}  // namespace

TEST_CASE("cuBLAS GEMM: column-major, every transpose, padded leading dimensions, strided batches") {
    Handle h;
    const int m = 5, n = 7, k = 3, batch = 2;
    for (bool ta : {false, true})
        for (bool tb : {false, true}) {
            CAPTURE(ta);
            CAPTURE(tb);
            const int lda = (ta ? k : m) + 2, ldb = (tb ? n : k) + 1, ldc = m + 3;
            const long long sa = lda * (ta ? m : k) + 5, sb = ldb * (tb ? k : n), sc = ldc * n + 1;
            std::vector<double> A(size_t(sa * batch)), B(size_t(sb * batch)), C(size_t(sc * batch));
            for (size_t i = 0; i < A.size(); ++i) A[i] = double(int(i * 7 % 11) - 5) / 4;
            for (size_t i = 0; i < B.size(); ++i) B[i] = double(int(i * 5 % 13) - 6) / 8;
            for (size_t i = 0; i < C.size(); ++i) C[i] = double(i % 3);
            DeviceArray<double> dA(A), dB(B), dC(C);
            const double alpha = 1.5, beta = 0.5;
            REQUIRE(cublasGemmStridedBatchedEx(h.h, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m,
                                               n, k, &alpha, dA.p, CUDA_R_64F, lda, sa, dB.p, CUDA_R_64F, ldb, sb,
                                               &beta, dC.p, CUDA_R_64F, ldc, sc, batch, CUBLAS_COMPUTE_64F,
                                               CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS);
            const std::vector<double> got = dC.get();
            for (int q = 0; q < batch; ++q) {
                auto sub = [&](const std::vector<double>& v, long long s) {
                    return std::vector<double>(v.begin() + q * s, v.begin() + (q + 1) * s);
                };
                const std::vector<double> ref =
                    gemm_ref(ta, tb, m, n, k, alpha, sub(A, sa), lda, sub(B, sb), ldb, beta, sub(C, sc), ldc);
                for (long long i = 0; i < sc; ++i)
                    CHECK(got[size_t(q * sc + i)] == ref[size_t(i)]);  // exact: binary fractions
            }
        }
}

TEST_CASE("cuBLAS GEMM: beta == 0 does not read C; bad sizes and types are refused") {
    Handle h;
    std::vector<float> a = {1, 2, 3, 4}, b = {1, 0, 0, 1};
    DeviceArray<float> dA(a), dB(b), dC(4);  // C holds NaN
    const float one = 1, zero = 0;
    REQUIRE(cublasGemmStridedBatchedEx(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, dA.p, CUDA_R_32F, 2, 0, dB.p,
                                       CUDA_R_32F, 2, 0, &zero, dC.p, CUDA_R_32F, 2, 0, 1, CUBLAS_COMPUTE_32F,
                                       CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS);
    CHECK(dC.get() == a);
    CHECK(cublasGemmStridedBatchedEx(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, dA.p, CUDA_R_32F, 1, 0, dB.p,
                                     CUDA_R_32F, 2, 0, &zero, dC.p, CUDA_R_32F, 2, 0, 1, CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_INVALID_VALUE);
    CHECK(std::string(cublasGetStatusString(CUBLAS_STATUS_INVALID_VALUE)).find("lda=1 (at least 2)") !=
          std::string::npos);
    CHECK(cublasGemmStridedBatchedEx(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, dA.p, CUDA_R_32F, 2, 0, dB.p,
                                     CUDA_R_32F, 2, 0, &zero, dC.p, CUDA_R_32F, 2, 0, 1, CUBLAS_COMPUTE_64F,
                                     CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_NOT_SUPPORTED);
    SIM_CHECK(cudaSetDevice(1));
    CHECK(cublasGemmStridedBatchedEx(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, dA.p, CUDA_R_32F, 2, 0, dB.p,
                                     CUDA_R_32F, 2, 0, &zero, dC.p, CUDA_R_32F, 2, 0, 1, CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_EXECUTION_FAILED);
    SIM_CHECK(cudaSetDevice(0));
}

TEST_CASE("cuBLAS GEMM: TF32 rounds inputs to nearest, ties away; BF16 compute and bf16 data round to nearest even") {
    Handle h;
    auto run = [&](float a, cublasComputeType_t compute) {
        DeviceArray<float> dA(std::vector<float>{a}), dB(std::vector<float>{1.0f}), dC(1);
        const float one = 1, zero = 0;
        REQUIRE(cublasGemmStridedBatchedEx(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, dA.p, CUDA_R_32F, 1, 0, dB.p,
                                           CUDA_R_32F, 1, 0, &zero, dC.p, CUDA_R_32F, 1, 0, 1, compute,
                                           CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS);
        return dC.get()[0];
    };
    const float u = std::ldexp(1.0f, -12);
    CHECK(run(1 + u, CUBLAS_COMPUTE_32F) == 1 + u);
    CHECK(run(1 + u, CUBLAS_COMPUTE_32F_FAST_TF32) == 1.0f);  // below half a TF32 ulp
    CHECK(run(1 + std::ldexp(1.0f, -11), CUBLAS_COMPUTE_32F_FAST_TF32) == 1 + std::ldexp(1.0f, -10));  // tie: away
    CHECK(run(1 + std::ldexp(1.0f, -8), CUBLAS_COMPUTE_32F_FAST_16BF) == 1.0f);                        // tie: to even
    CHECK(run(1 + 3 * std::ldexp(1.0f, -8), CUBLAS_COMPUTE_32F_FAST_16BF) == 1 + std::ldexp(1.0f, -6));

    // bf16 data: 3 x 1 x 2 with fp32 accumulation, the output rounded once.
    auto bf = [](float f) {
        uint32_t u2;
        std::memcpy(&u2, &f, 4);
        return uint16_t(u2 >> 16);
    };
    std::vector<uint16_t> a = {bf(1.0f), bf(2.0f), bf(0.5f)}, b = {bf(3.0f), bf(-1.0f)};
    DeviceArray<uint16_t> dA(a), dB(b), dC(6);
    const float one = 1, zero = 0;
    REQUIRE(cublasGemmStridedBatchedEx(h.h, CUBLAS_OP_N, CUBLAS_OP_N, 3, 2, 1, &one, dA.p, CUDA_R_16BF, 3, 0, dB.p,
                                       CUDA_R_16BF, 1, 0, &zero, dC.p, CUDA_R_16BF, 3, 0, 1, CUBLAS_COMPUTE_32F,
                                       CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS);
    CHECK(dC.get() == std::vector<uint16_t>{bf(3), bf(6), bf(1.5f), bf(-1), bf(-2), bf(-0.5f)});
}
