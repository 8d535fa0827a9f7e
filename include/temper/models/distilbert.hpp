// DistilBERT as in HF transformers' modeling_distilbert: the encoder (DistilBertModel) and the sequence
// classification model ([CLS] -> pre_classifier -> ReLU -> dropout -> classifier), with HF parameter names,
// from_pretrained / save_pretrained on HF checkpoint directories.
#pragma once

#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "temper/io/hf_checkpoint.hpp"
#include "temper/models/classifier.hpp"
#include "temper/models/distilbert_config.hpp"
#include "temper/nn/transformer.hpp"

namespace temper::models {

// Before a model is built from config.json: the encoder it describes must be of the order of the values the
// checkpoint files really hold (at most twice as many, plus 16M so that checkpoints missing a few tensors still
// get load_into's full report). A hostile config (dim 65536, vocab 2^24) thus cannot allocate far more than the
// files, and a config.json of another model, or with missing keys (which take distilbert-base's defaults),
// fails here naming the fields.
inline void check_config_fits(const DistilBertConfig& c, const io::Checkpoint& ck, const std::string& where) {
    const double d = double(c.dim), h = double(c.hidden_dim);  // double: no overflow
    const double encoder = double(c.vocab_size + c.max_position_embeddings + 2) * d +
                           double(c.n_layers) * (4 * (d * d + d) + 2 * d * h + h + d + 4 * d);
    const uint64_t held = ck.total_numel();
    check(encoder <= 2 * double(held) + double(1 << 24), where, ": vocab_size ", c.vocab_size, ", dim ", c.dim,
          ", n_layers ", c.n_layers, ", hidden_dim ", c.hidden_dim, ", max_position_embeddings ",
          c.max_position_embeddings, " describe an encoder of ", encoder, " parameters, but the checkpoint in ",
          ck.dir(), " holds only ", held, " values: config.json does not belong to it (a missing key takes ",
          "distilbert-base's default)");
}

template <class T>
class DistilBertEmbeddings : public nn::Module<T> {
public:
    nn::Embedding<T> word_embeddings, position_embeddings;
    nn::LayerNorm<T> LayerNorm;
    nn::Dropout<T> dropout;

    DistilBertEmbeddings() = default;
    DistilBertEmbeddings(const DistilBertConfig& c, Generator& gen)
        : word_embeddings(c.vocab_size, c.dim, gen, c.initializer_range, c.pad_token_id),
          position_embeddings(c.max_position_embeddings, c.dim, gen, c.initializer_range),
          LayerNorm(c.dim, c.layer_norm_eps),
          dropout(c.dropout) {}
    void children(const typename nn::Module<T>::ChildFn& f) override {
        f("word_embeddings", word_embeddings);
        f("position_embeddings", position_embeddings);
        f("LayerNorm", LayerNorm);
        f("dropout", dropout);
    }
    Tensor<T> operator()(const Tensor<int64_t>& ids) const {
        Tensor<int64_t> positions = Tensor<int64_t>::arange(ids.size(1), ids.device());
        // DistilBertModel checked the ids on the host; positions are in range by construction.
        return dropout(LayerNorm(add(word_embeddings(ids, true), position_embeddings(positions, true))));
    }
};

template <class T>
class DistilBertTransformer : public nn::Module<T> {
public:
    nn::ModuleList<T, nn::TransformerBlock<T>> layer;
    void children(const typename nn::Module<T>::ChildFn& f) override { f("layer", layer); }
};

// The encoder: input_ids [B, S] (+ attention_mask [B, S], 1 = token, 0 = padding) -> last_hidden_state [B, S, dim].
template <class T>
class DistilBertModel : public nn::Module<T> {
public:
    DistilBertConfig config;
    DistilBertEmbeddings<T> embeddings;
    DistilBertTransformer<T> transformer;

    DistilBertModel() = default;
    explicit DistilBertModel(const DistilBertConfig& c, uint64_t seed = 42) : DistilBertModel(c, Generator(seed)) {}
    DistilBertModel(const DistilBertConfig& c, Generator&& gen) : DistilBertModel(c, gen) {}
    DistilBertModel(const DistilBertConfig& c, Generator& gen) : config(c), embeddings(c, gen) {
        c.validate();
        for (int64_t i = 0; i < c.n_layers; ++i)
            transformer.layer.items.emplace_back(c.dim, c.n_heads, c.hidden_dim, c.dropout, c.attention_dropout,
                                                 c.act(), c.layer_norm_eps, gen, c.initializer_range);
    }
    void children(const typename nn::Module<T>::ChildFn& f) override {
        f("embeddings", embeddings);
        f("transformer", transformer);
    }

