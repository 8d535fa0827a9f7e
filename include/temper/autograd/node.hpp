// A node of the autograd graph: one differentiable op application. It keeps its inputs (the graph's
// edges) and whatever it saved in forward, and maps the gradient of its output to gradients of its inputs.
#pragma once

#include <memory>
#include <vector>

#include "temper/autograd/grad_mode.hpp"
#include "temper/core/tensor.hpp"

namespace temper::autograd {

template <class T>
struct Node {
    std::vector<Tensor<T>> inputs;
    bool released = false;

    virtual ~Node() = default;
    virtual const char* name() const = 0;
    // Gradients with respect to each input (an undefined Tensor where an input needs none).
    virtual std::vector<Tensor<T>> backward(const Tensor<T>& grad_output) = 0;
    // Drops saved tensors once backward has run, so the graph's memory is freed.
    virtual void release_saved() {}

    void release() {
        inputs.clear();
        release_saved();
        released = true;
    }
};

// True when an op with these inputs must record a node.
template <class T>
bool needs_grad(std::initializer_list<Tensor<T>> inputs) {
    if (!grad_enabled()) return false;
    for (const auto& t : inputs)
        if (t.defined() && t.requires_grad()) return true;
    return false;
}

// Connects `out` to the graph through `node` when any input requires grad. Returns out.
template <class T, class N>
Tensor<T> record(Tensor<T> out, std::shared_ptr<N> node, std::initializer_list<Tensor<T>> inputs) {
    if (!needs_grad<T>(inputs)) return out;
    node->inputs.assign(inputs.begin(), inputs.end());
    out.impl().requires_grad = true;
    out.impl().grad_fn = std::move(node);
    return out;
}

}  // namespace temper::autograd
