// Reverse-mode backward pass: topological order from the root, gradients summed per tensor,
// accumulated into leaves' .grad, each node released (graph freed) as soon as it has run.
#pragma once

#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "temper/autograd/node.hpp"
#include "temper/backend/elementwise.hpp"
#include "temper/core/tensor.hpp"

namespace temper::autograd {

// Storages that some gradient buffer holds during one backward pass. A backward may hand the same tensor
// to several inputs (add returns g for both operands) or pass its own input gradient through (reshape), so
// a buffer is adopted without a copy only when no other buffer holds its storage; otherwise it is copied.
// Buffers are then exclusive, and accumulating into them in place cannot change another gradient.
using HeldStorages = std::unordered_set<const void*>;

// acc += g in place, elementwise, on acc's device: acc contiguous, g of the same shape (may be strided). One
// rounding per element, the same bits on the CPU and the GPU (cuda::add_inplace is cpu::add_inplace's twin).
template <class T>
void add_into(Tensor<T>& acc, const Tensor<T>& g) {
    check(acc.shape() == g.shape(), "autograd: gradient of shape ", shape_of(g.shape()), " does not match ",
          shape_of(acc.shape()));
    const Tensor<T> gc = g.contiguous();
    backend::add_inplace(acc.data(), gc.data(), acc.numel(), acc.device());
}

// acc += g for same-shaped tensors (g may be strided); acc is owned by the engine (or is a leaf's .grad).
template <class T>
void accumulate(Tensor<T>& acc, const Tensor<T>& g, HeldStorages& held) {
    if (!acc.defined()) {
        const bool adopt = g.is_contiguous() && g.offset() == 0 && g.storage().use_count() == 1 &&
                           held.insert(g.storage().get()).second;
        acc = adopt ? g : g.clone();
        held.insert(acc.storage().get());
        return;
    }
    add_into(acc, g);
}

template <class T>
void run_backward(const Tensor<T>& root, const Tensor<T>& grad_output) {
    check(root.requires_grad(),
          "backward(): the tensor does not require grad (no parameter or input requiring "
          "grad contributed to it, or it was computed under NoGradGuard)");
    Tensor<T> seed = grad_output;
    if (!seed.defined()) {
        check(root.numel() == 1, "backward(): a gradient must be given for a non-scalar output of shape ",
              shape_of(root.shape()));
        seed = Tensor<T>::ones(root.shape(), root.device());
    }
    check(seed.shape() == root.shape(), "backward(): gradient shape ", shape_of(seed.shape()),
          " does not match output shape ", shape_of(root.shape()));

    // Topological order (iterative DFS post-order) over tensors that have a grad_fn.
    using Impl = TensorImpl<T>*;
    std::vector<Tensor<T>> order;
    std::unordered_set<Impl> visited;
    std::vector<std::pair<Tensor<T>, size_t>> stack{{root, 0}};
    visited.insert(root.impl_ptr().get());
    while (!stack.empty()) {
        auto& [t, next] = stack.back();
        const auto& fn = t.grad_fn();
        if (fn && fn->released)
            fail("backward(): the graph was already freed by an earlier backward() (op ", fn->name(), ")");
        if (fn && next < fn->inputs.size()) {
            const Tensor<T>& in = fn->inputs[next++];
            if (in.defined() && in.requires_grad() && visited.insert(in.impl_ptr().get()).second)
                stack.push_back({in, 0});
            continue;
        }
        order.push_back(t);
        stack.pop_back();
    }

    std::unordered_map<Impl, Tensor<T>> grads;
    HeldStorages held{seed.storage().get()};  // a caller's grad_output is never added into
    grads[root.impl_ptr().get()] = seed;
    for (size_t i = order.size(); i-- > 0;) {
        Tensor<T>& t = order[i];
        auto it = grads.find(t.impl_ptr().get());
        if (it == grads.end()) continue;  // no gradient flowed here
        Tensor<T> g = std::move(it->second);
        grads.erase(it);
        if (g.storage().get() != seed.storage().get()) held.erase(g.storage().get());  // consumed: may be passed on
        auto fn = t.grad_fn();
        if (!fn) {  // leaf: accumulate into .grad
            Tensor<T> acc = t.grad();
            accumulate(acc, g, held);
            t.set_grad(acc);
            continue;
        }
        // Released since the graph was walked: a cast's backward ran this graph from another root (a tensor
        // reaching the loss both directly and through a cast). Its gradient would be lost: stop instead.
        if (fn->released)
            fail("backward(): op ", fn->name(),
                 " was already back-propagated by a cast's backward (a tensor "
                 "reaches the output both directly and through cast(); cast it once and use the cast result)");
        std::vector<Tensor<T>> in_grads = fn->backward(g);
        for (size_t k = 0; k < fn->inputs.size(); ++k) {
            const Tensor<T>& in = fn->inputs[k];
            if (!in.defined() || !in.requires_grad() || k >= in_grads.size() || !in_grads[k].defined()) continue;
            check(in_grads[k].shape() == in.shape(), "autograd: op ", fn->name(), " returned a gradient of shape ",
                  shape_of(in_grads[k].shape()), " for an input of shape ", shape_of(in.shape()));
            accumulate(grads[in.impl_ptr().get()], in_grads[k], held);
        }
        fn->release();
    }
}

}  // namespace temper::autograd

namespace temper {
template <class T>
void Tensor<T>::backward(const Tensor<T>& grad_output) const {
    autograd::run_backward(*this, grad_output);
}
}  // namespace temper
