// Elementwise CPU kernels: broadcasting arithmetic on strided views, scaling, sums, the backward of
// broadcasting, GELU and ReLU on contiguous buffers.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <unsupported/Eigen/SpecialFunctions>

#include "temper/core/shape.hpp"
#include "temper/cpu/blocks.hpp"
#include "temper/cpu/half.hpp"
#include "temper/cpu/memory.hpp"
#include "temper/cpu/parallel.hpp"

namespace temper::cpu {

enum class BinaryOp { Add, Sub, Mul };

// Strides of a view (x_shape, x_strides) seen through a broadcast to out_shape (0 along broadcast dimensions).
inline Shape broadcast_strides(const Shape& x_shape, const Shape& x_strides, const Shape& out_shape) {
    Shape st(out_shape.size(), 0);
    const size_t lead = out_shape.size() - x_shape.size();
    for (size_t i = 0; i < x_shape.size(); ++i) st[lead + i] = x_shape[i] == 1 ? 0 : x_strides[i];
    return st;
}

// out = a op b with NumPy broadcasting; a and b are strided views, out is contiguous of the broadcast shape.
// Three loops: same-shape dense operands, b a dense trailing block of a (a bias: the hot case), the general one.
template <class T>
void broadcast_binary(BinaryOp op, const T* pa, const Shape& a_shape, const Shape& a_strides, const T* pb,
                      const Shape& b_shape, const Shape& b_strides, T* o) {
    const auto f = [op](T x, T y) { return op == BinaryOp::Add ? x + y : op == BinaryOp::Sub ? x - y : x * y; };
    const Shape shape = broadcast_shapes(a_shape, b_shape);
    const int64_t n = shape_numel(shape), m = shape_numel(b_shape);
    const bool ca = a_strides == contiguous_strides(a_shape) || shape_numel(a_shape) <= 1;
    const bool cb = b_strides == contiguous_strides(b_shape) || m <= 1;
    if (a_shape == shape && b_shape == shape && ca && cb) {
        for (int64_t i = 0; i < n; ++i) o[i] = f(pa[i], pb[i]);
        return;
    }
    if (a_shape == shape && ca && cb && m > 0 && b_shape.size() <= shape.size() && n % m == 0 &&
        std::equal(b_shape.begin(), b_shape.end(), shape.end() - int64_t(b_shape.size()))) {
        for (int64_t i = 0; i < n; ++i) o[i] = f(pa[i], pb[i % m]);
        return;
    }
    const Shape sa = broadcast_strides(a_shape, a_strides, shape), sb = broadcast_strides(b_shape, b_strides, shape);
    const size_t rank = shape.size();
    std::vector<int64_t> idx(rank, 0);
    int64_t oa = 0, ob = 0;
    for (int64_t i = 0; i < n; ++i) {
        o[i] = f(pa[oa], pb[ob]);
        for (size_t d = rank; d-- > 0;) {
            if (++idx[d] < shape[d]) {
                oa += sa[d];
                ob += sb[d];
                break;
            }
            oa -= sa[d] * (shape[d] - 1);
            ob -= sb[d] * (shape[d] - 1);
            idx[d] = 0;
        }
    }
}

// The backward of broadcasting: out (shape out_shape, overwritten) = dense g (shape g_shape) summed over the
// dimensions out_shape broadcasts.
template <class T>
void sum_to_shape(const T* g, const Shape& g_shape, T* out, const Shape& out_shape) {
    std::fill_n(out, shape_numel(out_shape), T(0));
    const Shape st = broadcast_strides(out_shape, contiguous_strides(out_shape), g_shape);
    int64_t i = 0;
    for_each_offset(g_shape, st, [&](int64_t off) { out[off] += g[i++]; });
}

// y = x * s over n contiguous elements (y may be x).
template <class T>
void scale(const T* x, T* y, T s, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s;
}

// out[0] = (the sum of x[0..n)) / divisor, accumulated and divided in wide_t (double), rounded once.
template <class T>
void sum(const T* x, int64_t n, double divisor, T* out) {
    wide_t<T> s = 0;
    for (int64_t i = 0; i < n; ++i) s += wide_t<T>(x[i]);
    out[0] = T(s / divisor);
}

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
    map_blocks(x, y, n, 20,
               [](const auto& v) -> Block<T> { return T(0.5) * v * (T(1) + (v * T(0.70710678118654752440)).erf()); });
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

// tanh (BERT's pooler), in compute_t and rounded once; the backward recomputes tanh(x): 1 - tanh(x)^2.
template <class T>
void tanh_forward(const T* x, T* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = T(std::tanh(compute_t<T>(x[i])));
}
template <class T>
void tanh_backward(const T* x, const T* dy, T* dx, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const compute_t<T> t = std::tanh(compute_t<T>(x[i]));
        dx[i] = T(compute_t<T>(dy[i]) * (compute_t<T>(1) - t * t));
    }
}

// pre = x + bias (bias [cols] broadcast over the rows of x [rows, cols]; pre nullptr: not kept), y = gelu(pre).
// Without pre the sum lives in y and is replaced in place.
template <class T>
void bias_gelu_forward(const T* x, const T* bias, T* pre, T* y, int64_t rows, int64_t cols) {
    T* p = pre ? pre : y;
    parallel_for(rows, cols, [&](int64_t r) {
        for (int64_t j = 0; j < cols; ++j) p[r * cols + j] = x[r * cols + j] + bias[j];
    });
    gelu_forward(p, y, rows * cols);
}

// dx = dy * gelu'(pre), dbias = column sums of dx (overwritten).
template <class T>
void bias_gelu_backward(const T* pre, const T* dy, T* dx, T* dbias, int64_t rows, int64_t cols) {
    gelu_backward(pre, dy, dx, rows * cols);
    column_sums(dx, rows, cols, dbias);
}

}  // namespace temper::cpu
