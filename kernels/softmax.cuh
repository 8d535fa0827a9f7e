// Fused scale + key mask + softmax over the last dimension (attention scores), and its backward; the GPU
// twin of cpu/softmax.hpp with the same arguments. Row r uses mask row r / rows_per_batch; masked keys take
// the lowest finite value, so a fully masked row comes out uniform, never NaN.
//
// One warp per row, 8 rows per 256-thread block, rows grid-strided. The forward reads the row once for the
// running max and sum (online softmax: when the max grows, the sum so far is rescaled by exp(old - new)),
// then again to write exp(v - max) / sum; a row of a few KB is still in L1/L2 for the second read, so DRAM
// sees about one read and one write. Loads are 16-byte packs when cols is a multiple of the pack and the
// pointers are aligned, scalar otherwise; any cols works. Sums run in a fixed lane order: deterministic.
#pragma once

#include <cstdint>

#include "common.cuh"

namespace temper::kernels {

constexpr int kSoftmaxThreads = 256;
constexpr int kSoftmaxRowsPerBlock = kSoftmaxThreads / 32;

// Element j before the exponential: scale * x, or the lowest finite value where key j is masked. In the
// compute type (float for bf16), like all the arithmetic here: outputs are rounded to T once.
template <class T>
__device__ __forceinline__ compute_t<T> masked_scaled(T x, const int64_t* mr, int64_t j, T scale) {
    using C = compute_t<T>;
    return (mr && mr[j] == 0) ? lowest<C>() : C(x) * C(scale);
}

// V = 1 (scalar) or kPack<T> (then cols % V == 0 and x, y are 16-byte aligned). x and y may alias.
template <class T, int V>
__global__ void __launch_bounds__(kSoftmaxThreads)
    masked_softmax_forward_kernel(const T* x, T* y, const int64_t* mask, int64_t rows, int64_t cols,
                                  int64_t rows_per_batch, T scale) {
    using A = compute_t<T>;
    const int lane = int(threadIdx.x % 32);
    const int64_t nvec = cols / V;
    for (int64_t r = int64_t(blockIdx.x) * kSoftmaxRowsPerBlock + threadIdx.x / 32; r < rows;
         r += int64_t(gridDim.x) * kSoftmaxRowsPerBlock) {
        const T* xr = x + r * cols;
        T* yr = y + r * cols;
        const int64_t* mr = mask ? mask + (r / rows_per_batch) * cols : nullptr;

        // Running max m and sum of exp(v - m) over this lane's elements. m starts at the lowest finite
        // value (not -inf) so that m - v is never inf - inf.
        A m = lowest<A>(), sum = 0;
        for (int64_t i = lane; i < nvec; i += 32) {
            const Pack<T, V> p = load_pack<V>(xr, i);
            for (int k = 0; k < V; ++k) {
                const A v = masked_scaled(p.v[k], mr, i * V + k, scale);
                // One exponential per element, exp(-|v - m|): two calls made ptxas spill the double version.
                const A e = math_exp(v > m ? m - v : v - m);
                if (v > m) {
                    sum = sum * e + A(1);
                    m = v;
                } else {
                    sum += e;
                }
            }
        }
        // Merge the lanes' (max, sum) pairs, then take lane 0's result so every lane divides by the same
        // bits (a contracted multiply-add need not be symmetric between butterfly partners).
        for (int o = 16; o > 0; o >>= 1) {
            const A m2 = __shfl_xor_sync(0xffffffffu, m, o);
            const A s2 = __shfl_xor_sync(0xffffffffu, sum, o);
            const A mx = m > m2 ? m : m2;
            sum = sum * math_exp(m - mx) + s2 * math_exp(m2 - mx);
            m = mx;
        }
        m = __shfl_sync(0xffffffffu, m, 0);
        sum = __shfl_sync(0xffffffffu, sum, 0);

        using C = compute_t<T>;
        const C inv = C(A(1) / sum);  // sum >= 1: the max element contributes exp(0)
        for (int64_t i = lane; i < nvec; i += 32) {
            const Pack<T, V> p = load_pack<V>(xr, i);
            Pack<T, V> q;
            for (int k = 0; k < V; ++k)
                q.v[k] = T(C(math_exp(A(masked_scaled(p.v[k], mr, i * V + k, scale)) - m)) * inv);
            store_pack<V>(yr, i, q);
        }
    }
}

// dx = scale * y * (dy - sum(dy * y)), 0 at masked keys. dy and dx may alias.
template <class T, int V>
__global__ void __launch_bounds__(kSoftmaxThreads)
    masked_softmax_backward_kernel(const T* y, const T* dy, T* dx, const int64_t* mask, int64_t rows, int64_t cols,
                                   int64_t rows_per_batch, T scale) {
    using A = compute_t<T>;
    const int lane = int(threadIdx.x % 32);
    const int64_t nvec = cols / V;
    for (int64_t r = int64_t(blockIdx.x) * kSoftmaxRowsPerBlock + threadIdx.x / 32; r < rows;
         r += int64_t(gridDim.x) * kSoftmaxRowsPerBlock) {
        const T* yr = y + r * cols;
        const T* dyr = dy + r * cols;
        T* dxr = dx + r * cols;
        const int64_t* mr = mask ? mask + (r / rows_per_batch) * cols : nullptr;

        A dot = 0;
        for (int64_t i = lane; i < nvec; i += 32) {
            const Pack<T, V> py = load_pack<V>(yr, i), pd = load_pack<V>(dyr, i);
            for (int k = 0; k < V; ++k) dot += A(pd.v[k]) * A(py.v[k]);
        }
        using C = compute_t<T>;
        const C tdot = C(warp_sum(dot));  // identical on every lane (warp_sum only adds)

        for (int64_t i = lane; i < nvec; i += 32) {
            const Pack<T, V> py = load_pack<V>(yr, i), pd = load_pack<V>(dyr, i);
            Pack<T, V> q;
            for (int k = 0; k < V; ++k) {
                const int64_t j = i * V + k;
                q.v[k] = (mr && mr[j] == 0) ? T(0) : T(C(scale) * C(py.v[k]) * (C(pd.v[k]) - tdot));
            }
            store_pack<V>(dxr, i, q);
        }
    }
}

}  // namespace temper::kernels
