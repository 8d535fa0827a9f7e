// layer_norm over the last dimension as one fused op (biased variance, eps inside the sqrt), and
// add_layer_norm = layer_norm(a + b): the post-LN residual of a transformer block as one op (on the GPU one
// kernel reads a and b and writes the sum and the normalised rows).
#pragma once

#include "temper/autograd/node.hpp"
#include "temper/backend/layernorm.hpp"
#include "temper/core/tensor.hpp"

namespace temper {

// Inputs (x, gamma, beta), or (a, b, gamma, beta) for add_layer_norm, where x = a + b and both a and b get dx.
template <class T>
struct LayerNormNode : autograd::Node<T> {
    Tensor<T> x, gamma;
    Tensor<compute_t<T>> mean, rstd;  // float for bf16: the backward needs more than 8 bits of 1/std
    int64_t rows = 0, d = 0;
    bool residual = false;
    const char* name() const override { return residual ? "add_layer_norm" : "layer_norm"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g_in) override {
        Tensor<T> g = g_in.contiguous();
        Tensor<T> dx = Tensor<T>::empty(x.shape(), x.device());
        Tensor<T> dg = Tensor<T>::empty({d}, x.device()), db = Tensor<T>::empty({d}, x.device());
        backend::layernorm_backward(x.data(), gamma.data(), mean.data(), rstd.data(), g.data(), dx.data(), dg.data(),
                                    db.data(), rows, d, x.device());
        if (residual) return {dx, dx, dg, db};
        return {dx, dg, db};
    }
    void release_saved() override {
        x = gamma = Tensor<T>();
        mean = rstd = Tensor<compute_t<T>>();
    }
};

namespace detail {
// The node both ops record; it keeps the normalised input x and the row statistics when a gradient is needed.
template <class T>
std::shared_ptr<LayerNormNode<T>> layer_norm_node(bool residual, bool needs_grad, const Tensor<T>& x,
                                                  const Tensor<T>& gamma, const Tensor<compute_t<T>>& mean,
                                                  const Tensor<compute_t<T>>& rstd, int64_t rows, int64_t d) {
    auto node = std::make_shared<LayerNormNode<T>>();
    node->residual = residual;
    if (!needs_grad) return node;
    node->x = x;
    node->gamma = gamma;
    node->mean = mean;
    node->rstd = rstd;
    node->rows = rows;
    node->d = d;
    return node;
}
}  // namespace detail

template <class T>
Tensor<T> layer_norm(const Tensor<T>& x_in, const Tensor<T>& weight, const Tensor<T>& bias, double eps) {
    check(x_in.dim() >= 1, "layer_norm: input must have rank >= 1");
    int64_t d = x_in.size(-1);
    check(weight.dim() == 1 && weight.size(0) == d && bias.dim() == 1 && bias.size(0) == d, "layer_norm: weight ",
          shape_of(weight.shape()), " and bias ", shape_of(bias.shape()), " must both be [", d, "]");
    Tensor<T> x = x_in.contiguous();
    Tensor<T> g = weight.contiguous();
    Tensor<T> b = bias.contiguous();
    int64_t rows = d ? x.numel() / d : 0;
    Tensor<T> y = Tensor<T>::empty(x.shape(), x.device());
    using S = compute_t<T>;
    Tensor<S> mean = Tensor<S>::empty({rows}, x.device()), rstd = Tensor<S>::empty({rows}, x.device());
    check(g.device() == x.device() && b.device() == x.device(), "layer_norm: input on ", x.device(), ", weight on ",
          g.device(), ", bias on ", b.device());
    backend::layernorm_forward(x.data(), g.data(), b.data(), y.data(), mean.data(), rstd.data(), rows, d, eps,
                               x.device());
    const bool grad = autograd::needs_grad<T>({x_in, weight, bias});
    auto node = detail::layer_norm_node(false, grad, x, g, mean, rstd, rows, d);
    return autograd::record(y, node, {x_in, weight, bias});
}

// layer_norm(a + b, weight, bias, eps) as one op, a and b of one shape: the same values as the two ops
// (the sum is rounded to T first, then normalised), without a separate sum pass and graph node.
template <class T>
Tensor<T> add_layer_norm(const Tensor<T>& a_in, const Tensor<T>& b_in, const Tensor<T>& weight, const Tensor<T>& bias,
                         double eps) {
    check(a_in.shape() == b_in.shape(), "add_layer_norm: operands of shapes ", shape_of(a_in.shape()), " and ",
          shape_of(b_in.shape()), " differ (broadcasting: use layer_norm(add(a, b), ...))");
    check(a_in.dim() >= 1, "add_layer_norm: input must have rank >= 1");
    const int64_t d = a_in.size(-1);
    check(weight.dim() == 1 && weight.size(0) == d && bias.dim() == 1 && bias.size(0) == d, "add_layer_norm: weight ",
          shape_of(weight.shape()), " and bias ", shape_of(bias.shape()), " must both be [", d, "]");
    const Device dev = a_in.device();
    check(b_in.device() == dev && weight.device() == dev && bias.device() == dev, "add_layer_norm: operands on ", dev,
          " and ", b_in.device(), ", weight on ", weight.device(), ", bias on ", bias.device());
    Tensor<T> a = a_in.contiguous();
    Tensor<T> b = b_in.contiguous();
    Tensor<T> g = weight.contiguous();
    Tensor<T> be = bias.contiguous();
    const int64_t rows = d ? a.numel() / d : 0;
    Tensor<T> x = Tensor<T>::empty(a.shape(), dev), y = Tensor<T>::empty(a.shape(), dev);
    using S = compute_t<T>;
    Tensor<S> mean = Tensor<S>::empty({rows}, dev), rstd = Tensor<S>::empty({rows}, dev);
    backend::layernorm_residual_forward(a.data(), b.data(), g.data(), be.data(), x.data(), y.data(), mean.data(),
                                        rstd.data(), rows, d, eps, dev);
    const bool grad = autograd::needs_grad<T>({a_in, b_in, weight, bias});
    auto node = detail::layer_norm_node(true, grad, x, g, mean, rstd, rows, d);
    return autograd::record(y, node, {a_in, b_in, weight, bias});
}

}  // namespace temper
