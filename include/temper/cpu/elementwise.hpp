// Elementwise CPU kernels on contiguous buffers.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <unsupported/Eigen/SpecialFunctions>

#include "temper/cpu/blocks.hpp"
#include "temper/cpu/half.hpp"
#include "temper/cpu/parallel.hpp"

namespace temper::cpu {

template <class T>
void add_inplace(T* acc, const T* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) acc[i] += x[i];
}

// out[j] = sum over rows of m[r, j] (m contiguous [rows, cols]), accumulated in double in row order and
// rounded once: the bias gradient. Columns are split across threads, so the result does not depend on the
// thread count.
template <class T>
void column_sums(const T* m, int64_t rows, int64_t cols, T* out) {
    constexpr int64_t kCols = 256;
    parallel_for((cols + kCols - 1) / kCols, rows * kCols, [&](int64_t c) {
        const int64_t j0 = c * kCols, j1 = std::min(cols, j0 + kCols);
        double acc[kCols] = {};
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = j0; j < j1; ++j) acc[j - j0] += double(m[r * cols + j]);
        for (int64_t j = j0; j < j1; ++j) out[j] = T(acc[j - j0]);
    });
}

// Exact GELU: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), and d/dx gelu = Phi(x) + x * phi(x). Eigen's
// vectorised erf (a rational approximation within a few ulp for float; std::erf for double) and exp.
template <class T>
void gelu_forward(const T* x, T* y, int64_t n) {
    map_blocks(x, y, n, 20, [](const auto& v) -> Block<T> {
        return T(0.5) * v * (T(1) + (v * T(0.70710678118654752440)).erf());
    });
}
template <class T>
void gelu_backward(const T* x, const T* dy, T* dx, int64_t n) {
    map_blocks(x, dy, dx, n, 30, [](const auto& v, const auto& g) -> Block<T> {
        const Block<T> cdf = T(0.5) * (T(1) + (v * T(0.70710678118654752440)).erf());
        const Block<T> pdf = exp_underflow_to_zero<T>(T(-0.5) * v * v) * T(0.39894228040143267794);
        return g * (cdf + v * pdf);
    });
}

template <>
inline void gelu_forward<bf16>(const bf16* x, bf16* y, int64_t n) {
    std::vector<float> yf(static_cast<size_t>(n));
    gelu_forward(widen(x, n).data(), yf.data(), n);
    narrow(yf, y);
}
template <>
inline void gelu_backward<bf16>(const bf16* x, const bf16* dy, bf16* dx, int64_t n) {
    std::vector<float> dxf(static_cast<size_t>(n));
    gelu_backward(widen(x, n).data(), widen(dy, n).data(), dxf.data(), n);
    narrow(dxf, dx);
}

template <class T>
void relu_forward(const T* x, T* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}
// Like torch: the gradient at exactly 0 is 0.
template <class T>
void relu_backward(const T* x, const T* dy, T* dx, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dx[i] = x[i] > T(0) ? dy[i] : T(0);
}

}  // namespace temper::cpu
