// What the device layer (include/temper/backend/) calls of the CUDA backend: the runtime, the caching
// allocator, cuBLAS GEMMs, graphs and the kernel launchers. This is the one place that asks whether the
// backend is built in (TEMPER_WITH_CUDA): without it the same names exist and raise the "no CUDA backend" error
// (cuda/unavailable.hpp), so nothing above the device layer needs to know. Plain C++: the kernels themselves are
// compiled into the temper::cuda library.
#pragma once

#include "temper/cuda/launchers.hpp"

#if defined(TEMPER_WITH_CUDA)
#include "temper/cuda/allocator.hpp"
#include "temper/cuda/blas.hpp"
#include "temper/cuda/graph.hpp"
#include "temper/cuda/runtime.hpp"
#else
#include "temper/cuda/unavailable.hpp"
#endif
