// embedding: gather rows of a weight table by id; backward scatter-adds into the table.
// Rows equal to padding_idx get no gradient (torch.nn.Embedding(padding_idx=...) semantics).
#pragma once

#include "temper/autograd/node.hpp"
#include "temper/backend/embedding.hpp"
#include "temper/core/tensor.hpp"

namespace temper {

template <class T>
struct EmbeddingNode : autograd::Node<T> {
    Tensor<int64_t> ids;
    Shape wshape;
    int64_t padding_idx = -1;
    const char* name() const override { return "embedding"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g_in) override {
        Tensor<T> g = g_in.contiguous();
        Tensor<T> dw = Tensor<T>::zeros(wshape, g.device());
        backend::embedding_backward(g.data(), ids.data(), dw.data(), ids.numel(), wshape[0], wshape[1], padding_idx,
                                    g.device());
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
    check(weight.dim() == 2, "embedding: weight must be [num_embeddings, dim], got ", shape_of(weight.shape()));
    check(ids_in.device() == weight.device(), "embedding: ids on ", ids_in.device(), " but weight on ",
          weight.device());
    int64_t V = weight.size(0), D = weight.size(1);
    Tensor<int64_t> ids = ids_in.contiguous();
    if (!ids_checked) {
        const std::vector<int64_t> host = ids.to_vector();  // from a GPU: a small copy that waits for it
        for (size_t i = 0; i < host.size(); ++i)
            check(host[i] >= 0 && host[i] < V, "embedding: id ", host[i], " at position ", i, " is out of range [0, ",
                  V, ")");
    }
    Shape out_shape = ids.shape();
    out_shape.push_back(D);
    Tensor<T> w = weight.contiguous();
    Tensor<T> y = Tensor<T>::empty(out_shape, weight.device());
    backend::embedding_forward(w.data(), ids.data(), y.data(), ids.numel(), V, D, y.device());
    auto node = std::make_shared<EmbeddingNode<T>>();
    if (autograd::needs_grad<T>({weight})) {
        node->ids = ids;
        node->wshape = weight.shape();
        node->padding_idx = padding_idx;
    }
    return autograd::record(y, node, {weight});
}

}  // namespace temper
