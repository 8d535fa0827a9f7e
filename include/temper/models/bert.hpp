// BERT as in HF transformers' modeling_bert: the encoder (BertModel: word + position + token-type embeddings,
// post-LN layers, the [CLS] pooler) and the sequence classification model (pooler -> dropout -> classifier),
// with HF parameter names, from_pretrained / save_pretrained on HF checkpoint directories. Built from the layers
// DistilBERT uses (nn/transformer.hpp): the same attention, fused bias + GELU and fused add + LayerNorm.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "temper/io/hf_checkpoint.hpp"
#include "temper/models/bert_config.hpp"
#include "temper/models/classifier.hpp"
#include "temper/nn/transformer.hpp"

namespace temper::models {

// As check_config_fits for DistilBERT: the encoder config.json describes must be of the order of the values the
// checkpoint holds (at most twice as many, plus 16M), so a hostile or foreign config.json fails naming its
// sizes before anything is allocated.
inline void check_config_fits(const BertConfig& c, const io::Checkpoint& ck, const std::string& where) {
    const double d = double(c.hidden_size), h = double(c.intermediate_size);  // double: no overflow
    const double encoder = double(c.vocab_size + c.max_position_embeddings + c.type_vocab_size + 2) * d +
                           double(c.num_hidden_layers) * (4 * (d * d + d) + 2 * d * h + h + d + 4 * d) + d * d + d;
    const uint64_t held = ck.total_numel();
    check(encoder <= 2 * double(held) + double(1 << 24), where, ": vocab_size ", c.vocab_size, ", hidden_size ",
          c.hidden_size, ", num_hidden_layers ", c.num_hidden_layers, ", intermediate_size ", c.intermediate_size,
          ", max_position_embeddings ", c.max_position_embeddings, ", type_vocab_size ", c.type_vocab_size,
          " describe an encoder of ", encoder, " parameters, but the checkpoint in ", ck.dir(), " holds only ", held,
          " values: config.json does not belong to it (a missing key takes bert-base's default)");
}

template <class T>
class BertEmbeddings : public nn::Module<T> {
public:
    nn::Embedding<T> word_embeddings, position_embeddings, token_type_embeddings;
    nn::LayerNorm<T> LayerNorm;
    nn::Dropout<T> dropout;

    BertEmbeddings() = default;
    BertEmbeddings(const BertConfig& c, Generator& gen)
        : word_embeddings(c.vocab_size, c.hidden_size, gen, c.initializer_range, c.pad_token_id),
          position_embeddings(c.max_position_embeddings, c.hidden_size, gen, c.initializer_range),
          token_type_embeddings(c.type_vocab_size, c.hidden_size, gen, c.initializer_range),
          LayerNorm(c.hidden_size, c.layer_norm_eps),
          dropout(c.hidden_dropout_prob) {}
    void children(const typename nn::Module<T>::ChildFn& f) override {
        f("word_embeddings", word_embeddings);
        f("position_embeddings", position_embeddings);
        f("token_type_embeddings", token_type_embeddings);
        f("LayerNorm", LayerNorm);
        f("dropout", dropout);
    }
    // ids, token_type_ids [B, S], checked by BertModel (token types undefined: all 0, as HF's default).
    Tensor<T> operator()(const Tensor<int64_t>& ids, const Tensor<int64_t>& token_type_ids) const {
        const Tensor<int64_t> positions = Tensor<int64_t>::arange(ids.size(1), ids.device());
        const Tensor<int64_t> types =
            token_type_ids.defined() ? token_type_ids : Tensor<int64_t>::zeros(ids.shape(), ids.device());
        // LayerNorm(word + position + token type): the last sum fused into the LayerNorm
        return dropout(LayerNorm(add(word_embeddings(ids, true), position_embeddings(positions, true)),
                                 token_type_embeddings(types, true)));
    }
};

// query, key, value and the attention dropout; the context before the output projection (BertSelfOutput).
template <class T>
class BertSelfAttention : public nn::Module<T> {
public:
    nn::Linear<T> query, key, value;
    nn::Dropout<T> dropout;
    int64_t num_heads = 1;

