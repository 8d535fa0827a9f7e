// Elementwise arithmetic and reductions: add / sub / mul with NumPy broadcasting (the semantics of
// ops/elementwise.hpp's detail::broadcast_binary), scale, add_inplace, the sum of all elements, and
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
    template <class T> __device__ T operator()(T a, T b) const { return a + b; }
};
struct SubOp {
    template <class T> __device__ T operator()(T a, T b) const { return a - b; }
};
struct MulOp {
    template <class T> __device__ T operator()(T a, T b) const { return a * b; }
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
    using A = accum_t<T>;
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
    __device__ void operator()(int64_t r, int64_t j, accum_t<T> (&v)[1]) const {
        v[0] = accum_t<T>(g[strided_offset(reduced, r) + strided_offset(kept, j)]);
    }
};

template <class T>
struct RowMajorElement {
    const T* m;
    int64_t cols;
    __device__ void operator()(int64_t r, int64_t j, accum_t<T> (&v)[1]) const { v[0] = accum_t<T>(m[r * cols + j]); }
};

}  // namespace temper::kernels

namespace temper::cuda {

namespace detail {

// Same rule as Tensor::is_contiguous.
inline bool is_contiguous(const Shape& shape, const Shape& strides) {
    return strides == contiguous_strides(shape) || shape_numel(shape) <= 1;
}

template <class T, class Op>
void broadcast_binary(const T* a, const Shape& a_shape, const Shape& a_strides, const T* b, const Shape& b_shape,
                      const Shape& b_strides, T* out, Op op, cudaStream_t s) {
    const OnStreamDevice on(s);
    check(a_shape.size() == a_strides.size() && b_shape.size() == b_strides.size(),
          "broadcast_binary: shape and strides of different ranks");
    const Shape shape = broadcast_shapes(a_shape, b_shape);
    const int64_t n = shape_numel(shape);
    if (n == 0) return;
    const bool ca = is_contiguous(a_shape, a_strides), cb = is_contiguous(b_shape, b_strides);
    if (a_shape == shape && b_shape == shape && ca && cb) {
        TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, s, kernels::binary_same_kernel)(a, b, out, n, op);
        TEMPER_CUDA_CHECK_LAUNCH();
        return;
    }
    const int64_t m = shape_numel(b_shape);
    if (a_shape == shape && ca && cb && m > 0 && b_shape.size() <= shape.size() && n % m == 0 &&
        std::equal(b_shape.begin(), b_shape.end(), shape.end() - int64_t(b_shape.size()))) {
        const kernels::RowColGrid g = kernels::rowcol_grid(n / m, m);
        TEMPER_LAUNCH(g.grid, g.block, 0, s, kernels::binary_trailing_kernel)(a, b, out, n / m, m, op);
        TEMPER_CUDA_CHECK_LAUNCH();
        return;
    }
    check(shape.size() <= size_t(kernels::kMaxRank), "broadcast_binary: rank ", shape.size(),
          " exceeds the CUDA limit of ", kernels::kMaxRank);
    kernels::BroadcastLayout l{};
    l.rank = int(shape.size());
    const size_t lead_a = shape.size() - a_shape.size(), lead_b = shape.size() - b_shape.size();
    for (size_t d = 0; d < shape.size(); ++d) {
        l.shape[d] = shape[d];
        l.sa[d] = d < lead_a || a_shape[d - lead_a] == 1 ? 0 : a_strides[d - lead_a];
        l.sb[d] = d < lead_b || b_shape[d - lead_b] == 1 ? 0 : b_strides[d - lead_b];
    }
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, s, kernels::binary_strided_kernel)(a, b, out, l, n, op);
    TEMPER_CUDA_CHECK_LAUNCH();
}

}  // namespace detail

// out = a op b with NumPy broadcasting: out is contiguous with shape broadcast_shapes(a_shape, b_shape);
// a and b are strided views (any strides, 0 allowed) on the GPU. As ops/elementwise.hpp's add / sub / mul.
template <class T>
void add(const T* a, const Shape& a_shape, const Shape& a_strides, const T* b, const Shape& b_shape,
         const Shape& b_strides, T* out, cudaStream_t s) {
    detail::broadcast_binary(a, a_shape, a_strides, b, b_shape, b_strides, out, kernels::AddOp{}, s);
}
template <class T>
void sub(const T* a, const Shape& a_shape, const Shape& a_strides, const T* b, const Shape& b_shape,
         const Shape& b_strides, T* out, cudaStream_t s) {
    detail::broadcast_binary(a, a_shape, a_strides, b, b_shape, b_strides, out, kernels::SubOp{}, s);
}
template <class T>
void mul(const T* a, const Shape& a_shape, const Shape& a_strides, const T* b, const Shape& b_shape,
         const Shape& b_strides, T* out, cudaStream_t s) {
    detail::broadcast_binary(a, a_shape, a_strides, b, b_shape, b_strides, out, kernels::MulOp{}, s);
}

// y = x * s over n contiguous elements (y may be x).
template <class T>
void scale(const T* x, T* y, T s, int64_t n, cudaStream_t stream) {
    const OnStreamDevice on(stream);
    check(n >= 0, "scale: negative element count ", n);
    if (n == 0) return;
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, stream, kernels::scale_kernel)(x, y, s, n);
    TEMPER_CUDA_CHECK_LAUNCH();
}

// acc += x over n contiguous elements; as cpu::add_inplace.
template <class T>
void add_inplace(T* acc, const T* x, int64_t n, cudaStream_t s) {
    const OnStreamDevice on(s);
    check(n >= 0, "add_inplace: negative element count ", n);
    if (n == 0) return;
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, s, kernels::add_inplace_kernel)(acc, x, n);
    TEMPER_CUDA_CHECK_LAUNCH();
}

