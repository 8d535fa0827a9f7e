// Losses, each one fused op with its gradient: bce_with_logits (multi-label) and cross_entropy
// (single-label), both with mean reduction as in torch.nn.
#pragma once

#include <cmath>

#include "temper/autograd/node.hpp"
#include "temper/core/tensor.hpp"
#if defined(TEMPER_WITH_CUDA)
#include "temper/cuda/kernels.hpp"
#endif

namespace temper {

template <class T>
struct BceNode : autograd::Node<T> {
    Tensor<T> x, y, pw;
    const char* name() const override { return "bce_with_logits"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
        Tensor<T> dx = Tensor<T>::empty(x.shape(), x.device());
        const int64_t n = x.numel(), c = x.size(-1);
#if defined(TEMPER_WITH_CUDA)
        if (x.device().is_cuda()) {  // the upstream gradient stays on the GPU: no host sync
            cuda::bce_with_logits_backward(x.data(), y.data(), pw.defined() ? pw.data() : nullptr, n, c, g.data(),
                                           dx.data(), cuda::stream(x.device()));
            return {dx, Tensor<T>()};
        }
#endif
        const double scale = double(g.item()) / double(n);
        for (int64_t i = 0; i < n; ++i) {
            double xi = x.data()[i], yi = y.data()[i];
            double sig = 1.0 / (1.0 + std::exp(-xi));
            // d/dx of (1-y) x + (1 + (p-1) y) softplus(-x) is (1-y) + (1 + (p-1) y)(sigma(x) - 1).
            double d = pw.defined() ? (1 - yi) + (1 + (double(pw.data()[i % c]) - 1) * yi) * (sig - 1) : sig - yi;
            dx.data()[i] = T(d * scale);
        }
        return {dx, Tensor<T>()};
    }
    void release_saved() override { x = y = pw = Tensor<T>(); }
};

// mean over all elements of max(x,0) - x*y + log(1 + exp(-|x|)); with pos_weight p ([C], broadcast over
// the last dimension): (1-y) x + (1 + (p-1) y) (log(1 + exp(-|x|)) + max(-x, 0)).
template <class T>
Tensor<T> bce_with_logits(const Tensor<T>& logits, const Tensor<T>& targets, const Tensor<T>& pos_weight = Tensor<T>()) {
    check(logits.shape() == targets.shape(), "bce_with_logits: targets of shape ", shape_str(targets.shape()),
          " do not match logits of shape ", shape_str(logits.shape()));
    check(logits.numel() > 0, "bce_with_logits: empty input");
    check(!pos_weight.defined() || (pos_weight.dim() == 1 && pos_weight.size(0) == logits.size(-1)),
          "bce_with_logits: pos_weight must be [", logits.size(-1), "]");
    Tensor<T> x = logits.is_contiguous() ? logits : logits.clone();
    Tensor<T> y = targets.is_contiguous() ? targets : targets.clone();
    Tensor<T> pw = !pos_weight.defined() || pos_weight.is_contiguous() ? pos_weight : pos_weight.clone();
    check(y.device() == x.device() && (!pw.defined() || pw.device() == x.device()),
          "bce_with_logits: logits, targets and pos_weight must be on one device");
    const int64_t n = x.numel(), c = x.size(-1);
    auto node = std::make_shared<BceNode<T>>();
    if (autograd::needs_grad<T>({logits})) { node->x = x; node->y = y; node->pw = pw; }
#if defined(TEMPER_WITH_CUDA)
    if (x.device().is_cuda()) {
        Tensor<T> loss = Tensor<T>::empty({}, x.device());
        cuda::bce_with_logits_forward(x.data(), y.data(), pw.defined() ? pw.data() : nullptr, n, c, loss.data(),
                                      cuda::stream(x.device()));
        return autograd::record(loss, node, {logits, targets});
    }
#endif
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
        double xi = x.data()[i], yi = y.data()[i];
        double softplus_neg = std::log1p(std::exp(-std::abs(xi))) + std::max(-xi, 0.0);  // log(1 + e^-x), stable
        total += pw.defined() ? (1 - yi) * xi + (1 + (double(pw.data()[i % c]) - 1) * yi) * softplus_neg
                              : (1 - yi) * xi + softplus_neg;
    }
    return autograd::record(Tensor<T>::scalar(T(total / double(n))), node, {logits, targets});
}

