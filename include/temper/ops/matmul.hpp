// Matrix products: matmul (2-D or batched, transposed views read without copying) and linear
// (y = x W^T + b, the nn.Linear contract with weight [out, in]).
#pragma once

#include <vector>

#include "temper/autograd/node.hpp"
#include "temper/backend/gemm.hpp"
#include "temper/core/tensor.hpp"
#include "temper/cpu/elementwise.hpp"
#include "temper/cpu/gemm.hpp"
#include "temper/cpu/parallel.hpp"
#include "temper/ops/views.hpp"

namespace temper {

namespace detail {

// A tensor of rank >= 2 seen as `batch` matrices [rows, cols] in memory, each row-major or transposed.
template <class T>
struct MatView {
    Tensor<T> t;  // keeps the storage alive
    const T* ptr = nullptr;
    int64_t batch = 1, rows = 0, cols = 0, batch_stride = 0, ld = 0;
    bool trans = false;  // true: stored as [cols, rows] row-major
};

template <class T>
MatView<T> as_matrices(const Tensor<T>& x_in) {
    check(x_in.dim() >= 2, "matmul: operands need rank >= 2, got shape ", shape_of(x_in.shape()));
    auto try_view = [](const Tensor<T>& x, MatView<T>& v) {
        size_t r = x.dim();
        const Shape& sh = x.shape();
        const Shape& st = x.strides();
        v.rows = sh[r - 2];
        v.cols = sh[r - 1];
        if (st[r - 1] == 1 && (st[r - 2] == v.cols || v.rows == 1)) {
            v.trans = false;
            v.ld = std::max<int64_t>(v.cols, 1);
        } else if (st[r - 2] == 1 && (st[r - 1] == v.rows || v.cols == 1)) {
            v.trans = true;
            v.ld = std::max<int64_t>(v.rows, 1);
        } else
            return false;
        // batch dimensions must collapse into one stride of whole matrices
        v.batch = 1;
        int64_t expect = v.rows * v.cols;
        for (size_t i = r - 2; i-- > 0;) {
            if (sh[i] != 1 && st[i] != expect * v.batch) return false;
            v.batch *= sh[i];
        }
        v.batch_stride = v.rows * v.cols;
        v.ptr = x.data();
        v.t = x;
        return true;
    };
    MatView<T> v;
    if (try_view(x_in, v)) return v;
    Tensor<T> c = x_in.clone();
    try_view(c, v);
    return v;
}

// C[b] = op(A[b]) * op(B[b]) (+ beta * C[b]); B may be a single matrix shared by all batches.
template <class T>
void batched_gemm(const MatView<T>& a, const MatView<T>& b, T* c, int64_t batch, T beta = T(0)) {
    int64_t M = a.rows, K = a.cols, N = b.cols;
    backend::gemm_strided_batched<T>(a.trans, b.trans, M, N, K, T(1), a.ptr, a.ld, a.batch > 1 ? a.batch_stride : 0,
                                     b.ptr, b.ld, b.batch > 1 ? b.batch_stride : 0, beta, c, N, M * N, batch,
                                     a.t.device());
}

template <class T>
MatView<T> transposed(MatView<T> v) {
    std::swap(v.rows, v.cols);
    v.trans = !v.trans;
    return v;
}

template <class T>
MatView<T> plain(const Tensor<T>& t, int64_t batch, int64_t rows, int64_t cols) {
    MatView<T> v;
    v.t = t;
    v.ptr = t.data();
    v.batch = batch;
    v.rows = rows;
    v.cols = cols;
    v.batch_stride = rows * cols;
    v.ld = std::max<int64_t>(cols, 1);
    return v;
}

}  // namespace detail

template <class T>
struct MatmulNode : autograd::Node<T> {
    detail::MatView<T> a, b;
    Shape sa, sb;
    int64_t batch = 1;
    const char* name() const override { return "matmul"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g_in) override {
        Tensor<T> g = g_in.contiguous();
        auto gv = detail::plain(g, batch, a.rows, b.cols);
        Tensor<T> ga, gb;
        if (this->inputs[0].requires_grad()) {  // dA = dC * op(B)^T
            ga = Tensor<T>::empty(sa, g.device());
            detail::batched_gemm(gv, detail::transposed(b), ga.data(), batch);
        }
        if (this->inputs[1].requires_grad()) {  // dB = op(A)^T * dC, summed over batches when B is shared
            gb = Tensor<T>::empty(sb, g.device());
            if (b.batch > 1 || batch == 1) {
                detail::batched_gemm(detail::transposed(a), gv, gb.data(), batch);
            } else {
                for (int64_t i = 0; i < batch; ++i) {
                    auto ai = a, gi = gv;
                    ai.ptr += i * a.batch_stride;
                    ai.batch = 1;
                    gi.ptr += i * gv.batch_stride;
                    gi.batch = 1;
                    detail::batched_gemm(detail::transposed(ai), gi, gb.data(), 1, i == 0 ? T(0) : T(1));
                }
            }
        }
        return {ga, gb};
    }
    void release_saved() override { a = b = detail::MatView<T>(); }
};

// a [..., M, K] @ b [..., K, N] -> [..., M, N]. Batch dimensions must match, or b is a plain matrix.
template <class T>
Tensor<T> matmul(const Tensor<T>& a, const Tensor<T>& b) {
    check(a.device() == b.device(), "matmul: operands on different devices (", a.device(), ", ", b.device(), ")");
    auto av = detail::as_matrices(a);
    auto bv = detail::as_matrices(b);
    check(av.cols == bv.rows, "matmul: inner dimensions differ: ", shape_of(a.shape()), " @ ", shape_of(b.shape()));
    bool shared_b = b.dim() == 2;
    check(shared_b || (a.dim() == b.dim() && std::equal(a.shape().begin(), a.shape().end() - 2, b.shape().begin())),
          "matmul: batch dimensions differ: ", shape_of(a.shape()), " @ ", shape_of(b.shape()));
    Shape out_shape(a.shape().begin(), a.shape().end() - 2);
    out_shape.push_back(av.rows);
    out_shape.push_back(bv.cols);
    Tensor<T> out = Tensor<T>::empty(out_shape, a.device());
    if (shared_b && !av.trans && av.batch > 1) {  // fold the batch into M: one large GEMM
        auto a2 = av;
        a2.rows = av.rows * av.batch;
        a2.batch = 1;
        detail::batched_gemm(a2, bv, out.data(), 1);
    } else {
        detail::batched_gemm(av, bv, out.data(), av.batch);
    }
    auto node = std::make_shared<MatmulNode<T>>();
    if (autograd::needs_grad<T>({a, b})) {
        node->a = av;
        node->b = bv;
        node->sa = a.shape();
        node->sb = b.shape();
        node->batch = av.batch;
    }
    return autograd::record(out, node, {a, b});
}

template <class T>
struct LinearNode : autograd::Node<T> {
    Tensor<T> x, w;  // x contiguous [rows, in]
    int64_t rows = 0, in = 0, out = 0;
    const char* name() const override { return "linear"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g_in) override {
        Tensor<T> g = g_in.contiguous();
        Tensor<T> gx, gw, gb;
        const Device dev = g.device();
        if (this->inputs[0].requires_grad()) {  // dx = dy W
            gx = Tensor<T>::empty(this->inputs[0].shape(), dev);
            backend::gemm_strided_batched<T>(false, false, rows, in, out, T(1), g.data(), out, 0, w.data(), in, 0, T(0),
                                             gx.data(), in, 0, 1, dev);
        }
        if (this->inputs[1].requires_grad()) {  // dW = dy^T x
            gw = Tensor<T>::empty({out, in}, dev);
            backend::gemm_strided_batched<T>(true, false, out, in, rows, T(1), g.data(), out, 0, x.data(), in, 0, T(0),
                                             gw.data(), in, 0, 1, dev);
        }
        if (this->inputs.size() > 2 && this->inputs[2].defined() && this->inputs[2].requires_grad()) {  // db = 1ᵀ dy
            gb = Tensor<T>::empty({out}, dev);
            backend::column_sums(g.data(), rows, out, gb.data(), dev);
        }
        return {gx, gw, gb};
    }
    void release_saved() override { x = w = Tensor<T>(); }
};

// y = x W^T + b over the last dimension of x; weight [out, in], bias [out] (may be undefined).
template <class T>
Tensor<T> linear(const Tensor<T>& x_in, const Tensor<T>& weight, const Tensor<T>& bias = Tensor<T>()) {
    check(weight.dim() == 2, "linear: weight must be [out, in], got ", shape_of(weight.shape()));
    int64_t out = weight.size(0), in = weight.size(1);
    check(x_in.dim() >= 1 && x_in.size(-1) == in, "linear: input of shape ", shape_of(x_in.shape()),
          " does not end in in_features = ", in);
    check(!bias.defined() || (bias.dim() == 1 && bias.size(0) == out), "linear: bias must be [", out, "], got ",
          shape_of(bias, ""));
    Tensor<T> x = x_in.contiguous();
    Tensor<T> w = weight.contiguous();
    int64_t rows = x.numel() / std::max<int64_t>(in, 1);
    Shape out_shape = x.shape();
    out_shape.back() = out;
    Tensor<T> y = Tensor<T>::empty(out_shape, x.device());
    T* py = y.data();
    const Device dev = x.device();
    check(w.device() == dev && (!bias.defined() || bias.device() == dev), "linear: input on ", dev, ", weight on ",
          w.device(), lazy([&] { return bias.defined() ? ", bias on " + bias.device().str() : std::string(); }));
    if (bias.defined()) {  // start from the bias, then accumulate x W^T on top
        const Tensor<T> bc = bias.contiguous();
        backend::broadcast_rows(bc.data(), rows, out, py, dev);
    }
    backend::gemm_strided_batched<T>(false, true, rows, out, in, T(1), x.data(), in, 0, w.data(), in, 0,
                                     bias.defined() ? T(1) : T(0), py, out, 0, 1, dev);
    auto node = std::make_shared<LinearNode<T>>();
    if (autograd::needs_grad<T>({x_in, weight, bias})) {
        node->x = x;
        node->w = w;
        node->rows = rows;
        node->in = in;
        node->out = out;
    }
    return autograd::record(y, node, {x_in, weight, bias});
}

}  // namespace temper
