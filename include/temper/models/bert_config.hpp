// BertConfig: HF's config.json for BERT, read with validation and written back so that transformers'
// from_pretrained accepts it. Unknown keys are kept and written back unchanged; options that change what the
// model computes and that temper does not implement (relative position embeddings, a decoder, cross-attention)
// are refused naming the field.
#pragma once

#include <algorithm>
#include <iterator>
#include <optional>
#include <string>

#include "temper/io/atomic_file.hpp"
#include "temper/io/json_fields.hpp"
#include "temper/models/classifier_config.hpp"
#include "temper/nn/transformer.hpp"

namespace temper::models {

// problem, labels, num_labels(), set_num_labels() come from ClassifierConfig (shared with DistilBertConfig).
// Defaults are bert-base-uncased's.
struct BertConfig : ClassifierConfig {
    int64_t vocab_size = 30522, hidden_size = 768, num_hidden_layers = 12, num_attention_heads = 12;
    int64_t intermediate_size = 3072, max_position_embeddings = 512, type_vocab_size = 2, pad_token_id = 0;
    double hidden_dropout_prob = 0.1, attention_probs_dropout_prob = 0.1;
    std::optional<double> classifier_dropout = std::nullopt;  // null: hidden_dropout_prob
    double initializer_range = 0.02, layer_norm_eps = 1e-12;
    std::string hidden_act = "gelu";      // HF's "gelu" is the exact erf GELU
    io::json extra = io::json::object();  // keys we do not interpret, written back as-is

    nn::Activation act() const { return nn::parse_activation(hidden_act, "BertConfig"); }
    double classifier_dropout_prob() const { return classifier_dropout.value_or(hidden_dropout_prob); }
    // The architecture and its size, for a person: "BERT, 12 layers, hidden 768, 12 heads".
    std::string summary() const {
        return str("BERT, ", num_hidden_layers, " layers, hidden ", hidden_size, ", ", num_attention_heads, " heads");
    }

    // Cross-field checks; `where` names the source (a file path) in errors.
    void validate(const std::string& where = "BertConfig") const {
        check(hidden_size % num_attention_heads == 0, where, ": field 'hidden_size': ", hidden_size,
              " is not divisible by num_attention_heads = ", num_attention_heads);
        check(pad_token_id < vocab_size, where, ": field 'pad_token_id': ", pad_token_id,
              " is not below vocab_size = ", vocab_size);
        check(hidden_act == "gelu" || hidden_act == "relu", where,
              ": field 'hidden_act': expected \"gelu\" or \"relu\", found \"", hidden_act, "\"");
        check(!labels.empty(), where, ": the classification head needs at least one label");
    }

