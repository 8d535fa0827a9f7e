// Small portability macros shared by host code and CUDA kernels.
#pragma once

#if defined(__CUDACC__)
#define TEMPER_HD __host__ __device__
#else
#define TEMPER_HD
#endif
