// GPU benchmarks: the measured ceilings (device-to-device copy bandwidth, cuBLAS GEMM rate per MathMode),
// every hand-written kernel at DistilBERT's shapes, and full-size DistilBERT inference and training steps.
// Without a GPU every benchmark reports "no CUDA GPU" as its error and the program exits 0.
//
// Kernel timing: each benchmark iteration is one call of the host launcher on temper's stream, timed by two
// CUDA events around it (UseManualTime). A short spin kernel queued first keeps the GPU busy while the
// host enqueues the start event and the launches, so the interval is the GPU's execution of the call, not
// launch latency. Counters:
//   GB/s     bytes read + written per call / time, counted as docs/kernels.md counts them (each benchmark
//            says what it counts): every tensor once per kernel of the call that reads or writes it, but not
//            the re-reads a kernel expects to be served by L1/L2 (softmax's and LayerNorm's later passes over
//            a row, attention's K/V tiles), so attention counts the least DRAM traffic it can cause.
//   %copy    GB/s as a percentage of the measured copy bandwidth (the practical DRAM ceiling).
//   TFLOP/s  attention only: forward 4·B·H·S²·D (Q·Kᵀ and P·V); backward 2.5x that, 10·B·H·S²·D, the
//            FlashAttention-2 paper's convention (the five products of the backward without recomputation;
//            the kernels execute 14·B·H·S²·D since they recompute S and dP in both passes).
//   %gemm    TFLOP/s as a percentage of cuBLAS's rate at the same precision (fp32 CUDA-core FMAs here, so
//            MathMode::Strict, CUBLAS_COMPUTE_32F).
//
// End to end: wall-clock time of each step (host work included: it is part of what a user waits for) with
// the stream synchronised inside the timed region. Counters samples/s, tokens/s and the peak GPU memory of
// the model's tensors, parameters included (the caching allocator's peak_in_use, reset before the timed
// loop, less what was in use before the model existed: cuBLAS's workspace, other benchmarks' model).
//
// Run with --benchmark_filter=... to pick some; e.g. --benchmark_filter=DistilBert for the model only.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench_cuda_kernels.hpp"  // this program's own kernels and the launch geometry it counts bytes by
#include "temper/cuda/api.hpp"
#include "temper/temper.hpp"
#include "temper/train/train_step_graph.hpp"

using namespace temper;

