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
#include "temper/cuda/launchers.hpp"  // AdamWParam
#include "temper/cpu/adamw.hpp"

namespace temper::kernels {

// Elements per block of the multi-tensor kernels: 256 threads x 32 elements.
constexpr int kMultiTensorThreads = 256;
constexpr int64_t kMultiTensorChunk = 8192;

// Round-to-nearest arithmetic that nvcc never fuses.
template <class T>
struct Rn;
template <>
struct Rn<float> {
    static __device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
    static __device__ __forceinline__ float add(float a, float b) { return __fadd_rn(a, b); }
    static __device__ __forceinline__ float sub(float a, float b) { return __fsub_rn(a, b); }
    static __device__ __forceinline__ float div(float a, float b) { return __fdiv_rn(a, b); }
    static __device__ __forceinline__ float sqrt(float a) { return __fsqrt_rn(a); }
    static __device__ __forceinline__ float fma(float a, float b, float c) { return __fmaf_rn(a, b, c); }
};
template <>
struct Rn<double> {
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
