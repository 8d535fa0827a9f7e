// Host launchers of kernels/adamw.cuh: multi-tensor AdamW and global-norm clipping. Compiled by nvcc (or against the
// CUDA simulator) once, in launchers/all.cu; declared for every translation unit in cuda/launchers.hpp, which documents
// them.
#pragma once

#include "kernels/adamw.cuh"
#include "temper/cuda/launchers.hpp"
#include "temper/cuda/launchers/common.cuh"
#include "temper/cuda/allocator.hpp"
#include "temper/cuda/runtime.hpp"

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

template <class T>
void adamw_update_multi(const AdamWParam<T>* params, size_t count, Device dev) {
    const OnDevice on(dev);
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
        TEMPER_LAUNCH(unsigned(chunks), kernels::kMultiTensorThreads, 0, on.stream, kernels::adamw_kernel<T>)(b);
        TEMPER_CUDA_CHECK_LAUNCH();
    }
}

template <class T>
void adamw_update(T* p, const T* g, T* m, T* v, int64_t n, const cpu::AdamWScalars<T>& sc, Device dev) {
    const AdamWParam<T> param{p, g, m, v, n, sc};
    adamw_update_multi(&param, 1, dev);
}

template <class T>
void clip_grad_norm(T* const* grads, const int64_t* n, size_t count, double max_norm, double* total_norm,
                    Device dev) {
    const OnDevice on(dev);
    if (count == 0) {
        TEMPER_CUDA_CHECK(cudaMemsetAsync(total_norm, 0, sizeof(double), on.stream));  // all-zero bits are 0.0
        return;
    }
    int64_t total_chunks = 0;
    for (size_t j = 0; j < count; ++j) {
        check(n[j] >= 0, "clip_grad_norm: negative size ", n[j]);
        total_chunks += detail::chunks_of(n[j]);
    }
    // Scratch: chunk partials, then per-tensor norms, then coef (8-byte slot).
    detail::Scratch scratch(sizeof(double) * size_t(total_chunks + int64_t(count) + 1), dev);
    double* partial = scratch.as<double>();
    double* norm = partial + total_chunks;
    T* coef = reinterpret_cast<T*>(norm + count);

    // Passes 1 and 2 per batch of tensors: chunk sums of squares, then per-tensor norms; pass 3: coef.
    int64_t chunk_base = 0;
    for (size_t first = 0; first < count; first += kClipTensorsPerLaunch) {
        kernels::GradBatch<T> b{};
        const int64_t chunks = detail::grad_batch(grads, n, first, count, b);
        if (chunks > 0) {
            TEMPER_LAUNCH(unsigned(chunks), kernels::kMultiTensorThreads, 0, on.stream, kernels::grad_sumsq_kernel<T>)(
                b, partial + chunk_base);
            TEMPER_CUDA_CHECK_LAUNCH();
        }
        TEMPER_LAUNCH(unsigned(b.count), kernels::kMultiTensorThreads, 0, on.stream, kernels::grad_norm_kernel<T>)(
            b, partial + chunk_base, norm + first);
        TEMPER_CUDA_CHECK_LAUNCH();
        chunk_base += chunks;
    }
    TEMPER_LAUNCH(1, 1, 0, on.stream, kernels::clip_coef_kernel<T>)(norm, int64_t(count), max_norm, total_norm, coef);
    TEMPER_CUDA_CHECK_LAUNCH();
    // Pass 4: scale (each block reads coef and returns at once when no clipping is needed).
    for (size_t first = 0; first < count; first += kClipTensorsPerLaunch) {
        kernels::GradBatch<T> b{};
        const int64_t chunks = detail::grad_batch(grads, n, first, count, b);
        if (chunks == 0) continue;
        TEMPER_LAUNCH(unsigned(chunks), kernels::kMultiTensorThreads, 0, on.stream, kernels::grad_scale_kernel<T>)(
            b, coef);
        TEMPER_CUDA_CHECK_LAUNCH();
    }
}

}  // namespace temper::cuda
