// BERT against HF transformers on the committed fixtures (tools/make_bert_fixtures.py): last_hidden_state,
// pooler_output, logits, loss and every parameter gradient in double and float; token types; a
// finite-difference gradient check; checkpoints (prefixes, encoder-only, missing pooler, pre-training heads,
// save/load round trip, HF loading temper's save_pretrained); config.json validation; the architecture
// dispatch on model_type; and training a tiny BERT with TrainStep and the Trainer.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gradcheck.hpp"
#include "temper/models/any_classifier.hpp"
#include "temper/temper.hpp"
#include "temper/text/text.hpp"
#include "temper/train/synthetic_emotions.hpp"
#include "temper/train/trainer.hpp"
#include "test_util.hpp"

namespace test_bert {  // this file's names apart from the others' (unity build, tests/CMakeLists.txt)

using namespace temper;
using namespace temper::models;
using temper::testing::abs_error;
using temper::testing::as_double;
using temper::testing::error_of;
using temper::testing::rel_error;
using temper::testing::TempDir;
namespace fs = std::filesystem;

namespace {

double norm(const std::vector<double>& a) {
    double s = 0;
    for (double x : a) s += x * x;
    return std::sqrt(s);
}
void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string fixture(const std::string& name) { return std::string(TEMPER_FIXTURES_DIR) + "/" + name; }

struct Inputs {
    Tensor<int64_t> ids, mask, types;
};
Inputs fixture_inputs(const io::SafeTensors& exp) {
    const auto& info = exp.at("input_ids");
    const Shape s(info.shape.begin(), info.shape.end());
    return {Tensor<int64_t>::from_vector(exp.read_as<int64_t>("input_ids"), s),
            Tensor<int64_t>::from_vector(exp.read_as<int64_t>("attention_mask"), s),
            Tensor<int64_t>::from_vector(exp.read_as<int64_t>("token_type_ids"), s)};
}

struct Tolerances {
    double out, grad, kbias_abs;
};

template <class T>
Tensor<T> fixture_loss(const BertForSequenceClassification<T>& m, const Tensor<T>& logits, const io::SafeTensors& exp) {
    if (m.config.problem == Problem::MultiLabel)
        return m.loss(logits, Tensor<T>::from_vector(exp.read_as<T>("labels"), logits.shape()));
    return m.loss(logits, Tensor<int64_t>::from_vector(exp.read_as<int64_t>("labels"), {logits.size(0)}));
}

template <class T>
void check_parity(const std::string& name, const char* prec, Tolerances tol) {
    const std::string dir = fixture(name), p = std::string(prec) + ".", tag = name + " " + prec;
    auto exp = io::SafeTensors::open(dir + "/expected.safetensors");
    const Inputs in = fixture_inputs(exp);
    auto model = BertForSequenceClassification<T>::from_pretrained(dir, {.verbose = false});
    model.eval();
    CHECK(model.load_report().initialized.empty());
    CHECK(model.load_report().unexpected.empty());
    CHECK(model.load_report().ignored.empty());

    const BertModelOutput<T> enc = model.bert(in.ids, in.mask, in.types);
    const double e_hidden = rel_error(as_double(enc.last_hidden_state), exp.read_as<double>(p + "last_hidden_state"));
    const double e_pooler = rel_error(as_double(enc.pooler_output), exp.read_as<double>(p + "pooler_output"));
    Tensor<T> logits = model(in.ids, in.mask, in.types);
    const double e_logits = rel_error(as_double(logits), exp.read_as<double>(p + "logits"));
    Tensor<T> loss = fixture_loss(model, logits, exp);
    const double ref_loss = exp.read_as<double>(p + "loss")[0];
    const double e_loss = std::abs(double(loss.item()) - ref_loss) / std::abs(ref_loss);
    MESSAGE(tag, ": rel err last_hidden_state ", e_hidden, ", pooler_output ", e_pooler, ", logits ", e_logits,
            ", loss ", e_loss);
    CHECK(e_hidden <= tol.out);
    CHECK(e_pooler <= tol.out);
    CHECK(e_logits <= tol.out);
    CHECK(e_loss <= tol.out);

    loss.backward();
    double worst = 0;
    std::string worst_name;
    int n = 0;
    for (auto& [pname, param] : model.named_parameters()) {
        REQUIRE_MESSAGE(param.grad().defined(), "no gradient for ", pname);
        const auto ref = exp.read_as<double>(p + "grad." + pname);
        const auto got = as_double(param.grad());
        // key.bias: its true gradient is exactly 0 (softmax ignores a per-row shift); only noise is stored.
        if (pname.find("attention.self.key.bias") != std::string::npos) {
            const std::string w = pname.substr(0, pname.size() - 4) + "weight";
            const double scale = norm(exp.read_as<double>(p + "grad." + w));
            CHECK_MESSAGE(abs_error(got, ref) <= tol.kbias_abs * scale, pname);
            continue;
        }
        const double e = rel_error(got, ref);
        CHECK_MESSAGE(e <= tol.grad, pname, " rel err ", e);
        if (e > worst) worst = e, worst_name = pname;
        ++n;
    }
    MESSAGE(tag, ": ", n, " parameter gradients, worst rel err ", worst, " (", worst_name, ")");
}

BertConfig tiny_config(int64_t labels = 3) {
    BertConfig c;
    c.vocab_size = 20;
    c.hidden_size = 8;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 2;
    c.intermediate_size = 12;
    c.max_position_embeddings = 10;
    c.type_vocab_size = 3;
    c.set_num_labels(labels);
    return c;
}

// The tensors of m as F32 under new names (empty name: left out), and a config.json, written into dir.
template <class F>
void write_renamed(BertForSequenceClassification<float>& m, const std::string& dir, F rename,
                   const std::vector<std::pair<std::string, Tensor<float>>>& more = {}) {
    fs::create_directories(dir);
    std::vector<std::pair<std::string, Tensor<float>>> kept;
    for (auto& [n, t] : m.named_parameters())
        if (std::string r = rename(n); !r.empty()) kept.emplace_back(r, t);
    for (const auto& e : more) kept.push_back(e);
    std::vector<io::TensorToWrite> w;
    for (const auto& [n, t] : kept)
        w.push_back({n, DType::F32, t.shape(), {reinterpret_cast<const std::byte*>(t.data()), size_t(t.numel()) * 4}});
    io::save_safetensors(dir + "/model.safetensors", w);
    m.config.save(dir + "/config.json");
}

template <class M>
std::vector<float> weights_of(M& m) {
    std::vector<float> out;
    for (auto& p : m.parameters())
        for (float x : p.to_vector()) out.push_back(x);
    return out;
}

// Python with transformers for the HF round trip: $TEMPER_PYTHON, else <repo>/.venv/bin/python ("" when neither).
std::string reference_python() {
    if (const char* env = std::getenv("TEMPER_PYTHON"); env && *env) return env;
    const std::string venv = std::string(TEMPER_SOURCE_DIR) + "/.venv/bin/python";
    return ::access(venv.c_str(), X_OK) == 0 ? venv : "";
}

}  // namespace

// ---- parity with HF ---------------------------------------------------------------------------------------

constexpr Tolerances kF32{1e-5, 1e-4, 1e-4};
constexpr Tolerances kF64{1e-12, 1e-10, 1e-10};

TEST_CASE("parity bert_tiny_a (F32 weights, multi-label BCE, 4 heads, 2 layers, token types)") {
    check_parity<double>("bert_tiny_a", "f64", kF64);
    check_parity<float>("bert_tiny_a", "f32", kF32);
}
TEST_CASE("parity bert_tiny_b (BF16 weights, single-label CE, 3 heads, 3 layers, token types)") {
    check_parity<double>("bert_tiny_b", "f64", kF64);
    check_parity<float>("bert_tiny_b", "f32", kF32);
}

TEST_CASE("token_type_ids: omitted means all 0; other types change the output; bad ids are refused") {
    auto m = BertForSequenceClassification<double>::from_pretrained(fixture("bert_tiny_a"), {.verbose = false});
    m.eval();
    auto exp = io::SafeTensors::open(fixture("bert_tiny_a") + "/expected.safetensors");
    const Inputs in = fixture_inputs(exp);
    const auto zeros = Tensor<int64_t>::zeros(in.ids.shape());
    CHECK(m(in.ids, in.mask).to_vector() == m(in.ids, in.mask, zeros).to_vector());
    CHECK(m.bert(in.ids, in.mask).last_hidden_state.to_vector() ==
          m.bert(in.ids, in.mask, zeros).last_hidden_state.to_vector());
    CHECK(m(in.ids, in.mask).to_vector() != m(in.ids, in.mask, in.types).to_vector());
    // The forward on the model's device, as a CUDA graph runs it, agrees with the checking one.
    CHECK(m.forward_checked(in.ids, in.mask, in.types).to_vector() == m(in.ids, in.mask, in.types).to_vector());

    auto bad = in.types.clone();
    bad.data()[3] = 2;  // type_vocab_size is 2
    CHECK_ERROR_HAS(error_of([&] { m(in.ids, in.mask, bad); }),
                    "token_type_ids: id 2 at [0, 3] is out of range for type_vocab_size 2");
    CHECK_ERROR_HAS(error_of([&] {
                        m(in.ids, in.mask, Tensor<int64_t>::zeros({1, 3}));
                    }),
                    "token_type_ids: shape [1, 3] does not match input_ids shape [4, 7]");
    auto bad_ids = in.ids.clone();
    bad_ids.data()[0] = 40;
    CHECK_ERROR_HAS(error_of([&] { m(bad_ids, in.mask); }),
                    "input_ids: id 40 at [0, 0] is out of range for vocab_size");
}

TEST_CASE("finite differences agree with backward for every parameter of a tiny BERT (double)") {
    BertConfig c = tiny_config(2);
    c.initializer_range = 0.5;  // far from zero: tanh, GELU and softmax all curve
    BertForSequenceClassification<double> m(c, 11);
    m.eval();
    Generator gen(5);
    for (auto& p : m.parameters())  // non-trivial LayerNorm affine terms and biases too
        for (int64_t i = 0; i < p.numel(); ++i) p.data()[i] += 0.2 * gen.normal();
    const auto ids = Tensor<int64_t>::from_vector({2, 5, 7, 9, 0, 3, 1, 4, 0, 0}, {2, 5});
    const auto mask = Tensor<int64_t>::from_vector({1, 1, 1, 1, 0, 1, 1, 1, 0, 0}, {2, 5});
    const auto types = Tensor<int64_t>::from_vector({0, 0, 1, 2, 0, 0, 1, 1, 0, 0}, {2, 5});
    // key.bias is left out: its gradient is 0 in exact arithmetic (softmax ignores a per-row shift), so both
    // sides are rounding noise; checked to be ~0 below.
    std::vector<Tensor<double>> params;
    for (auto& [n, p] : m.named_parameters())
        if (n.find("key.bias") == std::string::npos) params.push_back(p);
    const double worst =
        testing::gradcheck([&](const std::vector<Tensor<double>>&) { return m(ids, mask, types); }, params);
    MESSAGE("gradcheck worst rel err over ", params.size(), " parameters: ", worst);
    CHECK(worst < 1e-6);
    for (auto& [n, p] : m.named_parameters())
        if (n.find("key.bias") != std::string::npos) CHECK_MESSAGE(norm(as_double(p.grad())) < 1e-12, n);
}

// ---- checkpoints ------------------------------------------------------------------------------------------

TEST_CASE("save_pretrained / from_pretrained round trip is bit-exact, keeps unknown config keys, BF16 rounds") {
    TempDir d("bert_rt");
    auto m = BertForSequenceClassification<float>::from_pretrained(fixture("bert_tiny_a"), {.verbose = false});
    m.eval();
    m.save_pretrained(d / "f32");
    auto back = BertForSequenceClassification<float>::from_pretrained(d / "f32", {.verbose = false});
    back.eval();
    CHECK(weights_of(back) == weights_of(m));
    CHECK(back.load_report().initialized.empty());
    const auto ids = Tensor<int64_t>::from_vector({2, 5, 7, 9}, {1, 4});
    CHECK(back(ids).to_vector() == m(ids).to_vector());
    CHECK(back.config.labels == m.config.labels);
    CHECK(back.config.problem == Problem::MultiLabel);
    const io::json j = io::parse_json_file(io::read_text_file(d / "f32/config.json"), "config.json");
    CHECK(j["model_type"] == "bert");
    CHECK(j["architectures"][0] == "BertForSequenceClassification");
    CHECK(j["transformers_version"] == "5.25.0");  // an unknown key, kept
    CHECK(j["dtype"] == "float32");
    CHECK(j["classifier_dropout"].is_null());

    m.save_pretrained(d / "bf16", DType::BF16);
    auto half = BertForSequenceClassification<float>::from_pretrained(d / "bf16", {.verbose = false});
    const auto a = weights_of(m), b = weights_of(half);
    bool rounded = true;
    for (size_t i = 0; i < a.size(); ++i) rounded &= b[i] == bf16::from_float(a[i]).to_float();
    CHECK(rounded);
}

TEST_CASE("encoder-only checkpoints: no bert. prefix, pre-training heads ignored, a missing pooler is fresh") {
    TempDir d("bert_enc");
    BertConfig c = tiny_config();
    BertForSequenceClassification<float> m(c, 3);
    m.eval();
    const auto drop_prefix = [](const std::string& n) { return n.rfind("bert.", 0) == 0 ? n.substr(5) : ""; };
    const Tensor<float> mlm_bias = Tensor<float>::zeros({c.vocab_size});
    write_renamed(m, d / "enc", drop_prefix, {{"cls.predictions.bias", mlm_bias}});
    const auto ids = Tensor<int64_t>::from_vector({2, 5, 7, 9, 3, 4}, {2, 3});

    // BertModel: everything loads, cls.* is listed as ignored.
    auto enc = BertModel<float>::from_pretrained(d / "enc", Device::cpu(), false);
    enc.eval();
    CHECK(enc.load_report().ignored == std::vector<std::string>{"cls.predictions.bias"});
    CHECK(enc.load_report().initialized.empty());
    CHECK(enc(ids).pooler_output.to_vector() == m.bert(ids).pooler_output.to_vector());
    // BertModel also reads a classifier's checkpoint (bert. prefix; the head is not part of it).
    m.save_pretrained(d / "cls");
    auto enc2 = BertModel<float>::from_pretrained(d / "cls", Device::cpu(), false);
    enc2.eval();
    CHECK(enc2(ids).last_hidden_state.to_vector() == m.bert(ids).last_hidden_state.to_vector());

    // A classifier from the encoder-only checkpoint: a new head with the values a fresh model of the seed has.
    auto clf = BertForSequenceClassification<float>::from_pretrained(d / "enc", {.seed = 3, .verbose = false});
    CHECK(clf.load_report().initialized == std::vector<std::string>{"classifier.bias", "classifier.weight"});
    CHECK(clf.classifier.weight.to_vector() == m.classifier.weight.to_vector());
    CHECK(weights_of(clf) == weights_of(m));

    // Without the pooler: freshly initialised (the values BertModel(c, seed) draws), and reported.
    write_renamed(m, d / "nopool", [&](const std::string& n) {
        return n.find("pooler") != std::string::npos ? std::string() : drop_prefix(n);
    });
    auto np = BertModel<float>::from_pretrained(d / "nopool", Device::cpu(), false, 3);
    CHECK(np.load_report().initialized == std::vector<std::string>{"pooler.dense.bias", "pooler.dense.weight"});
    CHECK(np.pooler.dense.weight.to_vector() == m.bert.pooler.dense.weight.to_vector());
    auto npc = BertForSequenceClassification<float>::from_pretrained(d / "nopool", {.seed = 3, .verbose = false});
    CHECK(npc.load_report().initialized.size() == 4);
    CHECK(weights_of(npc) == weights_of(m));

    // A required tensor missing: the error names it.
    write_renamed(m, d / "missing", [&](const std::string& n) {
        return n.find("layer.1.attention.self.query.weight") != std::string::npos ? std::string() : n;
    });
    const std::string msg =
        error_of([&] { BertForSequenceClassification<float>::from_pretrained(d / "missing", {.verbose = false}); });
    CHECK_ERROR_HAS(msg, "missing tensors (1):\n  bert.encoder.layer.1.attention.self.query.weight");
}

TEST_CASE("transformers loads what save_pretrained writes, to the fixture's logits") {
    const std::string py = reference_python();
    TempDir d("bert_hf");
    for (const char* name : {"bert_tiny_a", "bert_tiny_b"}) {
        auto m = BertForSequenceClassification<double>::from_pretrained(fixture(name), {.verbose = false});
        m.save_pretrained(d / name);  // F32: the fixtures' F32 / BF16 values exactly
        REQUIRE(fs::exists(d / name + "/model.safetensors"));
        if (py.empty()) {
            MESSAGE("skipped: no Python with transformers (set TEMPER_PYTHON or create ", TEMPER_SOURCE_DIR,
                    "/.venv); HF loading of save_pretrained output not checked");
            return;
        }
        const std::string cmd = "'" + py + "' '" + std::string(TEMPER_SOURCE_DIR) + "/tools/check_hf_loads.py' '" +
                                (d / name) + "' '" + fixture(name) + "/expected.safetensors' 2>&1";
        std::string out;
        FILE* f = ::popen(cmd.c_str(), "r");
        REQUIRE(f);
        char buf[4096];
        while (size_t k = std::fread(buf, 1, sizeof buf, f)) out.append(buf, k);
        const int status = ::pclose(f);
        const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (rc == 77) {
            MESSAGE("skipped: ", py, " cannot import transformers: ", out);
            return;
        }
        MESSAGE(std::string(name), ": ", out);
        CHECK_MESSAGE(rc == 0, out);
    }
}

// ---- config.json --------------------------------------------------------------------------------------------

TEST_CASE("config.json: unsupported BERT options and bad values name the field") {
    TempDir d("bert_cfg");
    for (auto [text, part] : std::vector<std::pair<std::string, std::string>>{
             {R"({"position_embedding_type": "relative_key"})",
              "field 'position_embedding_type': only \"absolute\" is supported, found \"relative_key\""},
             {R"({"is_decoder": true})", "field 'is_decoder': true is not supported"},
             {R"({"add_cross_attention": true})", "field 'add_cross_attention': true is not supported"},
             {R"({"chunk_size_feed_forward": 4})", "field 'chunk_size_feed_forward'"},
             {R"({"hidden_act": "gelu_new"})", "field 'hidden_act': expected \"gelu\" or \"relu\", found \"gelu_new\""},
             {R"({"hidden_size": 10, "num_attention_heads": 4})",
              "field 'hidden_size': 10 is not divisible by num_attention_heads = 4"},
             {R"({"type_vocab_size": 0})", "field 'type_vocab_size'"},
             {R"({"layer_norm_eps": "1e-12"})", "field 'layer_norm_eps'"},
             {R"({"classifier_dropout": 1.5})", "field 'classifier_dropout'"},
             {R"({"problem_type": "regression"})", "field 'problem_type'"},
             {R"({"id2label": {"0": "a", "2": "b"}})", "field 'id2label'"},
             {R"({"model_type": "distilbert"})", "field 'model_type': expected \"bert\""}}) {
        write_text(d / "config.json", text);
        const std::string msg = error_of([&] { BertConfig::load(d / "config.json"); });
        CHECK_ERROR_HAS(msg, d / "config.json");
        CHECK_ERROR_HAS(msg, part);
    }
    // classifier_dropout: null means hidden_dropout_prob; a value is its own; labels as for DistilBERT.
    write_text(d / "config.json", R"({"hidden_dropout_prob": 0.3, "num_labels": 4, "use_cache": true})");
    BertConfig c = BertConfig::load(d / "config.json");
    CHECK(c.classifier_dropout_prob() == 0.3);
    CHECK(c.num_labels() == 4);
    CHECK(c.extra["use_cache"] == true);
    write_text(d / "config.json", R"({"classifier_dropout": 0.05})");
    CHECK(BertConfig::load(d / "config.json").classifier_dropout_prob() == 0.05);
    // A DistilBERT loader given a BERT config names model_type.
    write_text(d / "config.json", R"({"model_type": "bert"})");
    CHECK_ERROR_HAS(error_of([&] { DistilBertConfig::load(d / "config.json"); }), "field 'model_type'");
}

TEST_CASE("a config.json that does not fit its checkpoint fails before allocating, naming the sizes") {
    TempDir d("bert_fit");
    BertForSequenceClassification<float> m(tiny_config(), 1);
    m.save_pretrained(d.str());
    write_text(d / "config.json", R"({"model_type": "bert", "num_labels": 3})");  // bert-base's defaults
    const std::string msg =
        error_of([&] { BertForSequenceClassification<float>::from_pretrained(d.str(), {.verbose = false}); });
    CHECK_ERROR_HAS(msg, "vocab_size 30522, hidden_size 768, num_hidden_layers 12");
    CHECK_ERROR_HAS(msg, "config.json does not belong to it (a missing key takes bert-base's default)");
    CHECK_ERROR_HAS(error_of([&] { BertModel<float>::from_pretrained(d.str(), Device::cpu(), false); }),
                    "describe an encoder of");
}

// ---- one entry for both architectures -----------------------------------------------------------------------

TEST_CASE("model_type picks the architecture; none is DistilBERT; others are refused listing the supported ones") {
    TempDir d("bert_dispatch");
    CHECK(model_type_of(fixture("bert_tiny_a")) == "bert");
    CHECK(model_type_of(fixture("tiny_a")) == "distilbert");
    auto bert = classifier_from_pretrained<float>(fixture("bert_tiny_b"), {.verbose = false});
    CHECK(std::holds_alternative<BertForSequenceClassification<float>>(bert));
    auto distil = classifier_from_pretrained<float>(fixture("tiny_b"), {.verbose = false});
    CHECK(std::holds_alternative<DistilBertForSequenceClassification<float>>(distil));
    std::visit([](auto& m) { CHECK(m.config.num_labels() == 3); }, bert);

    // --init random --config FILE: the example programs' path (examples/common/model.hpp).
    CHECK(std::holds_alternative<BertConfig>(
        load_classifier_config(std::string(TEMPER_FIXTURES_DIR) + "/examples/bert_tiny_config.json")));
    CHECK(std::holds_alternative<DistilBertConfig>(
        load_classifier_config(std::string(TEMPER_FIXTURES_DIR) + "/examples/tiny_config.json")));
    write_text(d / "config.json", R"({"dim": 16, "n_heads": 2})");  // no model_type: DistilBERT
    AnyClassifierConfig cfg = load_classifier_config(d / "config.json");
    CHECK(std::holds_alternative<DistilBertConfig>(cfg));
    auto fresh = classifier_from_config<float>(load_classifier_config(fixture("bert_tiny_a") + "/config.json"), 7);
    CHECK(std::holds_alternative<BertForSequenceClassification<float>>(fresh));
    CHECK(weights_of(std::get<1>(fresh)) ==
          weights_of(*std::make_unique<BertForSequenceClassification<float>>(
              std::get<BertConfig>(load_classifier_config(fixture("bert_tiny_a") + "/config.json")), 7)));

    write_text(d / "config.json", R"({"model_type": "roberta"})");
    for (const std::string& msg : {error_of([&] { model_type_of(d.str()); }),
                                   error_of([&] { classifier_from_pretrained<float>(d.str(), {.verbose = false}); }),
                                   error_of([&] { load_classifier_config(d / "config.json"); })}) {
        CHECK_ERROR_HAS(msg, d / "config.json");
        CHECK_ERROR_HAS(msg, "field 'model_type': \"roberta\" is not supported (supported: \"bert\", \"distilbert\")");
    }
}

// ---- training -----------------------------------------------------------------------------------------------

TEST_CASE("TrainStep trains a tiny BERT (fp32 and bf16 mixed precision): the loss falls") {
    for (bool bf16 : {false, true}) {
        CAPTURE(bf16);
        BertConfig c = tiny_config(2);
        c.problem = Problem::MultiLabel;
        BertForSequenceClassification<float> m(c, 5);
        optim::AdamW<float> opt(optim::decay_param_groups(m.named_parameters(), 0.01), {.lr = 1e-2});
        train::TrainStep step(m, opt, {.max_grad_norm = 1.0, .bf16 = bf16});
        const auto ids = Tensor<int64_t>::from_vector({2, 5, 7, 9, 3, 4, 8, 0}, {2, 4});
        const auto mask = Tensor<int64_t>::from_vector({1, 1, 1, 1, 1, 1, 1, 0}, {2, 4});
        const auto targets = Tensor<float>::from_vector({1, 0, 0, 1}, {2, 2});
        m.eval();  // no dropout: the same batch every step, so the loss must fall
        const double first = step(ids, mask, targets).loss.item();
        double last = first;
        for (int k = 0; k < 30; ++k) last = step(ids, mask, targets).loss.item();
        MESSAGE("bf16 ", bf16, ": loss ", first, " -> ", last);
        CHECK(last < 0.5 * first);
    }
}

TEST_CASE("the Trainer fine-tunes a BERT: loss falls, best/ is a BERT checkpoint the dispatch loads back") {
    train::Dataset all;
    all.label_names = train::synthetic_emotion_names();
    for (auto& ex : train::make_synthetic_emotions(160, 5)) {
        all.texts.push_back(ex.text);
        all.labels.push_back(ex.labels);
    }
    train::Splits split = train::split_dataset(all, {.train = 0.7, .dev = 0.15, .test = 0.15}, 5);
    text::WordPiece tok =
        text::WordPiece::from_vocab(text::train_wordpiece(split.train.texts, {.vocab_size = 200, .min_frequency = 2}));
    BertConfig c;
    c.vocab_size = int64_t(tok.vocab_size());
    c.hidden_size = 16;
    c.num_hidden_layers = 1;
    c.num_attention_heads = 2;
    c.intermediate_size = 32;
    c.max_position_embeddings = 48;
    c.labels = all.label_names;
    c.problem = Problem::MultiLabel;
    BertForSequenceClassification<float> m(c, 9);
    TempDir d("bert_trainer");
    train::Trainer trainer(m, tok, split.train, split.dev,
                           {.run_dir = d.str(),
                            .epochs = 4,
                            .batch_size = 16,
                            .max_length = 48,
                            .lr = 3e-3,
                            .eval_every = 0,
                            .seed = 9,
                            .progress = false});
    static_assert(std::is_same_v<decltype(trainer), train::Trainer<float, BertForSequenceClassification>>);
    const train::TrainResult r = trainer.fit();
    CHECK(r.steps == 4 * 7);
    std::vector<double> losses;
    std::ifstream f(d / "metrics.jsonl");
    for (std::string line; std::getline(f, line);) {
        const auto j = io::json::parse(line);
        if (j["type"] == "train") losses.push_back(j["loss"].get<double>());
    }
    REQUIRE(losses.size() == size_t(r.steps));
    MESSAGE("Trainer on BERT: train loss ", losses.front(), " -> ", losses.back());
    CHECK(losses.back() < 0.9 * losses.front());
    auto best = classifier_from_pretrained<float>(d / "best", {.verbose = false});
    REQUIRE(std::holds_alternative<BertForSequenceClassification<float>>(best));
    const io::json tc = io::parse_json_file(io::read_text_file(d / "best/tokenizer_config.json"), "tc");
    CHECK(tc["tokenizer_class"] == "BertTokenizer");
}

}  // namespace test_bert
