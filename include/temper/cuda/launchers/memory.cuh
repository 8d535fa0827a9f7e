// Host launchers of kernels/memory.cuh: fill, iota, convert, strided copies. Compiled by nvcc (or against the CUDA
// simulator) once, in launchers/all.cu; declared for every translation unit in cuda/launchers.hpp, which documents
// them.
#pragma once

#include "kernels/memory.cuh"
#include "temper/cuda/launchers.hpp"
#include "temper/cuda/allocator.hpp"
#include "temper/cuda/runtime.hpp"

namespace temper::cuda {

template <class T>
void fill(T* out, T value, int64_t n, Device dev) {
    const OnDevice on(dev);
    if (n == 0) return;
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, on.stream, kernels::fill_kernel)(out, value, n);
    TEMPER_CUDA_CHECK_LAUNCH();
}

template <class T>
void iota(T* out, int64_t n, Device dev) {
    const OnDevice on(dev);
    if (n == 0) return;
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, on.stream, kernels::iota_kernel)(out, n);
    TEMPER_CUDA_CHECK_LAUNCH();
}

template <class To, class From>
void convert(const From* in, To* out, int64_t n, Device dev) {
    const OnDevice on(dev);
    if (n == 0) return;
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, on.stream, kernels::convert_kernel)(in, out, n);
    TEMPER_CUDA_CHECK_LAUNCH();
}

inline kernels::StridedLayout strided_layout(const Shape& shape, const Shape& strides) {
    check(shape.size() <= size_t(kernels::kMaxRank), "strided copy: rank ", shape.size(),
          " exceeds the CUDA limit of ", kernels::kMaxRank);
    kernels::StridedLayout l{};
    l.rank = int(shape.size());
    for (size_t d = 0; d < shape.size(); ++d) {
        l.shape[d] = shape[d];
        l.strides[d] = strides[d];
    }
    return l;
}

template <class T>
void copy_strided(const T* in, const Shape& shape, const Shape& strides, T* out, Device dev) {
    const OnDevice on(dev);
    int64_t n = shape_numel(shape);
    if (n == 0) return;
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, on.stream, kernels::copy_strided_kernel)(
        in, out, strided_layout(shape, strides), n);
    TEMPER_CUDA_CHECK_LAUNCH();
}

template <class T>
void copy_into_strided(const T* in, T* out, const Shape& shape, const Shape& strides, Device dev) {
    const OnDevice on(dev);
    int64_t n = shape_numel(shape);
    if (n == 0) return;
    TEMPER_LAUNCH(kernels::grid_for(n, 256), 256, 0, on.stream, kernels::copy_into_strided_kernel)(
        in, out, strided_layout(shape, strides), n);
    TEMPER_CUDA_CHECK_LAUNCH();
}

}  // namespace temper::cuda