    static BertConfig from_json(const io::json& j, const std::string& where) {
        check(j.is_object(), where, ": expected a JSON object at the top level, found ", io::json_found(j));
        if (j.contains("model_type") && j["model_type"].is_string() && j["model_type"] != "bert")
            fail(where, ": field 'model_type': expected \"bert\", found ", io::json_found(j["model_type"]));
        BertConfig c;
        c.vocab_size = io::get_int(j, "vocab_size", c.vocab_size, 1, int64_t(1) << 24, where);
        c.hidden_size = io::get_int(j, "hidden_size", c.hidden_size, 1, 65536, where);
        c.num_hidden_layers = io::get_int(j, "num_hidden_layers", c.num_hidden_layers, 1, 1024, where);
        c.num_attention_heads = io::get_int(j, "num_attention_heads", c.num_attention_heads, 1, 65536, where);
        c.intermediate_size = io::get_int(j, "intermediate_size", c.intermediate_size, 1, int64_t(1) << 20, where);
        c.max_position_embeddings =
            io::get_int(j, "max_position_embeddings", c.max_position_embeddings, 1, 1 << 20, where);
        c.type_vocab_size = io::get_int(j, "type_vocab_size", c.type_vocab_size, 1, 1 << 16, where);
        c.pad_token_id = io::get_int(j, "pad_token_id", c.pad_token_id, 0, int64_t(1) << 24, where);
        c.hidden_dropout_prob = io::get_double(j, "hidden_dropout_prob", c.hidden_dropout_prob, 0.0, 0.999, where);
        c.attention_probs_dropout_prob =
            io::get_double(j, "attention_probs_dropout_prob", c.attention_probs_dropout_prob, 0.0, 0.999, where);
        if (j.contains("classifier_dropout") && !j["classifier_dropout"].is_null())
            c.classifier_dropout = io::get_double(j, "classifier_dropout", 0.0, 0.0, 0.999, where);
        c.initializer_range = io::get_double(j, "initializer_range", c.initializer_range, 0.0, 10.0, where);
        c.layer_norm_eps = io::get_double(j, "layer_norm_eps", c.layer_norm_eps, 0.0, 1.0, where);
        c.hidden_act = io::get_string(j, "hidden_act", c.hidden_act, where);

        // What would change the computation and is not implemented: refused, never silently ignored.
        const std::string pe = io::get_string(j, "position_embedding_type", "absolute", where);
        check(pe == "absolute", where, ": field 'position_embedding_type': only \"absolute\" is supported, found \"",
              pe, "\"");
        check(!io::get_bool(j, "is_decoder", false, where), where,
              ": field 'is_decoder': true is not supported (temper's BERT is an encoder; causal attention is not "
              "implemented)");
        check(!io::get_bool(j, "add_cross_attention", false, where), where,
              ": field 'add_cross_attention': true is not supported (no encoder-decoder cross-attention)");
        check(io::get_int(j, "chunk_size_feed_forward", 0, 0, INT64_MAX, where) == 0, where,
              ": field 'chunk_size_feed_forward': only 0 is supported (the feed-forward runs unchunked)");

        c.read_classifier_fields(j, where);
        // Interpreted above (or, like model_type and architectures, rewritten by to_json): not kept in extra.
        // The refused options are dropped too: they can only hold their supported values here.
        static const char* known[] = {"vocab_size",
                                      "hidden_size",
                                      "num_hidden_layers",
                                      "num_attention_heads",
                                      "intermediate_size",
                                      "max_position_embeddings",
                                      "type_vocab_size",
                                      "pad_token_id",
                                      "hidden_dropout_prob",
                                      "attention_probs_dropout_prob",
                                      "classifier_dropout",
                                      "initializer_range",
                                      "layer_norm_eps",
                                      "hidden_act",
                                      "position_embedding_type",
                                      "is_decoder",
                                      "add_cross_attention",
                                      "chunk_size_feed_forward",
                                      "model_type",
                                      "architectures"};
        for (auto it = j.begin(); it != j.end(); ++it)
            if (std::find(std::begin(known), std::end(known), it.key()) == std::end(known) &&
                !is_classifier_key(it.key()))
                c.extra[it.key()] = it.value();
        c.validate(where);
        return c;
    }

    static BertConfig load(const std::string& path) {
        return from_json(io::parse_json_file(io::read_text_file(path), path), path);
    }

    io::json to_json() const {
        io::json j = extra;
        j["model_type"] = "bert";
        j["architectures"] = {"BertForSequenceClassification"};
        j["vocab_size"] = vocab_size;
        j["hidden_size"] = hidden_size;
        j["num_hidden_layers"] = num_hidden_layers;
        j["num_attention_heads"] = num_attention_heads;
        j["intermediate_size"] = intermediate_size;
        j["max_position_embeddings"] = max_position_embeddings;
        j["type_vocab_size"] = type_vocab_size;
        j["pad_token_id"] = pad_token_id;
        j["hidden_dropout_prob"] = hidden_dropout_prob;
        j["attention_probs_dropout_prob"] = attention_probs_dropout_prob;
        j["classifier_dropout"] = classifier_dropout ? io::json(*classifier_dropout) : io::json(nullptr);
        j["initializer_range"] = initializer_range;
        j["layer_norm_eps"] = layer_norm_eps;
        j["hidden_act"] = hidden_act;
        j["position_embedding_type"] = "absolute";
        j["is_decoder"] = false;
        j["add_cross_attention"] = false;
        write_classifier_fields(j);
        return j;
    }

    void save(const std::string& path) const { io::write_file_atomic(path, to_json().dump(2) + "\n"); }
};

}  // namespace temper::models
