// Full-size DistilBERT (distilbert-base: 6 layers, dim 768, 12 heads, FFN 3072; random weights, 28-label
// head) on the CPU: inference for B in {1, 8, 32} x S in {32, 128, 512}, and one fine-tuning step. The same
// for a BERT of all-MiniLM-L6-v2's shape (6 layers, hidden 384, 12 heads, FFN 1536; BertForSequenceClassification,
// 28-label head): inference B in {1, 8, 32} at S = 128 and a training step at B = 8.
// Threads: OMP_NUM_THREADS (Eigen's GEMM and temper's loops use OpenMP). Peak memory is the most host
// memory held by tensors (weights included) during the timed iterations, like PyTorch's
// max_memory_allocated.
//
// For bench/compare.py (temper against PyTorch, ONNX Runtime, CTranslate2 on the same weights):
//   TEMPER_BENCH_DISTILBERT_DIR, TEMPER_BENCH_BERT_DIR  inference models come from this HF checkpoint directory
//                                                      (from_pretrained) instead of the random initialisation
//   TEMPER_BENCH_DUMP_DIR  each inference benchmark writes its inputs and outputs there before timing, as raw
//                          little-endian arrays: <name>_<B>x<S>.ids.i64 (int64 [B, S]),
//                          .hidden.f32 (float [B, S, hidden]) and .logits.f32 (float [B, 28])
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

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

// all-MiniLM-L6-v2's encoder shape (its config.json) with a 28-label multi-label head.
models::BertConfig minilm_config() {
    models::BertConfig c;
    c.hidden_size = 384;
    c.num_hidden_layers = 6;
    c.num_attention_heads = 12;
    c.intermediate_size = 1536;
    c.set_num_labels(28);
    c.problem = models::Problem::MultiLabel;
    return c;
}

using Model = models::DistilBertForSequenceClassification<float>;
using BertModelCls = models::BertForSequenceClassification<float>;

// The inference benchmarks share one model per architecture (building one takes over a second); the training
// benchmarks free them first, so that the peak memory they report is their own.
std::unique_ptr<Model>& inference_model() {
    static std::unique_ptr<Model> m;
    return m;
}
std::unique_ptr<BertModelCls>& bert_inference_model() {
    static std::unique_ptr<BertModelCls> m;
    return m;
}

// The random model, or the checkpoint in the environment variable `var` when it is set.
template <class M, class Config>
std::unique_ptr<M> make_inference_model(const char* var, const Config& c) {
    const char* dir = std::getenv(var);
    if (dir && *dir) {
        models::ClassifierOptions opt;
        opt.num_labels = 28;
        opt.problem = models::Problem::MultiLabel;
        opt.verbose = false;
        return std::make_unique<M>(M::from_pretrained(dir, opt));
    }
    return std::make_unique<M>(c);
}

template <class T>
void write_raw(const std::string& path, const Tensor<T>& t) {
    const Tensor<T> c = t.contiguous();
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(c.data()), std::streamsize(c.numel() * sizeof(T)));
    if (!f) throw std::runtime_error("bench_model: cannot write " + path);
}

// With TEMPER_BENCH_DUMP_DIR set: the inputs, last hidden state and logits of one forward, for bench/compare.py
// to check against HF transformers.
void dump(const std::string& name, int64_t B, int64_t S, const Tensor<int64_t>& ids, const Tensor<float>& hidden,
          const Tensor<float>& logits) {
    const char* dir = std::getenv("TEMPER_BENCH_DUMP_DIR");
    if (!dir || !*dir) return;
    const std::string stem = std::string(dir) + "/" + name + "_" + std::to_string(B) + "x" + std::to_string(S);
    write_raw(stem + ".ids.i64", ids);
    write_raw(stem + ".hidden.f32", hidden);
    write_raw(stem + ".logits.f32", logits);
}

}  // namespace

