// Host launchers of kernels/elementwise.cuh: broadcasting add / sub / mul, scale, add_inplace, sum, sum_to_shape.
// Compiled by nvcc (or against the CUDA simulator) once, in launchers/all.cu; declared for every translation unit in
// cuda/launchers.hpp, which documents them.
#pragma once

#include "kernels/elementwise.cuh"
#include "temper/cuda/launchers.hpp"
#include "temper/cuda/launchers/common.cuh"
#include "temper/cuda/allocator.hpp"
#include "temper/cuda/runtime.hpp"

namespace temper::cuda {

namespace detail {

// Same rule as Tensor::is_contiguous.
inline bool is_contiguous(const Shape& shape, const Shape& strides) {
    return strides == contiguous_strides(shape) || shape_numel(shape) <= 1;
}

template <class T, class Op>
void broadcast_binary(const T* a, const Shape& a_shape, const Shape& a_strides, const T* b, const Shape& b_shape,
                      const Shape& b_strides, T* out, Op op, Device dev) {
    const OnDevice on(dev);
    check(a_shape.size() == a_strides.size() && b_shape.size() == b_strides.size(),
          "broadcast_binary: shape and strides of different ranks");
    const Shape shape = broadcast_shapes(a_shape, b_shape);
    const int64_t n = shape_numel(shape);
    if (n == 0) return;
    const bool ca = is_contiguous(a_shape, a_strides), cb = is_contiguous(b_shape, b_strides);
    if (a_shape == shape && b_shape == shape && ca && cb) {
        TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, on.stream, kernels::binary_same_kernel)(a, b, out, n, op);
        TEMPER_CUDA_CHECK_LAUNCH();
        return;
    }
    const int64_t m = shape_numel(b_shape);
    if (a_shape == shape && ca && cb && m > 0 && b_shape.size() <= shape.size() && n % m == 0 &&
        std::equal(b_shape.begin(), b_shape.end(), shape.end() - int64_t(b_shape.size()))) {
        const kernels::RowColGrid g = kernels::rowcol_grid(n / m, m);
        TEMPER_LAUNCH(g.grid, g.block, 0, on.stream, kernels::binary_trailing_kernel)(a, b, out, n / m, m, op);
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
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, on.stream, kernels::binary_strided_kernel)(a, b, out, l, n, op);
    TEMPER_CUDA_CHECK_LAUNCH();
}

}  // namespace detail

template <class T>
void add(const T* a, const Shape& a_shape, const Shape& a_strides, const T* b, const Shape& b_shape,
         const Shape& b_strides, T* out, Device dev) {
    detail::broadcast_binary(a, a_shape, a_strides, b, b_shape, b_strides, out, kernels::AddOp{}, dev);
}
template <class T>
void sub(const T* a, const Shape& a_shape, const Shape& a_strides, const T* b, const Shape& b_shape,
         const Shape& b_strides, T* out, Device dev) {
    detail::broadcast_binary(a, a_shape, a_strides, b, b_shape, b_strides, out, kernels::SubOp{}, dev);
}
template <class T>
void mul(const T* a, const Shape& a_shape, const Shape& a_strides, const T* b, const Shape& b_shape,
         const Shape& b_strides, T* out, Device dev) {
    detail::broadcast_binary(a, a_shape, a_strides, b, b_shape, b_strides, out, kernels::MulOp{}, dev);
}

template <class T>
void scale(const T* x, T* y, T s, int64_t n, Device dev) {
    const OnDevice on(dev);
    check(n >= 0, "scale: negative element count ", n);
    if (n == 0) return;
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, on.stream, kernels::scale_kernel)(x, y, s, n);
    TEMPER_CUDA_CHECK_LAUNCH();
}

template <class T>
void add_inplace(T* acc, const T* x, int64_t n, Device dev) {
    const OnDevice on(dev);
    check(n >= 0, "add_inplace: negative element count ", n);
    if (n == 0) return;
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, on.stream, kernels::add_inplace_kernel)(acc, x, n);
    TEMPER_CUDA_CHECK_LAUNCH();
}

template <class T>
void sum(const T* x, int64_t n, T* out, Device dev) {
    const OnDevice on(dev);
    using A = compute_t<T>;
    check(n >= 0, "sum: negative element count ", n);
    if (n == 0) {
        fill(out, T(0), 1, dev);
        return;
    }
    const int64_t blocks = kernels::sum_blocks(n);
    if (blocks == 1) {
        TEMPER_LAUNCH(1, kernels::kSumThreads, 0, on.stream, kernels::sum_kernel<T, A, T>)(x, n, out);
        TEMPER_CUDA_CHECK_LAUNCH();
        return;
    }
    detail::Scratch partial(sizeof(A) * size_t(blocks), dev);
    TEMPER_LAUNCH(unsigned(blocks), kernels::kSumThreads, 0, on.stream, kernels::sum_kernel<T, A, A>)(
        x, n, partial.as<A>());
    TEMPER_CUDA_CHECK_LAUNCH();
    TEMPER_LAUNCH(1, kernels::kSumThreads, 0, on.stream, kernels::sum_kernel<A, A, T>)(partial.as<A>(), blocks, out);
    TEMPER_CUDA_CHECK_LAUNCH();
}

template <class T>
void sum_to_shape(const T* g, const Shape& g_shape, T* out, const Shape& out_shape, Device dev) {
    const OnDevice on(dev);
    check(out_shape.size() <= g_shape.size(), "sum_to_shape: cannot sum ", shape_of(g_shape), " to ",
          shape_of(out_shape));
    const size_t lead = g_shape.size() - out_shape.size();
    for (size_t d = 0; d < out_shape.size(); ++d)
        check(out_shape[d] == g_shape[lead + d] || out_shape[d] == 1, "sum_to_shape: cannot sum ",
              shape_of(g_shape), " to ", shape_of(out_shape));
    const int64_t n = shape_numel(g_shape), n_out = shape_numel(out_shape);
    if (n_out == 0) return;
    if (n == 0) {  // sums over an empty extent
        fill(out, T(0), n_out, dev);
        return;
    }
    if (n_out == n) {  // nothing is summed (only extents of 1 differ)
        TEMPER_CUDA_CHECK(cudaMemcpyAsync(out, g, size_t(n) * sizeof(T), cudaMemcpyDeviceToDevice, on.stream));
        return;
    }
    if (n_out == 1) {
        sum(g, n, out, dev);
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
                                    out, static_cast<T*>(nullptr), dev);
        return;
    }
    if (dims.size() == 2) {  // [kept, summed]: row sums
        TEMPER_LAUNCH(kernels::grid_for(dims[0].extent, 8), 256, 0, on.stream, kernels::row_sum_kernel<T>)(
            g, out, dims[0].extent, dims[1].extent);
        TEMPER_CUDA_CHECK_LAUNCH();
        return;
    }
    // General: row r of the reduction enumerates the summed dimensions, column j the kept ones (in out's
    // row-major order); each side is a strided layout into g.
    // dims alternate kind, so at most 2 * kMaxRank of them leave at most kMaxRank on each side.
    check(dims.size() <= size_t(2 * kernels::kMaxRank), "sum_to_shape: ", shape_of(g_shape), " to ",
          shape_of(out_shape), " alternates summed and kept dimensions more than the CUDA limit allows");
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
                                static_cast<T*>(nullptr), dev);
}

}  // namespace temper::cuda
