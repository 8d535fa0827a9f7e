// layer_norm over the last dimension as one fused op (biased variance, eps inside the sqrt).
#pragma once

#include "temper/autograd/node.hpp"
#include "temper/core/tensor.hpp"
#include "temper/cpu/layernorm.hpp"
#if defined(TEMPER_WITH_CUDA)
#include "temper/cuda/kernels.hpp"
#endif

namespace temper {

template <class T>
struct LayerNormNode : autograd::Node<T> {
    Tensor<T> x, gamma, mean, rstd;
    int64_t rows = 0, d = 0;
    const char* name() const override { return "layer_norm"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g_in) override {
        Tensor<T> g = g_in.is_contiguous() ? g_in : g_in.clone();
        Tensor<T> dx = Tensor<T>::empty(x.shape(), x.device());
        Tensor<T> dg = Tensor<T>::empty({d}, x.device()), db = Tensor<T>::empty({d}, x.device());
#if defined(TEMPER_WITH_CUDA)
        if (x.device().is_cuda()) {
            cuda::layernorm_backward(x.data(), gamma.data(), mean.data(), rstd.data(), g.data(), dx.data(), dg.data(),
                                     db.data(), rows, d, cuda::stream(x.device()));
            return {dx, dg, db};
        }
#endif
        cpu::layernorm_backward(x.data(), gamma.data(), mean.data(), rstd.data(), g.data(), dx.data(), dg.data(),
                                db.data(), rows, d);
        return {dx, dg, db};
    }
    void release_saved() override { x = gamma = mean = rstd = Tensor<T>(); }
};

template <class T>
Tensor<T> layer_norm(const Tensor<T>& x_in, const Tensor<T>& weight, const Tensor<T>& bias, double eps) {
    check(x_in.dim() >= 1, "layer_norm: input must have rank >= 1");
    int64_t d = x_in.size(-1);
    check(weight.dim() == 1 && weight.size(0) == d && bias.dim() == 1 && bias.size(0) == d, "layer_norm: weight ",
          shape_str(weight.shape()), " and bias ", shape_str(bias.shape()), " must both be [", d, "]");
    Tensor<T> x = x_in.is_contiguous() ? x_in : x_in.clone();
    Tensor<T> g = weight.is_contiguous() ? weight : weight.clone();
    Tensor<T> b = bias.is_contiguous() ? bias : bias.clone();
    int64_t rows = d ? x.numel() / d : 0;
    Tensor<T> y = Tensor<T>::empty(x.shape(), x.device());
    Tensor<T> mean = Tensor<T>::empty({rows}, x.device()), rstd = Tensor<T>::empty({rows}, x.device());
    check(g.device() == x.device() && b.device() == x.device(), "layer_norm: input on ", x.device().str(),
          ", weight on ", g.device().str(), ", bias on ", b.device().str());
#if defined(TEMPER_WITH_CUDA)
    if (x.device().is_cuda())
        cuda::layernorm_forward(x.data(), g.data(), b.data(), y.data(), mean.data(), rstd.data(), rows, d, eps,
                                cuda::stream(x.device()));
    else
#endif
        cpu::layernorm_forward(x.data(), g.data(), b.data(), y.data(), mean.data(), rstd.data(), rows, d, eps);
    auto node = std::make_shared<LayerNormNode<T>>();
    if (autograd::needs_grad<T>({x_in, weight, bias})) {
        node->x = x;
        node->gamma = g;
        node->mean = mean;
        node->rstd = rstd;
        node->rows = rows;
        node->d = d;
    }
    return autograd::record(y, node, {x_in, weight, bias});
}

}  // namespace temper