// Times model(ids, mask) after one untimed call (first-touch pages, caches); peak memory from that call on.
template <class Model>
void time_forward(benchmark::State& state, const Model& model, const Tensor<int64_t>& ids,
                  const Tensor<int64_t>& mask) {
    benchmark::DoNotOptimize(model(ids, mask).data());
    reset_peak_host_memory();
    for (auto _ : state) {
        auto logits = model(ids, mask);
        benchmark::DoNotOptimize(logits.data());
    }
    throughput(state, ids.size(0), ids.size(1));
}

// Inference: eval mode, no graph.
static void BM_DistilBertForward(benchmark::State& state) {
    const int64_t B = state.range(0), S = state.range(1);
    bert_inference_model().reset();  // peak_MiB counts this model only
    if (!inference_model()) inference_model() = make_inference_model<Model>("TEMPER_BENCH_DISTILBERT_DIR", config());
    Model& model = *inference_model();
    model.eval();
    auto ids = random_ids(B, S, 1);
    auto mask = Tensor<int64_t>::ones({B, S});
    NoGradGuard ng;
    if (std::getenv("TEMPER_BENCH_DUMP_DIR")) {
        auto hidden = model.distilbert(ids, mask);
        dump("distilbert", B, S, ids, hidden, model.head(hidden));
    }
    time_forward(state, model, ids, mask);
}
BENCHMARK(BM_DistilBertForward)
    ->ArgsProduct({{1, 8, 32}, {32, 128, 512}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);

// The same for the MiniLM-shaped BERT (token_type_ids left out: all 0, as for single texts).
static void BM_BertMiniLMForward(benchmark::State& state) {
    const int64_t B = state.range(0), S = state.range(1);
    inference_model().reset();  // peak_MiB counts this model only
    if (!bert_inference_model())
        bert_inference_model() = make_inference_model<BertModelCls>("TEMPER_BENCH_BERT_DIR", minilm_config());
    BertModelCls& model = *bert_inference_model();
    model.eval();
    auto ids = random_ids(B, S, 1);
    auto mask = Tensor<int64_t>::ones({B, S});
    NoGradGuard ng;
    if (std::getenv("TEMPER_BENCH_DUMP_DIR")) {
        auto hidden = model.bert.hidden_states_checked(ids, mask, Tensor<int64_t>());
        dump("minilm", B, S, ids, hidden, model.head(hidden));
    }
    time_forward(state, model, ids, mask);
}
BENCHMARK(BM_BertMiniLMForward)
    ->ArgsProduct({{1, 8, 32}, {128}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);

// One optimizer step of fine-tuning in train mode (dropout on): forward, BCE-with-logits, backward,
// AdamW (decoupled weight decay 0.01 off biases and LayerNorm), zero_grad. With `mixed`, the same step
// through nn::MixedPrecision (the Trainer's bf16 option): on the CPU every bf16 kernel converts to float
// and back, so that measures the overhead, not a speed-up.
template <template <class> class M, class Config>
static void train_step_benchmark(benchmark::State& state, const Config& cfg, bool mixed) {
    const int64_t B = state.range(0), S = state.range(1);
    inference_model().reset();
    bert_inference_model().reset();
    M<float> model(cfg);
    model.train();
    std::optional<nn::MixedPrecision<M>> mp;
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
static void BM_DistilBertTrainStep(benchmark::State& state) {
    train_step_benchmark<models::DistilBertForSequenceClassification>(state, config(), false);
}
static void BM_DistilBertTrainStepMixed(benchmark::State& state) {
    train_step_benchmark<models::DistilBertForSequenceClassification>(state, config(), true);
}
static void BM_BertMiniLMTrainStep(benchmark::State& state) {
    train_step_benchmark<models::BertForSequenceClassification>(state, minilm_config(), false);
}
BENCHMARK(BM_DistilBertTrainStep)
    ->Args({8, 128})
    ->Args({32, 128})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(3.0);
BENCHMARK(BM_DistilBertTrainStepMixed)->Args({8, 128})->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);
BENCHMARK(BM_BertMiniLMTrainStep)->Args({8, 128})->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);
