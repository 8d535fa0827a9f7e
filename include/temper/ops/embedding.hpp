// embedding: gather rows of a weight table by id; backward scatter-adds into the table.
// Rows equal to padding_idx get no gradient (torch.nn.Embedding(padding_idx=...) semantics).
#pragma once

#include "temper/autograd/node.hpp"
#include "temper/core/tensor.hpp"
#include "temper/cpu/half.hpp"
#if defined(TEMPER_WITH_CUDA)
#include "temper/cuda/kernels.hpp"
#endif

namespace temper {

template <class T>
struct EmbeddingNode : autograd::Node<T> {
    Tensor<int64_t> ids;
    Shape wshape;
    int64_t padding_idx = -1;
    const char* name() const override { return "embedding"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g_in) override {
        Tensor<T> g = g_in.is_contiguous() ? g_in : g_in.clone();
        Tensor<T> dw = Tensor<T>::zeros(wshape, g.device());
        int64_t d = wshape[1];
#if defined(TEMPER_WITH_CUDA)
        if (g.device().is_cuda()) {  // deterministic: the CPU's summation order, no atomics
            cuda::embedding_backward(g.data(), ids.data(), dw.data(), ids.numel(), wshape[0], d, padding_idx,
                                     cuda::stream(g.device()));
            return {dw};
        }
#endif
        const int64_t* id = ids.data();
        if constexpr (is_half_v<T>) {  // sums in float, each rounded once (as the GPU kernel does)
            std::vector<float> acc(size_t(dw.numel()), 0.0f);
            for (int64_t i = 0; i < ids.numel(); ++i) {
                if (id[i] == padding_idx) continue;
                for (int64_t j = 0; j < d; ++j) acc[size_t(id[i] * d + j)] += float(g.data()[i * d + j]);
            }
            cpu::narrow(acc, dw.data());
        } else {
            for (int64_t i = 0; i < ids.numel(); ++i) {
                if (id[i] == padding_idx) continue;
                T* dst = dw.data() + id[i] * d;
                const T* src = g.data() + i * d;
                for (int64_t j = 0; j < d; ++j) dst[j] += src[j];
            }
        }
        return {dw};
    }
    void release_saved() override { ids = Tensor<int64_t>(); }
};

// weight [V, D], ids [...] -> [..., D]. Ids outside [0, V) are an error naming the id and V. Ids on the GPU
// are checked on the host too (a small copy that waits for the GPU); DistilBertModel checks its input ids
// while they are still on the host and passes them on checked.
template <class T>
Tensor<T> embedding(const Tensor<T>& weight, const Tensor<int64_t>& ids_in, int64_t padding_idx = -1,
                    bool ids_checked = false) {
    check(weight.dim() == 2, "embedding: weight must be [num_embeddings, dim], got ", shape_str(weight.shape()));
    check(ids_in.device() == weight.device(), "embedding: ids on ", ids_in.device().str(), " but weight on ",
          weight.device().str());
    int64_t V = weight.size(0), D = weight.size(1);
    Tensor<int64_t> ids = ids_in.is_contiguous() ? ids_in : ids_in.clone();
    if (!ids_checked || ids.device().is_cpu()) {
        const std::vector<int64_t> host = ids.device().is_cpu() ? std::vector<int64_t>() : ids.to_vector();
        const int64_t* id = ids.device().is_cpu() ? ids.data() : host.data();
        for (int64_t i = 0; i < ids.numel(); ++i)
            check(id[i] >= 0 && id[i] < V, "embedding: id ", id[i], " at position ", i, " is out of range [0, ", V, ")");
    }
    Shape out_shape = ids.shape();
    out_shape.push_back(D);
    Tensor<T> w = weight.is_contiguous() ? weight : weight.clone();
    Tensor<T> y = Tensor<T>::empty(out_shape, weight.device());
#if defined(TEMPER_WITH_CUDA)
    if (y.device().is_cuda())
        cuda::embedding_forward(w.data(), ids.data(), y.data(), ids.numel(), V, D, cuda::stream(y.device()));
    else
#endif
    {
        const int64_t* id = ids.data();
        for (int64_t i = 0; i < ids.numel(); ++i) std::copy_n(w.data() + id[i] * D, D, y.data() + i * D);
    }
    auto node = std::make_shared<EmbeddingNode<T>>();
    if (autograd::needs_grad<T>({weight})) {
        node->ids = ids;
        node->wshape = weight.shape();
        node->padding_idx = padding_idx;
    }
    return autograd::record(y, node, {weight});
}

}  // namespace temper
