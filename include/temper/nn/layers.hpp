// Basic layers: Embedding, Linear, LayerNorm, Dropout. Initialisation follows HF's _init_weights:
// normal(0, init_std) weights, zero biases, LayerNorm weight 1 / bias 0.
#pragma once

#include "temper/nn/module.hpp"
#include "temper/ops.hpp"

namespace temper::nn {

template <class T>
class Embedding : public Module<T> {
public:
    Tensor<T> weight;  // [num_embeddings, dim]
    int64_t padding_idx = -1;

    Embedding() = default;
    Embedding(int64_t num, int64_t dim, Generator& gen, double init_std = 1.0, int64_t padding_idx = -1)
        : padding_idx(padding_idx) {
        Tensor<T> w = Tensor<T>::randn({num, dim}, gen, init_std);
        if (padding_idx >= 0) std::fill_n(w.data() + padding_idx * dim, dim, T(0));
        weight = Module<T>::param(w);
    }
    void local_parameters(const typename Module<T>::ParamFn& f) override { f("weight", weight); }
    // ids_checked: the caller has already checked the ids are in range (skips a host copy of GPU ids).
    Tensor<T> operator()(const Tensor<int64_t>& ids, bool ids_checked = false) const {
        return embedding(weight, ids, padding_idx, ids_checked);
    }
};

template <class T>
class Linear : public Module<T> {
public:
    Tensor<T> weight;  // [out, in]
    Tensor<T> bias;    // [out] or undefined

    Linear() = default;
    Linear(int64_t in, int64_t out, Generator& gen, double init_std, bool with_bias = true) {
        weight = Module<T>::param(Tensor<T>::randn({out, in}, gen, init_std));
        if (with_bias) bias = Module<T>::param(Tensor<T>::zeros({out}));
    }
    void local_parameters(const typename Module<T>::ParamFn& f) override {
        f("weight", weight);
        if (bias.defined()) f("bias", bias);
    }
    Tensor<T> operator()(const Tensor<T>& x) const { return linear(x, weight, bias); }
};

template <class T>
class LayerNorm : public Module<T> {
public:
    Tensor<T> weight, bias;
    double eps = 1e-12;

    LayerNorm() = default;
    LayerNorm(int64_t dim, double eps) : eps(eps) {
        weight = Module<T>::param(Tensor<T>::ones({dim}));
        bias = Module<T>::param(Tensor<T>::zeros({dim}));
    }
    void local_parameters(const typename Module<T>::ParamFn& f) override {
        f("weight", weight);
        f("bias", bias);
    }
    Tensor<T> operator()(const Tensor<T>& x) const { return layer_norm(x, weight, bias, eps); }
    // LayerNorm(x + residual) as one fused op (a post-LN transformer block's "add & norm").
    Tensor<T> operator()(const Tensor<T>& x, const Tensor<T>& residual) const {
        return add_layer_norm(x, residual, weight, bias, eps);
    }
};

template <class T>
class Dropout : public Module<T> {
public:
    double p = 0;
    Dropout() = default;
    explicit Dropout(double p) : p(p) { check(p >= 0 && p < 1, "Dropout: probability ", p, " must be in [0, 1)"); }
    Tensor<T> operator()(const Tensor<T>& x) const { return dropout(x, p, this->is_training()); }
};

}  // namespace temper::nn
