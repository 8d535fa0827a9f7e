// Elementwise ops: add / sub / mul with NumPy broadcasting, scalar scaling, GELU, ReLU, sum, mean.
#pragma once

#include <vector>

#include "temper/autograd/node.hpp"
#include "temper/backend/elementwise.hpp"
#include "temper/core/tensor.hpp"

namespace temper {

namespace detail {

// a op b with broadcasting into a fresh dense tensor, on the device that holds both.
template <class T>
Tensor<T> binary(const Tensor<T>& a, const Tensor<T>& b, backend::BinaryOp op) {
    check(a.device() == b.device(), "elementwise op: operands on different devices (", a.device(), ", ", b.device(),
          ")");
    Tensor<T> out = Tensor<T>::empty(broadcast_shapes(a.shape(), b.shape()), a.device());
    backend::binary(op, a.data(), a.shape(), a.strides(), b.data(), b.shape(), b.strides(), out.data(), a.device());
    return out;
}

}  // namespace detail

// Sums g (shape of a broadcast result) down to `shape`: the backward of broadcasting.
template <class T>
Tensor<T> sum_to(const Tensor<T>& g, const Shape& shape) {
    if (g.shape() == shape) return g;
    const Tensor<T> gc = g.contiguous();
    Tensor<T> out = Tensor<T>::empty(shape, g.device());
    backend::sum_to_shape(gc.data(), gc.shape(), out.data(), shape, g.device());
    return out;
}

template <class T>
struct AddNode : autograd::Node<T> {
    Shape sa, sb;
    T sign_b = T(1);
    const char* name() const override { return "add"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
        Tensor<T> gb = sum_to(g, sb);
        if (sign_b != T(1)) gb = scaled(gb, sign_b);
        return {sum_to(g, sa), gb};
    }
};

template <class T>
Tensor<T> add(const Tensor<T>& a, const Tensor<T>& b) {
    auto node = std::make_shared<AddNode<T>>();
    node->sa = a.shape();
    node->sb = b.shape();
    return autograd::record(detail::binary(a, b, backend::BinaryOp::Add), node, {a, b});
}

template <class T>
Tensor<T> sub(const Tensor<T>& a, const Tensor<T>& b) {
    auto node = std::make_shared<AddNode<T>>();
    node->sa = a.shape();
    node->sb = b.shape();
    node->sign_b = T(-1);
    return autograd::record(detail::binary(a, b, backend::BinaryOp::Sub), node, {a, b});
}

template <class T>
struct MulNode : autograd::Node<T> {
    Tensor<T> a, b;
    const char* name() const override { return "mul"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
        Tensor<T> ga, gb;
        if (this->inputs[0].requires_grad()) ga = sum_to(detail::binary(g, b, backend::BinaryOp::Mul), a.shape());
        if (this->inputs[1].requires_grad()) gb = sum_to(detail::binary(g, a, backend::BinaryOp::Mul), b.shape());
        return {ga, gb};
    }
    void release_saved() override { a = b = Tensor<T>(); }
};

template <class T>
Tensor<T> mul(const Tensor<T>& a, const Tensor<T>& b) {
    auto node = std::make_shared<MulNode<T>>();
    Tensor<T> out = detail::binary(a, b, backend::BinaryOp::Mul);
    if (autograd::needs_grad<T>({a, b})) {
        node->a = a;
        node->b = b;
    }
    return autograd::record(out, node, {a, b});
}

// x * s into a fresh contiguous tensor (no graph).
template <class T>
Tensor<T> scaled(const Tensor<T>& x, T s) {
    const Tensor<T> xc = x.contiguous();
    Tensor<T> out = Tensor<T>::empty(x.shape(), x.device());
    backend::scale(xc.data(), out.data(), s, out.numel(), x.device());
    return out;
}

template <class T>
struct ScaleNode : autograd::Node<T> {
    T s = T(1);
    const char* name() const override { return "scale"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g) override { return {scaled(g, s)}; }
};

// x * s for a scalar s.
template <class T>
Tensor<T> scale(const Tensor<T>& x, T s) {
    Tensor<T> out = scaled(x, s);
    auto node = std::make_shared<ScaleNode<T>>();
    node->s = s;
    return autograd::record(out, node, {x});
}

template <class T>
Tensor<T> operator+(const Tensor<T>& a, const Tensor<T>& b) {
    return add(a, b);
}
template <class T>
Tensor<T> operator-(const Tensor<T>& a, const Tensor<T>& b) {
    return sub(a, b);
}
template <class T>
Tensor<T> operator*(const Tensor<T>& a, const Tensor<T>& b) {
    return mul(a, b);
}
template <class T>
Tensor<T> operator*(const Tensor<T>& a, T s) {
    return scale(a, s);
}
template <class T>
Tensor<T> operator*(T s, const Tensor<T>& a) {
    return scale(a, s);
}

// Unary ops whose backward needs the input: GELU (exact erf), ReLU and tanh.
template <class T>
struct UnaryNode : autograd::Node<T> {
    Tensor<T> x;
    Activation act = Activation::GELU;
    const char* name() const override {
        return act == Activation::GELU ? "gelu" : act == Activation::ReLU ? "relu" : "tanh";
    }
    std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
        Tensor<T> gc = g.contiguous();
        Tensor<T> dx = Tensor<T>::empty(x.shape(), x.device());
        backend::activation_backward(act, x.data(), gc.data(), dx.data(), x.numel(), x.device());
        return {dx};
    }
    void release_saved() override { x = Tensor<T>(); }
};

