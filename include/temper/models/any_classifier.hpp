// One entry for every architecture temper implements: config.json's model_type picks it.
//
//   models::AnyClassifier<float> m = models::classifier_from_pretrained<float>("runs/x/best");
//   std::visit([&](auto& model) { train::Trainer trainer(model, tok, train, dev, opt); trainer.fit(); }, m);
//
// A config.json without model_type is DistilBERT's (temper wrote those before BERT existed); any other
// model_type is refused, listing the supported ones.
#pragma once

#include <string>
#include <variant>

#include "temper/models/bert.hpp"
#include "temper/models/distilbert.hpp"

namespace temper::models {

inline constexpr const char* kSupportedModelTypes = "\"bert\", \"distilbert\"";

// "bert" or "distilbert", from a config.json file.
inline std::string model_type_of_file(const std::string& config_file) {
    const io::json j = io::parse_json_file(io::read_text_file(config_file), config_file);
    check(j.is_object(), config_file, ": expected a JSON object at the top level, found ", io::json_found(j));
    const std::string t = io::get_string(j, "model_type", "distilbert", config_file);
    check(t == "bert" || t == "distilbert", config_file, ": field 'model_type': \"", t,
          "\" is not supported (supported: ", kSupportedModelTypes, ")");
    return t;
}
// The same for a checkpoint directory's config.json.
inline std::string model_type_of(const std::string& dir) { return model_type_of_file(config_path(dir)); }

template <class T>
using AnyClassifier = std::variant<DistilBertForSequenceClassification<T>, BertForSequenceClassification<T>>;
using AnyClassifierConfig = std::variant<DistilBertConfig, BertConfig>;

// The classifier of a checkpoint directory, whichever architecture its config.json names.
template <class T>
AnyClassifier<T> classifier_from_pretrained(const std::string& dir, const ClassifierOptions& opt = {},
                                            Device dev = Device::cpu()) {
    if (model_type_of(dir) == "bert") return BertForSequenceClassification<T>::from_pretrained(dir, opt, dev);
    return DistilBertForSequenceClassification<T>::from_pretrained(dir, opt, dev);
}

// A config.json of either architecture, for a new randomly initialised model (classifier_from_config).
inline AnyClassifierConfig load_classifier_config(const std::string& config_file) {
    if (model_type_of_file(config_file) == "bert") return BertConfig::load(config_file);
    return DistilBertConfig::load(config_file);
}

// A new classifier of the config's architecture, initialised from seed as its constructor does.
template <class T>
AnyClassifier<T> classifier_from_config(const AnyClassifierConfig& config, uint64_t seed = 42) {
    return std::visit(
        [&](const auto& c) -> AnyClassifier<T> {
            if constexpr (std::is_same_v<std::decay_t<decltype(c)>, BertConfig>)
                return BertForSequenceClassification<T>(c, seed);
            else
                return DistilBertForSequenceClassification<T>(c, seed);
        },
        config);
}

}  // namespace temper::models
