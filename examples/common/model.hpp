// Where the model and tokenizer of a training program come from:
//   --model DIR                             a pretrained HF directory (config.json, model.safetensors,
//                                           vocab.txt or tokenizer.json); a new classification head
//   --init random --config FILE --vocab FILE  a randomly initialised model of that shape
//   --init random --model DIR               the same, with DIR's config.json and tokenizer
// config.json's model_type picks the architecture: "distilbert" (also when it has none) or "bert".
//
// The functions that build, load or run a model are compiled once, in the temper_examples_common library
// (model.cpp), so the programs themselves instantiate no model code.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
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

// DistilBERT or BERT.
using Classifier = temper::models::AnyClassifier<float>;

// A tokenizer and a classifier that go together.
struct ModelSetup {
    temper::text::WordPiece tokenizer;
    Classifier model;
};

// The tokenizer of ModelArgs: --vocab, else the one in --model.
temper::text::WordPiece load_tokenizer(const ModelArgs& a);

// The tokenizer and a classifier with `labels` as its head, from ModelArgs, on --device. The head is always
// new (random, seeded) unless --model already holds one with the same labels. Says on stderr what it built.
ModelSetup make_model(const ModelArgs& a, const std::vector<std::string>& labels, temper::models::Problem problem,
                      uint64_t seed);

// A randomly initialised classifier of `config`'s architecture and shape, on the CPU.
ModelSetup random_model(temper::text::WordPiece tokenizer, const temper::models::AnyClassifierConfig& config,
                        uint64_t seed);

// A fine-tuned checkpoint directory of either architecture (config.json's model_type), with its tokenizer,
// on the CPU.
ModelSetup load_checkpoint(const std::string& dir);

// The parts of the model's config every architecture has: labels and problem.
const temper::models::ClassifierConfig& classifier_config(const Classifier& model);
int64_t max_position_embeddings(const Classifier& model);
int64_t num_parameters(Classifier& model);

// Sigmoid (multi-label) or softmax (single-label) probabilities of each text, one forward pass in eval mode
// without gradients; texts are truncated to max_length tokens ([CLS] and [SEP] included).
std::vector<std::vector<double>> predict_probabilities(Classifier& model, const temper::text::WordPiece& tokenizer,
                                                       const std::vector<std::string>& texts, int64_t max_length);

}  // namespace examples