namespace {

Device gpu() { return Device::cuda(0); }

// Runs body unless there is no GPU. An error (out of memory, a failed launch) ends that benchmark with its
// message instead of terminating the program.
template <class F>
void guarded(benchmark::State& state, F&& body) {
    if (cuda::device_count() == 0) {
        state.SkipWithError("no CUDA GPU");
        return;
    }
    try {
        body();
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

// n elements of T on the GPU from temper's caching allocator (as tensors get them).
template <class T>
class GpuBuffer {
public:
    explicit GpuBuffer(int64_t n) : n_(n), p_(static_cast<T*>(cuda::device_alloc(sizeof(T) * size_t(n), gpu()))) {}
    ~GpuBuffer() { cuda::device_free(p_); }
    GpuBuffer(const GpuBuffer&) = delete;
    GpuBuffer& operator=(const GpuBuffer&) = delete;
    T* get() const { return p_; }
    int64_t size() const { return n_; }

private:
    int64_t n_;
    T* p_;
};

// Inputs are made on the GPU (a Philox stream per buffer): the largest are ~0.5 GB, slow to make on the host.
template <class T>
void fill_uniform(const GpuBuffer<T>& b, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
    bench::fill_uniform(b.get(), b.size(), seed, lo, hi, cuda::stream(gpu()));
}
template <class T>
void fill_bernoulli(const GpuBuffer<T>& b, uint64_t seed, float prob) {
    bench::fill_bernoulli(b.get(), b.size(), seed, prob, cuda::stream(gpu()));
}
template <class T>
void fill_zero(const GpuBuffer<T>& b) {
    TEMPER_CUDA_CHECK(cudaMemsetAsync(b.get(), 0, sizeof(T) * size_t(b.size()), cuda::stream(gpu())));
}
template <class T>
void upload(const GpuBuffer<T>& b, const std::vector<T>& host) {
    check(int64_t(host.size()) == b.size(), "upload: size mismatch");
    TEMPER_CUDA_CHECK(cudaMemcpyAsync(b.get(), host.data(), sizeof(T) * host.size(), cudaMemcpyHostToDevice,
                                      cuda::stream(gpu())));
    cuda::synchronize(gpu());  // host may free the vector afterwards
}

// GPU time of single calls on temper's stream. 100k cycles of spin (50 us at the H100's 1.98 GHz boost
// clock, longer below it) cover the host side of any launcher here: a few launches, a
// cudaFuncSetAttribute, a scratch block from the cache.
class GpuTimer {
public:
    GpuTimer() : s_(cuda::stream(gpu())) {
        TEMPER_CUDA_CHECK(cudaEventCreate(&start_));
        TEMPER_CUDA_CHECK(cudaEventCreate(&stop_));
    }
    ~GpuTimer() {
        cudaEventDestroy(start_);
        cudaEventDestroy(stop_);
    }
    GpuTimer(const GpuTimer&) = delete;
    GpuTimer& operator=(const GpuTimer&) = delete;

    // Seconds the GPU spends on f(), which must queue all its work on temper's stream.
    template <class F>
    double seconds(F&& f) {
        bench::spin(100000, s_);
        TEMPER_CUDA_CHECK(cudaEventRecord(start_, s_));
        f();
        TEMPER_CUDA_CHECK(cudaEventRecord(stop_, s_));
        TEMPER_CUDA_CHECK(cudaEventSynchronize(stop_));
        float ms = 0;
        TEMPER_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
        return double(ms) * 1e-3;
    }

    // Mean over n calls after a few untimed ones (first-launch costs, allocator growth, clocks).
    template <class F>
    double mean_seconds(F&& f, int n) {
        for (int i = 0; i < 3; ++i) seconds(f);
        double total = 0;
        for (int i = 0; i < n; ++i) total += seconds(f);
        return total / n;
    }

private:
    cudaStream_t s_;
    cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

// The timed loop of a kernel benchmark: one call of f per iteration. Returns the mean seconds per call.
template <class F>
double time_kernel(benchmark::State& state, F&& f) {
    GpuTimer timer;
    for (int i = 0; i < 3; ++i) timer.seconds(f);
    double total = 0;
    for (auto _ : state) {
        const double t = timer.seconds(f);
        state.SetIterationTime(t);
        total += t;
    }
    return state.iterations() > 0 ? total / double(state.iterations()) : 0.0;
}

// ---- Ceilings -----------------------------------------------------------------------------------------

// cudaMemcpyAsync device to device of 1 GiB: reads 1 GiB and writes 1 GiB.
struct CopyWork {
    static constexpr int64_t kBytes = int64_t(1) << 30;
    GpuBuffer<char> src{kBytes}, dst{kBytes};
    CopyWork() { fill_zero(src); }
    double bytes() const { return 2.0 * double(kBytes); }
    void operator()() const {
        TEMPER_CUDA_CHECK(cudaMemcpyAsync(dst.get(), src.get(), size_t(kBytes), cudaMemcpyDeviceToDevice,
                                          cuda::stream(gpu())));
    }
};

// The FFN's first GEMM at B·S = 4096 (M = 4096, N = 3072, K = 768), through temper's blas as nn::Linear
// calls it (x · Wᵀ, W [N, K]), in whatever MathMode is set: 2·M·N·K FLOPs.
struct GemmWork {
    static constexpr int64_t M = 4096, N = 3072, K = 768;
    GpuBuffer<float> a{M * K}, w{N * K}, c{M * N};
    GemmWork() {
        fill_uniform(a, 1);
        fill_uniform(w, 2);
    }
    double flops() const { return 2.0 * double(M) * double(N) * double(K); }
    void operator()() const {
        cuda::gemm<float>(gpu(), false, true, M, N, K, 1.0f, a.get(), K, w.get(), K, 0.0f, c.get(), N);
    }
};

// Sets the math mode for a scope (it is process-wide) and restores the previous one.
class MathModeScope {
public:
    explicit MathModeScope(cuda::MathMode m) : prev_(cuda::math_mode()) { cuda::set_math_mode(m); }
    ~MathModeScope() { cuda::set_math_mode(prev_); }
    MathModeScope(const MathModeScope&) = delete;
    MathModeScope& operator=(const MathModeScope&) = delete;

private:
    cuda::MathMode prev_;
};

constexpr cuda::MathMode kModes[] = {cuda::MathMode::Strict, cuda::MathMode::TF32, cuda::MathMode::BF16};

struct Ceilings {
    double copy_gbs = 0;
    double gemm_tflops[3] = {};  // indexed by int(cuda::MathMode)
};

// Measured once, on first use, so that every kernel's percentages share one reference.
const Ceilings& ceilings() {
    static const Ceilings c = [] {
        Ceilings r;
        GpuTimer timer;
        {
            CopyWork copy;
            r.copy_gbs = copy.bytes() / timer.mean_seconds(copy, 10) * 1e-9;
        }
        GemmWork gemm;
        for (cuda::MathMode m : kModes) {
            MathModeScope scope(m);
            r.gemm_tflops[int(m)] = gemm.flops() / timer.mean_seconds(gemm, 20) * 1e-12;
        }
        return r;
    }();
    return c;
}

void report_bytes(benchmark::State& state, double bytes, double seconds) {
    if (seconds <= 0) return;
    const double gbs = bytes / seconds * 1e-9;
    state.counters["GB/s"] = gbs;
    state.counters["%copy"] = 100.0 * gbs / ceilings().copy_gbs;
}

void report_flops(benchmark::State& state, double flops, double seconds, cuda::MathMode same_precision) {
    if (seconds <= 0) return;
    const double tflops = flops / seconds * 1e-12;
    state.counters["TFLOP/s"] = tflops;
    state.counters["%gemm"] = 100.0 * tflops / ceilings().gemm_tflops[int(same_precision)];
}

}  // namespace

static void BM_CudaCopy(benchmark::State& state) {
    guarded(state, [&] {
        CopyWork copy;
        const double sec = time_kernel(state, copy);
        if (sec > 0) state.counters["GB/s"] = copy.bytes() / sec * 1e-9;
        state.SetLabel("1 GiB device to device");
    });
}
BENCHMARK(BM_CudaCopy)->UseManualTime()->Unit(benchmark::kMicrosecond);

static void BM_CudaGemm(benchmark::State& state, cuda::MathMode mode) {
    guarded(state, [&] {
        MathModeScope scope(mode);
        GemmWork gemm;
        const double sec = time_kernel(state, gemm);
        if (sec > 0) state.counters["TFLOP/s"] = gemm.flops() / sec * 1e-12;
        state.SetLabel(std::string("4096x3072x768 ") + cuda::math_mode_name(mode));
    });
}
BENCHMARK_CAPTURE(BM_CudaGemm, strict, cuda::MathMode::Strict)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_CudaGemm, tf32, cuda::MathMode::TF32)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_CudaGemm, bf16, cuda::MathMode::BF16)->UseManualTime()->Unit(benchmark::kMicrosecond);

// ---- Kernels (fp32) -------------------------------------------------------------------------------------

// Attention scores [R, C] = [B·H·S, S] with the model's key mask [B, S] (all ones here: every key kept, so
// nothing is skipped) and scale 1/sqrt(64). Forward bytes: reads x, writes y (2·R·C·4) + the mask (8 bytes
// per key per batch item, once).
static void BM_CudaSoftmaxForward(benchmark::State& state) {
    guarded(state, [&] {
        const int64_t R = state.range(0), C = state.range(1), rows_per_batch = 12 * C;
        const int64_t B = (R + rows_per_batch - 1) / rows_per_batch;
        const Device s = gpu();
        GpuBuffer<float> x(R * C), y(R * C);
        GpuBuffer<int64_t> mask(B * C);
        fill_uniform(x, 1, -4.0f, 4.0f);
        cuda::fill(mask.get(), int64_t(1), mask.size(), s);
        const double sec = time_kernel(state, [&] {
            cuda::masked_softmax_forward(x.get(), y.get(), mask.get(), R, C, rows_per_batch, 0.125f, s);
        });
        report_bytes(state, 2.0 * double(R * C) * 4 + double(B * C) * 8, sec);
    });
}
BENCHMARK(BM_CudaSoftmaxForward)->Args({49152, 128})->UseManualTime()->Unit(benchmark::kMicrosecond);

// Backward: reads y and dy, writes dx (3·R·C·4) + the mask.
static void BM_CudaSoftmaxBackward(benchmark::State& state) {
    guarded(state, [&] {
        const int64_t R = state.range(0), C = state.range(1), rows_per_batch = 12 * C;
        const int64_t B = (R + rows_per_batch - 1) / rows_per_batch;
        const Device s = gpu();
        GpuBuffer<float> x(R * C), y(R * C), dy(R * C), dx(R * C);
        GpuBuffer<int64_t> mask(B * C);
        fill_uniform(x, 1, -4.0f, 4.0f);
        fill_uniform(dy, 2);
        cuda::fill(mask.get(), int64_t(1), mask.size(), s);
        cuda::masked_softmax_forward(x.get(), y.get(), mask.get(), R, C, rows_per_batch, 0.125f, s);
        const double sec = time_kernel(state, [&] {
            cuda::masked_softmax_backward(y.get(), dy.get(), dx.get(), mask.get(), R, C, rows_per_batch, 0.125f, s);
        });
        report_bytes(state, 3.0 * double(R * C) * 4 + double(B * C) * 8, sec);
    });
}
BENCHMARK(BM_CudaSoftmaxBackward)->Args({49152, 128})->UseManualTime()->Unit(benchmark::kMicrosecond);

// LayerNorm over [R, d] with mean and rstd saved (training). Reads x, gamma, beta; writes y, mean, rstd:
// 2·R·d·4 + 2·d·4 + 2·R·4.
static void BM_CudaLayerNormForward(benchmark::State& state) {
    guarded(state, [&] {
        const int64_t R = state.range(0), d = state.range(1);
        const Device s = gpu();
        GpuBuffer<float> x(R * d), y(R * d), gamma(d), beta(d), mean(R), rstd(R);
        fill_uniform(x, 1);
        fill_uniform(gamma, 2, 0.5f, 1.5f);
        fill_uniform(beta, 3);
        const double sec = time_kernel(state, [&] {
            cuda::layernorm_forward(x.get(), gamma.get(), beta.get(), y.get(), mean.get(), rstd.get(), R, d, 1e-12, s);
        });
        report_bytes(state, 2.0 * double(R * d) * 4 + 2.0 * double(d) * 4 + 2.0 * double(R) * 4, sec);
    });
}
BENCHMARK(BM_CudaLayerNormForward)->Args({4096, 768})->UseManualTime()->Unit(benchmark::kMicrosecond);

// Residual-fused LN(a + b): reads a, b, gamma, beta; writes the sum, y, mean, rstd: 4·R·d·4 + 2·d·4 + 2·R·4.
static void BM_CudaLayerNormResidualForward(benchmark::State& state) {
    guarded(state, [&] {
        const int64_t R = state.range(0), d = state.range(1);
        const Device s = gpu();
        GpuBuffer<float> a(R * d), b(R * d), sum(R * d), y(R * d), gamma(d), beta(d), mean(R), rstd(R);
        fill_uniform(a, 1);
        fill_uniform(b, 2);
        fill_uniform(gamma, 3, 0.5f, 1.5f);
        fill_uniform(beta, 4);
        const double sec = time_kernel(state, [&] {
            cuda::layernorm_residual_forward(a.get(), b.get(), gamma.get(), beta.get(), sum.get(), y.get(), mean.get(),
                                             rstd.get(), R, d, 1e-12, s);
        });
        report_bytes(state, 4.0 * double(R * d) * 4 + 2.0 * double(d) * 4 + 2.0 * double(R) * 4, sec);
    });
}
BENCHMARK(BM_CudaLayerNormResidualForward)->Args({4096, 768})->UseManualTime()->Unit(benchmark::kMicrosecond);

// Backward, two kernels' worth: dx reads x, dy, gamma, mean, rstd and writes dx (3·R·d·4 + d·4 + 2·R·4);
// the dgamma/dbeta column sum reads x, dy, mean, rstd again (2·R·d·4 + 2·R·4), writes and re-reads its
// 2·P·d float partials (P = bench::column_chunks(R) row chunks) and writes dgamma, dbeta (2·d·4).
static void BM_CudaLayerNormBackward(benchmark::State& state) {
    guarded(state, [&] {
        const int64_t R = state.range(0), d = state.range(1);
        const Device s = gpu();
        GpuBuffer<float> x(R * d), y(R * d), dy(R * d), dx(R * d), gamma(d), beta(d), mean(R), rstd(R), dgamma(d),
            dbeta(d);
        fill_uniform(x, 1);
        fill_uniform(dy, 2);
        fill_uniform(gamma, 3, 0.5f, 1.5f);
        fill_uniform(beta, 4);
        cuda::layernorm_forward(x.get(), gamma.get(), beta.get(), y.get(), mean.get(), rstd.get(), R, d, 1e-12, s);
        const double sec = time_kernel(state, [&] {
            cuda::layernorm_backward(x.get(), gamma.get(), mean.get(), rstd.get(), dy.get(), dx.get(), dgamma.get(),
                                     dbeta.get(), R, d, s);
        });
        const double P = double(bench::column_chunks(R));
        const double dx_bytes = 3.0 * double(R * d) * 4 + double(d) * 4 + 2.0 * double(R) * 4;
        const double param_bytes = 2.0 * double(R * d) * 4 + 2.0 * double(R) * 4 + 2 * (2.0 * P * double(d) * 4) +
                                   2.0 * double(d) * 4;
        report_bytes(state, dx_bytes + param_bytes, sec);
    });
}
BENCHMARK(BM_CudaLayerNormBackward)->Args({4096, 768})->UseManualTime()->Unit(benchmark::kMicrosecond);

// Exact GELU over the FFN activation [R, C]: reads x, writes y (2·n·4).
static void BM_CudaGeluForward(benchmark::State& state) {
    guarded(state, [&] {
        const int64_t n = state.range(0) * state.range(1);
        const Device s = gpu();
        GpuBuffer<float> x(n), y(n);
        fill_uniform(x, 1, -4.0f, 4.0f);
        const double sec = time_kernel(state, [&] { cuda::gelu_forward(x.get(), y.get(), n, s); });
        report_bytes(state, 2.0 * double(n) * 4, sec);
    });
}
BENCHMARK(BM_CudaGeluForward)->Args({4096, 3072})->UseManualTime()->Unit(benchmark::kMicrosecond);

// Reads x and dy, writes dx (3·n·4).
static void BM_CudaGeluBackward(benchmark::State& state) {
    guarded(state, [&] {
        const int64_t n = state.range(0) * state.range(1);
        const Device s = gpu();
        GpuBuffer<float> x(n), dy(n), dx(n);
        fill_uniform(x, 1, -4.0f, 4.0f);
        fill_uniform(dy, 2);
        const double sec = time_kernel(state, [&] { cuda::gelu_backward(x.get(), dy.get(), dx.get(), n, s); });
        report_bytes(state, 3.0 * double(n) * 4, sec);
    });
}
BENCHMARK(BM_CudaGeluBackward)->Args({4096, 3072})->UseManualTime()->Unit(benchmark::kMicrosecond);

// Fused bias + GELU saving pre-activations (training): reads x and the bias, writes pre and y:
// 3·n·4 + C·4.
static void BM_CudaBiasGeluForward(benchmark::State& state) {
    guarded(state, [&] {
        const int64_t R = state.range(0), C = state.range(1), n = R * C;
        const Device s = gpu();
        GpuBuffer<float> x(n), bias(C), pre(n), y(n);
        fill_uniform(x, 1, -4.0f, 4.0f);
        fill_uniform(bias, 2);
        const double sec =
            time_kernel(state, [&] { cuda::bias_gelu_forward(x.get(), bias.get(), pre.get(), y.get(), R, C, s); });
        report_bytes(state, 3.0 * double(n) * 4 + double(C) * 4, sec);
    });
}
BENCHMARK(BM_CudaBiasGeluForward)->Args({4096, 3072})->UseManualTime()->Unit(benchmark::kMicrosecond);

// dx = dy·gelu'(pre) reads pre and dy, writes dx (3·n·4); dbias, the column sum of dx, reads dx again
// (n·4), writes and re-reads P·C float partials and writes dbias (C·4).
static void BM_CudaBiasGeluBackward(benchmark::State& state) {
    guarded(state, [&] {
        const int64_t R = state.range(0), C = state.range(1), n = R * C;
        const Device s = gpu();
        GpuBuffer<float> pre(n), dy(n), dx(n), dbias(C);
        fill_uniform(pre, 1, -4.0f, 4.0f);
        fill_uniform(dy, 2);
        const double sec = time_kernel(
            state, [&] { cuda::bias_gelu_backward(pre.get(), dy.get(), dx.get(), dbias.get(), R, C, s); });
        const double P = double(bench::column_chunks(R));
        report_bytes(state, 4.0 * double(n) * 4 + 2.0 * P * double(C) * 4 + double(C) * 4, sec);
    });
}
BENCHMARK(BM_CudaBiasGeluBackward)->Args({4096, 3072})->UseManualTime()->Unit(benchmark::kMicrosecond);

// BCE with logits, loss and gradient in one pass, with pos_weight [C]: reads x, y (2·n·4) and pos_weight,
// writes dx (n·4); the per-block partials (at most 1024 doubles, written and read) and the loss are counted.
static void BM_CudaBceWithLogits(benchmark::State& state) {
    guarded(state, [&] {
        const int64_t R = state.range(0), C = state.range(1), n = R * C;
        const Device s = gpu();
        GpuBuffer<float> x(n), y(n), dx(n), pos_weight(C), loss(1);
        fill_uniform(x, 1, -4.0f, 4.0f);
        fill_bernoulli(y, 2, 0.1f);
        fill_uniform(pos_weight, 3, 0.5f, 3.0f);
        const double sec = time_kernel(state, [&] {
            cuda::bce_with_logits_fused(x.get(), y.get(), pos_weight.get(), n, C, loss.get(), dx.get(), s);
        });
        const double blocks = double(std::min<int64_t>((n + 255) / 256, bench::loss_max_blocks()));
        report_bytes(state, 3.0 * double(n) * 4 + double(C) * 4 + 2.0 * blocks * 8 + 4, sec);
    });
}
BENCHMARK(BM_CudaBceWithLogits)->Args({4194304, 28})->UseManualTime()->Unit(benchmark::kMicrosecond);

// Cross-entropy, loss and gradient, logits [B, C]: reads the logits (B·C·4, DRAM once) and the labels
// twice (count kernel, row kernel: 2·8·B), writes dlogits (B·C·4) and the row terms (8·B, read back once).
static void BM_CudaCrossEntropy(benchmark::State& state) {
    guarded(state, [&] {
        const int64_t B = state.range(0), C = state.range(1);
        const Device s = gpu();
        GpuBuffer<float> logits(B * C), dlogits(B * C), loss(1);
        GpuBuffer<int64_t> labels(B);
        fill_uniform(logits, 1, -4.0f, 4.0f);
        std::vector<int64_t> host(static_cast<size_t>(B));
        for (int64_t b = 0; b < B; ++b) host[size_t(b)] = (b * 7) % C;
        upload(labels, host);
        const double sec = time_kernel(state, [&] {
            cuda::cross_entropy_fused(logits.get(), labels.get(), B, C, int64_t(-100), loss.get(), dlogits.get(), s);
        });
        report_bytes(state, 2.0 * double(B * C) * 4 + 2.0 * 8 * double(B) + 2.0 * 8 * double(B), sec);
    });
}
BENCHMARK(BM_CudaCrossEntropy)->Args({4096, 28})->UseManualTime()->Unit(benchmark::kMicrosecond);

namespace {
// n token ids, uniform over [1, V) (0 is DistilBERT's padding id), and how many distinct ones there are.
std::vector<int64_t> random_ids(int64_t n, int64_t V, uint64_t seed, int64_t* distinct) {
    Generator gen(seed);
    std::vector<int64_t> ids(static_cast<size_t>(n));
    std::vector<char> seen(size_t(V), 0);
    *distinct = 0;
    for (auto& id : ids) {
        id = std::min<int64_t>(V - 1, 1 + int64_t(double(gen.uniform()) * double(V - 1)));
        if (!seen[size_t(id)]) ++*distinct;
        seen[size_t(id)] = 1;
    }
    return ids;
}
}  // namespace

// Gather of n rows of a [V, D] table: reads the ids (8·n) and n rows (n·D·4), writes n·D·4.
static void BM_CudaEmbeddingForward(benchmark::State& state) {
    guarded(state, [&] {
        const int64_t n = state.range(0), V = state.range(1), D = state.range(2);
        const Device s = gpu();
        GpuBuffer<float> weight(V * D), out(n * D);
        GpuBuffer<int64_t> ids(n);
        int64_t distinct = 0;
        upload(ids, random_ids(n, V, 1, &distinct));
        fill_uniform(weight, 2);
        const double sec =
            time_kernel(state, [&] { cuda::embedding_forward(weight.get(), ids.get(), out.get(), n, V, D, s); });
        report_bytes(state, 8.0 * double(n) + 2.0 * double(n * D) * 4, sec);
    });
}
BENCHMARK(BM_CudaEmbeddingForward)->Args({4096, 30522, 768})->UseManualTime()->Unit(benchmark::kMicrosecond);

// Scatter-add into dweight: reads dout (n·D·4) and the ids from DRAM once (8·n), reads and writes the U
// distinct touched rows (2·U·D·4). Not counted: every block re-reads all ids from L2 (8·n per block,
// ~2348 blocks here), which docs/kernels.md expects to dominate.
static void BM_CudaEmbeddingBackward(benchmark::State& state) {
    guarded(state, [&] {
        const int64_t n = state.range(0), V = state.range(1), D = state.range(2);
        const Device s = gpu();
        GpuBuffer<float> dout(n * D), dweight(V * D);
        GpuBuffer<int64_t> ids(n);
        int64_t distinct = 0;
        upload(ids, random_ids(n, V, 1, &distinct));
        fill_uniform(dout, 2);
        fill_zero(dweight);  // it accumulates; the sums only grow over the run
        const double sec = time_kernel(state, [&] {
            cuda::embedding_backward(dout.get(), ids.get(), dweight.get(), n, V, D, int64_t(0), s);
        });
        report_bytes(state, double(n * D) * 4 + 8.0 * double(n) + 2.0 * double(distinct * D) * 4, sec);
        state.counters["distinct ids"] = double(distinct);
    });
}
BENCHMARK(BM_CudaEmbeddingBackward)->Args({4096, 30522, 768})->UseManualTime()->Unit(benchmark::kMicrosecond);

// Philox dropout, p = 0.1, out of place: reads x, writes y (2·n·4).
static void BM_CudaDropout(benchmark::State& state) {
    guarded(state, [&] {
        const int64_t n = state.range(0) * state.range(1);
        const Device s = gpu();
        GpuBuffer<float> x(n), y(n);
        fill_uniform(x, 1);
        const double sec = time_kernel(
            state, [&] { cuda::dropout_apply(x.get(), y.get(), n, 0.1, uint64_t(1234), uint64_t(0), s); });
        report_bytes(state, 2.0 * double(n) * 4, sec);
    });
}
BENCHMARK(BM_CudaDropout)->Args({4096, 3072})->UseManualTime()->Unit(benchmark::kMicrosecond);

namespace {
// Parameter sizes of DistilBertForSequenceClassification (distilbert-base, 28 labels) in named_parameters()
// order: 104 tensors, 66,975,004 floats (66,955,010 with HF's default 2 labels).
std::vector<int64_t> distilbert_param_sizes(int64_t labels) {
    const int64_t d = 768, h = 3072;
    std::vector<int64_t> n = {30522 * d, 512 * d, d, d};  // word, position embeddings, LayerNorm
    for (int layer = 0; layer < 6; ++layer)                 // q, k, v, out, sa_layer_norm, lin1, lin2, output_layer_norm
        for (int64_t x : {d * d, d, d * d, d, d * d, d, d * d, d, d, d, h * d, h, d * h, d, d, d}) n.push_back(x);
    for (int64_t x : {d * d, d, labels * d, labels}) n.push_back(x);  // pre_classifier, classifier
    return n;
}
}  // namespace

// One multi-tensor AdamW step over all of DistilBERT's parameters (4 launches of up to 32 tensors, as
// optim::AdamW issues it): reads p, g, m, v and writes p, m, v, 7·N·4 bytes.
static void BM_CudaAdamW(benchmark::State& state) {
    guarded(state, [&] {
        const std::vector<int64_t> sizes = distilbert_param_sizes(28);
        int64_t N = 0;
        for (int64_t n : sizes) N += n;
        const Device s = gpu();
        // One buffer per role, each tensor a slice of it (every size is a multiple of 4 floats: 16-byte aligned).
        GpuBuffer<float> p(N), g(N), m(N), v(N);
        fill_uniform(p, 1, -0.05f, 0.05f);
        fill_uniform(g, 2, -1e-3f, 1e-3f);
        fill_zero(m);
        fill_zero(v);
        const auto sc = cpu::adamw_scalars<float>(2e-5, 0.9, 0.999, 1e-8, 0.01, 1, true);
        std::vector<cuda::AdamWParam<float>> params;
        int64_t off = 0;
        for (int64_t n : sizes) {
            params.push_back({p.get() + off, g.get() + off, m.get() + off, v.get() + off, n, sc});
            off += n;
        }
        const double sec =
            time_kernel(state, [&] { cuda::adamw_update_multi(params.data(), params.size(), s); });
        report_bytes(state, 7.0 * double(N) * 4, sec);
        state.counters["params"] = double(N);
    });
}
BENCHMARK(BM_CudaAdamW)->UseManualTime()->Unit(benchmark::kMicrosecond);

namespace {
// q, k, v [B, H, S, 64], the key mask [B, S] (all ones), lse and out: the forward's inputs and outputs.
// Args: B, H, S, dropout in percent.
template <class T>
struct AttentionWork {
    static constexpr int64_t D = 64;
    int64_t B, H, S;
    double p;
    GpuBuffer<T> q, k, v, out;
    GpuBuffer<compute_t<T>> lse;
    GpuBuffer<int64_t> mask;
    explicit AttentionWork(const benchmark::State& state)
        : B(state.range(0)), H(state.range(1)), S(state.range(2)), p(double(state.range(3)) / 100.0),
          q(B * H * S * D), k(B * H * S * D), v(B * H * S * D), out(B * H * S * D), lse(B * H * S), mask(B * S) {
        fill_uniform(q, 1);
        fill_uniform(k, 2);
        fill_uniform(v, 3);
        cuda::fill(mask.get(), int64_t(1), mask.size(), gpu());
    }
    T scale() const { return T(0.125); }  // 1/sqrt(64)
    void forward() const {
        cuda::attention_forward(q.get(), k.get(), v.get(), mask.get(), B, H, S, D, scale(), p, uint64_t(7), uint64_t(0),
                                out.get(), lse.get(), gpu());
    }
    double forward_flops() const { return 4.0 * double(B * H) * double(S) * double(S) * double(D); }
    double rows() const { return double(B * H * S); }
    double matrix_bytes() const { return rows() * double(D) * double(sizeof(T)); }  // one [B, H, S, 64] tensor
};
}  // namespace

// Fused attention forward. Bytes, the least DRAM traffic: reads q, k, v and the mask, writes out and lse,
// 4 tensors + B·H·S·4 + B·S·8 (each block re-reads its head's k and v from L2: not counted).
template <class T>
static void BM_CudaAttentionForward(benchmark::State& state) {
    guarded(state, [&] {
        AttentionWork<T> w(state);
        const double sec = time_kernel(state, [&] { w.forward(); });
        report_bytes(state, 4.0 * w.matrix_bytes() + w.rows() * sizeof(compute_t<T>) + double(w.B * w.S) * 8,
                     sec);
        report_flops(state, w.forward_flops(), sec, cuda::MathMode::Strict);
    });
}
BENCHMARK_TEMPLATE(BM_CudaAttentionForward, float)
    ->Args({32, 12, 128, 0})
    ->Args({32, 12, 128, 10})
    ->Args({8, 12, 512, 0})
    ->Args({8, 12, 512, 10})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// Fused attention backward (row dot, dk/dv pass, dq pass). Bytes, the least DRAM traffic: reads q, k, v,
// out, dout, the mask and lse, writes dq, dk, dv, and writes and reads back the Dvec row sums: 8 tensors +
// 3·B·H·S·4 + B·S·8 (the two passes both read q, k, v, dout, lse, Dvec; the second reads are not counted).
// FLOPs: 2.5x the forward (see the top of the file).
template <class T>
static void BM_CudaAttentionBackward(benchmark::State& state) {
    guarded(state, [&] {
        AttentionWork<T> w(state);
        const int64_t n = w.B * w.H * w.S * AttentionWork<T>::D;
        GpuBuffer<T> dout(n), dq(n), dk(n), dv(n);
        fill_uniform(dout, 4);
        w.forward();
        const Device s = gpu();
        const double sec = time_kernel(state, [&] {
            cuda::attention_backward(w.q.get(), w.k.get(), w.v.get(), w.mask.get(), w.B, w.H, w.S, AttentionWork<T>::D,
                                     w.scale(), w.p, uint64_t(7), uint64_t(0), w.out.get(), w.lse.get(), dout.get(),
                                     dq.get(), dk.get(), dv.get(), s);
        });
        report_bytes(state,
                     8.0 * w.matrix_bytes() + 3.0 * w.rows() * sizeof(compute_t<T>) + double(w.B * w.S) * 8,
                     sec);
        report_flops(state, 2.5 * w.forward_flops(), sec, cuda::MathMode::Strict);
    });
}
BENCHMARK_TEMPLATE(BM_CudaAttentionBackward, float)
    ->Args({32, 12, 128, 0})
    ->Args({32, 12, 128, 10})
    ->Args({8, 12, 512, 0})
    ->Args({8, 12, 512, 10})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// ---- End to end: full-size DistilBERT (random init, 28 labels) --------------------------------------------

namespace {
using Model = models::DistilBertForSequenceClassification<float>;

models::DistilBertConfig distilbert_config() {
    models::DistilBertConfig c;
    c.set_num_labels(28);
    c.problem = models::Problem::MultiLabel;
    return c;
}

// Token ids [B, S] in [1000, 21000) and an all-ones mask, on the host as a data loader hands them over: the
// model checks the ids there and copies both to the GPU, as in real use.
std::pair<Tensor<int64_t>, Tensor<int64_t>> model_inputs(int64_t B, int64_t S, uint64_t seed) {
    Generator gen(seed);
    auto ids = Tensor<int64_t>::empty({B, S});
    for (int64_t i = 0; i < B * S; ++i) ids.data()[i] = 1000 + int64_t(gen.uniform() * 20000);
    return {ids, Tensor<int64_t>::ones({B, S})};
}

// The timed loop of an end-to-end benchmark: wall clock around step() and a stream synchronisation, so the
// GPU work is finished inside the timed region. Peak memory is measured from after the warm-up steps.
// Returns the mean seconds per step.
template <class F>
double time_steps(benchmark::State& state, F&& step) {
    for (int i = 0; i < 3; ++i) step();
    cuda::synchronize(gpu());
    cuda::reset_peak_memory();
    double total = 0;
    for (auto _ : state) {
        const auto t0 = std::chrono::steady_clock::now();
        step();
        cuda::synchronize(gpu());
        const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        state.SetIterationTime(t);
        total += t;
    }
    return state.iterations() > 0 ? total / double(state.iterations()) : 0.0;
}

// Bytes in use before a benchmark's model exists (cuBLAS's workspace, created here first, and whatever
// other benchmarks keep), subtracted from the peak so that it counts this model's tensors only.
size_t bytes_outside_model() {
    cuda::blas_handle(gpu());
    return cuda::allocator_stats().bytes_in_use;
}

void report_model(benchmark::State& state, int64_t B, int64_t S, double seconds, cuda::MathMode mode,
                  size_t outside) {
    state.SetLabel(cuda::math_mode_name(mode));
    const size_t peak = cuda::allocator_stats().peak_in_use;
    state.counters["peak MiB"] = double(peak > outside ? peak - outside : 0) / double(1 << 20);
    if (seconds <= 0) return;
    state.counters["samples/s"] = double(B) / seconds;
    state.counters["tokens/s"] = double(B * S) / seconds;
}
}  // namespace

// The inference model, shared by all batch sizes and modes, built on first use and kept for the whole run
// (never destroyed: nothing else needs the memory). `outside`: bytes in use before it existed.
namespace {
Model& inference_model(size_t& outside) {
    static size_t before = 0;
    static Model* model = [] {
        before = bytes_outside_model();
        auto* m = new Model(distilbert_config());
        m->to(gpu());
        m->eval();
        return m;
    }();
    outside = before;
    return *model;
}
}  // namespace

// How an end-to-end benchmark runs the model: eagerly, replayed from a CUDA graph, or through
// nn::MixedPrecision (bf16 activations and GEMMs in a bf16 copy, fp32 master weights: the Trainer's bf16
// option; its GEMMs are bf16 whatever the math mode, and the PyTorch counterpart is bf16 autocast).
enum class Run { Eager, Graph, Mixed };
using Mixed = nn::MixedPrecision<models::DistilBertForSequenceClassification>;

// Inference in eval mode, inputs on the host as a data loader hands them over. Graph: each step checks and
// copies the ids, then launches the whole forward at once (models/inference_graph.hpp); the math mode is
// the capture's. Peak memory: the weights (and the bf16 copy) and the activations of one forward.
static void forward_benchmark(benchmark::State& state, cuda::MathMode mode, Run run) {
    guarded(state, [&] {
        size_t outside = 0;
        Model& model = inference_model(outside);
        const int64_t B = state.range(0), S = state.range(1);
        MathModeScope scope(mode);
        std::optional<models::InferenceGraph<Model>> graph;
        std::optional<Mixed> mixed;
        if (run == Run::Graph) graph.emplace(model, B, S);
        if (run == Run::Mixed) mixed.emplace(model);
        const auto inputs = model_inputs(B, S, 1);
        NoGradGuard no_grad;
        const double sec = time_steps(state, [&] {
            const Tensor<float> logits = graph   ? (*graph)(inputs.first, inputs.second)
                                         : mixed ? (*mixed)(inputs.first, inputs.second)
                                                 : model(inputs.first, inputs.second);
            benchmark::DoNotOptimize(logits.data());
        });
        report_model(state, B, S, sec, mode, outside);
        if (mixed) state.SetLabel("bf16 activations");
    });
}
static void BM_CudaDistilBertForward(benchmark::State& state, cuda::MathMode mode) {
    forward_benchmark(state, mode, Run::Eager);
}
static void BM_CudaDistilBertForwardGraph(benchmark::State& state, cuda::MathMode mode) {
    forward_benchmark(state, mode, Run::Graph);
}
static void BM_CudaDistilBertForwardMixed(benchmark::State& state) {
    forward_benchmark(state, cuda::MathMode::BF16, Run::Mixed);
}
BENCHMARK_CAPTURE(BM_CudaDistilBertForward, strict, cuda::MathMode::Strict)
    ->Args({1, 128})
    ->Args({128, 128})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CudaDistilBertForward, tf32, cuda::MathMode::TF32)
    ->Args({1, 128})
    ->Args({128, 128})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CudaDistilBertForward, bf16, cuda::MathMode::BF16)
    ->Args({1, 128})
    ->Args({128, 128})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CudaDistilBertForwardGraph, strict, cuda::MathMode::Strict)
    ->Args({1, 128})
    ->Args({128, 128})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CudaDistilBertForwardGraph, tf32, cuda::MathMode::TF32)
    ->Args({1, 128})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CudaDistilBertForwardGraph, bf16, cuda::MathMode::BF16)
    ->Args({1, 128})
    ->Args({128, 128})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CudaDistilBertForwardMixed)
    ->Args({1, 128})
    ->Args({128, 128})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// One fine-tuning step in train mode (dropout on): forward, BCE-with-logits loss, backward, AdamW (HF's
