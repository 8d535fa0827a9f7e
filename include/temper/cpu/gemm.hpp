// Row-major GEMM: C[M,N] = alpha * op(A) * op(B) + beta * C, op = transpose when asked.
// Eigen supplies the blocked, vectorised (and with OpenMP, multi-threaded) kernel; with TEMPER_WITH_BLAS
// (the temper::blas target) float and double go to OpenBLAS, whose kernels run about 1.5x faster.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <climits>
#include <cstdint>
#include <type_traits>

#if defined(TEMPER_WITH_BLAS)
#include <cblas.h>
#endif

#include "temper/cpu/half.hpp"
#include "temper/cpu/parallel.hpp"

namespace temper::cpu {

// The Eigen kernel: every type, every build.
template <class T>
void eigen_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using CMap = Eigen::Map<const Mat, 0, Eigen::OuterStride<>>;
    using MMap = Eigen::Map<Mat, 0, Eigen::OuterStride<>>;
    MMap c(C, M, N, Eigen::OuterStride<>(ldc));
    if (K == 0) {
        if (beta == T(0))
            c.setZero();
        else
            c *= beta;
        return;
    }
    // A is stored [M,K] (or [K,M] when transposed), B [K,N] (or [N,K]).
    CMap a(A, trans_a ? K : M, trans_a ? M : K, Eigen::OuterStride<>(lda));
    CMap b(B, trans_b ? N : K, trans_b ? K : N, Eigen::OuterStride<>(ldb));
    if (beta == T(0))
        c.setZero();
    else if (beta != T(1))
        c *= beta;
    if (!trans_a && !trans_b)
        c.noalias() += alpha * (a * b);
    else if (!trans_a && trans_b)
        c.noalias() += alpha * (a * b.transpose());
    else if (trans_a && !trans_b)
        c.noalias() += alpha * (a.transpose() * b);
    else
        c.noalias() += alpha * (a.transpose() * b.transpose());
}

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* C, int64_t ldc) {
    if (M == 0 || N == 0) return;
#if defined(TEMPER_WITH_BLAS)
    // CBLAS takes int sizes; larger problems (never DistilBERT's) stay on Eigen.
    constexpr bool kBlasType = std::is_same_v<T, float> || std::is_same_v<T, double>;
    if constexpr (kBlasType) {
        if (K > 0 && std::max({M, N, K, lda, ldb, ldc}) <= INT_MAX) {
            const auto ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
            const int m = int(M), n = int(N), k = int(K);
            if constexpr (std::is_same_v<T, float>)
                cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
            else
                cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
            return;
        }
    }
#endif
    eigen_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// bf16: the float GEMM on widened operands, each output rounded once (fp32 accumulation, as cuBLAS's bf16
// GEMMs with CUBLAS_COMPUTE_32F). Strided operands are widened with their whole extent.
template <>
inline void gemm<bf16>(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, bf16 alpha, const bf16* A,
                       int64_t lda, const bf16* B, int64_t ldb, bf16 beta, bf16* C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    auto extent = [](int64_t rows, int64_t cols, int64_t ld) {
        return rows > 0 && cols > 0 ? (rows - 1) * ld + cols : 0;
    };
    const int64_t na = trans_a ? extent(K, M, lda) : extent(M, K, lda);
    const int64_t nb = trans_b ? extent(N, K, ldb) : extent(K, N, ldb);
    const int64_t nc = extent(M, N, ldc);
    std::vector<float> c = float(beta) == 0.0f ? std::vector<float>(size_t(nc)) : widen(C, nc);
    gemm<float>(trans_a, trans_b, M, N, K, float(alpha), widen(A, na).data(), lda, widen(B, nb).data(), ldb,
                float(beta), c.data(), ldc);
    for (int64_t i = 0; i < M; ++i) narrow(c.data() + i * ldc, N, C + i * ldc);
}

// C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b] for b < batch, row-major, the pointers advancing by the
// strides (0: one matrix shared by every batch). Many small products (attention's per-head [S, 64] x [64, S])
// run one whole product per thread, which beats splitting each small one across threads; inside the parallel
// loop Eigen and OpenBLAS run single-threaded.
template <class T>
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                          int64_t stride_a, const T* B, int64_t ldb, int64_t stride_b, T beta, T* C, int64_t ldc,
                          int64_t stride_c, int64_t batch) {
    auto one = [&](int64_t i) {
        gemm<T>(trans_a, trans_b, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta, C + i * stride_c,
                ldc);
    };
    const int64_t work = M * N * K;
    if (batch > 1 && (work <= (int64_t(1) << 22) || batch >= 4 * max_threads()))
        parallel_for(batch, work, one);
    else
        for (int64_t i = 0; i < batch; ++i) one(i);
}

}  // namespace temper::cpu
