// WordPiece tokenizer throughput (bytes/s and texts/s): encode() one text at a time on one thread,
// and encode_batch() with 1..N threads. Same corpus and vocabulary as tools/tokenizer_bench.py,
// which times HF tokenizers: GoEmotions train.tsv with bert-base-uncased when ../shared/data has
// them, else the project's fixture corpus and vocabulary.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "temper/text/wordpiece.hpp"

using namespace temper::text;

namespace {

struct Workload {
    std::vector<std::string> texts;
    size_t bytes = 0;
    WordPiece tok;
};

const Workload& workload() {
    static const Workload w = [] {
        const std::string shared = std::string(TEMPER_SHARED_DIR) + "/data/";
        const std::string fixtures = std::string(TEMPER_FIXTURES_DIR) + "/tokenizer/";
        std::vector<std::string> texts;
        std::string vocab, corpus_file;
        if (std::filesystem::exists(shared + "goemotions/train.tsv") &&
            std::filesystem::exists(shared + "bert-base-uncased/vocab.txt")) {
            corpus_file = shared + "goemotions/train.tsv";
            std::ifstream f(corpus_file);
            for (std::string line; std::getline(f, line);)
                if (!line.empty()) texts.push_back(line.substr(0, line.find('\t')));
            vocab = shared + "bert-base-uncased/vocab.txt";
        } else {
            corpus_file = fixtures + "corpus.json";
            std::ifstream f(corpus_file);
            const auto corpus = nlohmann::json::parse(f);  // named: a range-for over parse(f)["lines"] would dangle
            for (const auto& l : corpus.at("lines")) texts.push_back(l);
            vocab = fixtures + "vocab_uncased.txt";
        }
        size_t bytes = 0;
        for (const auto& t : texts) bytes += t.size();
        if (texts.empty()) throw std::runtime_error("bench_tokenizer: no texts in " + corpus_file);
        return Workload{std::move(texts), bytes, WordPiece::from_vocab_file(vocab)};
    }();
    return w;
}

void report(benchmark::State& state, const Workload& w) {
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w.bytes));
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * w.texts.size()));
}

}  // namespace

// One text per call, one thread, no padding: the per-text cost.
static void BM_TokenizerEncode(benchmark::State& state) {
    const Workload& w = workload();
    const EncodeOptions o{.padding = Padding::None};
    for (auto _ : state) {
        for (const auto& t : w.texts) benchmark::DoNotOptimize(w.tok.encode(t, o).ids.data());
    }
    report(state, w);
}
BENCHMARK(BM_TokenizerEncode)->Unit(benchmark::kMillisecond)->UseRealTime();

// The whole corpus as batches of 1024 texts (max_length 128, padded to the longest), on
// range(0) threads.
static void BM_TokenizerEncodeBatch(benchmark::State& state) {
    const Workload& w = workload();
    const EncodeOptions o{.max_length = 128, .num_threads = static_cast<size_t>(state.range(0))};
    std::vector<std::vector<std::string>> batches;
    for (size_t i = 0; i < w.texts.size(); i += 1024)
        batches.emplace_back(w.texts.begin() + i, w.texts.begin() + std::min(w.texts.size(), i + 1024));
    for (auto _ : state) {
        for (const auto& batch : batches) benchmark::DoNotOptimize(w.tok.encode_batch(batch, o).input_ids.data());
    }
    report(state, w);
}
BENCHMARK(BM_TokenizerEncodeBatch)
    ->Apply([](benchmark::internal::Benchmark* b) {
        // 1, 2, 4, ... threads up to the core count, and the core count itself.
        const int cores = std::max(1u, std::thread::hardware_concurrency());
        for (int t = 1; t < cores; t *= 2) b->Arg(t);
        b->Arg(cores);
    })
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
