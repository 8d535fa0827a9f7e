// Full-size DistilBERT (66M encoder, random init) on the CPU: forward (inference, no graph) at
// S = 128 for a few batch sizes. Threads: OMP_NUM_THREADS (Eigen's GEMM uses OpenMP).
#include <benchmark/benchmark.h>

#include "temper/temper.hpp"

using namespace temper;

static void BM_DistilBertForward(benchmark::State& state) {
    const int64_t B = state.range(0), S = state.range(1);
    models::DistilBertConfig c;
    c.set_num_labels(28);
    static models::DistilBertForSequenceClassification<float> model(c);
    model.eval();
    Generator gen(1);
    auto ids = Tensor<int64_t>::empty({B, S});
    for (int64_t i = 0; i < B * S; ++i) ids.data()[i] = 1000 + int64_t(gen.uniform() * 20000);
    auto mask = Tensor<int64_t>::ones({B, S});
    NoGradGuard ng;
    for (auto _ : state) {
        auto logits = model(ids, mask);
        benchmark::DoNotOptimize(logits.data());
    }
    state.counters["samples/s"] = benchmark::Counter(double(B), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["tokens/s"] = benchmark::Counter(double(B * S), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_DistilBertForward)->Args({1, 128})->Args({8, 128})->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

// One optimizer step of full-size DistilBERT fine-tuning (forward, BCE loss, backward, AdamW) in train mode.
static void BM_DistilBertTrainStep(benchmark::State& state) {
    const int64_t B = state.range(0), S = state.range(1);
    models::DistilBertConfig c;
    c.set_num_labels(28);
    c.problem = models::Problem::MultiLabel;
    models::DistilBertForSequenceClassification<float> model(c);
    model.train();
    optim::AdamW<float> opt(optim::decay_param_groups(model.named_parameters(), 0.01), {.lr = 2e-5});
    Generator gen(2);
    auto ids = Tensor<int64_t>::empty({B, S});
    for (int64_t i = 0; i < B * S; ++i) ids.data()[i] = 1000 + int64_t(gen.uniform() * 20000);
    auto mask = Tensor<int64_t>::ones({B, S});
    auto targets = Tensor<float>::zeros({B, 28});
    for (int64_t b = 0; b < B; ++b) targets.data()[b * 28 + b % 28] = 1;
    for (auto _ : state) {
        auto loss = bce_with_logits(model(ids, mask), targets);
        loss.backward();
        opt.step();
        opt.zero_grad();
        benchmark::DoNotOptimize(loss.data());
    }
    state.counters["samples/s"] = benchmark::Counter(double(B), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["tokens/s"] = benchmark::Counter(double(B * S), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_DistilBertTrainStep)->Args({8, 128})->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5.0);
