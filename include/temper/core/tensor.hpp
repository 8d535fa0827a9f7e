// Tensor<T>: a reference-counted handle to a strided view of a Storage<T>, carrying what reverse-mode
// autograd needs (requires_grad, the accumulated .grad, and grad_fn, the node that produced it).
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <vector>

#include "temper/backend/memory.hpp"
#include "temper/core/device.hpp"
#include "temper/core/dtype.hpp"
#include "temper/core/error.hpp"
#include "temper/core/random.hpp"
#include "temper/core/shape.hpp"
#include "temper/core/storage.hpp"
#include "temper/cpu/parallel.hpp"

namespace temper {

template <class T>
class Tensor;
namespace autograd {
template <class T>
struct Node;
}

template <class T>
struct TensorImpl {
    std::shared_ptr<Storage<T>> storage;
    Shape shape, strides;
    int64_t offset = 0;
    bool requires_grad = false;
    std::shared_ptr<TensorImpl<T>> grad;         // accumulated gradient of a leaf
    std::shared_ptr<autograd::Node<T>> grad_fn;  // set on tensors produced by a differentiable op
};

template <class T>
class Tensor {
public:
    using value_type = T;

    Tensor() = default;
    explicit Tensor(std::shared_ptr<TensorImpl<T>> impl) : impl_(std::move(impl)) {}

    // ---- factories -------------------------------------------------------------------------
    static Tensor empty(const Shape& shape, Device dev = Device::cpu()) {
        auto impl = std::make_shared<TensorImpl<T>>();
        impl->storage = std::make_shared<Storage<T>>(size_t(shape_numel(shape)), dev);
        impl->shape = shape;
        impl->strides = contiguous_strides(shape);
        return Tensor(impl);
    }
    static Tensor full(const Shape& shape, T value, Device dev = Device::cpu()) {
        Tensor t = empty(shape, dev);
        backend::fill(t.data(), value, t.numel(), dev);
        return t;
    }
    static Tensor zeros(const Shape& shape, Device dev = Device::cpu()) { return full(shape, T(0), dev); }
    static Tensor ones(const Shape& shape, Device dev = Device::cpu()) { return full(shape, T(1), dev); }
    static Tensor scalar(T value) { return full({}, value); }
    // 0, 1, ..., n - 1 (positions, indices); filled on the device itself, so it can be part of a CUDA graph.
    static Tensor arange(int64_t n, Device dev = Device::cpu()) {
        check(n >= 0, "arange: negative length ", n);
        Tensor t = empty({n}, dev);
        backend::iota(t.data(), n, dev);
        return t;
    }
    static Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
        check(int64_t(values.size()) == shape_numel(shape), "from_vector: ", values.size(),
              " values do not fill shape ", shape_of(shape));
        Tensor t = empty(shape);
        std::copy(values.begin(), values.end(), t.data());
        return t;
    }
    // Normal(mean, std) from a generator: element i is what the i-th gen.normal() call would give (one
    // Philox block each), so the values do not depend on the thread count.
    static Tensor randn(const Shape& shape, Generator& gen, double std = 1.0, double mean = 0.0) {
        return from_blocks(shape, gen,
                           [=](uint64_t seed, uint64_t block) { return T(mean + std * philox_normal(seed, block)); });
    }
    // Uniform [lo, hi): element i is what the i-th gen.uniform() call would give.
    static Tensor uniform(const Shape& shape, Generator& gen, double lo = 0.0, double hi = 1.0) {
        return from_blocks(shape, gen,
                           [=](uint64_t seed, uint64_t block) { return T(lo + (hi - lo) * philox_unit(seed, block)); });
    }

    // ---- properties ------------------------------------------------------------------------
    bool defined() const { return bool(impl_); }
    const Shape& shape() const { return impl().shape; }
    const Shape& strides() const { return impl().strides; }
    int64_t offset() const { return impl().offset; }
    size_t dim() const { return shape().size(); }
    int64_t size(int64_t d) const { return shape()[norm_dim(d, dim())]; }
    int64_t numel() const { return shape_numel(shape()); }
    Device device() const { return impl().storage->device(); }
    static constexpr DType dtype() { return dtype_of<T>; }
    bool is_contiguous() const { return strides() == contiguous_strides(shape()) || numel() <= 1; }

    // Pointer to element 0 of this view (CPU tensors; GPU tensors give a device pointer).
    T* data() const { return impl().storage->data() + impl().offset; }
    const std::shared_ptr<Storage<T>>& storage() const { return impl().storage; }

    // Element access for tests and small tools (bounds-checked, any strides).
    // On a GPU tensor these copy the element to the host (and so wait for queued work).
    T at(std::initializer_list<int64_t> idx) const { return read_element(linear_index(idx)); }
    T item() const {
        check(numel() == 1, "item() needs a one-element tensor, got shape ", shape_of(shape()));
        return read_element(0);
    }
    // Copies out the elements in row-major order (works for any strides).
    std::vector<T> to_vector() const;

