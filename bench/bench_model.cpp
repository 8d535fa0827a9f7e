// Full-size DistilBERT (distilbert-base: 6 layers, dim 768, 12 heads, FFN 3072; random weights, 28-label
// head) on the CPU: inference for B in {1, 8, 32} x S in {32, 128, 512}, and one fine-tuning step.
// Threads: OMP_NUM_THREADS (Eigen's GEMM and temper's loops use OpenMP). Peak memory is the most host
// memory held by tensors (weights included) during the timed iterations, like PyTorch's
// max_memory_allocated.
#include <benchmark/benchmark.h>

#include <memory>
#include <optional>

#include <omp.h>

#include "temper/temper.hpp"

using namespace temper;

namespace {

const int kContext = [] {
    benchmark::AddCustomContext("omp_max_threads", std::to_string(omp_get_max_threads()));
    return 0;
}();

Tensor<int64_t> random_ids(int64_t B, int64_t S, uint64_t seed) {
    Generator gen(seed);
    auto ids = Tensor<int64_t>::empty({B, S});
    for (int64_t i = 0; i < B * S; ++i) ids.data()[i] = 1000 + int64_t(gen.uniform() * 20000);
    return ids;
}

void throughput(benchmark::State& state, int64_t B, int64_t S) {
    state.counters["samples/s"] = benchmark::Counter(double(B), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["tokens/s"] = benchmark::Counter(double(B * S), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["peak_MiB"] = double(host_memory_stats().peak_in_use) / double(1 << 20);
}

models::DistilBertConfig config() {
    models::DistilBertConfig c;
    c.set_num_labels(28);
    c.problem = models::Problem::MultiLabel;
    return c;
}

using Model = models::DistilBertForSequenceClassification<float>;

// The inference benchmarks share one model (building one takes over a second); the training benchmark
// frees it first, so that the peak memory it reports is its own.
std::unique_ptr<Model>& inference_model() {
    static std::unique_ptr<Model> m;
    return m;
}

}  // namespace

// Inference: eval mode, no graph.
static void BM_DistilBertForward(benchmark::State& state) {
    const int64_t B = state.range(0), S = state.range(1);
    if (!inference_model()) inference_model() = std::make_unique<Model>(config());
    Model& model = *inference_model();
    model.eval();
    auto ids = random_ids(B, S, 1);
    auto mask = Tensor<int64_t>::ones({B, S});
    NoGradGuard ng;
    benchmark::DoNotOptimize(model(ids, mask).data());  // warm-up: first-touch pages, caches
    reset_peak_host_memory();
    for (auto _ : state) {
        auto logits = model(ids, mask);
        benchmark::DoNotOptimize(logits.data());
    }
    throughput(state, B, S);
}
BENCHMARK(BM_DistilBertForward)
    ->ArgsProduct({{1, 8, 32}, {32, 128, 512}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);

// One optimizer step of fine-tuning in train mode (dropout on): forward, BCE-with-logits, backward,
// AdamW (decoupled weight decay 0.01 off biases and LayerNorm), zero_grad. With `mixed`, the same step
// through nn::MixedPrecision (the Trainer's bf16 option): on the CPU every bf16 kernel converts to float
// and back, so that measures the overhead, not a speed-up.
static void train_step_benchmark(benchmark::State& state, bool mixed) {
    const int64_t B = state.range(0), S = state.range(1);
    inference_model().reset();
    Model model(config());
    model.train();
    std::optional<nn::MixedPrecision<models::DistilBertForSequenceClassification>> mp;
    if (mixed) mp.emplace(model);
    optim::AdamW<float> opt(optim::decay_param_groups(model.named_parameters(), 0.01), {.lr = 2e-5});
    auto ids = random_ids(B, S, 2);
    auto mask = Tensor<int64_t>::ones({B, S});
    auto targets = Tensor<float>::zeros({B, 28});
    for (int64_t b = 0; b < B; ++b) targets.data()[b * 28 + b % 28] = 1;
    auto step = [&] {
        auto loss = bce_with_logits(mp ? (*mp)(ids, mask) : model(ids, mask), targets);
        loss.backward();
        if (mp) mp->gradients_to_master();
        opt.step();
        opt.zero_grad();
        if (mp) mp->copy_weights_from_master();
        return loss;
    };
    step();  // warm-up: the optimizer state and first-touch pages are not part of a steady step
    reset_peak_host_memory();
    for (auto _ : state) {
        auto loss = step();
        benchmark::DoNotOptimize(loss.data());
    }
    throughput(state, B, S);
}
static void BM_DistilBertTrainStep(benchmark::State& state) { train_step_benchmark(state, false); }
static void BM_DistilBertTrainStepMixed(benchmark::State& state) { train_step_benchmark(state, true); }
BENCHMARK(BM_DistilBertTrainStep)
    ->Args({8, 128})
    ->Args({32, 128})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(3.0);
BENCHMARK(BM_DistilBertTrainStepMixed)->Args({8, 128})->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);