    BertSelfAttention() = default;
    BertSelfAttention(const BertConfig& c, Generator& gen)
        : query(c.hidden_size, c.hidden_size, gen, c.initializer_range),
          key(c.hidden_size, c.hidden_size, gen, c.initializer_range),
          value(c.hidden_size, c.hidden_size, gen, c.initializer_range),
          dropout(c.attention_probs_dropout_prob),
          num_heads(c.num_attention_heads) {}
    void children(const typename nn::Module<T>::ChildFn& f) override {
        f("query", query);
        f("key", key);
        f("value", value);
        f("dropout", dropout);
    }
    Tensor<T> operator()(const Tensor<T>& x, const Tensor<int64_t>& mask) const {
        return nn::self_attention(x, mask, query, key, value, num_heads, dropout.p, this->is_training());
    }
};

// dense -> dropout -> LayerNorm(+ residual): HF's BertSelfOutput (in = hidden_size) and BertOutput
// (in = intermediate_size), which differ only in the input width.
template <class T>
class BertOutput : public nn::Module<T> {
public:
    nn::Linear<T> dense;
    nn::LayerNorm<T> LayerNorm;
    nn::Dropout<T> dropout;

    BertOutput() = default;
    BertOutput(int64_t in, const BertConfig& c, Generator& gen)
        : dense(in, c.hidden_size, gen, c.initializer_range),
          LayerNorm(c.hidden_size, c.layer_norm_eps),
          dropout(c.hidden_dropout_prob) {}
    void children(const typename nn::Module<T>::ChildFn& f) override {
        f("dense", dense);
        f("LayerNorm", LayerNorm);
        f("dropout", dropout);
    }
    Tensor<T> operator()(const Tensor<T>& h, const Tensor<T>& residual) const {
        return LayerNorm(dropout(dense(h)), residual);  // LayerNorm(h + residual), one fused op
    }
};

template <class T>
class BertAttention : public nn::Module<T> {
public:
    BertSelfAttention<T> self;
    BertOutput<T> output;

    BertAttention() = default;
    BertAttention(const BertConfig& c, Generator& gen) : self(c, gen), output(c.hidden_size, c, gen) {}
    void children(const typename nn::Module<T>::ChildFn& f) override {
        f("self", self);
        f("output", output);
    }
    Tensor<T> operator()(const Tensor<T>& x, const Tensor<int64_t>& mask) const { return output(self(x, mask), x); }
};

template <class T>
class BertIntermediate : public nn::Module<T> {
public:
    nn::Linear<T> dense;
    Activation activation = Activation::GELU;

    BertIntermediate() = default;
    BertIntermediate(const BertConfig& c, Generator& gen)
        : dense(c.hidden_size, c.intermediate_size, gen, c.initializer_range), activation(c.act()) {}
    void children(const typename nn::Module<T>::ChildFn& f) override { f("dense", dense); }
    Tensor<T> operator()(const Tensor<T>& x) const { return nn::linear_activation(dense, x, activation); }
};

template <class T>
class BertLayer : public nn::Module<T> {
public:
    BertAttention<T> attention;
    BertIntermediate<T> intermediate;
    BertOutput<T> output;

    BertLayer() = default;
    BertLayer(const BertConfig& c, Generator& gen)
        : attention(c, gen), intermediate(c, gen), output(c.intermediate_size, c, gen) {}
    void children(const typename nn::Module<T>::ChildFn& f) override {
        f("attention", attention);
        f("intermediate", intermediate);
        f("output", output);
    }
    Tensor<T> operator()(const Tensor<T>& x, const Tensor<int64_t>& mask) const {
        const Tensor<T> a = attention(x, mask);
        return output(intermediate(a), a);
    }
};

template <class T>
class BertEncoder : public nn::Module<T> {
public:
    nn::ModuleList<T, BertLayer<T>> layer;

    BertEncoder() = default;
    BertEncoder(const BertConfig& c, Generator& gen) {
        for (int64_t i = 0; i < c.num_hidden_layers; ++i) layer.items.emplace_back(c, gen);
    }
    void children(const typename nn::Module<T>::ChildFn& f) override { f("layer", layer); }
};

// tanh(dense(hidden of the first token)): the sentence representation BertForSequenceClassification classifies.
template <class T>
class BertPooler : public nn::Module<T> {
public:
    nn::Linear<T> dense;

