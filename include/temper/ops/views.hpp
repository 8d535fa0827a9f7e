// View ops: reshape, transpose, slice, contiguous. Views share storage; their backward maps the
// gradient back to the input's shape.
#pragma once

#include <vector>

#include "temper/autograd/node.hpp"
#include "temper/core/tensor.hpp"

namespace temper {

namespace detail {
template <class T>  // shape and strides by value: callers pass temporaries, moved in below
Tensor<T> make_view(const Tensor<T>& src, Shape shape, Shape strides,  // NOLINT(performance-unnecessary-value-param)
                    int64_t offset) {
    auto impl = std::make_shared<TensorImpl<T>>();
    impl->storage = src.storage();
    impl->shape = std::move(shape);
    impl->strides = std::move(strides);
    impl->offset = offset;
    return Tensor<T>(impl);
}
}  // namespace detail

template <class T>
struct ContiguousNode : autograd::Node<T> {
    const char* name() const override { return "contiguous"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g) override { return {g}; }
};

// A contiguous tensor with the same values (the tensor itself when already contiguous).
template <class T>
Tensor<T> contiguous(const Tensor<T>& x) {
    if (x.is_contiguous()) return x;
    return autograd::record(x.clone(), std::make_shared<ContiguousNode<T>>(), {x});
}

template <class T>
struct ReshapeNode : autograd::Node<T> {
    Shape in_shape;
    const char* name() const override { return "reshape"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
        Tensor<T> gc = g.contiguous();
        return {detail::make_view(gc, in_shape, contiguous_strides(in_shape), gc.offset())};
    }
};

// New shape with the same elements; one extent may be -1 (inferred). Copies only when x is not contiguous.
template <class T>
Tensor<T> reshape(const Tensor<T>& x, Shape shape) {
    int64_t known = 1, infer = -1;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == -1) {
            check(infer < 0, "reshape: more than one -1 in ", shape_of(shape));
            infer = int64_t(i);
        } else {
            check(shape[i] >= 0, "reshape: negative extent in ", shape_of(shape));
            known *= shape[i];
        }
    }
    if (infer >= 0) {
        check(known > 0 && x.numel() % known == 0, "reshape: cannot infer -1 in ", shape_of(shape), " for ", x.numel(),
              " elements");
        shape[size_t(infer)] = x.numel() / known;
    }
    check(shape_numel(shape) == x.numel(), "reshape: shape ", shape_of(shape), " does not hold the ", x.numel(),
          " elements of a tensor of shape ", shape_of(x.shape()));
    Tensor<T> xc = x.contiguous();
    auto node = std::make_shared<ReshapeNode<T>>();
    node->in_shape = x.shape();
    return autograd::record(detail::make_view(xc, shape, contiguous_strides(shape), xc.offset()), node, {x});
}

template <class T>
struct TransposeNode : autograd::Node<T> {
    size_t d0 = 0, d1 = 0;
    const char* name() const override { return "transpose"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
        Shape sh = g.shape(), st = g.strides();
        std::swap(sh[d0], sh[d1]);
        std::swap(st[d0], st[d1]);
        return {detail::make_view(g, sh, st, g.offset())};
    }
};

// Swaps two dimensions (a strided view, no copy).
template <class T>
Tensor<T> transpose(const Tensor<T>& x, int64_t dim0, int64_t dim1) {
    size_t a = norm_dim(dim0, x.dim()), b = norm_dim(dim1, x.dim());
    Shape sh = x.shape(), st = x.strides();
    std::swap(sh[a], sh[b]);
    std::swap(st[a], st[b]);
    auto node = std::make_shared<TransposeNode<T>>();
    node->d0 = a;
    node->d1 = b;
    return autograd::record(detail::make_view(x, sh, st, x.offset()), node, {x});
}

template <class T>
struct SliceNode : autograd::Node<T> {
    Shape in_shape;
    size_t dim = 0;
    int64_t start = 0;
    const char* name() const override { return "slice"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
        Tensor<T> gx = Tensor<T>::zeros(in_shape, g.device());
        Shape st = gx.strides();
        Tensor<T> region = detail::make_view(gx, g.shape(), st, start * st[dim]);
        const Tensor<T> gc = g.contiguous();
        backend::copy_into_strided(gc.data(), region.data(), region.shape(), region.strides(), g.device());
        return {gx};
    }
};

// Elements [start, end) along dim (a view, no copy).
template <class T>
Tensor<T> slice(const Tensor<T>& x, int64_t dim, int64_t start, int64_t end) {
    size_t d = norm_dim(dim, x.dim());
    check(0 <= start && start <= end && end <= x.shape()[d], "slice: range [", start, ", ", end,
          ") out of bounds for dimension ", d, " of size ", x.shape()[d]);
    Shape sh = x.shape();
    sh[d] = end - start;
    auto node = std::make_shared<SliceNode<T>>();
    node->in_shape = x.shape();
    node->dim = d;
    node->start = start;
    return autograd::record(detail::make_view(x, sh, x.strides(), x.offset() + start * x.strides()[d]), node, {x});
}

// Index `index` of dimension dim, removing that dimension: x[:, 0] is select(x, 1, 0).
template <class T>
Tensor<T> select(const Tensor<T>& x, int64_t dim, int64_t index) {
    size_t d = norm_dim(dim, x.dim());
    Tensor<T> s = slice(x, int64_t(d), index, index + 1);
    Shape sh = x.shape();
    sh.erase(sh.begin() + int64_t(d));
    return reshape(s, sh);
}

}  // namespace temper
