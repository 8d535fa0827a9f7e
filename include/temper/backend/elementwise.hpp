// The device layer for elementwise arithmetic, reductions and activations: broadcasting add / sub / mul,
// scaling, in-place accumulation, whole-tensor sums, the backward of broadcasting, GELU and ReLU. Raw pointers
// and shapes in; cpu:: or cuda:: by the device.
#pragma once

#include "temper/core/activation.hpp"
#include "temper/core/device.hpp"
#include "temper/cpu/elementwise.hpp"
#include "temper/cuda/api.hpp"

namespace temper::backend {

using cpu::BinaryOp;

// out = a op b with NumPy broadcasting: a and b strided views, out dense of the broadcast shape.
template <class T>
void binary(BinaryOp op, const T* a, const Shape& a_shape, const Shape& a_strides, const T* b, const Shape& b_shape,
            const Shape& b_strides, T* out, Device dev) {
    if (dev.is_cpu()) return cpu::broadcast_binary(op, a, a_shape, a_strides, b, b_shape, b_strides, out);
    const auto launch = op == BinaryOp::Add ? cuda::add<T> : op == BinaryOp::Sub ? cuda::sub<T> : cuda::mul<T>;
    launch(a, a_shape, a_strides, b, b_shape, b_strides, out, dev);
}

// The backward of broadcasting: out (out_shape, overwritten) = dense g (g_shape) summed over the dimensions
// out_shape broadcasts. Deterministic on both devices.
template <class T>
void sum_to_shape(const T* g, const Shape& g_shape, T* out, const Shape& out_shape, Device dev) {
    if (dev.is_cuda())
        cuda::sum_to_shape(g, g_shape, out, out_shape, dev);
    else
        cpu::sum_to_shape(g, g_shape, out, out_shape);
}

// y = x * s over n dense elements (y may be x).
template <class T>
void scale(const T* x, T* y, T s, int64_t n, Device dev) {
    if (dev.is_cuda())
        cuda::scale(x, y, s, n, dev);
    else
        cpu::scale(x, y, s, n);
}

// acc += x over n dense elements: the same bits on both devices.
template <class T>
void add_inplace(T* acc, const T* x, int64_t n, Device dev) {
    if (dev.is_cuda())
        cuda::add_inplace(acc, x, n, dev);
    else
        cpu::add_inplace(acc, x, n);
}

// out[0] = (sum of the n dense elements of x) / divisor, out on dev: in double on the CPU, a fixed-order tree in
// compute_t on the GPU (no host sync).
template <class T>
void sum(const T* x, int64_t n, double divisor, T* out, Device dev) {
    if (dev.is_cpu()) return cpu::sum(x, n, divisor, out);
    cuda::sum(x, n, out, dev);
    if (divisor != 1.0) cuda::scale(out, out, T(1.0 / divisor), 1, dev);
}

// y = act(x), dx = dy * act'(x) over n dense elements (y may be x, dx may be dy).
template <class T>
void activation_forward(Activation act, const T* x, T* y, int64_t n, Device dev) {
    switch (act) {
        case Activation::GELU: return dev.is_cuda() ? cuda::gelu_forward(x, y, n, dev) : cpu::gelu_forward(x, y, n);
        case Activation::ReLU: return dev.is_cuda() ? cuda::relu_forward(x, y, n, dev) : cpu::relu_forward(x, y, n);
        case Activation::Tanh: return dev.is_cuda() ? cuda::tanh_forward(x, y, n, dev) : cpu::tanh_forward(x, y, n);
    }
}
template <class T>
void activation_backward(Activation act, const T* x, const T* dy, T* dx, int64_t n, Device dev) {
    switch (act) {
        case Activation::GELU:
            return dev.is_cuda() ? cuda::gelu_backward(x, dy, dx, n, dev) : cpu::gelu_backward(x, dy, dx, n);
        case Activation::ReLU:
            return dev.is_cuda() ? cuda::relu_backward(x, dy, dx, n, dev) : cpu::relu_backward(x, dy, dx, n);
        case Activation::Tanh:
            return dev.is_cuda() ? cuda::tanh_backward(x, dy, dx, n, dev) : cpu::tanh_backward(x, dy, dx, n);
    }
}

// pre = x + bias (nullptr: not kept), y = gelu(pre); x [rows, cols], bias [cols].
template <class T>
void bias_gelu_forward(const T* x, const T* bias, T* pre, T* y, int64_t rows, int64_t cols, Device dev) {
    if (dev.is_cuda())
        cuda::bias_gelu_forward(x, bias, pre, y, rows, cols, dev);
    else
        cpu::bias_gelu_forward(x, bias, pre, y, rows, cols);
}

// dx = dy * gelu'(pre), dbias = column sums of dx (overwritten; deterministic on both devices).
template <class T>
void bias_gelu_backward(const T* pre, const T* dy, T* dx, T* dbias, int64_t rows, int64_t cols, Device dev) {
    if (dev.is_cuda())
        cuda::bias_gelu_backward(pre, dy, dx, dbias, rows, cols, dev);
    else
        cpu::bias_gelu_backward(pre, dy, dx, dbias, rows, cols);
}

}  // namespace temper::backend