    BertPooler() = default;
    BertPooler(const BertConfig& c, Generator& gen) : dense(c.hidden_size, c.hidden_size, gen, c.initializer_range) {}
    void children(const typename nn::Module<T>::ChildFn& f) override { f("dense", dense); }
    Tensor<T> operator()(const Tensor<T>& hidden) const {
        return nn::linear_activation(dense, select(hidden, 1, 0), Activation::Tanh);  // [B, hidden_size]
    }
};

template <class T>
struct BertModelOutput {
    Tensor<T> last_hidden_state;  // [B, S, hidden_size]
    Tensor<T> pooler_output;      // [B, hidden_size]
};

// The encoder: input_ids [B, S] (+ attention_mask [B, S], 1 = token, 0 = padding; + token_type_ids [B, S],
// default all 0) -> last_hidden_state [B, S, hidden_size] and pooler_output [B, hidden_size].
template <class T>
class BertModel : public nn::Module<T> {
public:
    BertConfig config;
    BertEmbeddings<T> embeddings;
    BertEncoder<T> encoder;
    BertPooler<T> pooler;

    BertModel() = default;
    explicit BertModel(const BertConfig& c, uint64_t seed = 42) : BertModel(c, Generator(seed)) {}
    BertModel(const BertConfig& c, Generator&& gen) : BertModel(c, gen) {}
    // Parameters drawn from gen in HF's order: embeddings, layers, pooler.
    BertModel(const BertConfig& c, Generator& gen)
        : config((c.validate(), c)), embeddings(c, gen), encoder(c, gen), pooler(c, gen) {}
    BertModel(const BertConfig& c, BertEmbeddings<T>&& e, BertEncoder<T>&& enc, BertPooler<T>&& p)
        : config((c.validate(), c)), embeddings(std::move(e)), encoder(std::move(enc)), pooler(std::move(p)) {}
    void children(const typename nn::Module<T>::ChildFn& f) override {
        f("embeddings", embeddings);
        f("encoder", encoder);
        f("pooler", pooler);
    }

    // Inputs may live on the CPU or on the model's device; they are checked (ids in range) and moved there.
    BertModelOutput<T> operator()(const Tensor<int64_t>& input_ids,
                                  const Tensor<int64_t>& attention_mask = Tensor<int64_t>(),
                                  const Tensor<int64_t>& token_type_ids = Tensor<int64_t>()) const {
        check_inputs(input_ids, attention_mask, token_type_ids);
        const Device dev = device_of_weights();
        auto to_dev = [&](const Tensor<int64_t>& t) { return t.defined() ? t.to(dev) : t; };
        return forward_checked(input_ids.to(dev), to_dev(attention_mask), to_dev(token_type_ids));
    }

    // The forward on inputs already on the model's device that check_inputs has accepted: no host round trip,
    // so it can be captured into a CUDA graph.
    BertModelOutput<T> forward_checked(const Tensor<int64_t>& ids, const Tensor<int64_t>& mask,
                                       const Tensor<int64_t>& token_type_ids = Tensor<int64_t>()) const {
        Tensor<T> h = hidden_states_checked(ids, mask, token_type_ids);
        Tensor<T> pooled = pooler(h);
        return {std::move(h), std::move(pooled)};
    }
    // last_hidden_state alone (what the classifier's head starts from).
    Tensor<T> hidden_states_checked(const Tensor<int64_t>& ids, const Tensor<int64_t>& mask,
                                    const Tensor<int64_t>& token_type_ids) const {
        const Device dev = device_of_weights();
        check(ids.device() == dev && (!mask.defined() || mask.device() == dev) &&
                  (!token_type_ids.defined() || token_type_ids.device() == dev),
              "forward_checked: inputs on ", ids.device(), " but the model on ", dev);
        Tensor<T> h = embeddings(ids, token_type_ids);
        for (const auto& layer : encoder.layer.items) h = layer(h, mask);
        return h;
    }

    void check_inputs(const Tensor<int64_t>& ids, const Tensor<int64_t>& mask,
                      const Tensor<int64_t>& token_type_ids = Tensor<int64_t>()) const {
        check(ids.defined() && ids.dim() == 2, "input_ids: expected shape [batch, seq_len], got ",
              shape_of(ids, "an undefined tensor"));
        check(ids.size(1) >= 1 && ids.size(1) <= config.max_position_embeddings, "input_ids: sequence length ",
              ids.size(1), " must be in [1, max_position_embeddings = ", config.max_position_embeddings, "]");
        check(!mask.defined() || mask.shape() == ids.shape(), "attention_mask: shape ", shape_of(mask, ""),
              " does not match input_ids shape ", shape_of(ids.shape()));
        check_ids(ids, config.vocab_size, "input_ids", "vocab_size");
        if (!token_type_ids.defined()) return;
        check(token_type_ids.shape() == ids.shape(), "token_type_ids: shape ", shape_of(token_type_ids.shape()),
              " does not match input_ids shape ", shape_of(ids.shape()));
        check_ids(token_type_ids, config.type_vocab_size, "token_type_ids", "type_vocab_size");
    }

