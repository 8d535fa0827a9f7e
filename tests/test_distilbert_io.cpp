// DistilBERT construction, config.json validation, from_pretrained edge cases (prefixes, MLM head, fresh
// classification head, missing / mis-shaped tensors), save_pretrained round trip, and bad model inputs.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "temper/temper.hpp"
#include "test_util.hpp"

namespace test_distilbert_io {  // this file's names apart from the others' (unity build, tests/CMakeLists.txt)

using namespace temper;
using namespace temper::models;
using temper::testing::TempDir;
namespace fs = std::filesystem;

namespace {

DistilBertConfig tiny_config() {
    DistilBertConfig c;
    c.vocab_size = 50;
    c.dim = 16;
    c.n_layers = 2;
    c.n_heads = 4;
    c.hidden_dim = 24;
    c.max_position_embeddings = 12;
    c.set_num_labels(3);
    return c;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// Writes the given named tensors (float32) as model.safetensors + a config.json into dir.
void write_checkpoint(const TempDir& dir, const DistilBertConfig& c,
                      const std::vector<std::pair<std::string, Tensor<float>>>& tensors) {
    std::vector<io::TensorToWrite> w;
    for (const auto& [n, t] : tensors)
        w.push_back({n, DType::F32, t.shape(), {reinterpret_cast<const std::byte*>(t.data()), size_t(t.numel()) * 4}});
    io::save_safetensors(dir / "model.safetensors", w);
    c.save(dir / "config.json");
}

std::vector<std::pair<std::string, Tensor<float>>> with_prefix_dropped(DistilBertForSequenceClassification<float>& m) {
    std::vector<std::pair<std::string, Tensor<float>>> out;
    for (auto& [n, t] : m.named_parameters())
        if (n.rfind("distilbert.", 0) == 0) out.emplace_back(n.substr(11), t);
    return out;
}

}  // namespace

TEST_CASE("default config is distilbert-base: 6 layers, 768 dim, 12 heads, 3072 FFN, vocab 30522, 66M parameters") {
    DistilBertConfig c;
    CHECK(c.n_layers == 6);
    CHECK(c.dim == 768);
    CHECK(c.n_heads == 12);
    CHECK(c.hidden_dim == 3072);
    CHECK(c.vocab_size == 30522);
    DistilBertModel<float> m(c);
    CHECK(m.num_parameters() == 66362880);  // distilbert-base-uncased encoder, as counted by HF
}

TEST_CASE("named_parameters yields HF names in module order") {
    DistilBertForSequenceClassification<float> m(tiny_config());
    auto names = m.named_parameters();
    CHECK(names.front().first == "distilbert.embeddings.word_embeddings.weight");
    CHECK(names[1].first == "distilbert.embeddings.position_embeddings.weight");
    CHECK(names[4].first == "distilbert.transformer.layer.0.attention.q_lin.weight");
    CHECK(names.back().first == "classifier.bias");
    CHECK(names.size() == 4 + 2 * 16 + 4);
    for (auto& [n, p] : names) CHECK_MESSAGE(p.requires_grad(), n);
    // the pad row of the word embeddings starts at zero, as with HF's padding_idx init
    auto& w = m.distilbert.embeddings.word_embeddings.weight;
    for (int j = 0; j < 16; ++j) CHECK(w.at({0, j}) == 0.0f);
}

TEST_CASE("config.json: bad values give errors naming the file and field") {
    TempDir d("cfg");
    auto expect_error = [&](const std::string& json_text, const std::string& field) {
        write_text(d / "config.json", json_text);
        CHECK_THROWS_WITH_AS(DistilBertConfig::load(d / "config.json"), doctest::Contains(field.c_str()), Error);
        try {
            DistilBertConfig::load(d / "config.json");
        } catch (const Error& e) {
            CHECK_MESSAGE(std::string(e.what()).find("config.json") != std::string::npos, e.what());
        }
    };
    expect_error(R"({"dim": 10, "n_heads": 3})", "'dim'");
    expect_error(R"({"dim": 0})", "'dim'");
    expect_error(R"({"vocab_size": 1000000000000})", "'vocab_size'");
    expect_error(R"({"dim": "768"})", "'dim'");
    expect_error(R"({"activation": "swish"})", "'activation'");
    expect_error(R"({"sinusoidal_pos_embds": true})", "'sinusoidal_pos_embds'");
    expect_error(R"({"dropout": 1.5})", "'dropout'");
    expect_error(R"({"problem_type": "regression"})", "'problem_type'");
    expect_error(R"({"id2label": {"0": "a", "2": "b"}})", "'id2label'");
    expect_error(R"({"model_type": "bert"})", "'model_type'");
    expect_error(R"([1, 2])", "JSON object");
    expect_error(R"({"dim": )", "not valid JSON");
    CHECK_THROWS_WITH_AS(DistilBertConfig::load(d / "nope.json"), doctest::Contains("nope.json"), Error);
}

TEST_CASE("config.json round trip keeps labels, problem type and unknown keys") {
    TempDir d("cfgrt");
    write_text(
        d / "config.json",
        R"({"model_type": "distilbert", "dim": 32, "n_heads": 4, "hidden_dim": 8, "problem_type": "multi_label_classification",
                   "id2label": {"0": "joy", "1": "anger"}, "custom_key": [1, 2], "torch_dtype": "float32"})");
    auto c = DistilBertConfig::load(d / "config.json");
    CHECK(c.dim == 32);
    CHECK(c.labels == std::vector<std::string>{"joy", "anger"});
    CHECK(c.problem == Problem::MultiLabel);
    c.save(d / "out.json");
    auto c2 = DistilBertConfig::load(d / "out.json");
    CHECK(c2.labels == c.labels);
    CHECK(c2.problem == c.problem);
    CHECK(c2.extra["custom_key"] == io::json({1, 2}));
    CHECK(c2.to_json()["label2id"]["anger"] == 1);
}

TEST_CASE("save_pretrained -> from_pretrained is bit-identical, in F32; BF16 rounds to bf16") {
    TempDir d("save");
    DistilBertForSequenceClassification<float> m(tiny_config(), 7);
    m.save_pretrained(d.str());
    CHECK(fs::exists(d / "config.json"));
    CHECK(fs::exists(d / "model.safetensors"));
    auto st = io::SafeTensors::open(d / "model.safetensors");
    CHECK(st.metadata().at("format") == "pt");
    auto m2 = DistilBertForSequenceClassification<float>::from_pretrained(d.str(), {.verbose = false});
    auto a = m.named_parameters(), b = m2.named_parameters();
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) CHECK_MESSAGE(a[i].second.to_vector() == b[i].second.to_vector(), a[i].first);

