// Where the model and tokenizer of a training program come from:
//   --model DIR                             a pretrained HF directory (config.json, model.safetensors,
//                                           vocab.txt or tokenizer.json); a new classification head
//   --init random --config FILE --vocab FILE  a randomly initialised DistilBERT of that shape
//   --init random --model DIR               the same, with DIR's config.json and tokenizer
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "temper/models/distilbert.hpp"
#include "temper/text/wordpiece.hpp"

namespace examples {

struct ModelArgs {
    std::string model = "";           // --model DIR
    std::string init = "pretrained";  // or "random"
    std::string config = "";          // --config FILE (random init)
    std::string vocab = "";           // --vocab FILE: vocab.txt or tokenizer.json (overrides DIR's tokenizer)
    std::string device = "cpu";       // --device cpu | cuda | cuda:N | auto
};

// --device: "auto" is the GPU when this build has the CUDA backend and one is present, else the CPU.
inline temper::Device device_of(const ModelArgs& a) {
    return a.device == "auto" ? temper::Device::best() : temper::parse_device(a.device);
}

inline void add_model_options(CLI::App& app, ModelArgs& a) {
    app.add_option("--model", a.model,
                   "pretrained HF directory (config.json, model.safetensors, vocab.txt or tokenizer.json)");
    app.add_option("--init", a.init,
                   "pretrained: weights from --model; random: fresh weights (config from --config or --model)")
        ->check(CLI::IsMember({"pretrained", "random"}))
        ->capture_default_str();
    app.add_option("--config", a.config, "DistilBERT config.json for --init random");
    app.add_option("--vocab", a.vocab, "vocab.txt or tokenizer.json (default: the one in --model)");
    app.add_option("--device", a.device,
                   "cpu, cuda, cuda:N, or auto (the GPU when there is one and this build has CUDA)")
        ->capture_default_str();
}

using Classifier = temper::models::DistilBertForSequenceClassification<float>;

// The tokenizer and a classifier with `labels` as its head, from ModelArgs. The head is always new
// (random, seeded) unless --model already holds one with the same labels.
struct ModelSetup {
    temper::text::WordPiece tokenizer;
    Classifier model;
};

inline temper::text::WordPiece load_tokenizer(const ModelArgs& a) {
    using temper::text::WordPiece;
    if (!a.vocab.empty()) {
        const bool json = std::filesystem::path(a.vocab).extension() == ".json";
        return json ? WordPiece::from_tokenizer_json(a.vocab) : WordPiece::from_vocab_file(a.vocab);
    }
    temper::check(!a.model.empty(), "no tokenizer: give --vocab FILE or --model DIR");
    return WordPiece::from_pretrained(a.model);
}

inline ModelSetup make_model(const ModelArgs& a, const std::vector<std::string>& labels,
                             temper::models::Problem problem, uint64_t seed) {
    using namespace temper;
    const char* kind = problem == models::Problem::MultiLabel ? "multi-label" : "single-label";
    if (a.init == "pretrained") {
        check(!a.model.empty(),
              "give --model DIR (a pretrained checkpoint) or --init random --config FILE --vocab FILE");
        check(a.config.empty(),
              "--config is only used with --init random (a pretrained model has its own config.json)");
        text::WordPiece tok = load_tokenizer(a);
        Classifier m = Classifier::from_pretrained(
            a.model, {.num_labels = std::nullopt, .problem = problem, .labels = labels, .seed = seed, .verbose = true});
        std::fprintf(stderr,
                     "model: pretrained DistilBERT from %s, %lld layers, dim %lld, %lld parameters, %zu %s labels\n",
                     a.model.c_str(), (long long)m.config.n_layers, (long long)m.config.dim,
                     (long long)m.num_parameters(), labels.size(), kind);
        m.to(device_of(a));
        return {std::move(tok), std::move(m)};
    }
    check(!a.config.empty() || !a.model.empty(),
          "--init random needs --config FILE (or --model DIR for its config.json)");
    const std::string config_path =
        !a.config.empty() ? a.config : (std::filesystem::path(a.model) / "config.json").string();
    models::DistilBertConfig cfg = models::DistilBertConfig::load(config_path);
    text::WordPiece tok = load_tokenizer(a);
    check(int64_t(tok.vocab_size()) <= cfg.vocab_size, config_path, ": vocab_size ", cfg.vocab_size,
          " is smaller than the tokenizer's ", tok.vocab_size(), " tokens");
    cfg.labels = labels;
    cfg.problem = problem;
    if (tok.pad_id() >= 0) cfg.pad_token_id = tok.pad_id();  // batches are padded with the tokenizer's [PAD]
    cfg.validate(config_path);
    Classifier m(cfg, seed);
    std::fprintf(stderr, "model: random init from %s, %lld layers, dim %lld, %lld parameters, %zu %s labels\n",
                 config_path.c_str(), (long long)cfg.n_layers, (long long)cfg.dim, (long long)m.num_parameters(),
                 labels.size(), kind);
    m.to(device_of(a));
    return {std::move(tok), std::move(m)};
}

}  // namespace examples
