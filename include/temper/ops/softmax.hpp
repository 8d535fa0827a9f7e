// masked_softmax: the attention-score softmax as one fused op, softmax(scale * x) over the last
// dimension with a per-batch key mask; masked keys get the type's lowest finite value (HF semantics).
#pragma once

#include "temper/autograd/node.hpp"
#include "temper/core/tensor.hpp"
#include "temper/cpu/softmax.hpp"
#if defined(TEMPER_WITH_CUDA)
#include "temper/cuda/kernels.hpp"
#endif

namespace temper {

template <class T>
struct MaskedSoftmaxNode : autograd::Node<T> {
    Tensor<T> y;
    Tensor<int64_t> mask;
    int64_t rows = 0, cols = 0, rows_per_batch = 1;
    T scale = T(1);
    const char* name() const override { return "masked_softmax"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g_in) override {
        Tensor<T> g = g_in.is_contiguous() ? g_in : g_in.clone();
        Tensor<T> dx = Tensor<T>::empty(y.shape(), y.device());
        const int64_t* m = mask.defined() ? mask.data() : nullptr;
#if defined(TEMPER_WITH_CUDA)
        if (y.device().is_cuda()) {
            cuda::masked_softmax_backward(y.data(), g.data(), dx.data(), m, rows, cols, rows_per_batch, scale,
                                          cuda::stream(y.device()));
            return {dx};
        }
#endif
        cpu::masked_softmax_backward(y.data(), g.data(), dx.data(), m, rows, cols, rows_per_batch, scale);
        return {dx};
    }
    void release_saved() override { y = Tensor<T>(); mask = Tensor<int64_t>(); }
};

// x: [B, ..., K] scores; key_mask: [B, K] with 0 = masked (may be undefined: no mask).
template <class T>
Tensor<T> masked_softmax(const Tensor<T>& x_in, const Tensor<int64_t>& key_mask = Tensor<int64_t>(), T scale = T(1)) {
    check(x_in.dim() >= 1, "masked_softmax: input must have rank >= 1");
    Tensor<T> x = x_in.is_contiguous() ? x_in : x_in.clone();
    int64_t cols = x.size(-1), rows = cols ? x.numel() / cols : 0, rows_per_batch = rows;
    Tensor<int64_t> mask;
    if (key_mask.defined()) {
        check(x.dim() >= 2 && key_mask.dim() == 2 && key_mask.size(0) == x.size(0) && key_mask.size(1) == cols,
              "masked_softmax: mask of shape ", shape_str(key_mask.shape()), " does not match scores of shape ",
              shape_str(x.shape()), " (expected [", x.dim() >= 2 ? x.size(0) : 0, ", ", cols, "])");
        mask = key_mask.is_contiguous() ? key_mask : key_mask.clone();
        rows_per_batch = x.size(0) ? rows / x.size(0) : 1;
    }
    check(!mask.defined() || mask.device() == x.device(), "masked_softmax: scores on ", x.device().str(),
          " but mask on ", mask.defined() ? mask.device().str() : "");
    Tensor<T> y = Tensor<T>::empty(x.shape(), x.device());
    const int64_t* m = mask.defined() ? mask.data() : nullptr;
#if defined(TEMPER_WITH_CUDA)
    if (x.device().is_cuda())
        cuda::masked_softmax_forward(x.data(), y.data(), m, rows, cols, std::max<int64_t>(rows_per_batch, 1), scale,
                                     cuda::stream(x.device()));
    else
#endif
        cpu::masked_softmax_forward(x.data(), y.data(), m, rows, cols, std::max<int64_t>(rows_per_batch, 1), scale);
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
Tensor<T> softmax(const Tensor<T>& x) { return masked_softmax(x, Tensor<int64_t>(), T(1)); }

}  // namespace temper
