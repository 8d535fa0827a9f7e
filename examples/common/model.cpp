// Building, loading and running the examples' models (model.hpp), and fit()'s choice of architecture
// (fit.hpp): the model code the programs share, compiled once in temper_examples_common.
#include <cstdio>
#include <filesystem>

#include "common/fit.hpp"
#include "common/model.hpp"
#include "temper/models/probabilities.hpp"
#include "temper/text/model_inputs.hpp"

namespace examples {

using namespace temper;

namespace {

// "model: pretrained from DIR: DistilBERT, 6 layers, dim 768, 12 heads, 66955010 parameters, 28 multi-label
// labels": what was built.
void describe(Classifier& model, const std::string& origin, size_t labels, const char* kind) {
    std::visit(
        [&](auto& m) {
            std::fprintf(stderr, "model: %s %s, %lld parameters, %zu %s labels\n", origin.c_str(),
                         m.config.summary().c_str(), (long long)m.num_parameters(), labels, kind);
        },
        model);
}

}  // namespace

text::WordPiece load_tokenizer(const ModelArgs& a) {
    using text::WordPiece;
    if (!a.vocab.empty()) {
        const bool json = std::filesystem::path(a.vocab).extension() == ".json";
        return json ? WordPiece::from_tokenizer_json(a.vocab) : WordPiece::from_vocab_file(a.vocab);
    }
    check(!a.model.empty(), "no tokenizer: give --vocab FILE or --model DIR");
    return WordPiece::from_pretrained(a.model);
}

ModelSetup make_model(const ModelArgs& a, const std::vector<std::string>& labels, models::Problem problem,
                      uint64_t seed) {
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

ModelSetup random_model(text::WordPiece tokenizer, const models::AnyClassifierConfig& config, uint64_t seed) {
    return {std::move(tokenizer), models::classifier_from_config<float>(config, seed)};
}

ModelSetup load_checkpoint(const std::string& dir) {
    text::WordPiece tok = text::WordPiece::from_pretrained(dir);
    Classifier m = models::classifier_from_pretrained<float>(
        dir, {.num_labels = std::nullopt, .problem = std::nullopt, .labels = {}, .seed = 42, .verbose = true});
    return {std::move(tok), std::move(m)};
}

const models::ClassifierConfig& classifier_config(const Classifier& model) {
    return std::visit([](const auto& m) -> const models::ClassifierConfig& { return m.config; }, model);
}

int64_t max_position_embeddings(const Classifier& model) {
    return std::visit([](const auto& m) { return int64_t(m.config.max_position_embeddings); }, model);
}

int64_t num_parameters(Classifier& model) {
    return std::visit([](auto& m) { return int64_t(m.num_parameters()); }, model);
}

std::vector<std::vector<double>> predict_probabilities(Classifier& model, const text::WordPiece& tokenizer,
                                                       const std::vector<std::string>& texts, int64_t max_length) {
    if (texts.empty()) return {};
    const text::BatchEncoding enc = tokenizer.encode_batch(texts, {.max_length = size_t(max_length),
                                                                   .truncation = true,
                                                                   .padding = text::Padding::Longest,
                                                                   .add_special_tokens = true,
                                                                   .num_threads = 0});
    const text::ModelInputs in = text::model_inputs(enc);
    return std::visit(
        [&](auto& m) {
            m.eval();
            NoGradGuard no_grad;
            return models::probabilities(m(in.input_ids, in.attention_mask), m.config.problem);
        },
        model);
}

FitRun fit(ModelSetup& setup, const train::Dataset& train, const train::Dataset& dev, const train::Dataset& test,
           const train::TrainerOptions& options) {
    return std::visit([&](auto& model) { return fit(model, setup.tokenizer, train, dev, test, options); },
                      setup.model);
}

}  // namespace examples
