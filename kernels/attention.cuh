// Fused multi-head self-attention for head dim 64, flash-style: out = dropout(softmax(mask(scale·q·kᵀ)))·v
// without the S×S matrix in global memory, and its backward (FlashAttention-2: recompute P from q, k and
// the saved logsumexp). The GPU twin of the unfused path of nn::MultiHeadSelfAttention (GEMM, masked
// softmax, dropout, GEMM), with its exact semantics:
//   - masked keys (key_mask[b, j] == 0) score the lowest finite value, so a partially masked row gives them
//     weight 0 and a fully masked row is uniform 1/S over all keys (HF). Their score gradient is 0 (the
//     backward of masked_fill), so a fully masked batch item gets dq = dk = 0 and only dv.
//   - dropout on the weights with the unfused path's Philox indices: element (b, h, i, j) of [B, H, S, S]
//     is kept iff philox_uniform(seed, offset, ((b·H + h)·S + i)·S + j) >= float(p), scaled by 1/(1-p).
//
// All kernels run 128 threads as an 8 x 16 grid; thread (r, c) owns the 4 x 4 micro-tile rows r + 8a,
// columns c + 16b (a, b < 4) of a 32 x 64 tile: rows are what the block owns (queries, or keys for dk/dv),
// columns the 64 keys / queries of the current step, or the 64 head dims of an accumulator. A row's 16
// owners are one half-warp, so row max and sum are 4-step shuffles. Sums run in a fixed order (no
// atomics anywhere): the same bits on every run. fp32 CUDA-core math (fp64 for double); tensor cores and
// bf16 are a follow-up (docs/kernels.md).
#pragma once

#include <cstdint>

#include "common.cuh"
#include "temper/core/random.hpp"