    m.save_pretrained(d.str(), DType::BF16);
    auto m3 = DistilBertForSequenceClassification<float>::from_pretrained(d.str(), {.verbose = false});
    auto w = m.classifier.weight.to_vector(), w3 = m3.classifier.weight.to_vector();
    for (size_t i = 0; i < w.size(); ++i) CHECK(w3[i] == bf16::from_float(w[i]).to_float());
    // no temp files left behind by the atomic writes
    for (auto& e : fs::directory_iterator(d.dir))
        CHECK_MESSAGE((e.path().filename() == "config.json" || e.path().filename() == "model.safetensors"), e.path());
}

TEST_CASE("from_pretrained: bare encoder names, MLM head ignored, fresh classification head with init std") {
    TempDir d("mlm");
    DistilBertConfig c = tiny_config();
    c.initializer_range = 0.5;  // large, so the head's init std is measurable
    DistilBertForSequenceClassification<float> src(c, 3);
    auto tensors = with_prefix_dropped(src);  // DistilBertModel-style names: "embeddings.…", "transformer.…"
    tensors.emplace_back("vocab_transform.weight", Tensor<float>::zeros({16, 16}));
    tensors.emplace_back("vocab_projector.bias", Tensor<float>::zeros({50}));
    write_checkpoint(d, c, tensors);

    auto m = DistilBertForSequenceClassification<float>::from_pretrained(
        d.str(), {.num_labels = 200, .problem = Problem::MultiLabel, .verbose = false});
    const auto& r = m.load_report();
    CHECK(r.ignored.size() == 2);
    CHECK(r.unexpected.empty());
    CHECK(r.initialized == std::vector<std::string>{"classifier.bias", "classifier.weight", "pre_classifier.bias",
                                                    "pre_classifier.weight"});
    CHECK(m.config.num_labels() == 200);
    CHECK(m.config.problem == Problem::MultiLabel);
    CHECK(m.distilbert.embeddings.word_embeddings.weight.to_vector() ==
          src.distilbert.embeddings.word_embeddings.weight.to_vector());
    double s2 = 0;
    auto w = m.classifier.weight.to_vector();
    for (float v : w) s2 += double(v) * v;
    CHECK(std::sqrt(s2 / double(w.size())) == doctest::Approx(0.5).epsilon(0.05));
    for (float v : m.classifier.bias.to_vector()) CHECK(v == 0.0f);
    CHECK(r.summary().find("vocab_transform.weight") != std::string::npos);
    // the encoder's initialisation is skipped, not its random numbers: the heads are those of a model
    // built directly with the same seed (42, the default)
    DistilBertConfig c200 = c;
    c200.set_num_labels(200);
    DistilBertForSequenceClassification<float> direct(c200);
    CHECK(m.classifier.weight.to_vector() == direct.classifier.weight.to_vector());
    CHECK(m.pre_classifier.weight.to_vector() == direct.pre_classifier.weight.to_vector());

    // the encoder alone loads from the same directory
    auto enc = DistilBertModel<float>::from_pretrained(d.str(), Device::cpu(), false);
    CHECK(enc.embeddings.LayerNorm.weight.to_vector() == src.distilbert.embeddings.LayerNorm.weight.to_vector());
}