    // Loads an encoder-only checkpoint: BertModel's own (embeddings.*, encoder.*, pooler.*, as sentence-transformers
    // stores BERT) or the bert.* part of any Bert* checkpoint. Pre-training heads (cls.*) and task heads are
    // ignored; a checkpoint without the pooler gets a freshly initialised one, listed in load_report().
    static BertModel from_pretrained(const std::string& dir, Device dev = Device::cpu(), bool verbose = true,
                                     uint64_t seed = 42) {
        const std::string cfg_path = config_path(dir);
        const BertConfig c = BertConfig::load(cfg_path);
        const io::Checkpoint ck = io::Checkpoint::open(dir);
        check_config_fits(c, ck, cfg_path);
        Generator gen(seed);
        BertModel m = for_checkpoint(c, ck, gen);
        io::LoadRules rules;
        rules.rename = [](const std::string& n) -> std::optional<std::string> { return without_prefix(n); };
        rules.ignore = [](const std::string& n) { return is_pretraining_head(n) || !encoder_tensor(n); };
        rules.may_be_missing = is_pooler;
        m.report_ = io::load_into<T>(m, ck, rules);
        if (verbose) print_load_report(dir, m.report_);
        m.to(dev);
        return m;
    }
    const io::LoadReport& load_report() const { return report_; }

    // A model whose embeddings and layers will come from ck: their random values are skipped (gen still
    // advances past them, so what follows draws what a fresh model would); the pooler is drawn when ck lacks it.
    static BertModel for_checkpoint(const BertConfig& c, const io::Checkpoint& ck, Generator& gen) {
        const bool pooler_held = ck.contains("bert.pooler.dense.weight") || ck.contains("pooler.dense.weight");
        const bool skipping = gen.skips_values();
        gen.set_skip_values(true);
        BertEmbeddings<T> e(c, gen);
        BertEncoder<T> enc(c, gen);
        gen.set_skip_values(pooler_held);
        BertPooler<T> p(c, gen);
        gen.set_skip_values(skipping);
        return BertModel(c, std::move(e), std::move(enc), std::move(p));
    }

    static std::string without_prefix(const std::string& n) { return n.rfind("bert.", 0) == 0 ? n.substr(5) : n; }
    // What is skipped silently, as HF skips it: BertForPreTraining / BertForMaskedLM heads, and the
    // position_ids / token_type_ids buffers older transformers versions saved with the weights.
    static bool is_pretraining_head(const std::string& n) {
        const std::string s = without_prefix(n);
        return n.rfind("cls.", 0) == 0 || s == "embeddings.position_ids" || s == "embeddings.token_type_ids";
    }
    static bool encoder_tensor(const std::string& n) {
        const std::string s = without_prefix(n);
        return s.rfind("embeddings.", 0) == 0 || s.rfind("encoder.", 0) == 0 || s.rfind("pooler.", 0) == 0;
    }
    static bool is_pooler(const std::string& n) { return without_prefix(n).rfind("pooler.", 0) == 0; }

private:
    Device device_of_weights() const { return embeddings.word_embeddings.weight.device(); }
    static void check_ids(const Tensor<int64_t>& ids, int64_t limit, const char* what, const char* field) {
        const auto v = ids.to_vector();
        for (size_t i = 0; i < v.size(); ++i)
            check(v[i] >= 0 && v[i] < limit, what, ": id ", v[i], " at [", i / size_t(ids.size(1)), ", ",
                  i % size_t(ids.size(1)), "] is out of range for ", field, " ", limit);
    }

    io::LoadReport report_;
};

template <class T>
class BertForSequenceClassification : public nn::Module<T> {
public:
    static constexpr const char* tokenizer_class = "BertTokenizer";  // for tokenizer_config.json
    BertConfig config;
    BertModel<T> bert;
    nn::Dropout<T> dropout;
    nn::Linear<T> classifier;