    // Inputs may live on the CPU or on the model's device; they are checked (ids in range) and moved there.
    Tensor<T> operator()(const Tensor<int64_t>& input_ids,
                         const Tensor<int64_t>& attention_mask = Tensor<int64_t>()) const {
        check_inputs(input_ids, attention_mask);
        const Device dev = embeddings.word_embeddings.weight.device();
        return forward_checked(input_ids.to(dev), attention_mask.defined() ? attention_mask.to(dev) : attention_mask);
    }

    // The forward on inputs already on the model's device whose ids check_inputs has accepted. It makes no
    // host round trip, so it can be captured into a CUDA graph (models/inference_graph.hpp).
    Tensor<T> forward_checked(const Tensor<int64_t>& ids, const Tensor<int64_t>& mask) const {
        const Device dev = embeddings.word_embeddings.weight.device();
        check(ids.device() == dev && (!mask.defined() || mask.device() == dev), "forward_checked: inputs on ",
              ids.device(), " but the model on ", dev);
        Tensor<T> h = embeddings(ids);
        for (const auto& block : transformer.layer.items) h = block(h, mask);
        return h;
    }

    // Loads an encoder-only checkpoint (DistilBertModel or any DistilBert* checkpoint's encoder part).
    static DistilBertModel from_pretrained(const std::string& dir, Device dev = Device::cpu(), bool verbose = true) {
        const std::string cfg_path = config_path(dir);
        const DistilBertConfig c = DistilBertConfig::load(cfg_path);
        const io::Checkpoint ck = io::Checkpoint::open(dir);
        check_config_fits(c, ck, cfg_path);
        Generator gen(42);
        gen.set_skip_values(true);  // every tensor comes from the checkpoint (load_into fails otherwise)
        DistilBertModel m(c, gen);
        io::LoadRules rules;
        rules.rename = [](const std::string& n) -> std::optional<std::string> {
            if (n.rfind("distilbert.", 0) == 0) return n.substr(11);
            return n;
        };
        rules.ignore = [](const std::string& n) { return is_pretraining_head(n) || !encoder_tensor(n); };
        m.report_ = io::load_into<T>(m, ck, rules);
        if (verbose) print_load_report(dir, m.report_);
        m.to(dev);
        return m;
    }
    const io::LoadReport& load_report() const { return report_; }

    void check_inputs(const Tensor<int64_t>& ids, const Tensor<int64_t>& mask) const {
        check(ids.defined() && ids.dim() == 2, "input_ids: expected shape [batch, seq_len], got ",
              shape_of(ids, "an undefined tensor"));
        check(ids.size(1) >= 1 && ids.size(1) <= config.max_position_embeddings, "input_ids: sequence length ",
              ids.size(1), " must be in [1, max_position_embeddings = ", config.max_position_embeddings, "]");
        check(!mask.defined() || mask.shape() == ids.shape(), "attention_mask: shape ", shape_of(mask, ""),
              " does not match input_ids shape ", shape_of(ids.shape()));
        auto v = ids.to_vector();
        for (size_t i = 0; i < v.size(); ++i)
            check(v[i] >= 0 && v[i] < config.vocab_size, "input_ids: token id ", v[i], " at [", i / size_t(ids.size(1)),
                  ", ", i % size_t(ids.size(1)), "] is out of range for vocab_size ", config.vocab_size);
    }

    static bool is_pretraining_head(const std::string& n) {
        for (const char* p : {"vocab_transform.", "vocab_layer_norm.", "vocab_projector."})
            if (n.rfind(p, 0) == 0) return true;
        return false;
    }
    static bool encoder_tensor(const std::string& n) {
        std::string s = n.rfind("distilbert.", 0) == 0 ? n.substr(11) : n;
        return s.rfind("embeddings.", 0) == 0 || s.rfind("transformer.", 0) == 0;
    }

private:
    io::LoadReport report_;
};

template <class T>
class DistilBertForSequenceClassification : public nn::Module<T> {
public:
    static constexpr const char* tokenizer_class = "DistilBertTokenizer";  // for tokenizer_config.json
    DistilBertConfig config;
    DistilBertModel<T> distilbert;
    nn::Linear<T> pre_classifier, classifier;
    nn::Dropout<T> dropout;

