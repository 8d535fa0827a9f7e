// kernels/loss.cuh against ops/loss.hpp (forward value and the gradient from backward), float and double:
// BCE-with-logits with and without pos_weight (hard and soft targets, large logits, more elements than one
// pass of the grid), the forward / backward / fused launchers and an upstream gradient; cross-entropy with
// ignore_index (the default -100 and one inside [0, C)), rows from 1 class to a vocabulary, labels outside
// [0, C) counted as ignored, and the all-ignored batch (NaN loss, zero gradient).
#include <random>

#include "kernel_check.hpp"
#include "temper/cuda/launchers.hpp"
#include "temper/autograd/engine.hpp"
#include "temper/ops/loss.hpp"

namespace test_kernel_loss {  // this file's names apart from the others' (unity build, tests/cuda/CMakeLists.txt)

using namespace temper;
using test::DeviceBuffer;

namespace {

template <class T>
void check_scalar(T got, T ref, const std::string& what) {
    test::check_close(std::vector<T>{got}, std::vector<T>{ref}, what);
}

// Logits ~ 3 * N(0,1) with a few large ones (saturated sigmoid); targets mostly 0/1, some soft.
template <class T>
void bce_inputs(int64_t rows, int64_t c, uint64_t seed, std::vector<T>& x, std::vector<T>& y, std::vector<T>& pw) {
    const size_t n = size_t(rows * c);
    x = test::random_vector<T>(n, seed, -4.0, 4.0);
    for (size_t i = 3; i < n; i += 101) x[i] = T(i % 2 ? 40.0 : -40.0);
    y = test::random_vector<T>(n, seed + 1, 0.0, 1.0);
    for (size_t i = 0; i < n; ++i)
        if (i % 5 != 0) y[i] = y[i] < T(0.3) ? T(1) : T(0);
    pw = test::random_vector<T>(size_t(c), seed + 2, 0.2, 5.0);
}

template <class T>
void check_bce(int64_t rows, int64_t c, bool with_pw, uint64_t seed) {
    std::vector<T> x, y, pw;
    bce_inputs(rows, c, seed, x, y, pw);
    const int64_t n = rows * c;
    const std::string what =
        "bce [" + std::to_string(rows) + ", " + std::to_string(c) + "]" + (with_pw ? " pos_weight" : "");

    // CPU: loss, gradient for upstream 1, gradient for upstream 0.5.
    auto cpu = [&](T upstream, T& loss, std::vector<T>& grad) {
        Tensor<T> xc = Tensor<T>::from_vector(x, {rows, c}).set_requires_grad(true);
        Tensor<T> pwc = with_pw ? Tensor<T>::from_vector(pw, {c}) : Tensor<T>();
        Tensor<T> l = bce_with_logits(xc, Tensor<T>::from_vector(y, {rows, c}), pwc);
        loss = l.item();
        l.backward(Tensor<T>::scalar(upstream));
        grad = xc.grad().to_vector();
    };
    T ref_loss, ref_loss2;
    std::vector<T> ref_grad, ref_grad_half;
    cpu(T(1), ref_loss, ref_grad);
    cpu(T(0.5), ref_loss2, ref_grad_half);

    DeviceBuffer<T> dx(x), dy(y), dpw(pw), dgrad(static_cast<size_t>(n)), dloss(1), dup(std::vector<T>{T(0.5)});
    const T* pwp = with_pw ? dpw.get() : nullptr;
    cuda::bce_with_logits_fused(dx.get(), dy.get(), pwp, n, c, dloss.get(), dgrad.get(), test::gpu());
    check_scalar(dloss.download()[0], ref_loss, what + " fused loss");
    test::check_close(dgrad.download(), ref_grad, what + " fused gradient");

    DeviceBuffer<T> dloss2(1), dgrad2(static_cast<size_t>(n));
    cuda::bce_with_logits_forward(dx.get(), dy.get(), pwp, n, c, dloss2.get(), test::gpu());
    cuda::bce_with_logits_backward(dx.get(), dy.get(), pwp, n, c, dup.get(), dgrad2.get(), test::gpu());
    const T l2 = dloss2.download()[0];
    CHECK_MESSAGE(l2 == dloss.download()[0], what, ": forward-only loss differs from the fused one");
    test::check_close(dgrad2.download(), ref_grad_half, what + " backward, upstream 0.5");
}

template <class T>
void check_ce(int64_t B, int64_t C, int64_t ignore_index, uint64_t seed, bool out_of_range_labels = false) {
    const std::vector<T> x = test::random_vector<T>(size_t(B * C), seed, -6.0, 6.0);
    std::mt19937_64 rng(seed + 1);
    std::vector<int64_t> labels(static_cast<size_t>(B));
    for (int64_t& l : labels) l = rng() % 5 == 0 ? ignore_index : int64_t(rng() % uint64_t(C));
    labels[0] = C - 1 != ignore_index ? C - 1 : 0;  // at least one valid row (the CPU op needs one)
    // GPU input may carry labels outside [0, C): the kernel treats them as ignored, the CPU op would
    // throw, so its reference gets ignore_index there.
    std::vector<int64_t> gpu_labels = labels;
    if (out_of_range_labels)
        for (size_t b = 1; b < labels.size(); b += 3) {
            gpu_labels[b] = b % 2 ? C + int64_t(b) : -7 - int64_t(b);
            labels[b] = ignore_index;
        }
    const std::string what = "cross_entropy [" + std::to_string(B) + ", " + std::to_string(C) + "] ignore_index " +
                             std::to_string(ignore_index);

    auto cpu = [&](T upstream, T& loss, std::vector<T>& grad) {
        Tensor<T> xc = Tensor<T>::from_vector(x, {B, C}).set_requires_grad(true);
        Tensor<T> l = cross_entropy(xc, Tensor<int64_t>::from_vector(labels, {B}), ignore_index);
        loss = l.item();
        l.backward(Tensor<T>::scalar(upstream));
        grad = xc.grad().to_vector();
    };
    T ref_loss, ref_loss2;
    std::vector<T> ref_grad, ref_grad_half;
    cpu(T(1), ref_loss, ref_grad);
    cpu(T(0.5), ref_loss2, ref_grad_half);

    DeviceBuffer<T> dx(x), dgrad(size_t(B * C)), dloss(1), dup(std::vector<T>{T(0.5)});
    DeviceBuffer<int64_t> dl(gpu_labels);
    cuda::cross_entropy_fused(dx.get(), dl.get(), B, C, ignore_index, dloss.get(), dgrad.get(), test::gpu());
    check_scalar(dloss.download()[0], ref_loss, what + " fused loss");
    test::check_close(dgrad.download(), ref_grad, what + " fused gradient");

    DeviceBuffer<T> dloss2(1), dgrad2(size_t(B * C));
    cuda::cross_entropy_forward(dx.get(), dl.get(), B, C, ignore_index, dloss2.get(), test::gpu());
    cuda::cross_entropy_backward(dx.get(), dl.get(), B, C, ignore_index, dup.get(), dgrad2.get(), test::gpu());
    CHECK_MESSAGE(dloss2.download()[0] == dloss.download()[0], what, ": forward-only loss differs from the fused one");
    test::check_close(dgrad2.download(), ref_grad_half, what + " backward, upstream 0.5");
}

}  // namespace

TEST_CASE_TEMPLATE("bce_with_logits kernels match the CPU op", T, float, double) {
    const int64_t shapes[][2] = {{1, 1}, {3, 5}, {32, 28}, {1000, 33}, {10007, 28}};  // the last: > 1024 x 256
    uint64_t seed = 1;
    for (const auto& s : shapes) {
        check_bce<T>(s[0], s[1], false, seed++);
        check_bce<T>(s[0], s[1], true, seed++);
    }
}

TEST_CASE_TEMPLATE("cross_entropy kernels match the CPU op", T, float, double) {
    const int64_t shapes[][2] = {{1, 1}, {5, 3}, {32, 28}, {1000, 7}, {17, 1000}, {8, 30522}};
    uint64_t seed = 1;
    for (const auto& s : shapes) {
        check_ce<T>(s[0], s[1], -100, seed++);
        if (s[1] > 2) check_ce<T>(s[0], s[1], 2, seed++);  // an ignore_index that is also a class
        if (s[0] > 3) check_ce<T>(s[0], s[1], -100, seed++, true);
    }
}

TEST_CASE_TEMPLATE("cross_entropy with every row ignored: NaN loss (0 / 0, as torch), zero gradient", T, float,
                   double) {
    const int64_t B = 4, C = 6;
    DeviceBuffer<T> dx(test::random_vector<T>(size_t(B * C), 1)), dgrad(test::random_vector<T>(size_t(B * C), 2));
    DeviceBuffer<T> dloss(1);
    DeviceBuffer<int64_t> dl(std::vector<int64_t>{-100, -100, 99, -1});  // ignored, or outside [0, C)
    cuda::cross_entropy_fused(dx.get(), dl.get(), B, C, -100, dloss.get(), dgrad.get(), test::gpu());
    CHECK(std::isnan(dloss.download()[0]));
    CHECK(dgrad.download() == std::vector<T>(size_t(B * C), T(0)));
}

TEST_CASE("loss launchers reject what the CPU op rejects") {
    DeviceBuffer<float> a(4), b(4), loss(1);
    CHECK_THROWS_AS(cuda::bce_with_logits_forward<float>(a.get(), b.get(), nullptr, 0, 1, loss.get(), test::gpu()),
                    Error);  // empty input
    CHECK_THROWS_AS(cuda::bce_with_logits_forward<float>(a.get(), b.get(), a.get(), 4, 3, loss.get(), test::gpu()),
                    Error);  // 4 elements are not rows of 3 labels
    CHECK_THROWS_AS(cuda::cross_entropy_forward<float>(a.get(), nullptr, 4, 0, -100, loss.get(), test::gpu()),
                    Error);  // no classes
}

}  // namespace test_kernel_loss