    // ---- autograd --------------------------------------------------------------------------
    bool requires_grad() const { return impl().requires_grad; }
    Tensor& set_requires_grad(bool on = true) {
        check(!on || !impl().grad_fn, "set_requires_grad: only leaf tensors can be made to require grad");
        impl_->requires_grad = on;
        return *this;
    }
    bool is_leaf() const { return !impl().grad_fn; }
    Tensor grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }
    void set_grad(const Tensor& g) { impl_->grad = g.impl_; }
    void zero_grad() { impl_->grad.reset(); }
    const std::shared_ptr<autograd::Node<T>>& grad_fn() const { return impl().grad_fn; }
    // Back-propagates from this tensor (a scalar unless grad_output is given). Defined in autograd/engine.hpp.
    void backward(const Tensor& grad_output = Tensor()) const;
    // Same data, cut from the graph.
    Tensor detach() const {
        auto impl = std::make_shared<TensorImpl<T>>(*impl_);
        impl->requires_grad = false;
        impl->grad.reset();
        impl->grad_fn.reset();
        return Tensor(impl);
    }

    // This tensor when it is contiguous, else clone(): what a kernel taking dense memory is given. Not tracked
    // by autograd (inside a differentiable computation, the op contiguous(x) is).
    Tensor contiguous() const { return is_contiguous() ? *this : clone(); }
    // Deep copy into fresh contiguous storage, not tracked by autograd.
    Tensor clone() const {
        Tensor out = empty(shape(), device());
        copy_strided(out.data());
        return out;
    }
    // Copies src's elements into this tensor in place (shapes must match; src may be on another device). Not
    // tracked by autograd.
    void copy_(const Tensor& src) {
        check(src.shape() == shape(), "copy_: shape ", shape_of(src.shape()), " does not match ", shape_of(shape()));
        check(is_contiguous(), "copy_: destination must be contiguous");
        if (src.device() == device())
            src.copy_strided(data());
        else
            src.to(device()).copy_strided(data());
    }
    // Writes the elements in row-major order to dst (numel() elements, on this tensor's device), whatever
    // the strides.
    void copy_strided(T* dst) const;

    // This tensor on dev: itself when already there, otherwise a contiguous copy (not tracked by autograd).
    Tensor to(Device dev) const;

    TensorImpl<T>& impl() const {
        check(bool(impl_), "operation on an undefined (default-constructed) tensor");
        return *impl_;
    }
    const std::shared_ptr<TensorImpl<T>>& impl_ptr() const { return impl_; }

private:
    // A tensor whose element i is value(seed, first_block + i); takes numel blocks from gen, in parallel.
    template <class F>
    static Tensor from_blocks(const Shape& shape, Generator& gen, F value) {
        Tensor t = empty(shape);
        const int64_t n = t.numel();
        const uint64_t seed = gen.seed(), first = gen.offset();
        gen.set_offset(first + uint64_t(n));
        T* d = t.data();
        if (gen.skips_values()) {
            std::fill_n(d, n, std::numeric_limits<T>::quiet_NaN());
            return t;
        }
        cpu::parallel_for(n, 100, [&](int64_t i) { d[i] = value(seed, first + uint64_t(i)); });
        return t;
    }

    T read_element(int64_t off) const {
        T v{};
        backend::copy(&v, Device::cpu(), data() + off, device(), sizeof(T));
        return v;
    }

    int64_t linear_index(std::initializer_list<int64_t> idx) const {
        check(idx.size() == dim(), "at(): ", idx.size(), " indices for a tensor of rank ", dim());
        int64_t off = 0;
        size_t d = 0;
        for (int64_t i : idx) {
            check(i >= 0 && i < shape()[d], "at(): index ", i, " out of range for dimension ", d, " of size ",
                  shape()[d]);
            off += i * strides()[d++];
        }
        return off;
    }

    std::shared_ptr<TensorImpl<T>> impl_;
};

template <class T>
void Tensor<T>::copy_strided(T* dst) const {
    if (is_contiguous())
        backend::copy(dst, device(), data(), device(), size_t(numel()) * sizeof(T));
    else
        backend::copy_strided(data(), shape(), strides(), dst, device());
}

template <class T>
std::vector<T> Tensor<T>::to_vector() const {
    std::vector<T> out(static_cast<size_t>(numel()));
    const Tensor c = contiguous();
    backend::copy(out.data(), Device::cpu(), c.data(), device(), out.size() * sizeof(T));
    return out;
}

template <class T>
Tensor<T> Tensor<T>::to(Device dev) const {
    if (dev == device()) return *this;
    const Tensor src = contiguous();
    Tensor out = empty(shape(), dev);
    backend::copy(out.data(), dev, src.data(), src.device(), size_t(numel()) * sizeof(T));
    return out;
}

}  // namespace temper

#include "temper/autograd/engine.hpp"
