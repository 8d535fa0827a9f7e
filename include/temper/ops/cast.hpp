// cast<To>(x): x's values as another element type (round-to-nearest-even when narrowing), and the edge of
// the autograd graph between two element types (mixed precision: bf16 logits into a float loss).
//
// Each Tensor<T> has its own graph, so the backward of a cast runs a backward pass of x's graph from x,
// seeded with the gradient converted back to x's type. That pass frees x's graph, so a non-leaf x must reach
// the output through this one cast: casting it twice, or also using it directly (a float skip connection
// around a bf16 block), makes backward() stop with an error naming the op. Leaves have no such limit.
#pragma once

#include <type_traits>

#include "temper/autograd/node.hpp"
#include "temper/core/tensor.hpp"

namespace temper {

namespace detail {
// Writes x's elements, converted, into dst (same shape, contiguous, same device), in place (no graph).
template <class To, class From>
void convert_into(const Tensor<From>& x_in, Tensor<To>& dst) {
    check(x_in.shape() == dst.shape() && dst.is_contiguous(), "convert_into: ", shape_of(x_in.shape()), " into ",
          shape_of(dst.shape()), " (the destination must be contiguous and of the same shape)");
    check(x_in.device() == dst.device(), "convert_into: source on ", x_in.device(), ", destination on ", dst.device());
    const Tensor<From> x = x_in.contiguous();
    backend::convert(x.data(), dst.data(), x.numel(), x.device());
}

// x's elements as To in a fresh contiguous tensor on x's device (no graph).
template <class To, class From>
Tensor<To> converted(const Tensor<From>& x) {
    Tensor<To> out = Tensor<To>::empty(x.shape(), x.device());
    convert_into(x, out);
    return out;
}
}  // namespace detail

template <class To, class From>
struct CastNode : autograd::Node<To> {
    Tensor<From> source;
    const char* name() const override { return "cast"; }
    std::vector<Tensor<To>> backward(const Tensor<To>& g) override {
        source.backward(detail::converted<From>(g));
        return {};
    }
    void release_saved() override { source = Tensor<From>(); }
};

template <class To, class From>
Tensor<To> cast(const Tensor<From>& x) {
    if constexpr (std::is_same_v<To, From>) {
        return x;
    } else {
        Tensor<To> out = detail::converted<To>(x);
        if (!grad_enabled() || !x.requires_grad()) return out;
        auto node = std::make_shared<CastNode<To, From>>();
        node->source = x;
        out.impl().requires_grad = true;
        out.impl().grad_fn = std::move(node);
        return out;
    }
}

}  // namespace temper
