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
        if (beta == T(0)) c.setZero(); else c *= beta;
        return;
    }
    // A is stored [M,K] (or [K,M] when transposed), B [K,N] (or [N,K]).
    CMap a(A, trans_a ? K : M, trans_a ? M : K, Eigen::OuterStride<>(lda));
    CMap b(B, trans_b ? N : K, trans_b ? K : N, Eigen::OuterStride<>(ldb));
    if (beta == T(0)) c.setZero(); else if (beta != T(1)) c *= beta;
    if (!trans_a && !trans_b) c.noalias() += alpha * (a * b);
    else if (!trans_a && trans_b) c.noalias() += alpha * (a * b.transpose());
    else if (trans_a && !trans_b) c.noalias() += alpha * (a.transpose() * b);
    else c.noalias() += alpha * (a.transpose() * b.transpose());
}

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
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

}  // namespace temper::cpu
