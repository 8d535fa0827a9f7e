// Host launchers of kernels/attention.cuh: the fused attention forward and backward. Compiled by nvcc (or against the
// CUDA simulator) once, in launchers/all.cu; declared for every translation unit in cuda/launchers.hpp, which documents
// them.
#pragma once

#include "kernels/attention.cuh"
#include "temper/cuda/launchers.hpp"
#include "temper/cuda/launchers/common.cuh"
#include "temper/cuda/allocator.hpp"
#include "temper/cuda/runtime.hpp"

namespace temper::cuda {

namespace detail {

template <class T>
kernels::AttnArgs<T> attention_args(const char* what, const T* q, const T* k, const T* v, const int64_t* key_mask,
                                    int64_t B, int64_t H, int64_t S, int64_t D, T scale, double dropout_p,
                                    uint64_t seed, uint64_t offset, const uint64_t* philox_base) {
    check(D == kernels::kAttnD, what, ": head dim ", D, " is not supported (only ", kernels::kAttnD, ")");
    check(B >= 0 && H >= 0 && S >= 0, what, ": negative shape [", B, ", ", H, ", ", S, ", ", D, "]");
    check(B * H <= 0x7fffffff && (S + kernels::kAttnRows - 1) / kernels::kAttnRows <= 65535, what,
          ": shape [", B, ", ", H, ", ", S, ", ", D, "] is too large for the launch grid");
    check(dropout_p >= 0.0 && dropout_p < 1.0, what, ": dropout probability ", dropout_p, " must be in [0, 1)");
    return {q,    k,         v,        key_mask, H, S, scale, dropout_p > 0.0, float(dropout_p),
            compute_t<T>(1.0 / (1.0 - dropout_p)), seed, offset, philox_base};
}

// The kernels use more than the default 48 KB of dynamic shared memory. Opting in is a host-side call with
// no stream work, made per launch so that every device gets it.
template <class K>
void attention_smem(K* kernel, size_t bytes) {
    TEMPER_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
}

}  // namespace detail

template <class T>
void attention_forward(const T* q, const T* k, const T* v, const int64_t* key_mask, int64_t B, int64_t H, int64_t S,
                       int64_t D, T scale, double dropout_p, uint64_t seed, uint64_t offset, T* out,
                       compute_t<T>* lse, Device dev, const uint64_t* philox_base) {
    const OnDevice on(dev);
    const auto g = detail::attention_args("attention_forward", q, k, v, key_mask, B, H, S, D, scale, dropout_p, seed,
                                          offset, philox_base);
    if (B * H * S == 0) return;
    const dim3 grid(unsigned(B * H), unsigned((S + kernels::kAttnRows - 1) / kernels::kAttnRows));
    constexpr size_t smem = kernels::kAttnFwdSmem<T>;
    detail::attention_smem(kernels::attention_forward_kernel<T>, smem);
    TEMPER_LAUNCH(grid, kernels::kAttnThreads, smem, on.stream, kernels::attention_forward_kernel<T>)(g, out, lse);
    TEMPER_CUDA_CHECK_LAUNCH();
}

template <class T>
void attention_backward(const T* q, const T* k, const T* v, const int64_t* key_mask, int64_t B, int64_t H,
                        int64_t S, int64_t D, T scale, double dropout_p, uint64_t seed, uint64_t offset, const T* out,
                        const compute_t<T>* lse, const T* dout, T* dq, T* dk, T* dv, Device dev,
                        const uint64_t* philox_base) {
    const OnDevice on(dev);
    using A = compute_t<T>;
    const auto g = detail::attention_args("attention_backward", q, k, v, key_mask, B, H, S, D, scale, dropout_p,
                                          seed, offset, philox_base);
    const int64_t rows = B * H * S;
    if (rows == 0) return;
    detail::Scratch dvec(sizeof(A) * size_t(rows), dev);
    TEMPER_LAUNCH(kernels::grid_for(rows, 8), 256, 0, on.stream, kernels::attention_row_dot_kernel<T>)(
        out, dout, dvec.as<A>(), rows);
    TEMPER_CUDA_CHECK_LAUNCH();

    const dim3 grid(unsigned(B * H), unsigned((S + kernels::kAttnRows - 1) / kernels::kAttnRows));
    constexpr size_t smem_kv = kernels::kAttnDkDvSmem<T>, smem_q = kernels::kAttnDqSmem<T>;
    detail::attention_smem(kernels::attention_backward_dkdv_kernel<T>, smem_kv);
    TEMPER_LAUNCH(grid, kernels::kAttnThreads, smem_kv, on.stream, kernels::attention_backward_dkdv_kernel<T>)(
        g, dout, lse, dvec.as<A>(), dk, dv);
    TEMPER_CUDA_CHECK_LAUNCH();
    detail::attention_smem(kernels::attention_backward_dq_kernel<T>, smem_q);
    TEMPER_LAUNCH(grid, kernels::kAttnThreads, smem_q, on.stream, kernels::attention_backward_dq_kernel<T>)(
        g, dout, lse, dvec.as<A>(), dq);
    TEMPER_CUDA_CHECK_LAUNCH();
}

}  // namespace temper::cuda
