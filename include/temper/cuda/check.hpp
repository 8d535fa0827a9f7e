// Checked CUDA and cuBLAS calls: every failure becomes a temper::Error naming the call, the file:line and the
// driver's own description, never an abort.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "temper/core/error.hpp"

namespace temper::cuda {

inline void check_cuda(cudaError_t err, const char* call, const char* file, int line) {
    if (err == cudaSuccess) return;
    cudaGetLastError();  // clear a sticky-free error so the next call does not report it again
    fail("CUDA error ", cudaGetErrorName(err), " (", cudaGetErrorString(err), ") in ", call, " at ", file, ":", line);
}

inline void check_cublas(cublasStatus_t st, const char* call, const char* file, int line) {
    if (st == CUBLAS_STATUS_SUCCESS) return;
    fail("cuBLAS error ", cublasGetStatusName(st), " (", cublasGetStatusString(st), ") in ", call, " at ", file, ":",
         line);
}

}  // namespace temper::cuda

#define TEMPER_CUDA_CHECK(call) ::temper::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define TEMPER_CUBLAS_CHECK(call) ::temper::cuda::check_cublas((call), #call, __FILE__, __LINE__)
// After a kernel launch: launch-configuration errors show up here, execution errors at the next sync.
#define TEMPER_CUDA_CHECK_LAUNCH() ::temper::cuda::check_cuda(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
