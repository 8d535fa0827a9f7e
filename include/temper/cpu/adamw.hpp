// AdamW's per-element update on the CPU, written op for op the way torch computes it, so results
// are bit-identical to torch.optim.AdamW in float and double.
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
// A CUDA kernel mirrors adamw_element with __fmaf_rn for the fmas and __fmul_rn/__fadd_rn/
// __fdiv_rn/__fsqrt_rn elsewhere.
#pragma once

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
    T decay = 1;                  // 1 - lr * weight_decay
    T beta1 = 0, one_minus_beta1 = 0;
    T beta2 = 0, one_minus_beta2 = 0;
    T bias_correction2_sqrt = 1;  // sqrt(1 - beta2^step)
    T eps = 0;
    T neg_step_size = 0;          // -lr / (1 - beta1^step)
    bool lerp = true;             // first moment by lerp (torch >= 2.0) or mul+add (torch 1.x)
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

template <class T>
inline void adamw_element(T& p, T g, T& m, T& v, const AdamWScalars<T>& s) {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
    T pd = p * s.decay;
    if (s.lerp) {
        // torch's lerp: start + w*(end-start) for |w| < 0.5, else end - (end-start)*(1-w).
        const T w = s.one_minus_beta1;
        m = std::abs(w) < T(0.5) ? std::fma(w, g - m, m) : std::fma(w - T(1), g - m, g);
    } else {
        m = std::fma(g, s.one_minus_beta1, m * s.beta1);
    }
    v = std::fma(s.one_minus_beta2 * g, g, v * s.beta2);
    const T denom = std::sqrt(v) / s.bias_correction2_sqrt + s.eps;
    p = pd + (s.neg_step_size * m) / denom;
}

// One AdamW step over n contiguous elements: param p, gradient g, first moment m, second moment v.
template <class T>
void adamw_update(T* p, const T* g, T* m, T* v, int64_t n, const AdamWScalars<T>& s) {
    parallel_for(n, 16, [&](int64_t i) { adamw_element(p[i], g[i], m[i], v[i], s); });
}

}  // namespace temper::cpu

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