namespace detail {
template <class T>
Tensor<T> unary(const Tensor<T>& x_in, Activation act) {
    Tensor<T> x = x_in.contiguous();
    Tensor<T> y = Tensor<T>::empty(x.shape(), x.device());
    backend::activation_forward(act, x.data(), y.data(), x.numel(), x.device());
    auto node = std::make_shared<UnaryNode<T>>();
    node->act = act;
    if (autograd::needs_grad<T>({x_in})) node->x = x;
    return autograd::record(y, node, {x_in});
}
}  // namespace detail

template <class T>
Tensor<T> gelu(const Tensor<T>& x) {
    return detail::unary(x, Activation::GELU);
}
template <class T>
Tensor<T> relu(const Tensor<T>& x) {
    return detail::unary(x, Activation::ReLU);
}
template <class T>
Tensor<T> tanh(const Tensor<T>& x) {
    return detail::unary(x, Activation::Tanh);
}

template <class T>
struct SumNode : autograd::Node<T> {
    Shape in_shape;
    T factor = T(1);
    const char* name() const override { return "sum"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
        return {Tensor<T>::full(in_shape, g.item() * factor, g.device())};
    }
};

namespace detail {
// (sum of all elements) / divisor as a 0-rank tensor on x's device: accumulated in double on the CPU, by a
// fixed-order tree on the GPU (no host sync).
template <class T>
Tensor<T> scaled_total(const Tensor<T>& x, double divisor) {
    const Tensor<T> xc = x.contiguous();
    Tensor<T> out = Tensor<T>::empty({}, x.device());
    backend::sum(xc.data(), xc.numel(), divisor, out.data(), x.device());
    return out;
}
}  // namespace detail

// Sum of all elements (a 0-rank tensor).
template <class T>
Tensor<T> sum(const Tensor<T>& x) {
    auto node = std::make_shared<SumNode<T>>();
    node->in_shape = x.shape();
    return autograd::record(detail::scaled_total(x, 1.0), node, {x});
}

template <class T>
Tensor<T> mean(const Tensor<T>& x) {
    check(x.numel() > 0, "mean of an empty tensor");
    auto node = std::make_shared<SumNode<T>>();
    node->in_shape = x.shape();
    node->factor = T(1.0 / double(x.numel()));
    return autograd::record(detail::scaled_total(x, double(x.numel())), node, {x});
}

}  // namespace temper
