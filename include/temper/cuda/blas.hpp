// GEMMs on the GPU through cuBLAS, in temper's row-major convention, with a precision switch for float:
//   MathMode::Strict  fp32 multiply-adds (CUBLAS_COMPUTE_32F): matches the CPU to float rounding.
//   MathMode::TF32    tensor cores with 10-bit-mantissa inputs, fp32 accumulation (~1e-3 relative error).
//   MathMode::BF16    tensor cores with bf16 inputs, fp32 accumulation (~4e-3 relative error).
// Doubles always use fp64. The default is Strict; set_math_mode changes it for every later GEMM.
//
// cuBLAS is column-major. A row-major C[M,N] is a column-major C^T[N,M], and C^T = op(B)^T op(A)^T,
// so every call passes B first and swaps M and N.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>

#include "temper/core/dtype.hpp"
#include "temper/cuda/allocator.hpp"
#include "temper/cuda/runtime.hpp"

namespace temper::cuda {

enum class MathMode { Strict, TF32, BF16 };

inline std::atomic<MathMode>& math_mode_ref() {
    static std::atomic<MathMode> mode{MathMode::Strict};
    return mode;
}
inline MathMode math_mode() { return math_mode_ref().load(); }
inline void set_math_mode(MathMode m) { math_mode_ref().store(m); }
inline const char* math_mode_name(MathMode m) {
    return m == MathMode::Strict ? "strict fp32" : m == MathMode::TF32 ? "tf32" : "bf16";
}

// One cuBLAS handle per device, bound to temper's stream, with its own workspace so calls can be captured
// into CUDA graphs.
inline cublasHandle_t blas_handle(Device dev) {
    static std::array<cublasHandle_t, kMaxDevices> handles{};
    static std::mutex mu;
    cudaStream_t s = stream(dev);
    std::lock_guard<std::mutex> lock(mu);
    cublasHandle_t& h = handles[size_t(dev.index)];
    if (!h) {
        DeviceGuard g(dev);
        TEMPER_CUBLAS_CHECK(cublasCreate(&h));
        TEMPER_CUBLAS_CHECK(cublasSetStream(h, s));
        constexpr size_t kWorkspace = size_t(32) << 20;  // cuBLAS's recommendation for Hopper
        TEMPER_CUBLAS_CHECK(cublasSetWorkspace(h, device_alloc(kWorkspace, dev), kWorkspace));
        TEMPER_CUBLAS_CHECK(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST));
    }
    return h;
}

template <class T>
struct BlasType;
template <>
struct BlasType<float> {
    static constexpr cudaDataType_t value = CUDA_R_32F;
};
template <>
struct BlasType<double> {
    static constexpr cudaDataType_t value = CUDA_R_64F;
};
template <>
struct BlasType<bf16> {
    static constexpr cudaDataType_t value = CUDA_R_16BF;
};

template <class T>
cublasComputeType_t compute_type() {
    if constexpr (std::is_same_v<T, double>) return CUBLAS_COMPUTE_64F;
    if constexpr (std::is_same_v<T, bf16>) return CUBLAS_COMPUTE_32F;  // bf16 inputs and outputs, fp32 accumulation
    switch (math_mode()) {
        case MathMode::TF32: return CUBLAS_COMPUTE_32F_FAST_TF32;
        case MathMode::BF16: return CUBLAS_COMPUTE_32F_FAST_16BF;
        default: return CUBLAS_COMPUTE_32F;
    }
}

// Row-major, as cpu::gemm: C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b] for b < batch, with A, B, C
// advancing by stride_a, stride_b, stride_c elements per batch (stride 0 shares one matrix).
template <class T>
void gemm_strided_batched(Device dev, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                          int64_t lda, int64_t stride_a, const T* B, int64_t ldb, int64_t stride_b, T beta, T* C,
                          int64_t ldc, int64_t stride_c, int64_t batch) {
    if (M == 0 || N == 0 || batch == 0) return;
    const DeviceGuard guard(dev);  // cuBLAS runs on the current device, which must be the handle's
    constexpr int64_t kMaxInt = 2147483647;
    check(M <= kMaxInt && N <= kMaxInt && K <= kMaxInt && lda <= kMaxInt && ldb <= kMaxInt && ldc <= kMaxInt &&
              batch <= kMaxInt,
          "gemm: a dimension exceeds cuBLAS's 32-bit limit (M=", M, " N=", N, " K=", K, " batch=", batch, ")");
    const cudaDataType_t type = BlasType<T>::value;
    const compute_t<T> a = compute_t<T>(alpha), b = compute_t<T>(beta);  // scale type: float for bf16
    TEMPER_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        blas_handle(dev), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, int(N), int(M),
        int(K), &a, B, type, int(ldb), stride_b, A, type, int(lda), stride_a, &b, C, type, int(ldc), stride_c,
        int(batch), compute_type<T>(), CUBLAS_GEMM_DEFAULT));
}

template <class T>
void gemm(Device dev, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
    gemm_strided_batched(dev, trans_a, trans_b, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

}  // namespace temper::cuda
