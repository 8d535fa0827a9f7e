// Multi-tensor AdamW and global-norm gradient clipping.
//
// AdamW: the GPU twin of cpu::adamw_update, bit-identical to it (and so to torch.optim.AdamW) in float and
// double. nvcc contracts a*b + c into an FMA by default; every operation below is an explicit
// round-to-nearest intrinsic (__fmul_rn, __fadd_rn, ... which are never contracted), and the FMAs are exactly
// the std::fma calls of cpu::adamw_chunk. Division and sqrt use the IEEE-rounded intrinsics too, so the
// result does not depend on -prec-div / -prec-sqrt / --use_fast_math.
//
// Multi-tensor: one launch updates up to kAdamWTensorsPerLaunch parameters. The tensor list travels in the
// kernel's parameter space (no host-to-device copy, nothing to synchronise); each tensor is cut into chunks
// of kMultiTensorChunk elements and block b handles chunk b of the concatenation, finding its tensor by a
// scan of the chunk prefix sums. Each parameter carries its own scalars (decay and no-decay groups differ).
//
// Clipping: the GPU twin of optim::clip_grad_norm, with the norm and the scale kept on the device (no host
// sync): per-chunk sums of squares in double, then per-tensor norms rounded to T as torch does, then the
// total and coef = (1 / (total + 1e-6)) * max_norm by one thread, then grads *= coef where coef < 1 (the
// scale kernel reads coef from device memory). Every sum runs in an order fixed by the sizes alone.
#pragma once

#include <cmath>
#include <cstdint>

#include "common.cuh"
#include "temper/cpu/adamw.hpp"

namespace temper::kernels {

// Elements per block of the multi-tensor kernels: 256 threads x 32 elements.
constexpr int kMultiTensorThreads = 256;
constexpr int64_t kMultiTensorChunk = 8192;

// Round-to-nearest arithmetic that nvcc never fuses.
template <class T> struct Rn;
template <> struct Rn<float> {
    static __device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
    static __device__ __forceinline__ float add(float a, float b) { return __fadd_rn(a, b); }
    static __device__ __forceinline__ float sub(float a, float b) { return __fsub_rn(a, b); }
    static __device__ __forceinline__ float div(float a, float b) { return __fdiv_rn(a, b); }
    static __device__ __forceinline__ float sqrt(float a) { return __fsqrt_rn(a); }
    static __device__ __forceinline__ float fma(float a, float b, float c) { return __fmaf_rn(a, b, c); }
};
template <> struct Rn<double> {
    static __device__ __forceinline__ double mul(double a, double b) { return __dmul_rn(a, b); }
    static __device__ __forceinline__ double add(double a, double b) { return __dadd_rn(a, b); }
    static __device__ __forceinline__ double sub(double a, double b) { return __dsub_rn(a, b); }
    static __device__ __forceinline__ double div(double a, double b) { return __ddiv_rn(a, b); }
    static __device__ __forceinline__ double sqrt(double a) { return __dsqrt_rn(a); }
    static __device__ __forceinline__ double fma(double a, double b, double c) { return __fma_rn(a, b, c); }
};

// cpu::adamw_chunk, operation for operation, for one element.
template <class T>
__device__ __forceinline__ void adamw_element(T& p, T g, T& m, T& v, const cpu::AdamWScalars<T>& s) {
    using R = Rn<T>;
    const T pd = R::mul(p, s.decay);
    if (s.lerp) {
        // torch's lerp: start + w*(end-start) for |w| < 0.5, else end - (end-start)*(1-w).
        const T w = s.one_minus_beta1;
        const T diff = R::sub(g, m);
        m = fabs(w) < T(0.5) ? R::fma(w, diff, m) : R::fma(R::sub(w, T(1)), diff, g);
    } else {
        m = R::fma(g, s.one_minus_beta1, R::mul(m, s.beta1));
    }
    v = R::fma(R::mul(s.one_minus_beta2, g), g, R::mul(v, s.beta2));
    const T denom = R::add(R::div(R::sqrt(v), s.bias_correction2_sqrt), s.eps);
    p = R::add(pd, R::div(R::mul(s.neg_step_size, m), denom));
}

// Which tensor chunk `chunk` belongs to: the last j < count with first_chunk[j] <= chunk (empty tensors
// have first_chunk[j] == first_chunk[j + 1] and are stepped over). chunk < first_chunk[count].
__device__ __forceinline__ int tensor_of_chunk(const int64_t* first_chunk, int count, int64_t chunk) {
    int j = 0;
    while (j + 1 < count && first_chunk[j + 1] <= chunk) ++j;
    return j;
}

}  // namespace temper::kernels

