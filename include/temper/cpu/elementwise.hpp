// Elementwise CPU kernels on contiguous buffers.
#pragma once

#include <cmath>
#include <cstdint>

#include "temper/cpu/parallel.hpp"

namespace temper::cpu {

template <class T>
void add_inplace(T* acc, const T* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) acc[i] += x[i];
}

// Exact GELU: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)).
template <class T>
T gelu(T x) {
    return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440)));
}
// d/dx gelu = Phi(x) + x * phi(x).
template <class T>
T gelu_grad(T x) {
    T cdf = T(0.5) * (T(1) + std::erf(x * T(0.70710678118654752440)));
    T pdf = std::exp(T(-0.5) * x * x) * T(0.39894228040143267794);
    return cdf + x * pdf;
}

template <class T>
void gelu_forward(const T* x, T* y, int64_t n) {
    parallel_for(n, 20, [&](int64_t i) { y[i] = gelu(x[i]); });
}
template <class T>
void gelu_backward(const T* x, const T* dy, T* dx, int64_t n) {
    parallel_for(n, 30, [&](int64_t i) { dx[i] = dy[i] * gelu_grad(x[i]); });
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
