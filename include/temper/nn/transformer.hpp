// The DistilBERT transformer block: multi-head self-attention and a GELU FFN, each wrapped post-LN
// (x = LayerNorm(sublayer(x) + x)), with HF's parameter names. The attention and the activated projection are
// free functions that BERT's layers (models/bert.hpp) compute with too.
#pragma once

#include <cmath>
#include <string>

#include "temper/core/activation.hpp"
#include "temper/nn/layers.hpp"

namespace temper::nn {

using temper::Activation;
using temper::parse_activation;

// Multi-head self-attention before the output projection: x [B, S, dim] through the q, k, v projections,
// softmax(q k^T / sqrt(dh), mask) -> dropout (p, when training) -> @ v, heads merged back: [B, S, dim].
// mask [B, S]: 1 = token, 0 = padding; undefined = attend everywhere.
template <class T>
Tensor<T> self_attention(const Tensor<T>& x, const Tensor<int64_t>& mask, const Linear<T>& q_lin,
                         const Linear<T>& k_lin, const Linear<T>& v_lin, int64_t n_heads, double p, bool training) {
    const int64_t B = x.size(0), S = x.size(1), dim = q_lin.weight.size(0), dh = dim / n_heads;
    auto heads = [&](const Tensor<T>& t) { return transpose(reshape(t, {B, S, n_heads, dh}), 1, 2); };
    Tensor<T> q = heads(q_lin(x));  // [B, H, S, dh]
    Tensor<T> k = heads(k_lin(x));
    Tensor<T> v = heads(v_lin(x));
    // fused on the GPU (ops/attention.hpp)
    Tensor<T> ctx = scaled_dot_product_attention(q, k, v, mask, p, training);
    return reshape(transpose(ctx, 1, 2), {B, S, dim});
}

// act(lin(x)): GELU with a bias is one fused op (ops/bias_gelu.hpp).
template <class T>
Tensor<T> linear_activation(const Linear<T>& lin, const Tensor<T>& x, Activation act) {
    if (act == Activation::GELU && lin.bias.defined()) return bias_gelu(linear(x, lin.weight), lin.bias);
    const Tensor<T> h = lin(x);
    return act == Activation::GELU ? gelu(h) : act == Activation::ReLU ? relu(h) : tanh(h);
}

template <class T>
class MultiHeadSelfAttention : public Module<T> {
public:
    Linear<T> q_lin, k_lin, v_lin, out_lin;
    Dropout<T> attn_dropout;
    int64_t n_heads = 1, dim = 0;

    MultiHeadSelfAttention() = default;
    MultiHeadSelfAttention(int64_t dim, int64_t n_heads, double attention_dropout, Generator& gen, double init_std)
        : q_lin(dim, dim, gen, init_std),
          k_lin(dim, dim, gen, init_std),
          v_lin(dim, dim, gen, init_std),
          out_lin(dim, dim, gen, init_std),
          attn_dropout(attention_dropout),
          n_heads(n_heads),
          dim(dim) {
        check(n_heads > 0 && dim % n_heads == 0, "MultiHeadSelfAttention: dim ", dim, " is not divisible by n_heads ",
              n_heads);
    }
    void children(const typename Module<T>::ChildFn& f) override {
        f("q_lin", q_lin);
        f("k_lin", k_lin);
        f("v_lin", v_lin);
        f("out_lin", out_lin);
        f("dropout", attn_dropout);
    }

    // x [B, S, dim], mask [B, S] (1 = token, 0 = padding; undefined = attend everywhere) -> [B, S, dim].
    Tensor<T> operator()(const Tensor<T>& x, const Tensor<int64_t>& mask) const {
        return out_lin(self_attention(x, mask, q_lin, k_lin, v_lin, n_heads, attn_dropout.p, this->is_training()));
    }
};

template <class T>
class FFN : public Module<T> {
public:
    Linear<T> lin1, lin2;
    Dropout<T> drop;
    Activation activation = Activation::GELU;

    FFN() = default;
    FFN(int64_t dim, int64_t hidden, double dropout_p, Activation act, Generator& gen, double init_std)
        : lin1(dim, hidden, gen, init_std), lin2(hidden, dim, gen, init_std), drop(dropout_p), activation(act) {}
    void children(const typename Module<T>::ChildFn& f) override {
        f("lin1", lin1);
        f("lin2", lin2);
        f("dropout", drop);
    }
    Tensor<T> operator()(const Tensor<T>& x) const { return drop(lin2(linear_activation(lin1, x, activation))); }
};

template <class T>
class TransformerBlock : public Module<T> {
public:
    MultiHeadSelfAttention<T> attention;
    LayerNorm<T> sa_layer_norm;
    FFN<T> ffn;
    LayerNorm<T> output_layer_norm;

    TransformerBlock() = default;
    TransformerBlock(int64_t dim, int64_t n_heads, int64_t hidden, double dropout_p, double attention_dropout,
                     Activation act, double ln_eps, Generator& gen, double init_std)
        : attention(dim, n_heads, attention_dropout, gen, init_std),
          sa_layer_norm(dim, ln_eps),
          ffn(dim, hidden, dropout_p, act, gen, init_std),
          output_layer_norm(dim, ln_eps) {}
    void children(const typename Module<T>::ChildFn& f) override {
        f("attention", attention);
        f("sa_layer_norm", sa_layer_norm);
        f("ffn", ffn);
        f("output_layer_norm", output_layer_norm);
    }
    Tensor<T> operator()(const Tensor<T>& x, const Tensor<int64_t>& mask) const {
        Tensor<T> sa = sa_layer_norm(attention(x, mask), x);  // LayerNorm(attention + x), one fused op
        return output_layer_norm(ffn(sa), sa);
    }
};

}  // namespace temper::nn
