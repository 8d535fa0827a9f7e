// Embedding gather (forward) and scatter-add of rows (backward), the GPU twin of cpu/embedding.hpp.
//
// Forward: one block per token (grid-strided), threads across the row: out[t] = weight[ids[t]].
//
// Backward, deterministic without float atomics: each block OWNS a range of at most 64 vocabulary rows
// (and a slice of the columns when a row is too wide for shared memory) and scans all the ids in order,
// 256 at a time. The ids that fall in its range are compacted in token order (warp ballots + a prefix over
// the 8 warps), and each thread adds the matching rows of dout, for the columns it owns, into a shared-memory
// accumulator: every sum runs in token order, like the CPU's loop, so the result is the CPU's bit for bit
// when dweight starts at zero. At the end the block adds the rows it touched to dweight (rows no token
// hit are not read or written). The price is that every block reads all the ids (n_ids * 8 bytes each, from
// L2); rows per block are chosen so that there are about 1024 blocks at most.
#pragma once

#include <cstdint>

#include "memory.cuh"

namespace temper::kernels {

constexpr int kEmbedThreads = 256;
constexpr int kEmbedMaxRows = 64;              // rows per block: one bit each in a 64-bit mask
constexpr int64_t kEmbedAccBytes = 40 * 1024;  // shared accumulator (+ 2 KB of id lists < 48 KB)

// Ids outside [0, V) give a zero row (the caller validates ids; this only keeps memory safe).
template <class T>
__global__ void __launch_bounds__(kEmbedThreads)
    embedding_forward_kernel(const T* __restrict__ weight, const int64_t* __restrict__ ids, T* __restrict__ out,
                             int64_t n_ids, int64_t V, int64_t D) {
    for (int64_t t = blockIdx.x; t < n_ids; t += gridDim.x) {
        const int64_t id = ids[t];
        const bool ok = id >= 0 && id < V;
        for (int64_t j = threadIdx.x; j < D; j += kEmbedThreads) out[t * D + j] = ok ? weight[id * D + j] : T(0);
    }
}

// Block (bx, by) owns rows [bx*rows, bx*rows + rows) and columns [by*cols, by*cols + cols) of dweight.
// Dynamic shared memory: rows * cols accumulators of compute_t<T> (float for bf16: sums are rounded once).
template <class T>
__global__ void __launch_bounds__(kEmbedThreads)
    embedding_backward_kernel(const T* __restrict__ dout, const int64_t* __restrict__ ids, T* __restrict__ dweight,
                              int64_t n_ids, int64_t V, int64_t D, int64_t padding_idx, int rows, int64_t cols) {
    TEMPER_DYNAMIC_SMEM(embed_smem);
    using C = compute_t<T>;
    C* acc = reinterpret_cast<C*>(embed_smem);  // [rows][cols]
    __shared__ int match_pos[kEmbedThreads];    // tile-local token index of the k-th match, in token order
    __shared__ int match_row[kEmbedThreads];    // its row, relative to r0
    __shared__ int warp_hits[kEmbedThreads / 32];

    const int tid = int(threadIdx.x), lane = tid % 32, warp = tid / 32;
    const int64_t r0 = int64_t(blockIdx.x) * rows;
    const int64_t r1 = r0 + rows < V ? r0 + rows : V;
    const int64_t c0 = int64_t(blockIdx.y) * cols;
    const int64_t nc = c0 + cols < D ? cols : D - c0;  // columns of this block

    for (int r = 0; r < rows; ++r)
        for (int64_t j = tid; j < nc; j += kEmbedThreads) acc[r * nc + j] = C(0);
    uint64_t touched = 0;  // the same on every thread: all threads see the same matches

    for (int64_t start = 0; start < n_ids; start += kEmbedThreads) {
        const int64_t t = start + tid;
        const int64_t id = t < n_ids ? ids[t] : -1;
        const bool hit = t < n_ids && id >= r0 && id < r1 && id != padding_idx;
        const unsigned ballot = __ballot_sync(0xffffffffu, hit);
        if (lane == 0) warp_hits[warp] = __popc(ballot);
        __syncthreads();
        int before = 0, total = 0;
        for (int w = 0; w < kEmbedThreads / 32; ++w) {
            before += w < warp ? warp_hits[w] : 0;
            total += warp_hits[w];
        }
        if (hit) {
            const int k = before + __popc(ballot & ((1u << lane) - 1u));
            match_pos[k] = tid;
            match_row[k] = int(id - r0);
        }
        __syncthreads();
        for (int k = 0; k < total; ++k) touched |= uint64_t(1) << match_row[k];
        // Per column the matches are added in token order; the loads of different matches are independent.
        for (int64_t j = tid; j < nc; j += kEmbedThreads) {
            const T* src = dout + start * D + c0 + j;
#pragma unroll 4
            for (int k = 0; k < total; ++k) acc[match_row[k] * nc + j] += C(src[int64_t(match_pos[k]) * D]);
        }
        __syncthreads();  // before the next tile overwrites the match lists
    }

    for (int r = 0; r < rows; ++r) {
        if (!((touched >> r) & 1)) continue;
        T* dst = dweight + (r0 + r) * D + c0;
        for (int64_t j = tid; j < nc; j += kEmbedThreads) dst[j] = T(C(dst[j]) + acc[r * nc + j]);
    }
}

}  // namespace temper::kernels
