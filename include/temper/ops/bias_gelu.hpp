// bias_gelu(x, bias) = gelu(x + bias) with bias [cols] broadcast over the rows of x [..., cols]: the
// feed-forward block's first activation as one op. Same values as gelu(add(x, bias)); the backward gives
// dx and the bias gradient (column sums of dx) from one node, and on the GPU one kernel does the forward.
#pragma once

#include "temper/autograd/node.hpp"
#include "temper/backend/elementwise.hpp"
#include "temper/core/tensor.hpp"

namespace temper {

template <class T>
struct BiasGeluNode : autograd::Node<T> {
    Tensor<T> pre;  // x + bias
    int64_t rows = 0, cols = 0;
    const char* name() const override { return "bias_gelu"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g_in) override {
        Tensor<T> g = g_in.contiguous();
        const Device dev = pre.device();
        Tensor<T> dx = Tensor<T>::empty(pre.shape(), dev), db = Tensor<T>::empty({cols}, dev);
        backend::bias_gelu_backward(pre.data(), g.data(), dx.data(), db.data(), rows, cols, dev);
        return {dx, db};
    }
    void release_saved() override { pre = Tensor<T>(); }
};

template <class T>
Tensor<T> bias_gelu(const Tensor<T>& x_in, const Tensor<T>& bias_in) {
    check(x_in.dim() >= 1 && bias_in.dim() == 1 && bias_in.size(0) == x_in.size(-1), "bias_gelu: bias ",
          shape_of(bias_in.shape()), " must be [", x_in.dim() >= 1 ? x_in.size(-1) : 0, "], the last dimension of x ",
          shape_of(x_in.shape()));
    const Device dev = x_in.device();
    check(bias_in.device() == dev, "bias_gelu: x on ", dev, " but bias on ", bias_in.device());
    Tensor<T> x = x_in.contiguous();
    Tensor<T> bias = bias_in.contiguous();
    const int64_t cols = bias.size(0), rows = cols ? x.numel() / cols : 0;
    const bool grad = autograd::needs_grad<T>({x_in, bias_in});
    Tensor<T> y = Tensor<T>::empty(x.shape(), dev);
    Tensor<T> pre = grad ? Tensor<T>::empty(x.shape(), dev) : Tensor<T>();
    backend::bias_gelu_forward(x.data(), bias.data(), grad ? pre.data() : nullptr, y.data(), rows, cols, dev);
    auto node = std::make_shared<BiasGeluNode<T>>();
    if (grad) {
        node->pre = pre;
        node->rows = rows;
        node->cols = cols;
    }
    return autograd::record(y, node, {x_in, bias_in});
}

}  // namespace temper