namespace temper::kernels {

constexpr int kAttnD = 64;                // head dim, the only one supported
constexpr int kAttnRows = 32;             // rows a block owns
constexpr int kAttnCols = 64;             // rows of the other operand per loop step
constexpr int kAttnThreads = 128;         // 8 x 16 threads, a 4 x 4 micro-tile each
constexpr int kAttnLd = kAttnD + 1;       // operand row stride: odd, so 16 different rows hit 16 banks
constexpr int kAttnLdP = kAttnCols + 16;  // P / dS row stride: a warp's rows r, r+1 land 16 banks apart
static_assert(kAttnD == 64 && kAttnCols == 64 && kAttnRows == 32 && kAttnThreads == 128,
              "the 8 x 16 thread grid with 4 x 4 micro-tiles covers exactly 32 x 64");

__device__ __forceinline__ float attn_log(float x) { return logf(x); }
__device__ __forceinline__ double attn_log(double x) { return log(x); }

// Max / sum over the 16 lanes of a half-warp (the owners of one row); every lane gets the same bits.
template <class A>
__device__ __forceinline__ A row_max16(A v) {
#pragma unroll
    for (int o = 8; o > 0; o >>= 1) {
        const A w = __shfl_xor_sync(0xffffffffu, v, o);
        v = w > v ? w : v;
    }
    return v;
}
template <class A>
__device__ __forceinline__ A row_sum16(A v) {
#pragma unroll
    for (int o = 8; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Rows row0 .. row0+ROWS-1 of a [S, 64] matrix into shared memory (stride kAttnLd), zeros past S so that
// the products below never read stale (possibly NaN) shared memory. Coalesced: a warp reads 32 consecutive
// elements of one row.
template <int ROWS, class T>
__device__ __forceinline__ void attn_load_tile(T* dst, const T* src, int64_t row0, int64_t S) {
    for (int idx = int(threadIdx.x); idx < ROWS * kAttnD; idx += kAttnThreads) {
        const int rr = idx / kAttnD, d = idx % kAttnD;
        dst[rr * kAttnLd + d] = row0 + rr < S ? src[(row0 + rr) * kAttnD + d] : T(0);
    }
}

// acc[a][b] += Σ_d X[r + 8a][d] · Y[c + 16b][d]  (X·Yᵀ over the head dim; both tiles stride kAttnLd).
// X reads are two addresses per warp (rows r, r+1: banks 1 apart), Y reads 16 rows on 16 banks, each
// address shared by both half-warps (broadcast): conflict-free.
template <class A, class T>
__device__ __forceinline__ void attn_tile_abt(A (&acc)[4][4], const T* X, const T* Y, int r, int c) {
#pragma unroll 16
    for (int d = 0; d < kAttnD; ++d) {
        A x[4], y[4];
#pragma unroll
        for (int a = 0; a < 4; ++a) x[a] = A(X[(r + 8 * a) * kAttnLd + d]);
#pragma unroll
        for (int b = 0; b < 4; ++b) y[b] = A(Y[(c + 16 * b) * kAttnLd + d]);
#pragma unroll
        for (int a = 0; a < 4; ++a)
#pragma unroll
            for (int b = 0; b < 4; ++b) acc[a][b] += x[a] * y[b];
    }
}

// acc[a][d] += Σ_j P[r + 8a][j] · Y[j][c + 16d]  (P·Y: P is a 32 x 64 tile with stride kAttnLdP, Y a
// 64 x 64 tile with stride kAttnLd). Rows of Y past S are zero and so are their P entries.
template <class A, class T>
__device__ __forceinline__ void attn_tile_ab(A (&acc)[4][4], const T* P, const T* Y, int r, int c) {
#pragma unroll 16
    for (int j = 0; j < kAttnCols; ++j) {
        A p[4], y[4];
#pragma unroll
        for (int a = 0; a < 4; ++a) p[a] = A(P[(r + 8 * a) * kAttnLdP + j]);
#pragma unroll
        for (int b = 0; b < 4; ++b) y[b] = A(Y[j * kAttnLd + c + 16 * b]);
#pragma unroll
        for (int a = 0; a < 4; ++a)
#pragma unroll
            for (int b = 0; b < 4; ++b) acc[a][b] += p[a] * y[b];
    }
}

// 1 when batch item b has at least one unmasked key (or there is no mask). Every thread must call it.
__device__ __forceinline__ int attn_any_key(const int64_t* mr, int64_t S) {
    if (!mr) return 1;
    int mine = 0;
    for (int64_t j = threadIdx.x; j < S; j += kAttnThreads) mine |= mr[j] != 0;
    return __syncthreads_or(mine);
}

// Dropout keep bit of weight (i, j) of head bh: the unfused path's flat index into [B, H, S, S].
// philox_uniform(seed, offset, idx), with the word picked by selects rather than a dynamic index into the
// block's array (which would live in local memory).
__device__ __forceinline__ bool attn_keep(uint64_t seed, uint64_t offset, int64_t bh, int64_t S, int64_t i, int64_t j,
                                          float threshold) {
    const uint64_t idx = uint64_t((bh * S + i) * S + j);
    const Philox4 r = philox4x32(offset + idx / 4, seed);
    const unsigned w = unsigned(idx % 4);
    const uint32_t u = w == 0 ? r.x[0] : w == 1 ? r.x[1] : w == 2 ? r.x[2] : r.x[3];
    return u32_to_unit(u) >= threshold;
}

// The arguments every kernel shares. Masked keys score the lowest finite value, or 0 when the whole batch
// item is masked (attn_any_key): that row's scores are all equal either way (uniform P), and 0 keeps
// lse = log(S) exact enough for the backward's exp(s - lse) (lowest + log S would round to lowest).
template <class T>
struct AttnArgs {
    const T *q, *k, *v;
    const int64_t* mask;  // [B, S] or nullptr
    int64_t H, S;
    T scale;
    bool dropout;
    float threshold;          // float(p), as the CPU compares
    compute_t<T> drop_scale;  // 1 / (1 - p) in compute_t<T> (float for bf16), as the CPU's dropout scales
    uint64_t seed, offset;
    const uint64_t* philox_base;  // {seed, offset base} in device memory (PhiloxPosition), or nullptr
};

// The kernels' first step: the Philox position from device memory when the launch points there.
template <class T>
__device__ __forceinline__ void resolve_philox(AttnArgs<T>& g) {
    if (g.philox_base) {
        g.seed = g.philox_base[0];
        g.offset += g.philox_base[1];
    }
}

// Forward. Block (bh, query tile): Q tile in shared memory for the whole loop; per 64-key tile, S = Q·Kᵀ in
// registers, the online softmax update of each row's max m and sum l (rescaling the output accumulator by
// exp(m_old - m_new)), the dropped P' to shared memory, then O += P'·V. Writes O / l and lse = m + log l.
// Dynamic shared memory: Q [32][65], K, V [64][65], P [32][80].
template <class T>
__global__ void __launch_bounds__(kAttnThreads)
    attention_forward_kernel(AttnArgs<T> g, T* __restrict__ out, compute_t<T>* __restrict__ lse) {
    using A = compute_t<T>;
    resolve_philox(g);
    TEMPER_DYNAMIC_SMEM(attn_smem);
    T* Qs = reinterpret_cast<T*>(attn_smem);
    T* Ks = Qs + kAttnRows * kAttnLd;
    T* Vs = Ks + kAttnCols * kAttnLd;
    T* Ps = Vs + kAttnCols * kAttnLd;

    const int r = int(threadIdx.x) / 16, c = int(threadIdx.x) % 16;
    const int64_t S = g.S, bh = blockIdx.x, i0 = int64_t(blockIdx.y) * kAttnRows;
    const int64_t* mr = g.mask ? g.mask + (bh / g.H) * S : nullptr;
    const A masked_score = attn_any_key(mr, S) ? lowest<A>() : A(0);
    const A scale = A(g.scale), drop_scale = A(g.drop_scale);
    const T* qb = g.q + bh * S * kAttnD;
    const T* kb = g.k + bh * S * kAttnD;
    const T* vb = g.v + bh * S * kAttnD;

    attn_load_tile<kAttnRows>(Qs, qb, i0, S);
    A m[4], l[4], o[4][4];
#pragma unroll
    for (int a = 0; a < 4; ++a) {
        m[a] = lowest<A>();  // finite: m_old - m_new is never inf - inf
        l[a] = 0;
#pragma unroll
        for (int d = 0; d < 4; ++d) o[a][d] = 0;
    }

    for (int64_t j0 = 0; j0 < S; j0 += kAttnCols) {
        attn_load_tile<kAttnCols>(Ks, kb, j0, S);
        attn_load_tile<kAttnCols>(Vs, vb, j0, S);
        __syncthreads();  // Q (first step), K and V loaded

        A s[4][4] = {};
        attn_tile_abt(s, Qs, Ks, r, c);
        bool jv[4], jm[4];  // key in range, key masked
#pragma unroll
        for (int b = 0; b < 4; ++b) {
            const int64_t j = j0 + c + 16 * b;
            jv[b] = j < S;
            jm[b] = jv[b] && mr && mr[j] == 0;
        }
#pragma unroll
        for (int a = 0; a < 4; ++a) {
            const int64_t i = i0 + r + 8 * a;
            A mx = m[a];
#pragma unroll
            for (int b = 0; b < 4; ++b) {
                s[a][b] = jm[b] ? masked_score : scale * s[a][b];
                if (jv[b] && s[a][b] > mx) mx = s[a][b];
            }
            mx = row_max16(mx);
            const A alpha = math_exp(m[a] - mx);  // 0 when a real score replaces a lowest-value max
            A sum = 0;
#pragma unroll
            for (int b = 0; b < 4; ++b) {
                A p = jv[b] ? math_exp(s[a][b] - mx) : A(0);
                sum += p;  // the normaliser uses the weights before dropout
                if (g.dropout && jv[b] && i < S)
                    p = attn_keep(g.seed, g.offset, bh, S, i, j0 + c + 16 * b, g.threshold) ? p * drop_scale : A(0);
                Ps[(r + 8 * a) * kAttnLdP + c + 16 * b] = T(p);
            }
            l[a] = l[a] * alpha + row_sum16(sum);
            m[a] = mx;
#pragma unroll
            for (int d = 0; d < 4; ++d) o[a][d] *= alpha;
        }
        __syncthreads();  // P tile complete
        attn_tile_ab(o, Ps, Vs, r, c);
        __syncthreads();  // done with K, V, P before the next step overwrites them
    }

#pragma unroll
    for (int a = 0; a < 4; ++a) {
        const int64_t i = i0 + r + 8 * a;
        if (i >= S) continue;
        const A inv = A(1) / l[a];  // l >= 1: the row max contributes exp(0)
#pragma unroll
        for (int d = 0; d < 4; ++d) out[(bh * S + i) * kAttnD + c + 16 * d] = T(o[a][d] * inv);
        if (c == 0) lse[bh * S + i] = m[a] + attn_log(l[a]);
    }
}

// Backward, step 1: Dvec[row] = Σ_d dout · out (= Σ_j P'·dP' = Σ_j P·dP). One warp per row of 64.
template <class T>
__global__ void attention_row_dot_kernel(const T* __restrict__ out, const T* __restrict__ dout,
                                         compute_t<T>* __restrict__ dvec, int64_t rows) {
    using A = compute_t<T>;
    const int lane = int(threadIdx.x % 32);
    const int64_t warps = blockDim.x / 32;
    for (int64_t row = int64_t(blockIdx.x) * warps + threadIdx.x / 32; row < rows; row += int64_t(gridDim.x) * warps) {
        const T* o = out + row * kAttnD;
        const T* g = dout + row * kAttnD;
        const A s = warp_sum(A(o[lane]) * A(g[lane]) + A(o[lane + 32]) * A(g[lane + 32]));
        if (lane == 0) dvec[row] = s;
    }
}

// Backward, step 2: dk and dv. Block (bh, key tile) keeps its 32 keys' K, V and the dk, dv accumulators
// and loops over all query tiles (no atomics: each dk, dv row has one owner). Per 64-query tile, recompute
// Sᵀ = K·Qᵀ and P = exp(S - lse), dP'ᵀ = V·dOᵀ; dv += P'ᵀ·dO, dk += dSᵀ·Q with
// dS = P ∘ (dP - Dvec), dP = dP' ∘ keep / (1-p), and dS = 0 at masked keys.
// Dynamic shared memory: K, V [32][65], Q, dO [64][65], P'ᵀ, dSᵀ [32][80], lse, Dvec [64].
template <class T>
__global__ void __launch_bounds__(kAttnThreads)
    attention_backward_dkdv_kernel(AttnArgs<T> g, const T* __restrict__ dout, const compute_t<T>* __restrict__ lse,
                                   const compute_t<T>* __restrict__ dvec, T* __restrict__ dk, T* __restrict__ dv) {
    using A = compute_t<T>;
    resolve_philox(g);
    TEMPER_DYNAMIC_SMEM(attn_smem);
    T* Ks = reinterpret_cast<T*>(attn_smem);
    T* Vs = Ks + kAttnRows * kAttnLd;
    T* Qs = Vs + kAttnRows * kAttnLd;
    T* dOs = Qs + kAttnCols * kAttnLd;
    T* Pt = dOs + kAttnCols * kAttnLd;
    T* dSt = Pt + kAttnRows * kAttnLdP;
    A* Ls = reinterpret_cast<A*>(dSt + kAttnRows * kAttnLdP);  // aligned: an even number of T precede it
    A* Ds = Ls + kAttnCols;

    const int r = int(threadIdx.x) / 16, c = int(threadIdx.x) % 16;
    const int64_t S = g.S, bh = blockIdx.x, j0 = int64_t(blockIdx.y) * kAttnRows;
    const int64_t* mr = g.mask ? g.mask + (bh / g.H) * S : nullptr;
    const A masked_score = attn_any_key(mr, S) ? lowest<A>() : A(0);
    const A scale = A(g.scale), drop_scale = A(g.drop_scale);
    const T* qb = g.q + bh * S * kAttnD;
    const T* dob = dout + bh * S * kAttnD;

    attn_load_tile<kAttnRows>(Ks, g.k + bh * S * kAttnD, j0, S);
    attn_load_tile<kAttnRows>(Vs, g.v + bh * S * kAttnD, j0, S);
    bool jv[4], jm[4];  // this thread's keys j0 + r + 8a: in range, masked
#pragma unroll
    for (int a = 0; a < 4; ++a) {
        const int64_t j = j0 + r + 8 * a;
        jv[a] = j < S;
        jm[a] = jv[a] && mr && mr[j] == 0;
    }
    A dk_acc[4][4] = {}, dv_acc[4][4] = {};

    for (int64_t i0 = 0; i0 < S; i0 += kAttnCols) {
        attn_load_tile<kAttnCols>(Qs, qb, i0, S);
        attn_load_tile<kAttnCols>(dOs, dob, i0, S);
        for (int idx = int(threadIdx.x); idx < kAttnCols; idx += kAttnThreads) {
            const int64_t i = i0 + idx;
            Ls[idx] = i < S ? lse[bh * S + i] : A(0);
            Ds[idx] = i < S ? dvec[bh * S + i] : A(0);
        }
        __syncthreads();  // K, V (first step), Q, dO, lse, Dvec loaded

        A s[4][4] = {}, dp[4][4] = {};
        attn_tile_abt(s, Ks, Qs, r, c);
        attn_tile_abt(dp, Vs, dOs, r, c);
#pragma unroll
        for (int a = 0; a < 4; ++a) {
#pragma unroll
            for (int b = 0; b < 4; ++b) {
                const int64_t i = i0 + c + 16 * b;
                A pd = 0, ds = 0;  // P' and dS of (query i, key j0 + r + 8a)
                if (jv[a] && i < S) {
                    const A p = math_exp((jm[a] ? masked_score : scale * s[a][b]) - Ls[c + 16 * b]);
                    A dpv = dp[a][b];
                    pd = p;
                    if (g.dropout) {
                        const bool keep = attn_keep(g.seed, g.offset, bh, S, i, j0 + r + 8 * a, g.threshold);
                        pd = keep ? p * drop_scale : A(0);
                        dpv = keep ? dpv * drop_scale : A(0);
                    }
                    ds = jm[a] ? A(0) : p * (dpv - Ds[c + 16 * b]);
                }
                Pt[(r + 8 * a) * kAttnLdP + c + 16 * b] = T(pd);
                dSt[(r + 8 * a) * kAttnLdP + c + 16 * b] = T(ds);
            }
        }
        __syncthreads();  // P'ᵀ, dSᵀ complete
        attn_tile_ab(dv_acc, Pt, dOs, r, c);
        attn_tile_ab(dk_acc, dSt, Qs, r, c);
        __syncthreads();  // done with Q, dO, P'ᵀ, dSᵀ, lse, Dvec before the next step
    }

#pragma unroll
    for (int a = 0; a < 4; ++a) {
        if (!jv[a]) continue;
        const int64_t row = (bh * S + j0 + r + 8 * a) * kAttnD;
#pragma unroll
        for (int d = 0; d < 4; ++d) {
            dk[row + c + 16 * d] = T(scale * dk_acc[a][d]);
            dv[row + c + 16 * d] = T(dv_acc[a][d]);
        }
    }
}

// Backward, step 3: dq. Block (bh, query tile) keeps Q, dO, lse and Dvec of its 32 queries and loops over
// the key tiles: recompute S, P and dP' as above, dS to shared memory, dq += dS·K.
// Dynamic shared memory: Q, dO [32][65], K, V [64][65], dS [32][80].
template <class T>
__global__ void __launch_bounds__(kAttnThreads)
    attention_backward_dq_kernel(AttnArgs<T> g, const T* __restrict__ dout, const compute_t<T>* __restrict__ lse,
                                 const compute_t<T>* __restrict__ dvec, T* __restrict__ dq) {
    using A = compute_t<T>;
    resolve_philox(g);
    TEMPER_DYNAMIC_SMEM(attn_smem);
    T* Qs = reinterpret_cast<T*>(attn_smem);
    T* dOs = Qs + kAttnRows * kAttnLd;
    T* Ks = dOs + kAttnRows * kAttnLd;
    T* Vs = Ks + kAttnCols * kAttnLd;
    T* dSs = Vs + kAttnCols * kAttnLd;

    const int r = int(threadIdx.x) / 16, c = int(threadIdx.x) % 16;
    const int64_t S = g.S, bh = blockIdx.x, i0 = int64_t(blockIdx.y) * kAttnRows;
    const int64_t* mr = g.mask ? g.mask + (bh / g.H) * S : nullptr;  // masked keys have dS = 0: skipped
    const A scale = A(g.scale), drop_scale = A(g.drop_scale);
    const T* kb = g.k + bh * S * kAttnD;
    const T* vb = g.v + bh * S * kAttnD;

    attn_load_tile<kAttnRows>(Qs, g.q + bh * S * kAttnD, i0, S);
    attn_load_tile<kAttnRows>(dOs, dout + bh * S * kAttnD, i0, S);
    A L[4], Dr[4];  // lse and Dvec of this thread's queries i0 + r + 8a
#pragma unroll
    for (int a = 0; a < 4; ++a) {
        const int64_t i = i0 + r + 8 * a;
        L[a] = i < S ? lse[bh * S + i] : A(0);
        Dr[a] = i < S ? dvec[bh * S + i] : A(0);
    }
    A dq_acc[4][4] = {};

    for (int64_t j0 = 0; j0 < S; j0 += kAttnCols) {
        attn_load_tile<kAttnCols>(Ks, kb, j0, S);
        attn_load_tile<kAttnCols>(Vs, vb, j0, S);
        __syncthreads();  // Q, dO (first step), K, V loaded

        A s[4][4] = {}, dp[4][4] = {};
        attn_tile_abt(s, Qs, Ks, r, c);
        attn_tile_abt(dp, dOs, Vs, r, c);
#pragma unroll
        for (int b = 0; b < 4; ++b) {
            const int64_t j = j0 + c + 16 * b;
            const bool live = j < S && !(mr && mr[j] == 0);  // in range and unmasked: dS may be nonzero
#pragma unroll
            for (int a = 0; a < 4; ++a) {
                const int64_t i = i0 + r + 8 * a;
                A ds = 0;
                if (live && i < S) {
                    const A p = math_exp(scale * s[a][b] - L[a]);
                    A dpv = dp[a][b];
                    if (g.dropout)
                        dpv = attn_keep(g.seed, g.offset, bh, S, i, j, g.threshold) ? dpv * drop_scale : A(0);
                    ds = p * (dpv - Dr[a]);
                }
                dSs[(r + 8 * a) * kAttnLdP + c + 16 * b] = T(ds);
            }
        }
        __syncthreads();  // dS complete
        attn_tile_ab(dq_acc, dSs, Ks, r, c);
        __syncthreads();  // done with K, V, dS before the next step
    }

#pragma unroll
    for (int a = 0; a < 4; ++a) {
        const int64_t i = i0 + r + 8 * a;
        if (i >= S) continue;
#pragma unroll
        for (int d = 0; d < 4; ++d) dq[(bh * S + i) * kAttnD + c + 16 * d] = T(scale * dq_acc[a][d]);
    }
}

// Dynamic shared memory of each kernel, in bytes.
template <class T>
constexpr size_t kAttnFwdSmem = sizeof(T) * size_t(kAttnRows* kAttnLd + 2 * kAttnCols * kAttnLd + kAttnRows * kAttnLdP);
template <class T>
constexpr size_t kAttnDkDvSmem = sizeof(T) * size_t(2 * kAttnRows * kAttnLd + 2 * kAttnCols * kAttnLd +
                                                    2 * kAttnRows * kAttnLdP) +
                                 sizeof(compute_t<T>) * size_t(2 * kAttnCols);
template <class T>
constexpr size_t kAttnDqSmem = sizeof(T) *
                               size_t(2 * kAttnRows * kAttnLd + 2 * kAttnCols * kAttnLd + kAttnRows * kAttnLdP);

}  // namespace temper::kernels
