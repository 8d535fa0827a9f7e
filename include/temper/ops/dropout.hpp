// dropout: zero each element with probability p and scale the kept ones by 1/(1-p). The mask is a
// pure function of (seed, offset, index) through Philox, so it is recomputed in backward, not stored,
// and a CUDA kernel draws the very same mask.
#pragma once

#include "temper/autograd/node.hpp"
#include "temper/backend/dropout.hpp"
#include "temper/core/random.hpp"
#include "temper/core/tensor.hpp"

namespace temper {

// dropout_apply on x's device (y on the same device, of the same size); the GPU draws the CPU's mask.
template <class T>
void dropout_apply(const Tensor<T>& x, Tensor<T>& y, double p, const PhiloxPosition& pos) {
    backend::dropout_apply(x.data(), y.data(), x.numel(), p, pos, x.device());
}

template <class T>
struct DropoutNode : autograd::Node<T> {
    double p = 0;
    PhiloxPosition pos;
    const char* name() const override { return "dropout"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g_in) override {
        Tensor<T> g = g_in.contiguous();
        Tensor<T> dx = Tensor<T>::empty(g.shape(), g.device());
        dropout_apply(g, dx, p, pos);
        return {dx};
    }
};

// Identity when !training or p == 0.
template <class T>
Tensor<T> dropout(const Tensor<T>& x_in, double p, bool training, Generator& gen = default_generator()) {
    check(p >= 0.0 && p < 1.0, "dropout: probability ", p, " must be in [0, 1)");
    if (!training || p == 0.0) return x_in;
    Tensor<T> x = x_in.contiguous();
    Tensor<T> y = Tensor<T>::empty(x.shape(), x.device());
    auto node = std::make_shared<DropoutNode<T>>();
    node->p = p;
    node->pos = gen.reserve_position(uint64_t(x.numel()));
    dropout_apply(x, y, p, node->pos);
    return autograd::record(y, node, {x_in});
}

}  // namespace temper
