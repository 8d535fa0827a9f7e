// dropout: zero each element with probability p and scale the kept ones by 1/(1-p). The mask is a
// pure function of (seed, offset, index) through Philox, so it is recomputed in backward, not stored,
// and a CUDA kernel draws the very same mask.
#pragma once

#include "temper/autograd/node.hpp"
#include "temper/core/random.hpp"
#include "temper/core/tensor.hpp"
#include "temper/cpu/parallel.hpp"
#if defined(TEMPER_WITH_CUDA)
#include "temper/cuda/kernels.hpp"
#endif

namespace temper {

// Element i keeps x[i] iff philox_uniform(seed, offset, i) >= p. One Philox block gives the draws of four
// consecutive elements; the loop runs over groups of kPhiloxLanes blocks (in parallel), computed together.
template <class T>
void dropout_apply(const T* x, T* y, int64_t n, double p, uint64_t seed, uint64_t offset) {
    constexpr int64_t kGroup = 4 * kPhiloxLanes;  // elements per group
    cpu::parallel_for((n + kGroup - 1) / kGroup, 10 * kGroup, [&](int64_t g) {
        uint32_t words[kGroup];
        philox4x32_lanes(offset + uint64_t(g * kPhiloxLanes), seed, words);
        const int64_t i0 = g * kGroup, count = n - i0 < kGroup ? n - i0 : kGroup;
        // All locals, so the loop does not reload them through the closure after each store to y (vectorises).
        const T* __restrict xg = x + i0;
        T* __restrict yg = y + i0;
        const compute_t<T> scale = compute_t<T>(1.0 / (1.0 - p));  // float for bf16: one rounding per element
        const float keep_from = float(p);
        for (int64_t j = 0; j < count; ++j)
            yg[j] = u32_to_unit(words[j]) >= keep_from ? T(compute_t<T>(xg[j]) * scale) : T(0);
    });
}

// dropout_apply on x's device; the GPU kernel draws the same mask bit for bit.
template <class T>
void dropout_apply(const Tensor<T>& x, Tensor<T>& y, double p, const PhiloxPosition& pos) {
#if defined(TEMPER_WITH_CUDA)
    if (x.device().is_cuda())
        return cuda::dropout_apply(x.data(), y.data(), x.numel(), p, pos.seed, pos.offset, cuda::stream(x.device()),
                                   pos.device_base);
#endif
    check(!pos.device_base, "dropout: a generator with a device base (a CUDA graph capture) drew a CPU mask");
    dropout_apply(x.data(), y.data(), x.numel(), p, pos.seed, pos.offset);
}

template <class T>
struct DropoutNode : autograd::Node<T> {
    double p = 0;
    PhiloxPosition pos;
    const char* name() const override { return "dropout"; }
    std::vector<Tensor<T>> backward(const Tensor<T>& g_in) override {
        Tensor<T> g = g_in.is_contiguous() ? g_in : g_in.clone();
        Tensor<T> dx = Tensor<T>::empty(g.shape(), g.device());
        dropout_apply(g, dx, p, pos);
        return {dx};
    }
};

// Identity when !training or p == 0.
template <class T>
Tensor<T> dropout(const Tensor<T>& x_in, double p, bool training, Generator& gen = default_generator()) {
    check(p >= 0.0 && p < 1.0, "dropout: probability ", p, " must be in [0, 1)");
    if (!training || p == 0.0) return x_in;
    Tensor<T> x = x_in.is_contiguous() ? x_in : x_in.clone();
    Tensor<T> y = Tensor<T>::empty(x.shape(), x.device());
    auto node = std::make_shared<DropoutNode<T>>();
    node->p = p;
    node->pos = gen.reserve_position(uint64_t(x.numel()));
    dropout_apply(x, y, p, node->pos);
    return autograd::record(y, node, {x_in});
}

}  // namespace temper
