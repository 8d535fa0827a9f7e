// Host launchers of kernels/embedding.cuh: embedding gather and scatter-add. Compiled by nvcc (or against the CUDA
// simulator) once, in launchers/all.cu; declared for every translation unit in cuda/launchers.hpp, which documents
// them.
#pragma once

#include "kernels/embedding.cuh"
#include "temper/cuda/launchers.hpp"
#include "temper/cuda/launchers/common.cuh"
#include "temper/cuda/allocator.hpp"
#include "temper/cuda/runtime.hpp"

namespace temper::cuda {

template <class T>
void embedding_forward(const T* weight, const int64_t* ids, T* out, int64_t n_ids, int64_t V, int64_t D,
                       Device dev) {
    const OnDevice on(dev);
    check(n_ids >= 0 && V >= 0 && D >= 0, "embedding_forward: negative size");
    if (n_ids == 0 || D == 0) return;
    const unsigned grid = unsigned(n_ids < 65535 * 8 ? n_ids : 65535 * 8);
    TEMPER_LAUNCH(grid, kernels::kEmbedThreads, 0, on.stream, kernels::embedding_forward_kernel)(
        weight, ids, out, n_ids, V, D);
    TEMPER_CUDA_CHECK_LAUNCH();
}

template <class T>
void embedding_backward(const T* dout, const int64_t* ids, T* dweight, int64_t n_ids, int64_t V, int64_t D,
                        int64_t padding_idx, Device dev) {
    const OnDevice on(dev);
    check(n_ids >= 0 && V >= 0 && D >= 0, "embedding_backward: negative size");
    if (n_ids == 0 || V == 0 || D == 0) return;
    constexpr int64_t acc_elems = kernels::kEmbedAccBytes / int64_t(sizeof(compute_t<T>));
    const int64_t cols = D < acc_elems ? D : acc_elems;
    int64_t rows = (V + 1023) / 1024;  // about 1024 blocks at most along the vocabulary
    if (rows > acc_elems / cols) rows = acc_elems / cols;
    if (rows > kernels::kEmbedMaxRows) rows = kernels::kEmbedMaxRows;
    if (rows < 1) rows = 1;
    const int64_t gx = (V + rows - 1) / rows, gy = (D + cols - 1) / cols;
    check(gx <= 0x7fffffff && gy <= 65535, "embedding_backward: table [", V, ", ", D, "] is too large");
    const size_t smem = size_t(rows * cols) * sizeof(compute_t<T>);
    const dim3 grid = dim3(unsigned(gx), unsigned(gy));
    TEMPER_LAUNCH(grid, kernels::kEmbedThreads, smem, on.stream, kernels::embedding_backward_kernel)(
        dout, ids, dweight, n_ids, V, D, padding_idx, int(rows), cols);
    TEMPER_CUDA_CHECK_LAUNCH();
}

}  // namespace temper::cuda
