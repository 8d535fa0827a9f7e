// Elementwise arithmetic and reductions: add / sub / mul with NumPy broadcasting (the semantics of
// cpu/elementwise.hpp's broadcast_binary), scale, add_inplace, the sum of all elements, and
// sum_to_shape (the backward of broadcasting, e.g. a bias gradient).
//
// Binary ops take the same three paths as the CPU: both operands contiguous with the output's shape (a flat
// loop), b a contiguous trailing block of a (a bias: a 2-D row/column loop, no division), else a general
// strided loop (rank <= 8) that turns each output index into two input offsets.
// Reductions are deterministic: sums run in an order fixed by the shape alone (no atomics), see common.cuh.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common.cuh"
#include "memory.cuh"
#include "temper/core/shape.hpp"

namespace temper::kernels {

struct AddOp {
    template <class T>
    __device__ T operator()(T a, T b) const {
        return a + b;
    }
};
struct SubOp {
    template <class T>
    __device__ T operator()(T a, T b) const {
        return a - b;
    }
};
struct MulOp {
    template <class T>
    __device__ T operator()(T a, T b) const {
        return a * b;
    }
};

// The output's shape and, for each operand, its strides seen through the broadcast (0 where broadcast).
struct BroadcastLayout {
    int rank;
    int64_t shape[kMaxRank];
    int64_t sa[kMaxRank];
    int64_t sb[kMaxRank];
};

template <class T, class Op>
__global__ void binary_same_kernel(const T* a, const T* b, T* out, int64_t n, Op op) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        out[i] = op(a[i], b[i]);
}

// out[r, j] = op(a[r, j], b[j]) over a [rows, cols] view of a; b is the trailing block of cols elements.
template <class T, class Op>
__global__ void binary_trailing_kernel(const T* a, const T* b, T* out, int64_t rows, int64_t cols, Op op) {
    for_each_row_col(rows, cols, [&](int64_t r, int64_t j) { out[r * cols + j] = op(a[r * cols + j], b[j]); });
}

template <class T, class Op>
__global__ void binary_strided_kernel(const T* a, const T* b, T* out, BroadcastLayout l, int64_t n, Op op) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        int64_t rest = i, oa = 0, ob = 0;
        for (int d = l.rank - 1; d >= 0; --d) {
            const int64_t idx = rest % l.shape[d];
            rest /= l.shape[d];
            oa += idx * l.sa[d];
            ob += idx * l.sb[d];
        }
        out[i] = op(a[oa], b[ob]);
    }
}

template <class T>
__global__ void scale_kernel(const T* x, T* y, T s, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        y[i] = x[i] * s;
}

template <class T>
__global__ void add_inplace_kernel(T* acc, const T* x, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        acc[i] += x[i];
}

// ---- Reductions ----------------------------------------------------------------------------------------

constexpr int kSumThreads = 256;

// Blocks for the first pass of a full sum: ~8 elements per thread, at most 1024 partial sums (the second
// pass, one block, adds them). A function of n only, so the summation order is fixed.
inline int64_t sum_blocks(int64_t n) {
    int64_t b = (n + kSumThreads * 8 - 1) / (kSumThreads * 8);
    return b < 1 ? 1 : (b > 1024 ? 1024 : b);
}

// out[blockIdx.x] = sum of x[i] for i = blockIdx.x * 256 + t (+ gridDim.x * 256 ...), t < 256, reduced in
// a fixed order (per thread, then warp butterfly, then warps in order).
template <class In, class A, class Out>
__global__ void __launch_bounds__(kSumThreads) sum_kernel(const In* x, int64_t n, Out* out) {
    A s = 0;
    for (int64_t i = blockIdx.x * int64_t(kSumThreads) + threadIdx.x; i < n; i += int64_t(gridDim.x) * kSumThreads)
        s += A(x[i]);
    s = block_sum(s);
    if (threadIdx.x == 0) out[blockIdx.x] = Out(s);
}

// out[r] = sum of the row-contiguous in[r, 0..len): one warp per row.
template <class T>
__global__ void __launch_bounds__(256) row_sum_kernel(const T* in, T* out, int64_t rows, int64_t len) {
    using A = compute_t<T>;
    const int lane = int(threadIdx.x % 32);
    for (int64_t r = int64_t(blockIdx.x) * 8 + threadIdx.x / 32; r < rows; r += int64_t(gridDim.x) * 8) {
        A s = 0;
        for (int64_t j = lane; j < len; j += 32) s += A(in[r * len + j]);
        s = warp_sum(s);
        if (lane == 0) out[r] = T(s);
    }
}

// Element (r, j) of g seen as [reduced elements, kept elements]: the general sum_to_shape input.
template <class T>
struct SplitElement {
    const T* g;
    StridedLayout reduced, kept;
    __device__ void operator()(int64_t r, int64_t j, compute_t<T> (&v)[1]) const {
        v[0] = compute_t<T>(g[strided_offset(reduced, r) + strided_offset(kept, j)]);
    }
};

template <class T>
struct RowMajorElement {
    const T* m;
    int64_t cols;
    __device__ void operator()(int64_t r, int64_t j, compute_t<T> (&v)[1]) const {
        v[0] = compute_t<T>(m[r * cols + j]);
    }
};

}  // namespace temper::kernels
