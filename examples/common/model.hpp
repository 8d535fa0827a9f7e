// Where the model and tokenizer of a training program come from:
//   --model DIR                             a pretrained HF directory (config.json, model.safetensors,
//                                           vocab.txt or tokenizer.json); a new classification head
//   --init random --config FILE --vocab FILE  a randomly initialised model of that shape
//   --init random --model DIR               the same, with DIR's config.json and tokenizer
// config.json's model_type picks the architecture: "distilbert" (also when it has none) or "bert".
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "temper/models/any_classifier.hpp"
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
    app.add_option("--config", a.config,
                   "config.json for --init random (model_type \"bert\" or \"distilbert\"; none: DistilBERT)");
    app.add_option("--vocab", a.vocab, "vocab.txt or tokenizer.json (default: the one in --model)");
    app.add_option("--device", a.device,
                   "cpu, cuda, cuda:N, or auto (the GPU when there is one and this build has CUDA)")
        ->capture_default_str();
}

// DistilBERT or BERT; programs run on it with std::visit (one Trainer per architecture).
using Classifier = temper::models::AnyClassifier<float>;

// The tokenizer and a classifier with `labels` as its head, from ModelArgs. The head is always new
// (random, seeded) unless --model already holds one with the same labels.
struct ModelSetup {
    temper::text::WordPiece tokenizer;
    Classifier model;
};

// "pretrained DistilBERT from DIR, 6 layers, dim 768, 12 heads, 66955010 parameters": what was built.
inline void describe(Classifier& model, const std::string& origin, size_t labels, const char* kind) {
    std::visit(
        [&](auto& m) {
            std::fprintf(stderr, "model: %s %s, %lld parameters, %zu %s labels\n", origin.c_str(),
                         m.config.summary().c_str(), (long long)m.num_parameters(), labels, kind);
        },
        model);
}

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
        Classifier m = models::classifier_from_pretrained<float>(
            a.model, {.num_labels = std::nullopt, .problem = problem, .labels = labels, .seed = seed, .verbose = true},
            device_of(a));
        describe(m, "pretrained from " + a.model + ":", labels.size(), kind);
        return {std::move(tok), std::move(m)};
    }
    check(!a.config.empty() || !a.model.empty(),
          "--init random needs --config FILE (or --model DIR for its config.json)");
    const std::string config_path =
        !a.config.empty() ? a.config : (std::filesystem::path(a.model) / "config.json").string();
    models::AnyClassifierConfig any_cfg = models::load_classifier_config(config_path);
    text::WordPiece tok = load_tokenizer(a);
    std::visit(
        [&](auto& cfg) {
            check(int64_t(tok.vocab_size()) <= cfg.vocab_size, config_path, ": vocab_size ", cfg.vocab_size,
                  " is smaller than the tokenizer's ", tok.vocab_size(), " tokens");
            cfg.labels = labels;
            cfg.problem = problem;
            if (tok.pad_id() >= 0) cfg.pad_token_id = tok.pad_id();  // batches are padded with the tokenizer's [PAD]
            cfg.validate(config_path);
        },
        any_cfg);
    Classifier m = models::classifier_from_config<float>(any_cfg, seed);
    describe(m, "random init from " + config_path + ":", labels.size(), kind);
    std::visit([&](auto& model) { model.to(device_of(a)); }, m);
    return {std::move(tok), std::move(m)};
}

}  // namespace examples