TEST_CASE("from_pretrained: every missing and mis-shaped tensor is named") {
    TempDir d("bad");
    DistilBertConfig c = tiny_config();
    DistilBertForSequenceClassification<float> src(c, 3);
    auto tensors = with_prefix_dropped(src);
    tensors.erase(tensors.begin() + 5);  // drop one encoder tensor
    std::string dropped = "distilbert." + src.named_parameters()[5].first.substr(11);
    tensors[0].second = Tensor<float>::zeros({49, 16});  // wrong vocab rows
    tensors.emplace_back("something.else", Tensor<float>::zeros({2}));
    write_checkpoint(d, c, tensors);
    try {
        DistilBertForSequenceClassification<float>::from_pretrained(d.str(), {.verbose = false});
        FAIL("expected an error");
    } catch (const Error& e) {
        std::string msg = e.what();
        CHECK(msg.find(d.str()) != std::string::npos);
        CHECK(msg.find(dropped) != std::string::npos);
        CHECK(msg.find("embeddings.word_embeddings.weight: checkpoint [49, 16], model expects [50, 16]") !=
              std::string::npos);
        CHECK(msg.find("something.else") != std::string::npos);
    }
    CHECK_THROWS_WITH_AS(DistilBertForSequenceClassification<float>::from_pretrained(d / "missing_dir"),
                         doctest::Contains("not a directory"), Error);
    fs::remove(d / "model.safetensors");
    CHECK_THROWS_WITH_AS(DistilBertForSequenceClassification<float>::from_pretrained(d.str()),
                         doctest::Contains("no model.safetensors"), Error);
}

TEST_CASE("from_pretrained: a corrupt or integer-typed weight file is a clear error") {
    TempDir d("corrupt");
    DistilBertConfig c = tiny_config();
    DistilBertForSequenceClassification<float> src(c, 3);
    src.save_pretrained(d.str());
    {  // truncate the data
        auto bytes = io::read_file(d / "model.safetensors");
        bytes.resize(bytes.size() - 10);
        io::write_file_atomic(d / "model.safetensors", std::span<const std::byte>(bytes));
    }
    CHECK_THROWS_WITH_AS(DistilBertForSequenceClassification<float>::from_pretrained(d.str(), {.verbose = false}),
                         doctest::Contains("model.safetensors"), Error);
    // an integer tensor where a weight belongs
    std::vector<io::TensorToWrite> w;
    std::vector<int64_t> ints(16, 1);
    w.push_back({"distilbert.embeddings.LayerNorm.bias", DType::I64, {16}, std::as_bytes(std::span(ints))});
    io::save_safetensors(d / "model.safetensors", w);
    CHECK_THROWS_AS(DistilBertForSequenceClassification<float>::from_pretrained(d.str(), {.verbose = false}), Error);
}

