// bias_gelu(x, bias) = gelu(x + bias) with bias [cols] broadcast over the rows of x [..., cols]: the
// feed-forward block's first activation as one op. Same values as gelu(add(x, bias)); the backward gives
// dx and the bias gradient (column sums of dx) from one node, and on the GPU one kernel does the forward.
#pragma once

#include "temper/autograd/node.hpp"
#include "temper/core/tensor.hpp"
#include "temper/cpu/elementwise.hpp"
#if defined(TEMPER_WITH_CUDA)
#include "temper/cuda/kernels.hpp"
#endif

namespace temper {

template <class T>
struct BiasGeluNode : autograd::Node<T> {
    Tensor<T> pre;  // x + bias
    int64_t rows = 0, cols = 0;
    const char* name() const override { return "bias_gelu"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g_in) override {
        Tensor<T> g = g_in.is_contiguous() ? g_in : g_in.clone();
        const Device dev = pre.device();
        Tensor<T> dx = Tensor<T>::empty(pre.shape(), dev), db = Tensor<T>::empty({cols}, dev);
#if defined(TEMPER_WITH_CUDA)
        if (dev.is_cuda()) {
            cuda::bias_gelu_backward(pre.data(), g.data(), dx.data(), db.data(), rows, cols, cuda::stream(dev));
            return {dx, db};
        }
#endif
        cpu::gelu_backward(pre.data(), g.data(), dx.data(), pre.numel());
        cpu::column_sums(dx.data(), rows, cols, db.data());
        return {dx, db};
    }
    void release_saved() override { pre = Tensor<T>(); }
};

template <class T>
Tensor<T> bias_gelu(const Tensor<T>& x_in, const Tensor<T>& bias_in) {
    check(x_in.dim() >= 1 && bias_in.dim() == 1 && bias_in.size(0) == x_in.size(-1), "bias_gelu: bias ",
          shape_str(bias_in.shape()), " must be [", x_in.dim() >= 1 ? x_in.size(-1) : 0, "], the last dimension of x ",
          shape_str(x_in.shape()));
    const Device dev = x_in.device();
    check(bias_in.device() == dev, "bias_gelu: x on ", dev.str(), " but bias on ", bias_in.device().str());
    Tensor<T> x = x_in.is_contiguous() ? x_in : x_in.clone();
    Tensor<T> bias = bias_in.is_contiguous() ? bias_in : bias_in.clone();
    const int64_t cols = bias.size(0), rows = cols ? x.numel() / cols : 0;
    const bool grad = autograd::needs_grad<T>({x_in, bias_in});
    Tensor<T> y = Tensor<T>::empty(x.shape(), dev);
    Tensor<T> pre = grad ? Tensor<T>::empty(x.shape(), dev) : Tensor<T>();
#if defined(TEMPER_WITH_CUDA)
    if (dev.is_cuda())
        cuda::bias_gelu_forward(x.data(), bias.data(), grad ? pre.data() : nullptr, y.data(), rows, cols,
                                cuda::stream(dev));
    else
#endif
    {
        T* p = grad ? pre.data() : y.data();  // without a backward the sum lives in y and is replaced in place
        const T* px = x.data();
        const T* pb = bias.data();
        cpu::parallel_for(rows, cols, [&](int64_t r) {
            for (int64_t j = 0; j < cols; ++j) p[r * cols + j] = px[r * cols + j] + pb[j];
        });
        cpu::gelu_forward(p, y.data(), x.numel());
    }
    auto node = std::make_shared<BiasGeluNode<T>>();
    if (grad) {
        node->pre = pre;
        node->rows = rows;
        node->cols = cols;
    }
    return autograd::record(y, node, {x_in, bias_in});
}

}  // namespace temper
