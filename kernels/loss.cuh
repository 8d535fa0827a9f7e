// Losses fused with their gradients, the GPU twins of cpu/loss.hpp: bce_with_logits (mean over all
// elements, optional pos_weight per label) and cross_entropy (log-softmax with max subtraction, mean over
// the rows whose label is not ignore_index).
//
// BCE: one grid-strided pass reads x and y once and writes both the loss terms and dx. Each block adds its
// threads' terms (in double, whatever T is) in a fixed order into one partial; a second one-block kernel
// adds the partials in order and divides by n. The grid size depends on n only, so the loss has the same
// bits on every run and every GPU. The label column for pos_weight advances by (stride % c) per step
// instead of a 64-bit division per element.
//
// Cross-entropy: one warp per row (8 rows per block): max, sum of exp (in double), lse = max + log(sum),
// then dx = (softmax - onehot) * dloss / count, where count (non-ignored rows) comes from a small kernel
// that runs first. Row losses go to scratch and one block adds them in row order.
//
// Per-element math runs in T (expf/log1pf for float, full precision); sums accumulate in double. The CPU
// computes every element in double, so float results agree to ~1e-7 relative, double ones to ~1e-15.
#pragma once

#include <cmath>
#include <cstdint>

#include "common.cuh"

namespace temper::kernels {

constexpr int kLossThreads = 256;
constexpr int kLossMaxBlocks = 1024;  // partials of the BCE loss: at most this many, then grid-stride
constexpr int kCrossEntropyRowsPerBlock = kLossThreads / 32;

template <class T>
__device__ __forceinline__ T loss_log1p(T x) {
    if constexpr (sizeof(T) == sizeof(float))
        return log1pf(x);
    else
        return log1p(x);
}

// Elementwise BCE over n = rows * c elements. partial (nullable): one loss sum per block. dx (nullable):
// the gradient times (dloss ? *dloss : 1) / n. pw (nullable): pos_weight [c].
// Float: 8 blocks per SM (at most 32 registers), so that all kLossMaxBlocks blocks are resident at once on
// an H100 (132 SMs x 8) and no second, partial wave trails the pass. Double would spill at 32.
template <class T>
__global__ void __launch_bounds__(kLossThreads, sizeof(T) == sizeof(float) ? 8 : 4)
    bce_kernel(const T* __restrict__ x, const T* __restrict__ y, const T* __restrict__ pw, int64_t n, int64_t c,
               const T* dloss, T* __restrict__ dx, double* __restrict__ partial) {
    const int64_t stride = int64_t(gridDim.x) * kLossThreads;
    int64_t i = int64_t(blockIdx.x) * kLossThreads + threadIdx.x;
    int64_t col = pw ? i % c : 0;  // label index of element i
    const int64_t col_step = pw ? stride % c : 0;
    const double scale = (dloss ? double(*dloss) : 1.0) / double(n);
    double sum = 0;
    for (; i < n; i += stride) {
        const T xi = x[i], yi = y[i];
        // weight of the positive term: 1 + (p - 1) y, or 1 without pos_weight
        const T wpos = pw ? T(1) + (pw[col] - T(1)) * yi : T(1);
        if (partial) {
            // (1-y) x + w * softplus(-x), softplus(-x) = log(1 + e^-|x|) + max(-x, 0), stable for any x
            const T softplus_neg = loss_log1p(math_exp(-fabs(xi))) + (xi < T(0) ? -xi : T(0));
            sum += double((T(1) - yi) * xi + wpos * softplus_neg);
        }
        if (dx) {
            const T sig = T(1) / (T(1) + math_exp(-xi));
            // d/dx = (1 - y) + w (sigma - 1), which is sigma - y when w = 1
            const T d = pw ? (T(1) - yi) + wpos * (sig - T(1)) : sig - yi;
            dx[i] = T(double(d) * scale);
        }
        if (pw) {
            col += col_step;
            if (col >= c) col -= c;
        }
    }
    if (partial) {
        sum = block_sum(sum);
        if (threadIdx.x == 0) partial[blockIdx.x] = sum;
    }
}

// *out = T(sum of partial[0..parts) / divisor), divisor = *count if count else n. One block; fixed order.
template <class T>
__global__ void __launch_bounds__(kLossThreads)
    mean_finish_kernel(const double* partial, int64_t parts, double n, const double* count, T* out) {
    double s = 0;
    for (int64_t k = threadIdx.x; k < parts; k += kLossThreads) s += partial[k];
    s = block_sum(s);
    if (threadIdx.x == 0) *out = T(s / (count ? *count : n));
}

__device__ __forceinline__ bool ce_valid(int64_t label, int64_t C, int64_t ignore_index) {
    return label != ignore_index && label >= 0 && label < C;
}

// *count = number of rows with a valid label (labels outside [0, C) count as ignored). One block.
// T is unused: a template, so that this header can be in several translation units of one program (a plain
// __global__ function would be defined in each).
template <class T>
__global__ void __launch_bounds__(kLossThreads)
    ce_count_kernel(const int64_t* labels, int64_t B, int64_t C, int64_t ignore_index, double* count) {
    double k = 0;
    for (int64_t b = threadIdx.x; b < B; b += kLossThreads) k += ce_valid(labels[b], C, ignore_index) ? 1.0 : 0.0;
    k = block_sum(k);
    if (threadIdx.x == 0) *count = k;
}

// One warp per row. row_loss (nullable): lse - x[label], 0 for ignored rows. dx (nullable): (softmax -
// onehot) * (dloss ? *dloss : 1) / *count, 0 for ignored rows.
template <class T>
__global__ void __launch_bounds__(kLossThreads)
    ce_rows_kernel(const T* __restrict__ logits, const int64_t* __restrict__ labels, int64_t B, int64_t C,
                   int64_t ignore_index, const double* count, const T* dloss, double* __restrict__ row_loss,
                   T* __restrict__ dx) {
    const int lane = int(threadIdx.x) % 32;
    for (int64_t row = int64_t(blockIdx.x) * kCrossEntropyRowsPerBlock + threadIdx.x / 32; row < B;
         row += int64_t(gridDim.x) * kCrossEntropyRowsPerBlock) {
        const T* xr = logits + row * C;
        const int64_t label = labels[row];
        const bool valid = ce_valid(label, C, ignore_index);
        T mx = T(-INFINITY);
        for (int64_t j = lane; j < C; j += 32) mx = mx < xr[j] ? xr[j] : mx;
        for (int o = 16; o > 0; o >>= 1) {
            const T other = __shfl_xor_sync(0xffffffffu, mx, o);
            mx = mx < other ? other : mx;
        }
        double s = 0;
        for (int64_t j = lane; j < C; j += 32) s += double(math_exp(xr[j] - mx));
        s = warp_sum(s);
        const double lse = double(mx) + log(s);
        if (row_loss && lane == 0) row_loss[row] = valid ? lse - double(xr[label]) : 0.0;
        if (dx) {
            T* dr = dx + row * C;
            if (!valid) {
                for (int64_t j = lane; j < C; j += 32) dr[j] = T(0);
            } else {
                const double scale = (dloss ? double(*dloss) : 1.0) / *count;
                for (int64_t j = lane; j < C; j += 32) {
                    const T p = math_exp(T(double(xr[j]) - lse));
                    dr[j] = T((double(p) - (j == label ? 1.0 : 0.0)) * scale);
                }
            }
        }
    }
}

}  // namespace temper::kernels