    BertForSequenceClassification() = default;
    explicit BertForSequenceClassification(const BertConfig& c, uint64_t seed = 42)
        : BertForSequenceClassification(c, Generator(seed)) {}
    BertForSequenceClassification(const BertConfig& c, Generator&& gen) : BertForSequenceClassification(c, gen) {}
    BertForSequenceClassification(const BertConfig& c, Generator& gen)
        : BertForSequenceClassification(c, BertModel<T>(c, gen), gen) {}
    // The classifier initialised from gen on top of a given encoder (built from the same config).
    BertForSequenceClassification(const BertConfig& c, BertModel<T>&& encoder, Generator& gen)
        : config(c),
          bert(std::move(encoder)),
          dropout(c.classifier_dropout_prob()),
          classifier(c.hidden_size, c.num_labels(), gen, c.initializer_range) {}
    void children(const typename nn::Module<T>::ChildFn& f) override {
        f("bert", bert);
        f("dropout", dropout);
        f("classifier", classifier);
    }

    // Logits [B, num_labels] from the pooled first ([CLS]) token.
    Tensor<T> operator()(const Tensor<int64_t>& input_ids, const Tensor<int64_t>& attention_mask = Tensor<int64_t>(),
                         const Tensor<int64_t>& token_type_ids = Tensor<int64_t>()) const {
        check_inputs(input_ids, attention_mask, token_type_ids);
        const Device dev = classifier.weight.device();
        auto to_dev = [&](const Tensor<int64_t>& t) { return t.defined() ? t.to(dev) : t; };
        return forward_checked(input_ids.to(dev), to_dev(attention_mask), to_dev(token_type_ids));
    }
    // As BertModel::forward_checked: inputs on the model's device, ids checked; no host round trip.
    Tensor<T> forward_checked(const Tensor<int64_t>& ids, const Tensor<int64_t>& mask,
                              const Tensor<int64_t>& token_type_ids = Tensor<int64_t>()) const {
        return head(bert.hidden_states_checked(ids, mask, token_type_ids));
    }
    void check_inputs(const Tensor<int64_t>& ids, const Tensor<int64_t>& mask,
                      const Tensor<int64_t>& token_type_ids = Tensor<int64_t>()) const {
        bert.check_inputs(ids, mask, token_type_ids);
    }
    int64_t max_seq_len() const { return config.max_position_embeddings; }

    // last_hidden_state -> pooler (dense + tanh on [CLS]) -> dropout -> classifier.
    Tensor<T> head(const Tensor<T>& hidden) const { return classifier(dropout(bert.pooler(hidden))); }

    // Multi-label: BCE-with-logits (mean) against multi-hot targets [B, num_labels].
    Tensor<T> loss(const Tensor<T>& logits, const Tensor<T>& targets, const Tensor<T>& pos_weight = Tensor<T>()) const {
        return classifier_loss(config, logits, targets, pos_weight);
    }
    // Single-label: cross-entropy (mean) against class ids [B].
    Tensor<T> loss(const Tensor<T>& logits, const Tensor<int64_t>& labels) const {
        return classifier_loss(config, logits, labels);
    }

    // A Bert* checkpoint (or a bare BertModel's, without the bert. prefix). The classifier, and the pooler when
    // the checkpoint lacks it, get the values BertForSequenceClassification(c, opt.seed) has.
    static BertForSequenceClassification from_pretrained(const std::string& dir, const ClassifierOptions& opt = {},
                                                         Device dev = Device::cpu()) {
        const std::string cfg_path = config_path(dir);
        BertConfig c = BertConfig::load(cfg_path);
        apply_options(c, opt);
        const io::Checkpoint ck = io::Checkpoint::open(dir);
        check_config_fits(c, ck, cfg_path);
        Generator gen(opt.seed);
        BertModel<T> encoder = BertModel<T>::for_checkpoint(c, ck, gen);
        BertForSequenceClassification m(c, std::move(encoder), gen);
        io::LoadRules rules;
        rules.rename = [](const std::string& n) -> std::optional<std::string> {
            if (BertModel<T>::encoder_tensor(n) && n.rfind("bert.", 0) != 0) return "bert." + n;
            return n;
        };
        rules.ignore = BertModel<T>::is_pretraining_head;
        rules.may_be_missing = [](const std::string& n) {
            return n.rfind("classifier.", 0) == 0 || BertModel<T>::is_pooler(n);
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
