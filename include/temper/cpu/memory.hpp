// Strided views on the CPU: walking a view's elements in row-major order, and copying a view out to dense
// memory or dense memory into a view (Tensor::clone, contiguous(), the backward of slice and select).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "temper/core/shape.hpp"

namespace temper::cpu {

// Calls f(offset of the element from the view's start) for every element of a strided view, row-major.
template <class F>
void for_each_offset(const Shape& shape, const Shape& strides, F&& f) {
    const int64_t n = shape_numel(shape);
    if (n == 0) return;
    const size_t rank = shape.size();
    std::vector<int64_t> idx(rank, 0);
    int64_t off = 0;
    for (int64_t i = 0; i < n; ++i) {
        f(off);
        for (size_t d = rank; d-- > 0;) {
            if (++idx[d] < shape[d]) {
                off += strides[d];
                break;
            }
            off -= strides[d] * (shape[d] - 1);
            idx[d] = 0;
        }
    }
}

// Writes the elements of the view (src, shape, strides) to dst in row-major order. Whole rows at a time when
// the last dimension is dense (transposed heads, slices).
template <class T>
void copy_strided(const T* src, const Shape& shape, const Shape& strides, T* dst) {
    const size_t r = shape.size();
    if (r >= 2 && strides[r - 1] == 1) {
        const Shape outer(shape.begin(), shape.end() - 1), ost(strides.begin(), strides.end() - 1);
        const int64_t row = shape[r - 1];
        for_each_offset(outer, ost, [&](int64_t off) { dst = std::copy_n(src + off, row, dst); });
        return;
    }
    for_each_offset(shape, strides, [&](int64_t off) { *dst++ = src[off]; });
}

// Writes dense src (row-major) into the view (dst, shape, strides); the view must not overlap itself.
template <class T>
void copy_into_strided(const T* src, T* dst, const Shape& shape, const Shape& strides) {
    for_each_offset(shape, strides, [&](int64_t off) { dst[off] = *src++; });
}

}  // namespace temper::cpu