// out[0] = sum of x[0..n), 0 when n == 0; out is one element on the GPU. Deterministic: up to 1024 block
// sums in a fixed order, then one block adds them. Scratch comes from the caching allocator, so s must be
// temper's stream of the data's device.
template <class T>
void sum(const T* x, int64_t n, T* out, cudaStream_t s) {
    const OnStreamDevice on(s);
    using A = kernels::accum_t<T>;
    check(n >= 0, "sum: negative element count ", n);
    if (n == 0) {
        fill(out, T(0), 1, s);
        return;
    }
    const int64_t blocks = kernels::sum_blocks(n);
    if (blocks == 1) {
        TEMPER_LAUNCH(1, kernels::kSumThreads, 0, s, kernels::sum_kernel<T, A, T>)(x, n, out);
        TEMPER_CUDA_CHECK_LAUNCH();
        return;
    }
    detail::Scratch partial(sizeof(A) * size_t(blocks), s);
    TEMPER_LAUNCH(unsigned(blocks), kernels::kSumThreads, 0, s, kernels::sum_kernel<T, A, A>)(x, n, partial.as<A>());
    TEMPER_CUDA_CHECK_LAUNCH();
    TEMPER_LAUNCH(1, kernels::kSumThreads, 0, s, kernels::sum_kernel<A, A, T>)(partial.as<A>(), blocks, out);
    TEMPER_CUDA_CHECK_LAUNCH();
}

// The backward of broadcasting: out (contiguous, shape out_shape) = g (contiguous, shape g_shape) summed
// over the dimensions that out_shape broadcasts (extent 1, or missing on the left). Overwrites out, as
// ops/elementwise.hpp's sum_to returns a fresh tensor. Deterministic; may take scratch from the caching
// allocator, so s must be temper's stream of the data's device.
template <class T>
void sum_to_shape(const T* g, const Shape& g_shape, T* out, const Shape& out_shape, cudaStream_t s) {
    const OnStreamDevice on(s);
    check(out_shape.size() <= g_shape.size(), "sum_to_shape: cannot sum ", shape_str(g_shape), " to ",
          shape_str(out_shape));
    const size_t lead = g_shape.size() - out_shape.size();
    for (size_t d = 0; d < out_shape.size(); ++d)
        check(out_shape[d] == g_shape[lead + d] || out_shape[d] == 1, "sum_to_shape: cannot sum ",
              shape_str(g_shape), " to ", shape_str(out_shape));
    const int64_t n = shape_numel(g_shape), n_out = shape_numel(out_shape);
    if (n_out == 0) return;
    if (n == 0) {  // sums over an empty extent
        fill(out, T(0), n_out, s);
        return;
    }
    if (n_out == n) {  // nothing is summed (only extents of 1 differ)
        TEMPER_CUDA_CHECK(cudaMemcpyAsync(out, g, size_t(n) * sizeof(T), cudaMemcpyDeviceToDevice, s));
        return;
    }
    if (n_out == 1) {
        sum(g, n, out, s);
        return;
    }
    // Drop extents of 1 and merge neighbouring dimensions of the same kind (summed or kept): g is
    // contiguous, so merged dimensions stay contiguous. What is left alternates kept / summed.
    struct Dim {
        int64_t extent;
        bool kept;
    };
    std::vector<Dim> dims;
    for (size_t d = 0; d < g_shape.size(); ++d) {
        if (g_shape[d] == 1) continue;
        const bool kept = d >= lead && out_shape[d - lead] != 1;
        if (!dims.empty() && dims.back().kept == kept) dims.back().extent *= g_shape[d];
        else dims.push_back({g_shape[d], kept});
    }
    if (dims.size() == 2 && !dims[0].kept) {  // [summed, kept]: column sums (a bias gradient)
        detail::column_reduce<1, T>(kernels::RowMajorElement<T>{g, dims[1].extent}, dims[0].extent, dims[1].extent,
                                    out, static_cast<T*>(nullptr), s);
        return;
    }
    if (dims.size() == 2) {  // [kept, summed]: row sums
        TEMPER_LAUNCH(kernels::grid_for(dims[0].extent, 8), 256, 0, s, kernels::row_sum_kernel<T>)(
            g, out, dims[0].extent, dims[1].extent);
        TEMPER_CUDA_CHECK_LAUNCH();
        return;
    }
    // General: row r of the reduction enumerates the summed dimensions, column j the kept ones (in out's
    // row-major order); each side is a strided layout into g.
    // dims alternate kind, so at most 2 * kMaxRank of them leave at most kMaxRank on each side.
    check(dims.size() <= size_t(2 * kernels::kMaxRank), "sum_to_shape: ", shape_str(g_shape), " to ",
          shape_str(out_shape), " alternates summed and kept dimensions more than the CUDA limit allows");
    kernels::StridedLayout reduced{}, kept{};
    int64_t stride = 1, n_reduced = 1;
    for (size_t d = dims.size(); d-- > 0;) {
        kernels::StridedLayout& l = dims[d].kept ? kept : reduced;
        // Dimensions are visited innermost first; insert at the front to keep outermost-first order.
        for (int k = l.rank; k > 0; --k) {
            l.shape[k] = l.shape[k - 1];
            l.strides[k] = l.strides[k - 1];
        }
        l.shape[0] = dims[d].extent;
        l.strides[0] = stride;
        ++l.rank;
        if (!dims[d].kept) n_reduced *= dims[d].extent;
        stride *= dims[d].extent;
    }
    detail::column_reduce<1, T>(kernels::SplitElement<T>{g, reduced, kept}, n_reduced, n_out, out,
                                static_cast<T*>(nullptr), s);
}

}  // namespace temper::cuda
