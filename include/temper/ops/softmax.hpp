// masked_softmax: the attention-score softmax as one fused op, softmax(scale * x) over the last
// dimension with a per-batch key mask; masked keys get the type's lowest finite value (HF semantics).
#pragma once

#include "temper/autograd/node.hpp"
#include "temper/backend/softmax.hpp"
#include "temper/core/tensor.hpp"

namespace temper {

template <class T>
struct MaskedSoftmaxNode : autograd::Node<T> {
    Tensor<T> y;
    Tensor<int64_t> mask;
    int64_t rows = 0, cols = 0, rows_per_batch = 1;
    T scale = T(1);
    const char* name() const override { return "masked_softmax"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g_in) override {
        Tensor<T> g = g_in.contiguous();
        Tensor<T> dx = Tensor<T>::empty(y.shape(), y.device());
        const int64_t* m = mask.defined() ? mask.data() : nullptr;
        backend::masked_softmax_backward(y.data(), g.data(), dx.data(), m, rows, cols, rows_per_batch, scale,
                                         y.device());
        return {dx};
    }
    void release_saved() override {
        y = Tensor<T>();
        mask = Tensor<int64_t>();
    }
};

// x: [B, ..., K] scores; key_mask: [B, K] with 0 = masked (may be undefined: no mask).
template <class T>
Tensor<T> masked_softmax(const Tensor<T>& x_in, const Tensor<int64_t>& key_mask = Tensor<int64_t>(), T scale = T(1)) {
    check(x_in.dim() >= 1, "masked_softmax: input must have rank >= 1");
    Tensor<T> x = x_in.contiguous();
    int64_t cols = x.size(-1), rows = cols ? x.numel() / cols : 0, rows_per_batch = rows;
    Tensor<int64_t> mask;
    if (key_mask.defined()) {
        check(x.dim() >= 2 && key_mask.dim() == 2 && key_mask.size(0) == x.size(0) && key_mask.size(1) == cols,
              "masked_softmax: mask of shape ", shape_of(key_mask.shape()), " does not match scores of shape ",
              shape_of(x.shape()), " (expected [", x.dim() >= 2 ? x.size(0) : 0, ", ", cols, "])");
        mask = key_mask.contiguous();
        rows_per_batch = x.size(0) ? rows / x.size(0) : 1;
    }
    check(!mask.defined() || mask.device() == x.device(), "masked_softmax: scores on ", x.device(), " but mask on ",
          lazy([&] { return mask.defined() ? mask.device().str() : ""; }));
    Tensor<T> y = Tensor<T>::empty(x.shape(), x.device());
    const int64_t* m = mask.defined() ? mask.data() : nullptr;
    backend::masked_softmax_forward(x.data(), y.data(), m, rows, cols, std::max<int64_t>(rows_per_batch, 1), scale,
                                    x.device());
    auto node = std::make_shared<MaskedSoftmaxNode<T>>();
    if (autograd::needs_grad<T>({x_in})) {
        node->y = y.detach();  // y's grad_fn is this node: keeping y itself would be a cycle that leaks the graph
        node->mask = mask;
        node->rows = rows;
        node->cols = cols;
        node->rows_per_batch = std::max<int64_t>(rows_per_batch, 1);
        node->scale = scale;
    }
    return autograd::record(y, node, {x_in});
}

template <class T>
Tensor<T> softmax(const Tensor<T>& x) {
    return masked_softmax(x, Tensor<int64_t>(), T(1));
}

}  // namespace temper