template <class T>
struct CrossEntropyNode : autograd::Node<T> {
    Tensor<T> probs;  // softmax of the logits
    Tensor<int64_t> labels;
    int64_t count = 0, ignore_index = -100;
    const char* name() const override { return "cross_entropy"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
        const int64_t B = probs.size(0), C = probs.size(1);
#if defined(TEMPER_WITH_CUDA)
        if (probs.device().is_cuda()) {  // on the GPU `probs` holds the logits; the kernel recomputes the softmax
            Tensor<T> dx = Tensor<T>::empty(probs.shape(), probs.device());
            cuda::cross_entropy_backward(probs.data(), labels.data(), B, C, ignore_index, g.data(), dx.data(),
                                         cuda::stream(probs.device()));
            return {dx};
        }
#endif
        Tensor<T> dx = Tensor<T>::zeros(probs.shape(), probs.device());
        const double scale = double(g.item()) / double(count);
        for (int64_t b = 0; b < B; ++b) {
            int64_t l = labels.data()[b];
            if (l == ignore_index) continue;
            for (int64_t j = 0; j < C; ++j)
                dx.data()[b * C + j] = T((double(probs.data()[b * C + j]) - (j == l ? 1.0 : 0.0)) * scale);
        }
        return {dx};
    }
    void release_saved() override { probs = Tensor<T>(); labels = Tensor<int64_t>(); }
};

// logits [B, C], labels [B] in [0, C) (or ignore_index, skipped); mean of -log softmax(logits)[label].
template <class T>
Tensor<T> cross_entropy(const Tensor<T>& logits, const Tensor<int64_t>& labels, int64_t ignore_index = -100) {
    check(logits.dim() == 2, "cross_entropy: logits must be [batch, classes], got ", shape_str(logits.shape()));
    check(labels.dim() == 1 && labels.size(0) == logits.size(0), "cross_entropy: labels of shape ",
          shape_str(labels.shape()), " do not match batch ", logits.size(0));
    Tensor<T> x = logits.is_contiguous() ? logits : logits.clone();
    Tensor<int64_t> lab = labels.is_contiguous() ? labels : labels.clone();
    const int64_t B = x.size(0), C = x.size(1);
#if defined(TEMPER_WITH_CUDA)
    if (x.device().is_cuda()) {
        // Labels are checked on the host, as on the CPU (a copy of B ids).
        check(lab.device() == x.device(), "cross_entropy: logits on ", x.device().str(), " but labels on ",
              lab.device().str());
        int64_t count = 0;
        for (int64_t l : lab.to_vector()) {
            if (l == ignore_index) continue;
            check(l >= 0 && l < C, "cross_entropy: label ", l, " is out of range [0, ", C, ")");
            ++count;
        }
        check(count > 0, "cross_entropy: every label equals ignore_index ", ignore_index);
        Tensor<T> loss = Tensor<T>::empty({}, x.device());
        cuda::cross_entropy_forward(x.data(), lab.data(), B, C, ignore_index, loss.data(), cuda::stream(x.device()));
        auto node = std::make_shared<CrossEntropyNode<T>>();
        if (autograd::needs_grad<T>({logits})) {
            node->probs = x;
            node->labels = lab;
            node->count = count;
            node->ignore_index = ignore_index;
        }
        return autograd::record(loss, node, {logits});
    }
#endif
    Tensor<T> probs = Tensor<T>::empty(x.shape(), x.device());
    double total = 0;
    int64_t count = 0;
    for (int64_t b = 0; b < B; ++b) {
        const T* row = x.data() + b * C;
        double mx = -INFINITY, s = 0;
        for (int64_t j = 0; j < C; ++j) mx = std::max(mx, double(row[j]));
        for (int64_t j = 0; j < C; ++j) s += std::exp(double(row[j]) - mx);
        double lse = mx + std::log(s);
        for (int64_t j = 0; j < C; ++j) probs.data()[b * C + j] = T(std::exp(double(row[j]) - lse));
        int64_t l = lab.data()[b];
        if (l == ignore_index) continue;
        check(l >= 0 && l < C, "cross_entropy: label ", l, " of row ", b, " is out of range [0, ", C, ")");
        total += lse - double(row[l]);
        ++count;
    }
    check(count > 0, "cross_entropy: every label equals ignore_index ", ignore_index);
    auto node = std::make_shared<CrossEntropyNode<T>>();
    if (autograd::needs_grad<T>({logits})) {
        node->probs = probs;
        node->labels = lab;
        node->count = count;
        node->ignore_index = ignore_index;
    }
    return autograd::record(Tensor<T>::scalar(T(total / double(count))), node, {logits});
}

}  // namespace temper
