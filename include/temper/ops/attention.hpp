// scaled_dot_product_attention: softmax(scale * q k^T, key mask) -> dropout -> @ v, as one op.
// Where the device layer has fused attention (a GPU, head dim 64: backend/attention.hpp) it runs the fused
// flash-style kernels (kernels/attention.cuh): the S x S scores never reach global memory and the backward recomputes
// them from the saved logsumexp. Everywhere else it is the composed path (matmul, masked_softmax, dropout, matmul).
// Both draw the dropout mask from the same Philox indices, so CPU and GPU results agree.
#pragma once

#include <cmath>

#include "temper/autograd/node.hpp"
#include "temper/backend/attention.hpp"
#include "temper/core/random.hpp"
#include "temper/core/tensor.hpp"
#include "temper/ops/dropout.hpp"
#include "temper/ops/elementwise.hpp"
#include "temper/ops/matmul.hpp"
#include "temper/ops/softmax.hpp"
#include "temper/ops/views.hpp"

namespace temper {

template <class T>
struct FusedAttentionNode : autograd::Node<T> {
    Tensor<T> q, k, v, out;
    Tensor<compute_t<T>> lse;
    Tensor<int64_t> mask;
    int64_t B = 0, H = 0, S = 0, D = 0;
    T scale = T(1);
    double p = 0;
    PhiloxPosition pos;
    const char* name() const override { return "fused_attention"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g_in) override {
        Tensor<T> g = g_in.contiguous();
        const Device dev = q.device();
        Tensor<T> dq = Tensor<T>::empty(q.shape(), dev), dk = Tensor<T>::empty(k.shape(), dev),
                  dv = Tensor<T>::empty(v.shape(), dev);
        backend::attention_backward(q.data(), k.data(), v.data(), mask.defined() ? mask.data() : nullptr, B, H, S, D,
                                    scale, p, pos, out.data(), lse.data(), g.data(), dq.data(), dk.data(), dv.data(),
                                    dev);
        return {dq, dk, dv};
    }
    void release_saved() override {
        q = k = v = out = Tensor<T>();
        lse = Tensor<compute_t<T>>();
        mask = Tensor<int64_t>();
    }
};

// q, k, v [B, H, S, D]; key_mask [B, S] (0 = padding, may be undefined). Masked keys take the lowest finite
// score (HF), so a fully masked row attends uniformly. dropout_p applies to the attention weights when
// training, with masks from gen.
template <class T>
Tensor<T> scaled_dot_product_attention(const Tensor<T>& q, const Tensor<T>& k, const Tensor<T>& v,
                                       const Tensor<int64_t>& key_mask, double dropout_p, bool training,
                                       Generator& gen = default_generator()) {
    check(q.dim() == 4 && k.shape() == q.shape() && v.shape() == q.shape(), "attention: q, k, v must be [B, H, S, D] ",
          "of one shape, got ", shape_of(q.shape()), ", ", shape_of(k.shape()), ", ", shape_of(v.shape()));
    const int64_t D = q.size(3);
    const T sc = T(1.0 / std::sqrt(double(D)));
    if (backend::has_fused_attention(q.device(), D) && q.numel() > 0) {
        const int64_t B = q.size(0), H = q.size(1), S = q.size(2);
        check(!key_mask.defined() || (key_mask.shape() == Shape{B, S} && key_mask.device() == q.device()),
              "attention: key mask must be [", B, ", ", S, "] on ", q.device());
        const double p = training ? dropout_p : 0.0;
        check(p >= 0.0 && p < 1.0, "attention: dropout probability ", p, " must be in [0, 1)");
        auto node = std::make_shared<FusedAttentionNode<T>>();
        node->q = q.contiguous();
        node->k = k.contiguous();
        node->v = v.contiguous();
        node->mask = key_mask.defined() ? key_mask.contiguous() : key_mask;
        node->B = B;
        node->H = H;
        node->S = S;
        node->D = D;
        node->scale = sc;
        node->p = p;
        if (p > 0) node->pos = gen.reserve_position(uint64_t(B * H * S * S));  // as the composed path's dropout
        Tensor<T> out = Tensor<T>::empty(q.shape(), q.device());
        node->lse = Tensor<compute_t<T>>::empty({B, H, S}, q.device());
        backend::attention_forward(node->q.data(), node->k.data(), node->v.data(),
                                   node->mask.defined() ? node->mask.data() : nullptr, B, H, S, D, sc, p, node->pos,
                                   out.data(), node->lse.data(), q.device());
        if (autograd::needs_grad<T>({q, k, v}))
            node->out = out.detach();  // not out itself: a cycle via grad_fn
        else
            node->release_saved();
        return autograd::record(out, node, {q, k, v});
    }
    Tensor<T> scores = matmul(scale(contiguous(q), sc), transpose(k, -1, -2));  // [B, H, S, S]
    Tensor<T> weights = dropout(masked_softmax(scores, key_mask), dropout_p, training, gen);
    return matmul(weights, contiguous(v));
}

}  // namespace temper
