// DistilBertConfig: HF's config.json for DistilBERT, read with validation and written back so that
// transformers' from_pretrained accepts it. Unknown keys are kept and written back unchanged.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "temper/io/atomic_file.hpp"
#include "temper/io/json_fields.hpp"
#include "temper/models/classifier_config.hpp"
#include "temper/nn/transformer.hpp"

namespace temper::models {

// problem, labels, num_labels(), set_num_labels() come from ClassifierConfig (shared with BertConfig).
struct DistilBertConfig : ClassifierConfig {
    int64_t vocab_size = 30522, dim = 768, n_layers = 6, n_heads = 12, hidden_dim = 3072;
    int64_t max_position_embeddings = 512, pad_token_id = 0;
    double dropout = 0.1, attention_dropout = 0.1, seq_classif_dropout = 0.2, qa_dropout = 0.1;
    double initializer_range = 0.02, layer_norm_eps = 1e-12;
    std::string activation = "gelu";
    bool sinusoidal_pos_embds = false;
    io::json extra = io::json::object();  // keys we do not interpret, written back as-is

    nn::Activation act() const { return nn::parse_activation(activation, "DistilBertConfig"); }
    // The architecture and its size, for a person: "DistilBERT, 6 layers, dim 768, 12 heads".
    std::string summary() const { return str("DistilBERT, ", n_layers, " layers, dim ", dim, ", ", n_heads, " heads"); }

    // Cross-field checks; `where` names the source (a file path) in errors.
    void validate(const std::string& where = "DistilBertConfig") const {
        check(dim % n_heads == 0, where, ": field 'dim': ", dim, " is not divisible by n_heads = ", n_heads);
        check(pad_token_id < vocab_size, where, ": field 'pad_token_id': ", pad_token_id,
              " is not below vocab_size = ", vocab_size);
        check(activation == "gelu" || activation == "relu", where,
              ": field 'activation': expected \"gelu\" or \"relu\", found \"", activation, "\"");
        check(!sinusoidal_pos_embds, where,
              ": field 'sinusoidal_pos_embds': true is not supported (only learned "
              "position embeddings, as in every released DistilBERT checkpoint)");
        check(!labels.empty(), where, ": the classification head needs at least one label");
    }

    static DistilBertConfig from_json(const io::json& j, const std::string& where) {
        check(j.is_object(), where, ": expected a JSON object at the top level, found ", io::json_found(j));
        if (j.contains("model_type") && j["model_type"].is_string() && j["model_type"] != "distilbert")
            fail(where, ": field 'model_type': expected \"distilbert\", found ", io::json_found(j["model_type"]));
        DistilBertConfig c;
        c.vocab_size = io::get_int(j, "vocab_size", c.vocab_size, 1, int64_t(1) << 24, where);
        c.dim = io::get_int(j, "dim", c.dim, 1, 65536, where);
        c.n_layers = io::get_int(j, "n_layers", c.n_layers, 1, 1024, where);
        c.n_heads = io::get_int(j, "n_heads", c.n_heads, 1, 65536, where);
        c.hidden_dim = io::get_int(j, "hidden_dim", c.hidden_dim, 1, int64_t(1) << 20, where);
        c.max_position_embeddings =
            io::get_int(j, "max_position_embeddings", c.max_position_embeddings, 1, 1 << 20, where);
        c.pad_token_id = io::get_int(j, "pad_token_id", c.pad_token_id, 0, int64_t(1) << 24, where);
        c.dropout = io::get_double(j, "dropout", c.dropout, 0.0, 0.999, where);
        c.attention_dropout = io::get_double(j, "attention_dropout", c.attention_dropout, 0.0, 0.999, where);
        c.seq_classif_dropout = io::get_double(j, "seq_classif_dropout", c.seq_classif_dropout, 0.0, 0.999, where);
        c.qa_dropout = io::get_double(j, "qa_dropout", c.qa_dropout, 0.0, 0.999, where);
        c.initializer_range = io::get_double(j, "initializer_range", c.initializer_range, 0.0, 10.0, where);
        c.activation = io::get_string(j, "activation", c.activation, where);
        c.sinusoidal_pos_embds = io::get_bool(j, "sinusoidal_pos_embds", c.sinusoidal_pos_embds, where);

        c.read_classifier_fields(j, where);
        static const char* known[] = {"vocab_size",        "dim",
                                      "n_layers",          "n_heads",
                                      "hidden_dim",        "max_position_embeddings",
                                      "pad_token_id",      "dropout",
                                      "attention_dropout", "seq_classif_dropout",
                                      "qa_dropout",        "initializer_range",
                                      "activation",        "sinusoidal_pos_embds",
                                      "model_type",        "architectures"};
        for (auto it = j.begin(); it != j.end(); ++it)
            if (std::find(std::begin(known), std::end(known), it.key()) == std::end(known) &&
                !is_classifier_key(it.key()))
                c.extra[it.key()] = it.value();
        c.validate(where);
        return c;
    }

    static DistilBertConfig load(const std::string& path) {
        return from_json(io::parse_json_file(io::read_text_file(path), path), path);
    }

    io::json to_json() const {
        io::json j = extra;
        j["model_type"] = "distilbert";
        j["architectures"] = {"DistilBertForSequenceClassification"};
        j["vocab_size"] = vocab_size;
        j["dim"] = dim;
        j["n_layers"] = n_layers;
        j["n_heads"] = n_heads;
        j["hidden_dim"] = hidden_dim;
        j["max_position_embeddings"] = max_position_embeddings;
        j["pad_token_id"] = pad_token_id;
        j["dropout"] = dropout;
        j["attention_dropout"] = attention_dropout;
        j["seq_classif_dropout"] = seq_classif_dropout;
        j["qa_dropout"] = qa_dropout;
        j["initializer_range"] = initializer_range;
        j["activation"] = activation;
        j["sinusoidal_pos_embds"] = sinusoidal_pos_embds;
        write_classifier_fields(j);
        return j;
    }

    void save(const std::string& path) const { io::write_file_atomic(path, to_json().dump(2) + "\n"); }
};

}  // namespace temper::models