namespace temper::cuda {

// One parameter for adamw_update_multi: device pointers to param, grad, exp_avg, exp_avg_sq (n elements
// each) and this parameter's scalars for this step (cpu::adamw_scalars). With sd set the kernel reads the
// scalars from device memory instead, so a CUDA graph replays the step with the scalars of each new step
// (optim::AdamW::set_device_scalars).
template <class T>
struct AdamWParam {
    T* p;
    const T* g;
    T* m;
    T* v;
    int64_t n;
    cpu::AdamWScalars<T> s;
    const cpu::AdamWScalars<T>* sd = nullptr;
};

constexpr int kAdamWTensorsPerLaunch = 28;
constexpr int kClipTensorsPerLaunch = 128;

}  // namespace temper::cuda

namespace temper::kernels {

// Kernel parameter structs: kept under the 4 KB kernel-parameter limit that every CUDA version accepts.
template <class T>
struct AdamWBatch {
    cuda::AdamWParam<T> t[cuda::kAdamWTensorsPerLaunch];
    int64_t first_chunk[cuda::kAdamWTensorsPerLaunch + 1];  // prefix sums of the tensors' chunk counts
    int count;
};
static_assert(sizeof(AdamWBatch<double>) <= 4096 && sizeof(AdamWBatch<float>) <= 4096);

template <class T>
struct GradBatch {
    T* g[cuda::kClipTensorsPerLaunch];
    int64_t n[cuda::kClipTensorsPerLaunch];
    int64_t first_chunk[cuda::kClipTensorsPerLaunch + 1];
    int count;
};
static_assert(sizeof(GradBatch<double>) <= 4096);

// __grid_constant__: the batch is read in place from parameter space, not copied per thread (the tensor
// index is dynamic).
template <class T>
__global__ void __launch_bounds__(kMultiTensorThreads) adamw_kernel(const __grid_constant__ AdamWBatch<T> b) {
    const int64_t chunk = blockIdx.x;
    const int j = tensor_of_chunk(b.first_chunk, b.count, chunk);
    const cuda::AdamWParam<T>& t = b.t[j];
    const int64_t begin = (chunk - b.first_chunk[j]) * kMultiTensorChunk;
    const int64_t end = begin + kMultiTensorChunk < t.n ? begin + kMultiTensorChunk : t.n;
    const cpu::AdamWScalars<T> s = t.sd ? *t.sd : t.s;
    for (int64_t i = begin + threadIdx.x; i < end; i += kMultiTensorThreads) {
        T p = t.p[i], m = t.m[i], v = t.v[i];
        adamw_element(p, t.g[i], m, v, s);
        t.p[i] = p;
        t.m[i] = m;
        t.v[i] = v;
    }
}

// partial[chunk] = sum of double(g)^2 over the chunk (exact products for float, as on the CPU).
template <class T>
__global__ void __launch_bounds__(kMultiTensorThreads)
    grad_sumsq_kernel(const __grid_constant__ GradBatch<T> b, double* partial) {
    const int64_t chunk = blockIdx.x;
    const int j = tensor_of_chunk(b.first_chunk, b.count, chunk);
    const T* g = b.g[j];
    const int64_t begin = (chunk - b.first_chunk[j]) * kMultiTensorChunk;
    const int64_t end = begin + kMultiTensorChunk < b.n[j] ? begin + kMultiTensorChunk : b.n[j];
    double acc = 0;
    for (int64_t i = begin + threadIdx.x; i < end; i += kMultiTensorThreads) {
        const double x = double(g[i]);
        acc = __dadd_rn(acc, __dmul_rn(x, x));
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) partial[chunk] = acc;
}

// norm[j] = double(T(sqrt(sum of tensor j's chunk partials))): torch rounds each tensor's norm to T.
template <class T>
__global__ void __launch_bounds__(kMultiTensorThreads)
    grad_norm_kernel(const __grid_constant__ GradBatch<T> b, const double* partial, double* norm) {
    const int j = blockIdx.x;
    double acc = 0;
    for (int64_t c = b.first_chunk[j] + threadIdx.x; c < b.first_chunk[j + 1]; c += kMultiTensorThreads)
        acc += partial[c];
    acc = block_sum(acc);
    if (threadIdx.x == 0) norm[j] = double(T(__dsqrt_rn(acc)));
}

// One thread: total = T(sqrt(sum of norm^2)) in tensor order, coef = (1 / (total + 1e-6)) * max_norm in T,
// as optim::clip_grad_norm computes them.
template <class T>
__global__ void clip_coef_kernel(const double* norm, int64_t count, double max_norm, double* total_norm, T* coef) {
    using R = Rn<T>;
    double sum = 0;
    for (int64_t j = 0; j < count; ++j) sum = __dadd_rn(sum, __dmul_rn(norm[j], norm[j]));
    const T total = T(__dsqrt_rn(sum));
    *total_norm = double(total);
    *coef = R::mul(R::div(T(1), R::add(total, T(1e-6))), T(max_norm));
}

// g *= coef unless coef >= 1 (a NaN coef scales, as in torch).
template <class T>
__global__ void __launch_bounds__(kMultiTensorThreads)
    grad_scale_kernel(const __grid_constant__ GradBatch<T> b, const T* coef) {
    const T c = *coef;
    if (c >= T(1)) return;
    const int64_t chunk = blockIdx.x;
    const int j = tensor_of_chunk(b.first_chunk, b.count, chunk);
    T* g = b.g[j];
    const int64_t begin = (chunk - b.first_chunk[j]) * kMultiTensorChunk;
    const int64_t end = begin + kMultiTensorChunk < b.n[j] ? begin + kMultiTensorChunk : b.n[j];
    for (int64_t i = begin + threadIdx.x; i < end; i += kMultiTensorThreads) g[i] = Rn<T>::mul(g[i], c);
}

}  // namespace temper::kernels

