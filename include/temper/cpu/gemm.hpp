// Row-major GEMM through Eigen: C[M,N] = alpha * op(A) * op(B) + beta * C, op = transpose when asked.
// Eigen supplies the blocked, vectorised (and with OpenMP, multi-threaded) kernel.
#pragma once

#include <Eigen/Core>
#include <cstdint>

namespace temper::cpu {

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
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

}  // namespace temper::cpu
