// LayerNorm over the last dimension (biased variance, eps inside the sqrt), its backward, and the
// residual-fused forward LN(a + b) of the DistilBERT block; the GPU twin of cpu/layernorm.hpp.
//
// Forward: one warp per row, 8 rows per block. Three passes over the row: sum (mean), sum of squared
// deviations (variance: two-pass, no E[x^2] - mean^2 cancellation), then normalise; passes two and three
// hit L1/L2 for rows of a few KB. Loads are 16-byte packs when d and the pointers allow.
// Backward: dx by one warp per row (two passes: mean(g) and mean(g * xhat), then dx). dgamma and dbeta are
// column sums over rows, done by common.cuh's deterministic column reduction (no atomics): the same bits
// on every run.
#pragma once

#include <cstdint>

#include "common.cuh"
#include "memory.cuh"

namespace temper::kernels {

constexpr int kLayerNormThreads = 256;
constexpr int kLayerNormRowsPerBlock = kLayerNormThreads / 32;

// kResidual: x = a + b, stored to sum_out (the residual stream the next block reads and the backward
// needs); otherwise x = a and b, sum_out are unused. mean and rstd may be nullptr (inference).
template <class T, int V, bool kResidual>
__global__ void __launch_bounds__(kLayerNormThreads)
    layernorm_forward_kernel(const T* a, const T* b, const T* gamma, const T* beta, T* sum_out, T* y,
                             compute_t<T>* mean, compute_t<T>* rstd, int64_t rows, int64_t d, compute_t<T> eps) {
    using A = compute_t<T>;
    const int lane = int(threadIdx.x % 32);
    const int64_t nvec = d / V;
    for (int64_t r = int64_t(blockIdx.x) * kLayerNormRowsPerBlock + threadIdx.x / 32; r < rows;
         r += int64_t(gridDim.x) * kLayerNormRowsPerBlock) {
        const T* ar = a + r * d;
        // With the residual, passes two and three read back what this same lane wrote in pass one.
        const T* xr = kResidual ? sum_out + r * d : ar;

        A s = 0;
        for (int64_t i = lane; i < nvec; i += 32) {
            Pack<T, V> p = load_pack<V>(ar, i);
            if constexpr (kResidual) {
                const Pack<T, V> q = load_pack<V>(b + r * d, i);
                for (int k = 0; k < V; ++k) p.v[k] = p.v[k] + q.v[k];
                store_pack<V>(sum_out + r * d, i, p);
            }
            for (int k = 0; k < V; ++k) s += A(p.v[k]);
        }
        const A mu = warp_sum(s) / A(d);

        A var = 0;
        for (int64_t i = lane; i < nvec; i += 32) {
            const Pack<T, V> p = load_pack<V>(xr, i);
            for (int k = 0; k < V; ++k) {
                const A c = A(p.v[k]) - mu;
                var += c * c;
            }
        }
        const A rs = A(1) / math_sqrt(warp_sum(var) / A(d) + eps);

        for (int64_t i = lane; i < nvec; i += 32) {
            const Pack<T, V> p = load_pack<V>(xr, i), g = load_pack<V>(gamma, i), bt = load_pack<V>(beta, i);
            Pack<T, V> q;
            // In compute_t (the CPU's arithmetic: float for float and bf16), rounded to T once.
            using C = compute_t<T>;
            for (int k = 0; k < V; ++k) q.v[k] = T(C((A(p.v[k]) - mu) * rs) * C(g.v[k]) + C(bt.v[k]));
            store_pack<V>(y + r * d, i, q);
        }
        if (lane == 0) {
            if (mean) mean[r] = compute_t<T>(mu);
            if (rstd) rstd[r] = compute_t<T>(rs);
        }
    }
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * gamma, xhat = (x - mean) * rstd.
template <class T, int V>
__global__ void __launch_bounds__(kLayerNormThreads)
    layernorm_backward_dx_kernel(const T* x, const T* gamma, const compute_t<T>* mean, const compute_t<T>* rstd,
                                 const T* dy, T* dx, int64_t rows, int64_t d) {
    using A = compute_t<T>;
    const int lane = int(threadIdx.x % 32);
    const int64_t nvec = d / V;
    for (int64_t r = int64_t(blockIdx.x) * kLayerNormRowsPerBlock + threadIdx.x / 32; r < rows;
         r += int64_t(gridDim.x) * kLayerNormRowsPerBlock) {
        const T* xr = x + r * d;
        const T* dyr = dy + r * d;
        const A mu = A(mean[r]), rs = A(rstd[r]);

        A sg = 0, sgx = 0;
        for (int64_t i = lane; i < nvec; i += 32) {
            const Pack<T, V> px = load_pack<V>(xr, i), pd = load_pack<V>(dyr, i), pg = load_pack<V>(gamma, i);
            for (int k = 0; k < V; ++k) {
                const A xhat = (A(px.v[k]) - mu) * rs;
                const A g = A(pd.v[k]) * A(pg.v[k]);
                sg += g;
                sgx += g * xhat;
            }
        }
        sg = warp_sum(sg) / A(d);
        sgx = warp_sum(sgx) / A(d);

        for (int64_t i = lane; i < nvec; i += 32) {
            const Pack<T, V> px = load_pack<V>(xr, i), pd = load_pack<V>(dyr, i), pg = load_pack<V>(gamma, i);
            Pack<T, V> q;
            for (int k = 0; k < V; ++k) {
                const A xhat = (A(px.v[k]) - mu) * rs;
                const A g = A(pd.v[k]) * A(pg.v[k]);
                q.v[k] = T(rs * (g - sg - xhat * sgx));
            }
            store_pack<V>(dx + r * d, i, q);
        }
    }
}

// The per-element terms of dgamma and dbeta: dy * xhat and dy.
template <class T>
struct LayerNormParamGrads {
    const T* x;
    const T* dy;
    const compute_t<T>* mean;
    const compute_t<T>* rstd;
    int64_t d;
    __device__ void operator()(int64_t r, int64_t j, compute_t<T> (&v)[2]) const {
        using A = compute_t<T>;
        const A g = A(dy[r * d + j]);
        v[0] = g * ((A(x[r * d + j]) - A(mean[r])) * A(rstd[r]));
        v[1] = g;
    }
};

}  // namespace temper::kernels