namespace temper::cuda {

namespace detail {
inline int64_t chunks_of(int64_t n) { return (n + kernels::kMultiTensorChunk - 1) / kernels::kMultiTensorChunk; }

// Fills first_chunk[0..count] for n[0..count) and checks that the grid fits.
template <int N>
int64_t chunk_prefix(const int64_t* n, int count, int64_t (&first_chunk)[N], const char* what) {
    first_chunk[0] = 0;
    for (int j = 0; j < count; ++j) {
        check(n[j] >= 0, what, ": negative size ", n[j]);
        first_chunk[j + 1] = first_chunk[j] + chunks_of(n[j]);
    }
    check(first_chunk[count] <= 0x7fffffff, what, ": ", first_chunk[count], " chunks exceed the grid limit");
    return first_chunk[count];
}
// Tensors first .. first + kClipTensorsPerLaunch - 1 (or up to count) as a kernel batch; returns its chunks.
template <class T>
int64_t grad_batch(T* const* grads, const int64_t* n, size_t first, size_t count, kernels::GradBatch<T>& b) {
    const size_t k = count - first < size_t(kClipTensorsPerLaunch) ? count - first : size_t(kClipTensorsPerLaunch);
    b.count = int(k);
    for (size_t j = 0; j < k; ++j) {
        b.g[j] = grads[first + j];
        b.n[j] = n[first + j];
    }
    return chunk_prefix(b.n, b.count, b.first_chunk, "clip_grad_norm");
}
}  // namespace detail

// One AdamW step for count parameters (host array of device pointers and per-parameter scalars), in
// ceil(count / kAdamWTensorsPerLaunch) launches. Element for element bit-identical to cpu::adamw_update.
template <class T>
void adamw_update_multi(const AdamWParam<T>* params, size_t count, cudaStream_t s) {
    const OnStreamDevice on(s);
    for (size_t first = 0; first < count; first += kAdamWTensorsPerLaunch) {
        kernels::AdamWBatch<T> b{};
        b.count = int(count - first < size_t(kAdamWTensorsPerLaunch) ? count - first : kAdamWTensorsPerLaunch);
        int64_t n[kAdamWTensorsPerLaunch];
        for (int j = 0; j < b.count; ++j) {
            b.t[j] = params[first + size_t(j)];
            n[j] = b.t[j].n;
        }
        const int64_t chunks = detail::chunk_prefix(n, b.count, b.first_chunk, "adamw_update_multi");
        if (chunks == 0) continue;
        TEMPER_LAUNCH(unsigned(chunks), kernels::kMultiTensorThreads, 0, s, kernels::adamw_kernel<T>)(b);
        TEMPER_CUDA_CHECK_LAUNCH();
    }
}

// One AdamW step over n contiguous elements; arguments as cpu::adamw_update (all pointers on the GPU).
template <class T>
void adamw_update(T* p, const T* g, T* m, T* v, int64_t n, const cpu::AdamWScalars<T>& sc, cudaStream_t s) {
    const AdamWParam<T> param{p, g, m, v, n, sc};
    adamw_update_multi(&param, 1, s);
}

// Global-norm clipping of count gradients (grads[j]: device pointer to n[j] elements; both arrays on the
// host), as optim::clip_grad_norm: total = ||(||g_1||, ..., ||g_k||)||_2 with each norm rounded to T,
// coef = (1 / (total + 1e-6)) * max_norm in T, every gradient multiplied by coef when coef < 1 (or NaN).
// *total_norm (device memory) receives double(total), 0 when count == 0; nothing waits for the GPU, copy
// it to the host when it is needed (logging, the non-finite check). Scratch comes from the caching
// allocator, so s must be temper's stream of the data's device (cuda::stream).
template <class T>
void clip_grad_norm(T* const* grads, const int64_t* n, size_t count, double max_norm, double* total_norm,
                    cudaStream_t s) {
    const OnStreamDevice on(s);
    if (count == 0) {
        TEMPER_CUDA_CHECK(cudaMemsetAsync(total_norm, 0, sizeof(double), s));  // all-zero bits are 0.0
        return;
    }
    int64_t total_chunks = 0;
    for (size_t j = 0; j < count; ++j) {
        check(n[j] >= 0, "clip_grad_norm: negative size ", n[j]);
        total_chunks += detail::chunks_of(n[j]);
    }
    // Scratch: chunk partials, then per-tensor norms, then coef (8-byte slot).
    detail::Scratch scratch(sizeof(double) * size_t(total_chunks + int64_t(count) + 1), s);
    double* partial = scratch.as<double>();
    double* norm = partial + total_chunks;
    T* coef = reinterpret_cast<T*>(norm + count);

    // Passes 1 and 2 per batch of tensors: chunk sums of squares, then per-tensor norms; pass 3: coef.
    int64_t chunk_base = 0;
    for (size_t first = 0; first < count; first += kClipTensorsPerLaunch) {
        kernels::GradBatch<T> b{};
        const int64_t chunks = detail::grad_batch(grads, n, first, count, b);
        if (chunks > 0) {
            TEMPER_LAUNCH(unsigned(chunks), kernels::kMultiTensorThreads, 0, s, kernels::grad_sumsq_kernel<T>)(
                b, partial + chunk_base);
            TEMPER_CUDA_CHECK_LAUNCH();
        }
        TEMPER_LAUNCH(unsigned(b.count), kernels::kMultiTensorThreads, 0, s, kernels::grad_norm_kernel<T>)(
            b, partial + chunk_base, norm + first);
        TEMPER_CUDA_CHECK_LAUNCH();
        chunk_base += chunks;
    }
    TEMPER_LAUNCH(1, 1, 0, s, kernels::clip_coef_kernel<T>)(norm, int64_t(count), max_norm, total_norm, coef);
    TEMPER_CUDA_CHECK_LAUNCH();
    // Pass 4: scale (each block reads coef and returns at once when no clipping is needed).
    for (size_t first = 0; first < count; first += kClipTensorsPerLaunch) {
        kernels::GradBatch<T> b{};
        const int64_t chunks = detail::grad_batch(grads, n, first, count, b);
        if (chunks == 0) continue;
        TEMPER_LAUNCH(unsigned(chunks), kernels::kMultiTensorThreads, 0, s, kernels::grad_scale_kernel<T>)(b, coef);
        TEMPER_CUDA_CHECK_LAUNCH();
    }
}

}  // namespace temper::cuda
