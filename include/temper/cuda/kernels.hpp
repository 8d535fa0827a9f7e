// The hand-written kernels (kernels/*.cuh) and their host launchers. Code that links temper::cuda runs GPU
// work through these, so such translation units must be compiled by nvcc (.cu files, or LANGUAGE CUDA).
#pragma once

#if !defined(__CUDACC__)
#error "temper: with TEMPER_WITH_CUDA (the temper::cuda target) every file that includes temper must be compiled as CUDA (a .cu file, or set_source_files_properties(... LANGUAGE CUDA))"
#endif

#include "memory.cuh"
#include "softmax.cuh"
#include "layernorm.cuh"
#include "activation.cuh"
#include "elementwise.cuh"
#include "dropout.cuh"
#include "adamw.cuh"
#include "embedding.cuh"
#include "loss.cuh"
#include "attention.cuh"
