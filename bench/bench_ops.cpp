// CPU benchmarks of the op set at DistilBERT's shapes for a batch of 8 sequences of 128 tokens
// (1024 token rows, dim 768, FFN 3072, 12 heads of 64). Threads: OMP_NUM_THREADS.
//
// Counters: GFLOP/s for the matrix work (2*M*N*K per product; attention forward 4*B*H*S*S*D, its
// backward 2x that), and bytes/s for the memory-bound ops, counting each tensor read or written once
// (the least traffic the op can cause). "Fwd" runs with gradients off; "FwdBwd" records the graph and
// back-propagates a gradient of ones.
#include <benchmark/benchmark.h>

#include "temper/temper.hpp"

using namespace temper;

namespace {

constexpr int64_t kRows = 8 * 128, kDim = 768, kFfn = 3072, kHeads = 12, kHeadDim = 64;

Tensor<float> random(const Shape& shape, uint64_t seed, bool grad = false) {
    Generator gen(seed);
    auto t = Tensor<float>::randn(shape, gen);
    if (grad) t.set_requires_grad();
    return t;
}

// A [B, S] key mask whose rows keep S, 3S/4, S/2, ... valid tokens: realistic padding.
Tensor<int64_t> padding_mask(int64_t B, int64_t S) {
    auto m = Tensor<int64_t>::zeros({B, S});
    for (int64_t b = 0; b < B; ++b) {
        const int64_t valid = std::max<int64_t>(1, S - (b % 4) * S / 4);
        for (int64_t s = 0; s < valid; ++s) m.data()[b * S + s] = 1;
    }
    return m;
}

void flops(benchmark::State& state, double per_iteration) {
    state.counters["GFLOP/s"] = benchmark::Counter(per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void bytes(benchmark::State& state, double per_iteration) {
    state.SetBytesProcessed(static_cast<int64_t>(per_iteration * double(state.iterations())));
}

// The three product shapes of a DistilBERT layer for 1024 token rows.
void gemm_shapes(benchmark::internal::Benchmark* b) {
    b->Args({kRows, kDim, kDim})->Args({kRows, kDim, kFfn})->Args({kRows, kFfn, kDim});
    b->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

// x[M, K] @ w[K, N] through matmul (OpenBLAS when the build has it, else Eigen's blocked GEMM): the
// Q/K/V/output projections (K = N = 768), the FFN's first (N = 3072) and second (K = 3072) products.
static void BM_Gemm(benchmark::State& state) {
    const int64_t M = state.range(0), K = state.range(1), N = state.range(2);
    auto a = random({M, K}, 1), b = random({K, N}, 2);
    NoGradGuard ng;
    for (auto _ : state) benchmark::DoNotOptimize(matmul(a, b).data());
    flops(state, 2.0 * double(M) * double(N) * double(K));
}
BENCHMARK(BM_Gemm)->Apply(gemm_shapes);

// The same products in Eigen's kernel: what matmul runs in a build without OpenBLAS (TEMPER_WITH_BLAS=OFF).
static void BM_GemmEigen(benchmark::State& state) {
    const int64_t M = state.range(0), K = state.range(1), N = state.range(2);
    auto a = random({M, K}, 1), b = random({K, N}, 2);
    auto c = Tensor<float>::empty({M, N});
    for (auto _ : state) {
        cpu::eigen_gemm<float>(false, false, M, N, K, 1.0f, a.data(), K, b.data(), N, 0.0f, c.data(), N);
        benchmark::DoNotOptimize(c.data());
    }
    flops(state, 2.0 * double(M) * double(N) * double(K));
}
BENCHMARK(BM_GemmEigen)->Apply(gemm_shapes);

// Scale + key mask + softmax over attention scores [B, H, S, S]: reads x, writes y (the mask is small).
static void BM_SoftmaxFwd(benchmark::State& state) {
    const int64_t B = state.range(0), S = state.range(1);
    auto x = random({B, kHeads, S, S}, 3);
    auto mask = padding_mask(B, S);
    NoGradGuard ng;
    for (auto _ : state) benchmark::DoNotOptimize(masked_softmax(x, mask, 0.125f).data());
    bytes(state, 2.0 * double(x.numel()) * sizeof(float));
}
BENCHMARK(BM_SoftmaxFwd)->Args({8, 128})->Args({8, 512})->Unit(benchmark::kMicrosecond)->UseRealTime();

// Forward as above, backward reads y and dy and writes dx.
static void BM_SoftmaxFwdBwd(benchmark::State& state) {
    const int64_t B = state.range(0), S = state.range(1);
    auto x = random({B, kHeads, S, S}, 3, true);
    auto mask = padding_mask(B, S);
    auto dy = Tensor<float>::ones(x.shape());
    for (auto _ : state) {
        masked_softmax(x, mask, 0.125f).backward(dy);
        x.zero_grad();
    }
    bytes(state, 5.0 * double(x.numel()) * sizeof(float));
}
BENCHMARK(BM_SoftmaxFwdBwd)->Args({8, 128})->Unit(benchmark::kMicrosecond)->UseRealTime();

// LayerNorm over rows of 768: reads x, writes y.
static void BM_LayerNormFwd(benchmark::State& state) {
    auto x = random({kRows, kDim}, 4), w = random({kDim}, 5), b = random({kDim}, 6);
    NoGradGuard ng;
    for (auto _ : state) benchmark::DoNotOptimize(layer_norm(x, w, b, 1e-12).data());
    bytes(state, 2.0 * double(x.numel()) * sizeof(float));
}
BENCHMARK(BM_LayerNormFwd)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Forward (x -> y) and backward (x, dy -> dx, plus the small dweight/dbias).
static void BM_LayerNormFwdBwd(benchmark::State& state) {
    auto x = random({kRows, kDim}, 4, true), w = random({kDim}, 5, true), b = random({kDim}, 6, true);
    auto dy = Tensor<float>::ones(x.shape());
    for (auto _ : state) {
        layer_norm(x, w, b, 1e-12).backward(dy);
        x.zero_grad(), w.zero_grad(), b.zero_grad();
    }
    bytes(state, 5.0 * double(x.numel()) * sizeof(float));
}
BENCHMARK(BM_LayerNormFwdBwd)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Exact (erf) GELU on the FFN's hidden activations [1024, 3072]: reads x, writes y.
static void BM_GeluFwd(benchmark::State& state) {
    auto x = random({kRows, kFfn}, 7);
    NoGradGuard ng;
    for (auto _ : state) benchmark::DoNotOptimize(gelu(x).data());
    bytes(state, 2.0 * double(x.numel()) * sizeof(float));
}
BENCHMARK(BM_GeluFwd)->Unit(benchmark::kMicrosecond)->UseRealTime();

static void BM_GeluFwdBwd(benchmark::State& state) {
    auto x = random({kRows, kFfn}, 7, true);
    auto dy = Tensor<float>::ones(x.shape());
    for (auto _ : state) {
        gelu(x).backward(dy);
        x.zero_grad();
    }
    bytes(state, 5.0 * double(x.numel()) * sizeof(float));
}
BENCHMARK(BM_GeluFwdBwd)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Multi-head attention core softmax(q k^T / sqrt(D) + mask) v on [B, 12, S, 64] with padding.
static void BM_AttentionFwd(benchmark::State& state) {
    const int64_t B = state.range(0), S = state.range(1);
    auto q = random({B, kHeads, S, kHeadDim}, 8), k = random({B, kHeads, S, kHeadDim}, 9),
         v = random({B, kHeads, S, kHeadDim}, 10);
    auto mask = padding_mask(B, S);
    NoGradGuard ng;
    for (auto _ : state) benchmark::DoNotOptimize(scaled_dot_product_attention(q, k, v, mask, 0.0, false).data());
    flops(state, 4.0 * double(B * kHeads) * double(S * S) * kHeadDim);
}
BENCHMARK(BM_AttentionFwd)->Args({8, 128})->Args({8, 512})->Unit(benchmark::kMillisecond)->UseRealTime();

static void BM_AttentionFwdBwd(benchmark::State& state) {
    const int64_t B = state.range(0), S = state.range(1);
    auto q = random({B, kHeads, S, kHeadDim}, 8, true), k = random({B, kHeads, S, kHeadDim}, 9, true),
         v = random({B, kHeads, S, kHeadDim}, 10, true);
    auto mask = padding_mask(B, S);
    auto dy = Tensor<float>::ones(q.shape());
    for (auto _ : state) {
        scaled_dot_product_attention(q, k, v, mask, 0.0, false).backward(dy);
        q.zero_grad(), k.zero_grad(), v.zero_grad();
    }
    flops(state, 3.0 * 4.0 * double(B * kHeads) * double(S * S) * kHeadDim);
}
BENCHMARK(BM_AttentionFwdBwd)->Args({8, 128})->Unit(benchmark::kMillisecond)->UseRealTime();

// One AdamW step (torch 2.x semantics, weight decay on) over DistilBERT's word-embedding matrix
// [30522, 768]: reads p, g, m, v and writes p, m, v. The first step, which allocates the moments, is
// outside the timing.
static void BM_AdamWStep(benchmark::State& state) {
    auto p = random({30522, kDim}, 11, true);
    p.backward(random(p.shape(), 12));
    optim::AdamW<float> opt({p}, {.lr = 1e-4, .weight_decay = 0.01});
    opt.step();
    for (auto _ : state) opt.step();
    bytes(state, 7.0 * double(p.numel()) * sizeof(float));
}
BENCHMARK(BM_AdamWStep)->Unit(benchmark::kMillisecond)->UseRealTime();

// Dropout (p = 0.1, training) on the FFN's hidden activations [1024, 3072]: reads x, writes y; the mask
// comes from Philox, one block per four elements.
static void BM_DropoutFwd(benchmark::State& state) {
    auto x = random({kRows, kFfn}, 13);
    Generator gen(14);
    NoGradGuard ng;
    for (auto _ : state) benchmark::DoNotOptimize(dropout(x, 0.1, true, gen).data());
    bytes(state, 2.0 * double(x.numel()) * sizeof(float));
}
BENCHMARK(BM_DropoutFwd)->Unit(benchmark::kMicrosecond)->UseRealTime();