TEST_CASE("forward: bad input ids, lengths and mask shapes are named errors; a fully padded row stays finite") {
    DistilBertForSequenceClassification<float> m(tiny_config());
    m.eval();
    auto ids = Tensor<int64_t>::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
    CHECK_THROWS_WITH_AS(m(Tensor<int64_t>::from_vector({1, 50}, {1, 2})), doctest::Contains("token id 50 at [0, 1]"),
                         Error);
    CHECK_THROWS_WITH_AS(m(Tensor<int64_t>::from_vector({1, -1}, {1, 2})), doctest::Contains("out of range"), Error);
    CHECK_THROWS_WITH_AS(m(Tensor<int64_t>::zeros({1, 13})), doctest::Contains("max_position_embeddings"), Error);
    CHECK_THROWS_WITH_AS(m(Tensor<int64_t>::zeros({6})), doctest::Contains("input_ids"), Error);
    CHECK_THROWS_WITH_AS(m(ids, Tensor<int64_t>::ones({2, 4})), doctest::Contains("attention_mask"), Error);
    auto mask = Tensor<int64_t>::from_vector({1, 1, 0, 0, 0, 0}, {2, 3});
    auto logits = m(ids, mask).to_vector();
    for (float v : logits) CHECK(std::isfinite(v));
    // losses check the problem type
    auto lg = m(ids, mask);
    CHECK_THROWS_AS(m.loss(lg, Tensor<float>::zeros({2, 3})), Error);  // single-label model, multi-hot targets
    CHECK_NOTHROW(m.loss(lg, Tensor<int64_t>::from_vector({0, 2}, {2})));
}

TEST_CASE("InferenceGraph on the CPU: the no-grad forward, with the fixed shape and the eval mode checked") {
    using Model = DistilBertForSequenceClassification<float>;
    Model m(tiny_config(), 3);
    CHECK_THROWS_WITH_AS(models::InferenceGraph<Model>(m, 2, 3), doctest::Contains("model.eval()"), Error);
    m.eval();
    CHECK_THROWS_WITH_AS(models::InferenceGraph<Model>(m, 1, 13), doctest::Contains("max_position_embeddings = 12"),
                         Error);
    models::InferenceGraph graph(m, 2, 3);  // class template argument deduction
    auto ids = Tensor<int64_t>::from_vector({1, 2, 3, 4, 5, 0}, {2, 3});
    auto mask = Tensor<int64_t>::from_vector({1, 1, 1, 1, 1, 0}, {2, 3});
    const Tensor<float>& out = graph(ids, mask);
    CHECK_FALSE(out.requires_grad());
    CHECK(out.to_vector() == m(ids, mask).to_vector());
    CHECK(graph(ids).to_vector() == m(ids).to_vector());
    CHECK_THROWS_WITH_AS(graph(Tensor<int64_t>::zeros({2, 4})), doctest::Contains("captured for [2, 3]"), Error);
    CHECK_THROWS_WITH_AS(graph(Tensor<int64_t>::full({2, 3}, 50)), doctest::Contains("token id 50"), Error);
    CHECK(Tensor<int64_t>::arange(5).to_vector() == std::vector<int64_t>{0, 1, 2, 3, 4});
    CHECK(Tensor<int64_t>::arange(0).numel() == 0);
}

TEST_CASE("train() enables dropout, eval() disables it") {
    DistilBertForSequenceClassification<float> m(tiny_config());
    auto ids = Tensor<int64_t>::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
    m.eval();
    CHECK_FALSE(m.distilbert.transformer.layer[1].ffn.drop.is_training());
    auto a = m(ids).to_vector(), b = m(ids).to_vector();
    CHECK(a == b);
    m.train();
    CHECK(m.distilbert.transformer.layer[1].ffn.drop.is_training());
    auto c = m(ids).to_vector(), d = m(ids).to_vector();
    CHECK(c != d);
}

}  // namespace test_distilbert_io
