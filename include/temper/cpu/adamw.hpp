// AdamW's per-element update on the CPU, written op for op the way torch computes it, so results
// are bit-identical to torch.optim.AdamW in float and double wherever torch's sqrt is correctly
// rounded (torch 2.15's pip wheel takes it from MKL, which is up to 1 ulp off: then a few parameters
// differ in the last bits while the moments stay bit-identical; see tests/test_optim.cpp).
//
// torch runs the update as separate tensor ops, each rounding to T:
//   param.mul_(1 - lr*wd)
//   exp_avg.mul_(beta1).add_(grad, alpha=1-beta1)          torch 1.x:  fma(g, 1-beta1, m*beta1)
//   exp_avg.lerp_(grad, 1-beta1)                           torch 2.x:  fma(1-beta1, g-m, m)
//   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1-beta2)   fma((1-beta2)*g, g, v*beta2)
//   denom = (exp_avg_sq.sqrt() / sqrt(bias_correction2)).add_(eps)
//   param.addcdiv_(exp_avg, denom, value=-lr/bias_correction1)   p + ((-step_size)*m)/denom
// The fused multiply-adds are what torch's CPU kernels execute (measured against torch: see
// tests/test_optim.cpp); everything else must NOT be fused, so contraction is switched off here.
// A CUDA kernel mirrors adamw_chunk with __fmaf_rn for the fmas and __fmul_rn/__fadd_rn/
// __fdiv_rn/__fsqrt_rn elsewhere.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "temper/cpu/parallel.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

namespace temper::cpu {

// The scalars of one AdamW step for one parameter, computed on the host in double exactly as
// torch's Python code does and rounded to T once (torch rounds Python scalars to the tensor type).
template <class T>
struct AdamWScalars {
    T decay = 1;  // 1 - lr * weight_decay
    T beta1 = 0, one_minus_beta1 = 0;
    T beta2 = 0, one_minus_beta2 = 0;
    T bias_correction2_sqrt = 1;  // sqrt(1 - beta2^step)
    T eps = 0;
    T neg_step_size = 0;  // -lr / (1 - beta1^step)
    bool lerp = true;     // first moment by lerp (torch >= 2.0) or mul+add (torch 1.x)
};

template <class T>
AdamWScalars<T> adamw_scalars(double lr, double beta1, double beta2, double eps, double weight_decay, int64_t step,
                              bool lerp) {
    const double bias_correction1 = 1 - std::pow(beta1, double(step));
    const double bias_correction2 = 1 - std::pow(beta2, double(step));
    AdamWScalars<T> s;
    s.decay = T(1 - lr * weight_decay);
    s.beta1 = T(beta1);
    s.one_minus_beta1 = T(1 - beta1);
    s.beta2 = T(beta2);
    s.one_minus_beta2 = T(1 - beta2);
    s.bias_correction2_sqrt = T(std::sqrt(bias_correction2));
    s.eps = T(eps);
    s.neg_step_size = T(-(lr / bias_correction1));
    s.lerp = lerp;
    return s;
}

// How the first moment is updated: torch 2.x's lerp has two formulas (by the weight 1-beta1), torch 1.x
// used mul+add. Fixed per step, so it is a template argument and the update loop has no branch.
enum class FirstMoment { lerp_small_weight, lerp_large_weight, mul_add };

template <class T>
FirstMoment first_moment_rule(const AdamWScalars<T>& s) {
    if (!s.lerp) return FirstMoment::mul_add;
    // torch's lerp: start + w*(end-start) for |w| < 0.5, else end - (end-start)*(1-w).
    return std::abs(s.one_minus_beta1) < T(0.5) ? FirstMoment::lerp_small_weight : FirstMoment::lerp_large_weight;
}

// One step over n <= kAdamWChunk elements, as three loops: the moments, their square roots, the parameter.
// The first and last vectorise; the sqrt loop stays scalar (std::sqrt's errno path, which a per-function
// -fno-math-errno does not remove in GCC 12) and is kept apart so it does not stop the other two.
// Each element goes through exactly the torch operations listed at the top.
constexpr int64_t kAdamWChunk = 4096;
template <FirstMoment kRule, class T>
void adamw_chunk(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t n,
                 const AdamWScalars<T> s) {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
    alignas(64) T root[kAdamWChunk];
    const T w = s.one_minus_beta1;
    for (int64_t i = 0; i < n; ++i) {
        if constexpr (kRule == FirstMoment::lerp_small_weight)
            m[i] = std::fma(w, g[i] - m[i], m[i]);
        else if constexpr (kRule == FirstMoment::lerp_large_weight)
            m[i] = std::fma(w - T(1), g[i] - m[i], g[i]);
        else
            m[i] = std::fma(g[i], w, m[i] * s.beta1);
        v[i] = std::fma(s.one_minus_beta2 * g[i], g[i], v[i] * s.beta2);
    }
    for (int64_t i = 0; i < n; ++i) root[i] = std::sqrt(v[i]);
    for (int64_t i = 0; i < n; ++i) {
        const T denom = root[i] / s.bias_correction2_sqrt + s.eps;
        p[i] = p[i] * s.decay + (s.neg_step_size * m[i]) / denom;
    }
}

// One AdamW step over n contiguous elements: param p, gradient g, first moment m, second moment v.
template <class T>
void adamw_update(T* p, const T* g, T* m, T* v, int64_t n, const AdamWScalars<T>& s) {
    const FirstMoment rule = first_moment_rule(s);
    parallel_for((n + kAdamWChunk - 1) / kAdamWChunk, 16 * kAdamWChunk, [&](int64_t c) {
        const int64_t lo = c * kAdamWChunk, len = std::min(kAdamWChunk, n - lo);
        if (rule == FirstMoment::lerp_small_weight)
            adamw_chunk<FirstMoment::lerp_small_weight>(p + lo, g + lo, m + lo, v + lo, len, s);
        else if (rule == FirstMoment::lerp_large_weight)
            adamw_chunk<FirstMoment::lerp_large_weight>(p + lo, g + lo, m + lo, v + lo, len, s);
        else
            adamw_chunk<FirstMoment::mul_add>(p + lo, g + lo, m + lo, v + lo, len, s);
    });
}

}  // namespace temper::cpu

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
