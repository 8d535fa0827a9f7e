// Losses, each one fused op with its gradient: bce_with_logits (multi-label) and cross_entropy
// (single-label), both with mean reduction as in torch.nn.
#pragma once

#include "temper/autograd/node.hpp"
#include "temper/backend/loss.hpp"
#include "temper/core/tensor.hpp"

namespace temper {

template <class T>
struct BceNode : autograd::Node<T> {
    Tensor<T> x, y, pw;
    const char* name() const override { return "bce_with_logits"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
        Tensor<T> dx = Tensor<T>::empty(x.shape(), x.device());
        backend::bce_with_logits_backward(x.data(), y.data(), pw.defined() ? pw.data() : nullptr, x.numel(), x.size(-1),
                                          g.data(), dx.data(), x.device());
        return {dx, Tensor<T>()};
    }
    void release_saved() override { x = y = pw = Tensor<T>(); }
};

// mean over all elements of max(x,0) - x*y + log(1 + exp(-|x|)); with pos_weight p ([C], broadcast over
// the last dimension): (1-y) x + (1 + (p-1) y) (log(1 + exp(-|x|)) + max(-x, 0)).
template <class T>
Tensor<T> bce_with_logits(const Tensor<T>& logits, const Tensor<T>& targets,
                          const Tensor<T>& pos_weight = Tensor<T>()) {
    check(logits.shape() == targets.shape(), "bce_with_logits: targets of shape ", shape_of(targets.shape()),
          " do not match logits of shape ", shape_of(logits.shape()));
    check(logits.numel() > 0, "bce_with_logits: empty input");
    check(!pos_weight.defined() || (pos_weight.dim() == 1 && pos_weight.size(0) == logits.size(-1)),
          "bce_with_logits: pos_weight must be [", logits.size(-1), "]");
    Tensor<T> x = logits.contiguous();
    Tensor<T> y = targets.contiguous();
    Tensor<T> pw = pos_weight.defined() ? pos_weight.contiguous() : pos_weight;
    check(y.device() == x.device() && (!pw.defined() || pw.device() == x.device()),
          "bce_with_logits: logits, targets and pos_weight must be on one device");
    auto node = std::make_shared<BceNode<T>>();
    if (autograd::needs_grad<T>({logits})) {
        node->x = x;
        node->y = y;
        node->pw = pw;
    }
    Tensor<T> loss = Tensor<T>::empty({}, x.device());
    backend::bce_with_logits_forward(x.data(), y.data(), pw.defined() ? pw.data() : nullptr, x.numel(), x.size(-1),
                                     loss.data(), x.device());
    return autograd::record(loss, node, {logits, targets});
}

template <class T>
struct CrossEntropyNode : autograd::Node<T> {
    Tensor<T> logits;  // the backward recomputes the softmax from them
    Tensor<int64_t> labels;
    int64_t ignore_index = -100;
    const char* name() const override { return "cross_entropy"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
        Tensor<T> dx = Tensor<T>::empty(logits.shape(), logits.device());
        backend::cross_entropy_backward(logits.data(), labels.data(), logits.size(0), logits.size(1), ignore_index,
                                        g.data(), dx.data(), logits.device());
        return {dx};
    }
    void release_saved() override {
        logits = Tensor<T>();
        labels = Tensor<int64_t>();
    }
};

// logits [B, C], labels [B] in [0, C) (or ignore_index, skipped); mean of -log softmax(logits)[label].
template <class T>
Tensor<T> cross_entropy(const Tensor<T>& logits, const Tensor<int64_t>& labels, int64_t ignore_index = -100) {
    check(logits.dim() == 2, "cross_entropy: logits must be [batch, classes], got ", shape_of(logits.shape()));
    check(labels.dim() == 1 && labels.size(0) == logits.size(0), "cross_entropy: labels of shape ",
          shape_of(labels.shape()), " do not match batch ", logits.size(0));
    check(labels.device() == logits.device(), "cross_entropy: logits on ", logits.device(), " but labels on ",
          labels.device());
    Tensor<T> x = logits.contiguous();
    Tensor<int64_t> lab = labels.contiguous();
    const int64_t C = x.size(1);
    // Labels are checked on the host on both devices (a copy of B ids from a GPU).
    int64_t count = 0, row = 0;
    for (int64_t l : lab.to_vector()) {
        if (l != ignore_index) {
            check(l >= 0 && l < C, "cross_entropy: label ", l, " of row ", row, " is out of range [0, ", C, ")");
            ++count;
        }
        ++row;
    }
    check(count > 0, "cross_entropy: every label equals ignore_index ", ignore_index);
    Tensor<T> loss = Tensor<T>::empty({}, x.device());
    backend::cross_entropy_forward(x.data(), lab.data(), x.size(0), C, ignore_index, loss.data(), x.device());
    auto node = std::make_shared<CrossEntropyNode<T>>();
    if (autograd::needs_grad<T>({logits})) {
        node->logits = x;
        node->labels = lab;
        node->ignore_index = ignore_index;
    }
    return autograd::record(loss, node, {logits});
}

}  // namespace temper
