// Elementwise ops: add / sub / mul with NumPy broadcasting, scalar scaling, GELU, ReLU, sum, mean.
#pragma once

#include <vector>

#include "temper/autograd/node.hpp"
#include "temper/core/tensor.hpp"
#include "temper/cpu/elementwise.hpp"

namespace temper {

namespace detail {

// Strides of x seen through a broadcast to `out` (0 along broadcast dimensions).
template <class T>
Shape broadcast_strides(const Tensor<T>& x, const Shape& out) {
    Shape st(out.size(), 0);
    size_t lead = out.size() - x.dim();
    for (size_t i = 0; i < x.dim(); ++i) st[lead + i] = x.shape()[i] == 1 ? 0 : x.strides()[i];
    return st;
}

// out[i] = f(a[i], b[i]) with broadcasting; out is fresh and contiguous.
template <class T, class F>
Tensor<T> broadcast_binary(const Tensor<T>& a, const Tensor<T>& b, F f) {
    Shape shape = broadcast_shapes(a.shape(), b.shape());
    Tensor<T> out = Tensor<T>::empty(shape, a.device());
    T* o = out.data();
    const T* pa = a.data();
    const T* pb = b.data();
    int64_t n = out.numel();
    if (a.shape() == shape && b.shape() == shape && a.is_contiguous() && b.is_contiguous()) {
        for (int64_t i = 0; i < n; ++i) o[i] = f(pa[i], pb[i]);
        return out;
    }
    if (a.shape() == shape && a.is_contiguous() && b.is_contiguous() && b.numel() > 0 &&
        b.dim() <= shape.size() && n % b.numel() == 0 &&
        std::equal(b.shape().begin(), b.shape().end(), shape.end() - int64_t(b.dim()))) {
        int64_t m = b.numel();  // b is a trailing block repeated (a bias): the hot case
        for (int64_t i = 0; i < n; ++i) o[i] = f(pa[i], pb[i % m]);
        return out;
    }
    Shape sa = broadcast_strides(a, shape), sb = broadcast_strides(b, shape);
    size_t rank = shape.size();
    std::vector<int64_t> idx(rank, 0);
    int64_t oa = 0, ob = 0;
    for (int64_t i = 0; i < n; ++i) {
        o[i] = f(pa[oa], pb[ob]);
        for (size_t d = rank; d-- > 0;) {
            if (++idx[d] < shape[d]) { oa += sa[d]; ob += sb[d]; break; }
            oa -= sa[d] * (shape[d] - 1);
            ob -= sb[d] * (shape[d] - 1);
            idx[d] = 0;
        }
    }
    return out;
}

}  // namespace detail

// Sums g (shape of a broadcast result) down to `shape`: the backward of broadcasting.
template <class T>
Tensor<T> sum_to(const Tensor<T>& g, const Shape& shape) {
    if (g.shape() == shape) return g;
    Tensor<T> out = Tensor<T>::zeros(shape, g.device());
    Tensor<T> gc = g.is_contiguous() ? g : g.clone();
    Shape st = detail::broadcast_strides(out, g.shape());
    const T* src = gc.data();
    T* dst = out.data();
    int64_t i = 0;
    for_each_offset(g.shape(), st, [&](int64_t off) { dst[off] += src[i++]; });
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
    return autograd::record(detail::broadcast_binary(a, b, [](T x, T y) { return x + y; }), node, {a, b});
}

template <class T>
Tensor<T> sub(const Tensor<T>& a, const Tensor<T>& b) {
    auto node = std::make_shared<AddNode<T>>();
    node->sa = a.shape();
    node->sb = b.shape();
    node->sign_b = T(-1);
    return autograd::record(detail::broadcast_binary(a, b, [](T x, T y) { return x - y; }), node, {a, b});
}

template <class T>
struct MulNode : autograd::Node<T> {
    Tensor<T> a, b;
    const char* name() const override { return "mul"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
        auto times = [](T x, T y) { return x * y; };
        Tensor<T> ga, gb;
        if (this->inputs[0].requires_grad()) ga = sum_to(detail::broadcast_binary(g, b, times), a.shape());
        if (this->inputs[1].requires_grad()) gb = sum_to(detail::broadcast_binary(g, a, times), b.shape());
        return {ga, gb};
    }
    void release_saved() override { a = b = Tensor<T>(); }
};

template <class T>
Tensor<T> mul(const Tensor<T>& a, const Tensor<T>& b) {
    auto node = std::make_shared<MulNode<T>>();
    Tensor<T> out = detail::broadcast_binary(a, b, [](T x, T y) { return x * y; });
    if (autograd::needs_grad<T>({a, b})) { node->a = a; node->b = b; }
    return autograd::record(out, node, {a, b});
}

// x * s into a fresh contiguous tensor (no graph).
template <class T>
Tensor<T> scaled(const Tensor<T>& x, T s) {
    Tensor<T> out = x.clone();
    T* p = out.data();
    for (int64_t i = 0, n = out.numel(); i < n; ++i) p[i] *= s;
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

template <class T> Tensor<T> operator+(const Tensor<T>& a, const Tensor<T>& b) { return add(a, b); }
template <class T> Tensor<T> operator-(const Tensor<T>& a, const Tensor<T>& b) { return sub(a, b); }
template <class T> Tensor<T> operator*(const Tensor<T>& a, const Tensor<T>& b) { return mul(a, b); }
template <class T> Tensor<T> operator*(const Tensor<T>& a, T s) { return scale(a, s); }
template <class T> Tensor<T> operator*(T s, const Tensor<T>& a) { return scale(a, s); }

// Unary ops whose backward needs the input: GELU (exact erf) and ReLU.
template <class T, void (*Bwd)(const T*, const T*, T*, int64_t)>
struct UnaryNode : autograd::Node<T> {
    Tensor<T> x;
    const char* nm = "";
    const char* name() const override { return nm; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
        Tensor<T> gc = g.is_contiguous() ? g : g.clone();
        Tensor<T> dx = Tensor<T>::empty(x.shape(), x.device());
        Bwd(x.data(), gc.data(), dx.data(), x.numel());
        return {dx};
    }
    void release_saved() override { x = Tensor<T>(); }
};

namespace detail {
template <class T, void (*Fwd)(const T*, T*, int64_t), void (*Bwd)(const T*, const T*, T*, int64_t)>
Tensor<T> unary(const Tensor<T>& x_in, const char* name) {
    Tensor<T> x = x_in.is_contiguous() ? x_in : x_in.clone();
    Tensor<T> y = Tensor<T>::empty(x.shape(), x.device());
    Fwd(x.data(), y.data(), x.numel());
    auto node = std::make_shared<UnaryNode<T, Bwd>>();
    node->nm = name;
    if (autograd::needs_grad<T>({x_in})) node->x = x;
    return autograd::record(y, node, {x_in});
}
}  // namespace detail

template <class T>
Tensor<T> gelu(const Tensor<T>& x) {
    return detail::unary<T, cpu::gelu_forward<T>, cpu::gelu_backward<T>>(x, "gelu");
}
template <class T>
Tensor<T> relu(const Tensor<T>& x) {
    return detail::unary<T, cpu::relu_forward<T>, cpu::relu_backward<T>>(x, "relu");
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

// Sum of all elements (a 0-rank tensor), accumulated in double.
template <class T>
Tensor<T> sum(const Tensor<T>& x) {
    double s = 0;
    for (T v : x.to_vector()) s += double(v);
    auto node = std::make_shared<SumNode<T>>();
    node->in_shape = x.shape();
    return autograd::record(Tensor<T>::scalar(T(s)), node, {x});
}

template <class T>
Tensor<T> mean(const Tensor<T>& x) {
    check(x.numel() > 0, "mean of an empty tensor");
    double s = 0;
    for (T v : x.to_vector()) s += double(v);
    auto node = std::make_shared<SumNode<T>>();
    node->in_shape = x.shape();
    node->factor = T(1.0 / double(x.numel()));
    return autograd::record(Tensor<T>::scalar(T(s / double(x.numel()))), node, {x});
}

}  // namespace temper
