// The device layer for matrix products: OpenBLAS or Eigen on the CPU, cuBLAS on the GPU (with the precision
// switch of cuda/blas.hpp).
#pragma once

#include "temper/core/device.hpp"
#include "temper/backend/memory.hpp"
#include "temper/cpu/elementwise.hpp"
#include "temper/cpu/gemm.hpp"
#include "temper/cuda/api.hpp"

namespace temper::backend {

// Row-major C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b] for b < batch, pointers advancing by the strides
// (0: one matrix shared by every batch).
template <class T>
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                          int64_t stride_a, const T* B, int64_t ldb, int64_t stride_b, T beta, T* C, int64_t ldc,
                          int64_t stride_c, int64_t batch, Device dev) {
    if (dev.is_cuda())
        cuda::gemm_strided_batched(dev, trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C,
                                   ldc, stride_c, batch);
    else
        cpu::gemm_strided_batched(trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C, ldc,
                                  stride_c, batch);
}

// out [rows, cols] = the row vector v [cols] repeated: where linear starts from its bias. On the GPU a rank-1
// GEMM (1 vᵀ), so no extra kernel is needed.
template <class T>
void broadcast_rows(const T* v, int64_t rows, int64_t cols, T* out, Device dev) {
    if (dev.is_cpu()) {
        for (int64_t r = 0; r < rows; ++r) std::copy_n(v, cols, out + r * cols);
        return;
    }
    T* ones = static_cast<T*>(allocate(size_t(rows) * sizeof(T), dev));
    fill(ones, T(1), rows, dev);
    gemm_strided_batched(false, false, rows, cols, 1, T(1), ones, 1, 0, v, cols, 0, T(0), out, cols, 0, 1, dev);
    deallocate(ones, size_t(rows) * sizeof(T), dev);  // queued work keeps its use in stream order
}

// out [cols] = the column sums of m [rows, cols]: linear's bias gradient. Deterministic on both devices: in
// double in row order on the CPU, a 1-row GEMM (1ᵀ m) on the GPU.
template <class T>
void column_sums(const T* m, int64_t rows, int64_t cols, T* out, Device dev) {
    if (dev.is_cpu()) return cpu::column_sums(m, rows, cols, out);
    T* ones = static_cast<T*>(allocate(size_t(rows) * sizeof(T), dev));
    fill(ones, T(1), rows, dev);
    gemm_strided_batched(false, false, 1, cols, rows, T(1), ones, rows, 0, m, cols, 0, T(0), out, cols, 0, 1, dev);
    deallocate(ones, size_t(rows) * sizeof(T), dev);
}

}  // namespace temper::backend
