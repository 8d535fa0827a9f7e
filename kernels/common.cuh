// Device helpers shared by the kernel families: float/double math overloads, 16-byte vector loads, warp and block sums,
// a 2-D row/column launch shape, and a deterministic column reduction (bias and LayerNorm parameter gradients, the
// backward of broadcasting).
//
// Determinism: no reduction here uses atomics. Every sum runs in an order fixed by the problem's shape
// alone (not by timing, SM count or device), so the same inputs give the same bits on every run and GPU.
#pragma once

#include <cfloat>
#include <cstdint>

#include "memory.cuh"

namespace temper::kernels {

// Reductions accumulate in compute_t<T>: float for float and bf16, double for double. The CPU reference sums
// in wide_t (double); the difference is O(1e-7) relative, well inside the tests' 1e-5.

// The most negative finite value (what masked attention scores become; also the start of a running max).
template <class T>
__host__ __device__ constexpr T lowest() {
    if constexpr (std::is_same_v<T, bf16>)
        return T::from_bits(0xFF7F);  // -FLT_MAX would round to -inf
    else if constexpr (sizeof(T) == sizeof(double))
        return T(-DBL_MAX);
    else
        return T(-FLT_MAX);
}

// Full-precision math (expf/erff, not the __expf intrinsics) so results track the CPU's std:: functions.
__device__ __forceinline__ float math_exp(float x) { return expf(x); }
__device__ __forceinline__ double math_exp(double x) { return exp(x); }
__device__ __forceinline__ float math_erf(float x) { return erff(x); }
__device__ __forceinline__ double math_erf(double x) { return erf(x); }
__device__ __forceinline__ float math_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double math_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float math_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double math_sqrt(double x) { return sqrt(x); }

// V elements loaded or stored as one instruction: 16 bytes (4 floats, 2 doubles) when V = kPack<T>.
template <class T, int V>
struct alignas(sizeof(T) * V) Pack {
    T v[V];
};
template <class T>
constexpr int kPack = int(16 / sizeof(T));

// Pack i of p (elements i*V .. i*V+V-1); p must be aligned to the pack size.
template <int V, class T>
__device__ __forceinline__ Pack<T, V> load_pack(const T* p, int64_t i) {
    return reinterpret_cast<const Pack<T, V>*>(p)[i];
}
template <int V, class T>
__device__ __forceinline__ void store_pack(T* p, int64_t i, const Pack<T, V>& v) {
    reinterpret_cast<Pack<T, V>*>(p)[i] = v;
}

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Sum over the 32 lanes of a warp (all lanes active), the same bits on every lane: the butterfly adds the
// same two values on both partners and addition commutes.
template <class A>
__device__ __forceinline__ A warp_sum(A v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Sum over a 1-D block whose size is a multiple of 32 (at most 1024); the result is valid on thread 0
// only. Warp totals are added in warp order. Every thread of the block must call it (it has barriers); the
// closing barrier lets a kernel call it again.
template <class A>
__device__ __forceinline__ A block_sum(A v) {
    __shared__ A warp_totals[32];
    v = warp_sum(v);
    if (threadIdx.x % 32 == 0) warp_totals[threadIdx.x / 32] = v;
    __syncthreads();
    A s = 0;
    if (threadIdx.x == 0)
        for (unsigned w = 0; w < blockDim.x / 32; ++w) s += warp_totals[w];
    __syncthreads();
    return s;
}

// A [rows, cols] loop as a 2-D grid: x walks columns (coalesced), y walks rows, both grid-strided, so no
// per-element division. Narrow rows get several rows per block instead of idle threads.
struct RowColGrid {
    dim3 grid, block;
};
inline RowColGrid rowcol_grid(int64_t rows, int64_t cols) {
    int64_t tx = cols >= 256 ? 256 : (cols + 31) / 32 * 32;
    if (tx < 32) tx = 32;
    int64_t ty = 256 / tx;
    int64_t gx = (cols + tx - 1) / tx, gy = (rows + ty - 1) / ty;
    gx = gx < 1 ? 1 : (gx > 0x7fffffff ? 0x7fffffff : gx);
    gy = gy < 1 ? 1 : (gy > 65535 ? 65535 : gy);
    return {dim3(unsigned(gx), unsigned(gy)), dim3(unsigned(tx), unsigned(ty))};
}

// Calls f(r, j) for every element of a [rows, cols] loop launched with rowcol_grid.
template <class F>
__device__ __forceinline__ void for_each_row_col(int64_t rows, int64_t cols, F&& f) {
    for (int64_t r = int64_t(blockIdx.y) * blockDim.y + threadIdx.y; r < rows; r += int64_t(gridDim.y) * blockDim.y)
        for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < cols; j += int64_t(gridDim.x) * blockDim.x)
            f(r, j);
}

// ---- Deterministic column sums: out_k[j] = sum over r of f(r, j)[k], k < K (K = 1 or 2) -------------------
//
// Pass 1: a 32 x 8 block owns 32 columns of one chunk of rows. Each thread walks rows ty, ty + 8, ... of
// its chunk for its column (a warp reads 32 consecutive elements of one row: coalesced), then thread
// ty = 0 adds the 8 row lanes in order and writes partial[k][chunk][j]. Pass 2 adds the chunks in order.

constexpr int kColTile = 32, kColLanes = 8;

// Row chunks: at least 64 rows each, at most 32 chunks. Depends on the shape only (see Determinism).
inline int64_t column_chunks(int64_t rows) {
    int64_t p = (rows + 63) / 64;
    return p < 1 ? 1 : (p > 32 ? 32 : p);
}

template <int K, class A, class F>
__global__ void __launch_bounds__(kColTile* kColLanes)
    column_partials_kernel(F f, int64_t rows, int64_t cols, int64_t chunk_rows, A* partial) {
    __shared__ A lanes[K][kColLanes][kColTile];
    const int tx = int(threadIdx.x), ty = int(threadIdx.y);
    const int64_t j = int64_t(blockIdx.x) * kColTile + tx;
    const int64_t r0 = int64_t(blockIdx.y) * chunk_rows;
    const int64_t r1 = r0 + chunk_rows < rows ? r0 + chunk_rows : rows;
    A acc[K];
    for (int k = 0; k < K; ++k) acc[k] = 0;
    if (j < cols) {
        for (int64_t r = r0 + ty; r < r1; r += kColLanes) {
            A v[K];
            f(r, j, v);
            for (int k = 0; k < K; ++k) acc[k] += v[k];
        }
    }
    for (int k = 0; k < K; ++k) lanes[k][ty][tx] = acc[k];
    __syncthreads();
    if (ty == 0 && j < cols) {
        for (int k = 0; k < K; ++k) {
            A s = lanes[k][0][tx];
            for (int t = 1; t < kColLanes; ++t) s += lanes[k][t][tx];
            partial[(int64_t(k) * gridDim.y + blockIdx.y) * cols + j] = s;
        }
    }
}

template <int K, class A, class T>
__global__ void column_finalize_kernel(const A* partial, int64_t chunks, int64_t cols, T* out0, T* out1) {
    for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < cols; j += int64_t(gridDim.x) * blockDim.x) {
        for (int k = 0; k < K; ++k) {
            A s = 0;
            for (int64_t p = 0; p < chunks; ++p) s += partial[(k * chunks + p) * cols + j];
            (k == 0 ? out0 : out1)[j] = T(s);
        }
    }
}

}  // namespace temper::kernels
