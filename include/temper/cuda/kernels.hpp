// The hand-written kernels (kernels/*.cuh) and their host launchers. Code that links temper::cuda runs GPU
// work through these, so such translation units must be compiled by nvcc (.cu files, or LANGUAGE CUDA) or
// against the CUDA simulator (launch.hpp).
#pragma once

#include "temper/cuda/launch.hpp"  // refuses a plain C++ compiler

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