// decay / no-decay groups), zero_grad — as BM_DistilBertTrainStep in bench_model.cpp. Graph: replayed from
// a CUDA graph (train/train_step_graph.hpp: inputs copied into the graph's, the step's dropout position and
// AdamW scalars uploaded, one launch). Mixed: gradients added into the fp32 master, AdamW on the master,
// the new weights rounded back into the bf16 copy. No clipping in any. A fresh model per benchmark. Peak
// memory covers the weights (and the bf16 copy), gradients, AdamW moments and the activations.
static void train_step_benchmark(benchmark::State& state, cuda::MathMode mode, Run run) {
    guarded(state, [&] {
        const int64_t B = state.range(0), S = state.range(1);
        MathModeScope scope(mode);
        const size_t outside = bytes_outside_model();
        Model model(distilbert_config());
        model.to(gpu());
        model.train();
        optim::AdamW<float> opt(optim::decay_param_groups(model.named_parameters(), 0.01), {.lr = 2e-5});
        std::optional<train::TrainStepGraph<Model>> graph;
        std::optional<Mixed> mixed;
        if (run == Run::Graph) graph.emplace(model, opt, B, S);
        if (run == Run::Mixed) mixed.emplace(model);
        const auto inputs = model_inputs(B, S, 2);
        const Tensor<int64_t>& ids = inputs.first;
        const Tensor<int64_t>& mask = inputs.second;
        auto targets = Tensor<float>::zeros({B, 28});
        for (int64_t b = 0; b < B; ++b) targets.data()[b * 28 + b % 28] = 1;
        const Tensor<float> targets_gpu = targets.to(gpu());
        const double sec = time_steps(state, [&] {
            if (graph) {
                benchmark::DoNotOptimize((*graph)(ids, mask, targets_gpu).data());
                return;
            }
            bce_with_logits(mixed ? (*mixed)(ids, mask) : model(ids, mask), targets_gpu).backward();
            if (mixed) mixed->gradients_to_master();
            opt.step();
            opt.zero_grad();
            if (mixed) mixed->copy_weights_from_master();
        });
        report_model(state, B, S, sec, mode, outside);
        if (mixed) state.SetLabel("bf16 activations, fp32 master weights");
    });
}
static void BM_CudaDistilBertTrainStep(benchmark::State& state, cuda::MathMode mode) {
    train_step_benchmark(state, mode, Run::Eager);
}
static void BM_CudaDistilBertTrainStepGraph(benchmark::State& state, cuda::MathMode mode) {
    train_step_benchmark(state, mode, Run::Graph);
}
static void BM_CudaDistilBertTrainStepMixed(benchmark::State& state) {
    train_step_benchmark(state, cuda::MathMode::BF16, Run::Mixed);
}
BENCHMARK_CAPTURE(BM_CudaDistilBertTrainStep, strict, cuda::MathMode::Strict)
    ->Args({32, 128})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CudaDistilBertTrainStep, tf32, cuda::MathMode::TF32)
    ->Args({32, 128})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CudaDistilBertTrainStep, bf16, cuda::MathMode::BF16)
    ->Args({32, 128})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CudaDistilBertTrainStepGraph, strict, cuda::MathMode::Strict)
    ->Args({32, 128})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CudaDistilBertTrainStepGraph, tf32, cuda::MathMode::TF32)
    ->Args({32, 128})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CudaDistilBertTrainStepGraph, bf16, cuda::MathMode::BF16)
    ->Args({32, 128})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CudaDistilBertTrainStepMixed)->Args({32, 128})->UseManualTime()->Unit(benchmark::kMillisecond);
