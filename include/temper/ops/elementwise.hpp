// Elementwise ops: add / sub / mul with NumPy broadcasting, scalar scaling, GELU, ReLU, sum, mean.
#pragma once

#include <vector>

#include "temper/autograd/node.hpp"
#include "temper/core/tensor.hpp"
#include "temper/cpu/elementwise.hpp"
#if defined(TEMPER_WITH_CUDA)
#include "temper/cuda/kernels.hpp"
#endif

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

enum class BinaryOp { Add, Sub, Mul };

// a op b with broadcasting, on the device that holds both.
template <class T>
Tensor<T> binary(const Tensor<T>& a, const Tensor<T>& b, BinaryOp op) {
    check(a.device() == b.device(), "elementwise op: operands on different devices (", a.device().str(), ", ",
          b.device().str(), ")");
#if defined(TEMPER_WITH_CUDA)
    if (a.device().is_cuda()) {
        Tensor<T> out = Tensor<T>::empty(broadcast_shapes(a.shape(), b.shape()), a.device());
        auto launch = op == BinaryOp::Add ? cuda::add<T> : op == BinaryOp::Sub ? cuda::sub<T> : cuda::mul<T>;
        launch(a.data(), a.shape(), a.strides(), b.data(), b.shape(), b.strides(), out.data(), cuda::stream(a.device()));
        return out;
    }
#endif
    switch (op) {
        case BinaryOp::Add: return broadcast_binary(a, b, [](T x, T y) { return x + y; });
        case BinaryOp::Sub: return broadcast_binary(a, b, [](T x, T y) { return x - y; });
        default: return broadcast_binary(a, b, [](T x, T y) { return x * y; });
    }
}

}  // namespace detail

// Sums g (shape of a broadcast result) down to `shape`: the backward of broadcasting.
template <class T>
Tensor<T> sum_to(const Tensor<T>& g, const Shape& shape) {
    if (g.shape() == shape) return g;
#if defined(TEMPER_WITH_CUDA)
    if (g.device().is_cuda()) {
        Tensor<T> gc = g.is_contiguous() ? g : g.clone();
        Tensor<T> out = Tensor<T>::empty(shape, g.device());
        cuda::sum_to_shape(gc.data(), gc.shape(), out.data(), shape, cuda::stream(g.device()));
        return out;
    }
#endif
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
    return autograd::record(detail::binary(a, b, detail::BinaryOp::Add), node, {a, b});
}

template <class T>
Tensor<T> sub(const Tensor<T>& a, const Tensor<T>& b) {
    auto node = std::make_shared<AddNode<T>>();
    node->sa = a.shape();
    node->sb = b.shape();
    node->sign_b = T(-1);
    return autograd::record(detail::binary(a, b, detail::BinaryOp::Sub), node, {a, b});
}

template <class T>
struct MulNode : autograd::Node<T> {
    Tensor<T> a, b;
    const char* name() const override { return "mul"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
        Tensor<T> ga, gb;
        if (this->inputs[0].requires_grad()) ga = sum_to(detail::binary(g, b, detail::BinaryOp::Mul), a.shape());
        if (this->inputs[1].requires_grad()) gb = sum_to(detail::binary(g, a, detail::BinaryOp::Mul), b.shape());
        return {ga, gb};
    }
    void release_saved() override { a = b = Tensor<T>(); }
};

template <class T>
Tensor<T> mul(const Tensor<T>& a, const Tensor<T>& b) {
    auto node = std::make_shared<MulNode<T>>();
    Tensor<T> out = detail::binary(a, b, detail::BinaryOp::Mul);
    if (autograd::needs_grad<T>({a, b})) { node->a = a; node->b = b; }
    return autograd::record(out, node, {a, b});
}

// x * s into a fresh contiguous tensor (no graph).
template <class T>
Tensor<T> scaled(const Tensor<T>& x, T s) {
    Tensor<T> out = x.clone();
    T* p = out.data();
#if defined(TEMPER_WITH_CUDA)
    if (x.device().is_cuda()) {
        cuda::scale(p, p, s, out.numel(), cuda::stream(x.device()));
        return out;
    }
#endif
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
namespace detail {
enum class Activation { GELU, ReLU };  // the elementwise unary ops (nn::Activation is the config's choice)

template <class T>
void activation_forward(Activation a, const Tensor<T>& x, Tensor<T>& y) {
#if defined(TEMPER_WITH_CUDA)
    if (x.device().is_cuda()) {
        auto launch = a == Activation::GELU ? cuda::gelu_forward<T> : cuda::relu_forward<T>;
        return launch(x.data(), y.data(), x.numel(), cuda::stream(x.device()));
    }
#endif
    (a == Activation::GELU ? cpu::gelu_forward<T> : cpu::relu_forward<T>)(x.data(), y.data(), x.numel());
}

template <class T>
void activation_backward(Activation a, const Tensor<T>& x, const Tensor<T>& dy, Tensor<T>& dx) {
#if defined(TEMPER_WITH_CUDA)
    if (x.device().is_cuda()) {
        auto launch = a == Activation::GELU ? cuda::gelu_backward<T> : cuda::relu_backward<T>;
        return launch(x.data(), dy.data(), dx.data(), x.numel(), cuda::stream(x.device()));
    }
#endif
    (a == Activation::GELU ? cpu::gelu_backward<T> : cpu::relu_backward<T>)(x.data(), dy.data(), dx.data(), x.numel());
}
}  // namespace detail

template <class T>
struct UnaryNode : autograd::Node<T> {
    Tensor<T> x;
    detail::Activation act = detail::Activation::GELU;
    const char* name() const override { return act == detail::Activation::GELU ? "gelu" : "relu"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
        Tensor<T> gc = g.is_contiguous() ? g : g.clone();
        Tensor<T> dx = Tensor<T>::empty(x.shape(), x.device());
        detail::activation_backward(act, x, gc, dx);
        return {dx};
    }
    void release_saved() override { x = Tensor<T>(); }
};

namespace detail {
template <class T>
Tensor<T> unary(const Tensor<T>& x_in, Activation act) {
    Tensor<T> x = x_in.is_contiguous() ? x_in : x_in.clone();
    Tensor<T> y = Tensor<T>::empty(x.shape(), x.device());
    activation_forward(act, x, y);
    auto node = std::make_shared<UnaryNode<T>>();
    node->act = act;
    if (autograd::needs_grad<T>({x_in})) node->x = x;
    return autograd::record(y, node, {x_in});
}
}  // namespace detail

template <class T>
Tensor<T> gelu(const Tensor<T>& x) {
    return detail::unary(x, detail::Activation::GELU);
}
template <class T>
Tensor<T> relu(const Tensor<T>& x) {
    return detail::unary(x, detail::Activation::ReLU);
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
#if defined(TEMPER_WITH_CUDA)
    if (x.device().is_cuda()) {
        Tensor<T> xc = x.is_contiguous() ? x : x.clone();
        Tensor<T> out = Tensor<T>::empty({}, x.device());
        cudaStream_t st = cuda::stream(x.device());
        cuda::sum(xc.data(), xc.numel(), out.data(), st);
        if (divisor != 1.0) cuda::scale(out.data(), out.data(), T(1.0 / divisor), 1, st);
        return out;
    }
#endif
    double s = 0;
    for (T v : x.to_vector()) s += double(v);
    return Tensor<T>::scalar(T(s / divisor));
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