    DistilBertForSequenceClassification() = default;
    explicit DistilBertForSequenceClassification(const DistilBertConfig& c, uint64_t seed = 42)
        : DistilBertForSequenceClassification(c, Generator(seed)) {}
    DistilBertForSequenceClassification(const DistilBertConfig& c, Generator&& gen)
        : DistilBertForSequenceClassification(c, gen) {}
    DistilBertForSequenceClassification(const DistilBertConfig& c, Generator& gen)
        : DistilBertForSequenceClassification(c, DistilBertModel<T>(c, gen), gen) {}
    // Heads initialised from gen on top of a given encoder (built from the same config).
    DistilBertForSequenceClassification(const DistilBertConfig& c, DistilBertModel<T>&& encoder, Generator& gen)
        : config(c),
          distilbert(std::move(encoder)),
          pre_classifier(c.dim, c.dim, gen, c.initializer_range),
          classifier(c.dim, c.num_labels(), gen, c.initializer_range),
          dropout(c.seq_classif_dropout) {}
    void children(const typename nn::Module<T>::ChildFn& f) override {
        f("distilbert", distilbert);
        f("pre_classifier", pre_classifier);
        f("classifier", classifier);
        f("dropout", dropout);
    }

    // Logits [B, num_labels] from the first ([CLS]) token.
    Tensor<T> operator()(const Tensor<int64_t>& input_ids,
                         const Tensor<int64_t>& attention_mask = Tensor<int64_t>()) const {
        return head(distilbert(input_ids, attention_mask));
    }
    // As DistilBertModel::forward_checked: inputs on the model's device, ids checked; no host round trip.
    Tensor<T> forward_checked(const Tensor<int64_t>& ids, const Tensor<int64_t>& mask) const {
        return head(distilbert.forward_checked(ids, mask));
    }
    void check_inputs(const Tensor<int64_t>& ids, const Tensor<int64_t>& mask) const {
        distilbert.check_inputs(ids, mask);
    }
    int64_t max_seq_len() const { return config.max_position_embeddings; }

    // [CLS] hidden state -> pre_classifier -> ReLU -> dropout -> classifier.
    Tensor<T> head(const Tensor<T>& hidden) const {
        return classifier(dropout(relu(pre_classifier(select(hidden, 1, 0)))));  // [B, num_labels]
    }

    // Multi-label: BCE-with-logits (mean) against multi-hot targets [B, num_labels].
    Tensor<T> loss(const Tensor<T>& logits, const Tensor<T>& targets, const Tensor<T>& pos_weight = Tensor<T>()) const {
        return classifier_loss(config, logits, targets, pos_weight);
    }
    // Single-label: cross-entropy (mean) against class ids [B].
    Tensor<T> loss(const Tensor<T>& logits, const Tensor<int64_t>& labels) const {
        return classifier_loss(config, logits, labels);
    }

    static DistilBertForSequenceClassification from_pretrained(const std::string& dir,
                                                               const ClassifierOptions& opt = {},
                                                               Device dev = Device::cpu()) {
        const std::string cfg_path = config_path(dir);
        DistilBertConfig c = DistilBertConfig::load(cfg_path);
        apply_options(c, opt);
        const io::Checkpoint ck = io::Checkpoint::open(dir);
        check_config_fits(c, ck, cfg_path);
        // The encoder comes from the checkpoint, so its random initialisation is skipped; the generator still
        // advances past it, and the heads get the very values DistilBertForSequenceClassification(c, seed) has.
        Generator gen(opt.seed);
        gen.set_skip_values(true);
        DistilBertModel<T> encoder(c, gen);
        gen.set_skip_values(false);
        DistilBertForSequenceClassification m(c, std::move(encoder), gen);
        io::LoadRules rules;
        rules.rename = [](const std::string& n) -> std::optional<std::string> {
            if (n.rfind("embeddings.", 0) == 0 || n.rfind("transformer.", 0) == 0) return "distilbert." + n;
            return n;
        };
        rules.ignore = DistilBertModel<T>::is_pretraining_head;
        rules.may_be_missing = [](const std::string& n) {
            return n.rfind("pre_classifier.", 0) == 0 || n.rfind("classifier.", 0) == 0;
        };
        m.report_ = io::load_into<T>(m, ck, rules);
        if (opt.verbose) print_load_report(dir, m.report_);
        m.to(dev);
        return m;
    }
    const io::LoadReport& load_report() const { return report_; }

    // Writes config.json and model.safetensors (each atomically) that HF's from_pretrained loads.
    // Weights are stored as `dtype` (F32 by default; BF16 / F16 halve the size).
    void save_pretrained(const std::string& dir, DType dtype = DType::F32) {
        save_pretrained_dir(*this, config, dir, dtype);
    }

private:
    io::LoadReport report_;
};

}  // namespace temper::models
