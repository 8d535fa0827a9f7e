// Hostile and broken input files (issue 7): each gives a temper::Error naming the file, the field or line and
// what was expected, never a crash, a hang, an unbounded allocation or silently wrong data. The safetensors
// container's own cases (header bounds, JSON, duplicates, offsets, overflow, dtypes) are in test_safetensors.cpp;
// these are the ones a model, tokenizer or dataset file adds on top. Several are regressions for fuzzing and
// sanitizer findings (docs/security.md).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "temper/temper.hpp"
#include "temper/train/dataset.hpp"
#include "temper/train/metrics.hpp"
#include "test_util.hpp"

namespace test_hostile_files {  // this file's names apart from the others' (unity build, tests/CMakeLists.txt)

using namespace temper;
using nlohmann::json;
using temper::testing::error_of;
using temper::testing::TempDir;
namespace fs = std::filesystem;

namespace {

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

models::DistilBertConfig tiny_config() {
    models::DistilBertConfig c;
    c.vocab_size = 30;
    c.dim = 8;
    c.n_layers = 1;
    c.n_heads = 2;
    c.hidden_dim = 16;
    c.max_position_embeddings = 10;
    c.set_num_labels(2);
    return c;
}

// The model's tensors as F32, with `name` stored as `dtype` instead (same shape, bytes of that dtype).
void save_with_dtype(models::DistilBertForSequenceClassification<float>& m, const std::string& dir,
                     const std::string& name, DType dtype) {
    std::vector<std::vector<std::byte>> buffers;
    std::vector<io::TensorToWrite> tensors;
    for (auto& [n, p] : m.named_parameters()) {
        const DType d = n == name ? dtype : DType::F32;
        buffers.emplace_back(size_t(p.numel()) * dtype_size(d), std::byte{1});
        if (d == DType::F32) std::memcpy(buffers.back().data(), p.data(), buffers.back().size());
        tensors.push_back({n, d, p.shape(), {}});
    }
    for (size_t i = 0; i < tensors.size(); ++i) tensors[i].data = buffers[i];
    io::save_safetensors(dir + "/model.safetensors", tensors);
}

}  // namespace

// ---- checkpoints ----------------------------------------------------------------------------------------

TEST_CASE("checkpoint: a weight of the wrong dtype for the model names the tensor, its dtype and the model's") {
    TempDir d("dtype");
    models::DistilBertForSequenceClassification<float> m(tiny_config(), 1);
    m.save_pretrained(d.str());
    const std::string name = "distilbert.transformer.layer.0.ffn.lin1.weight";
    for (DType dt : {DType::I64, DType::I32, DType::U8, DType::BOOL, DType::F8_E4M3, DType::F8_E5M2}) {
        save_with_dtype(m, d.str(), name, dt);
        const std::string msg = error_of(
            [&] { models::DistilBertForSequenceClassification<float>::from_pretrained(d.str(), {.verbose = false}); });
        CHECK_ERROR_HAS(msg, d / "model.safetensors");
        CHECK_ERROR_HAS(msg,
                        "tensor '" + name + "' has dtype " + std::string(dtype_name(dt)) + "; cannot read it as F32");
    }
    // F16 / BF16 / F64 weights convert (HF checkpoints are often half precision).
    for (DType dt : {DType::F16, DType::BF16, DType::F64}) {
        save_with_dtype(m, d.str(), name, dt);
        CHECK_NOTHROW(models::DistilBertForSequenceClassification<float>::from_pretrained(d.str(), {.verbose = false}));
    }
}

TEST_CASE("checkpoint: a model.safetensors cut short anywhere is an error saying where, never a partial load") {
    TempDir d("trunc");
    models::DistilBertForSequenceClassification<float> m(tiny_config(), 1);
    m.save_pretrained(d.str());
    const auto full = io::read_file(d / "model.safetensors");
    uint64_t header = 0;
    std::memcpy(&header, full.data(), 8);
    const std::pair<size_t, const char*> cuts[] = {{0, "too short for a safetensors file"},
                                                   {5, "too short for a safetensors file"},
                                                   {8 + header / 2, "runs past the end of the file"},
                                                   {8 + header, "out of range: data buffer has 0 bytes"},
                                                   {full.size() - 1, "out of range"},
                                                   {full.size() - 4 * 8 * 8 - 3, "out of range"}};
    for (auto [size, expected] : cuts) {
        io::write_file_atomic(d / "model.safetensors", std::span(full.data(), size));
        const std::string msg = error_of(
            [&] { models::DistilBertForSequenceClassification<float>::from_pretrained(d.str(), {.verbose = false}); });
        CHECK_ERROR_HAS(msg, d / "model.safetensors");
        CHECK_ERROR_HAS(msg, expected);
    }
}

// ---- config.json ----------------------------------------------------------------------------------------

TEST_CASE("config.json: missing keys, another model's config and absurd sizes fail before any allocation") {
    TempDir d("cfgfit");
    models::DistilBertForSequenceClassification<float> m(tiny_config(), 1);
    m.save_pretrained(d.str());
    auto load = [&] {
        return error_of(
            [&] { models::DistilBertForSequenceClassification<float>::from_pretrained(d.str(), {.verbose = false}); });
    };
    // Missing keys take distilbert-base's defaults (66M parameters): far more than this checkpoint holds.
    write_text(d / "config.json", R"({"n_heads": 2, "id2label": {"0": "a", "1": "b"}})");
    std::string msg = load();
    CHECK_ERROR_HAS(msg, d / "config.json");
    CHECK_ERROR_HAS(msg, "vocab_size 30522, dim 768, n_layers 6, hidden_dim 3072");
    CHECK_ERROR_HAS(msg, "config.json does not belong to it (a missing key takes distilbert-base's default)");
    // Each size within its own limit, together 2^24 x 65536 floats (4 TiB): must not be allocated.
    write_text(d / "config.json", R"({"vocab_size": 16777216, "dim": 65536, "n_heads": 1, "n_layers": 1024,
                                      "hidden_dim": 1048576, "max_position_embeddings": 1048576})");
    msg = load();
    CHECK_ERROR_HAS(msg, "describe an encoder of");
    CHECK_ERROR_HAS(msg, "holds only");
    // The encoder alone loads through the same check.
    CHECK_ERROR_HAS(error_of([&] { models::DistilBertModel<float>::from_pretrained(d.str(), Device::cpu(), false); }),
                    "config.json does not belong to it");
    // Wrong types and out-of-range values name the field (more in test_distilbert_io.cpp).
    for (auto [text, field] : std::vector<std::pair<std::string, std::string>>{
             {R"({"dim": 8.5})", "field 'dim': expected an integer"},
             {R"({"n_layers": -1})", "field 'n_layers': expected an integer in [1, 1024], found -1"},
             {R"({"vocab_size": 18446744073709551615})", "field 'vocab_size'"},
             {R"({"n_heads": 0})", "field 'n_heads'"},
             {R"({"hidden_dim": null, "dim": [8]})", "field 'dim'"},
             {R"({"id2label": {"0": 5}})", "field 'id2label': label 0 is not a string"},
             {R"({"id2label": {"00000001": "a"}})", "field 'id2label'"},
             {R"({"num_labels": 100001})", "field 'num_labels'"},
             {R"({"dropout": "0.1"})", "field 'dropout'"},
             {"{\"dim\": 8, \"dim\": \xff}", "not valid JSON"},
             // Found by fuzz_config: nlohmann throws out_of_range, not parse_error, for a number that overflows.
             {R"({"nu": 3, "111111111111":111111e11111S1111111111111el_4": 1111})", "not valid JSON"},
             {R"({"dim": 1e400})", "not valid JSON"}}) {
        write_text(d / "config.json", text);
        msg = error_of([&] { models::DistilBertConfig::load(d / "config.json"); });
        CHECK_ERROR_HAS(msg, d / "config.json");
        CHECK_ERROR_HAS(msg, field);
    }
}

TEST_CASE("config.json of a BERT: absurd sizes, a foreign model_type and bad fields fail before any allocation") {
    TempDir d("bertfit");
    models::BertConfig c;
    c.vocab_size = 30;
    c.hidden_size = 8;
    c.num_hidden_layers = 1;
    c.num_attention_heads = 2;
    c.intermediate_size = 16;
    c.max_position_embeddings = 10;
    models::BertForSequenceClassification<float> m(c, 1);
    m.save_pretrained(d.str());
    auto load = [&] {
        return error_of(
            [&] { models::BertForSequenceClassification<float>::from_pretrained(d.str(), {.verbose = false}); });
    };
    // Each size within its own limit, together far beyond the file: must not be allocated.
    write_text(d / "config.json", R"({"model_type": "bert", "vocab_size": 16777216, "hidden_size": 65536,
                                      "num_attention_heads": 1, "num_hidden_layers": 1024,
                                      "intermediate_size": 1048576, "type_vocab_size": 65536})");
    std::string msg = load();
    CHECK_ERROR_HAS(msg, d / "config.json");
    CHECK_ERROR_HAS(msg, "describe an encoder of");
    CHECK_ERROR_HAS(error_of([&] { models::BertModel<float>::from_pretrained(d.str(), Device::cpu(), false); }),
                    "holds only");
    // The dispatch refuses an architecture it does not know, listing the ones it does.
    write_text(d / "config.json", R"({"model_type": "roberta"})");
    CHECK_ERROR_HAS(error_of([&] { models::classifier_from_pretrained<float>(d.str(), {.verbose = false}); }),
                    "field 'model_type': \"roberta\" is not supported (supported: \"bert\", \"distilbert\")");
    write_text(d / "config.json", R"({"model_type": 7})");
    CHECK_ERROR_HAS(error_of([&] { models::model_type_of(d.str()); }), "field 'model_type'");
    for (auto [text, field] : std::vector<std::pair<std::string, std::string>>{
             {R"({"hidden_size": 8.5})", "field 'hidden_size': expected an integer"},
             {R"({"type_vocab_size": -1})", "field 'type_vocab_size'"},
             {R"({"is_decoder": "no"})", "field 'is_decoder'"},
             {R"({"position_embedding_type": ["absolute"]})", "field 'position_embedding_type'"},
             {R"({"classifier_dropout": "0.1"})", "field 'classifier_dropout'"}}) {
        write_text(d / "config.json", text);
        msg = error_of([&] { models::BertConfig::load(d / "config.json"); });
        CHECK_ERROR_HAS(msg, d / "config.json");
        CHECK_ERROR_HAS(msg, field);
    }
}

// ---- vocab.txt and tokenizer.json ---------------------------------------------------------------------------

TEST_CASE("vocab.txt: duplicates, missing special tokens and empty files name the file and line") {
    TempDir d("vocab");
    auto error_for = [&](const std::string& text) {
        write_text(d / "vocab.txt", text);
        return error_of([&] { text::WordPiece::from_vocab_file(d / "vocab.txt"); });
    };
    std::string msg = error_for("[PAD]\n[UNK]\nhello\n[CLS]\n[SEP]\nhello\n");
    CHECK_ERROR_HAS(msg, d / "vocab.txt" + ":6: duplicate token \"hello\" (first on line 3");
    // Trailing whitespace is trimmed as HF does, so "a " and "a" are the same token.
    CHECK_ERROR_HAS(error_for("[UNK]\n[CLS]\n[SEP]\na \na\r\n"), ":5: duplicate token \"a\" (first on line 4");
    CHECK_ERROR_HAS(error_for("[PAD]\n[CLS]\n[SEP]\nhello\n"),
                    d / "vocab.txt" + ": the unk token [UNK] is not in the vocabulary");
    CHECK_ERROR_HAS(error_for("[PAD]\n[UNK]\n[SEP]\n"), "the cls token [CLS] is not in the vocabulary");
    CHECK_ERROR_HAS(error_for(""), "is empty");
    CHECK_ERROR_HAS(error_of([&] { text::WordPiece::from_vocab_file(d / "absent.txt"); }), d / "absent.txt");
    // Invalid UTF-8 and NUL bytes in tokens are data, not errors: the tokenizer loads and encodes.
    write_text(d / "vocab.txt", std::string("[UNK]\n[CLS]\n[SEP]\n\xff\xfe\nnul\0byte\n", 23));
    CHECK(text::WordPiece::from_vocab_file(d / "vocab.txt").encode("x").ids.size() == 3);
}

TEST_CASE("tokenizer.json: ids far past the vocabulary, shared ids and non-integer ids are refused") {
    const json good = {{"model",
                        {{"type", "WordPiece"},
                         {"unk_token", "[UNK]"},
                         {"vocab", {{"[UNK]", 0}, {"[CLS]", 1}, {"[SEP]", 2}, {"a", 3}, {"##b", 4}}}}},
                       {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
                       {"added_tokens", json::array({{{"id", 5}, {"content", "<x>"}, {"special", true}}})}};
    auto error_for = [](const json& j) { return error_of([&] { text::WordPiece::from_json(j, "t.json"); }); };
    CHECK(error_for(good).empty());
    json huge = good;
    huge["model"]["vocab"]["a"] = 1000000000000;  // would size a 10^12-entry table
    CHECK_ERROR_HAS(
        error_for(huge),
        "t.json: model.vocab[\"a\"]: expected an id in [0, 5) (the vocabulary has 5 entries), found 1000000000000");
    json shared = good;
    shared["model"]["vocab"]["a"] = 4;
    CHECK_ERROR_HAS(error_for(shared), "id 4 is also the id of");
    json negative = good;
    negative["model"]["vocab"]["a"] = -3;
    CHECK_ERROR_HAS(error_for(negative), "model.vocab[\"a\"]: expected an id in [0, 5)");
    json fractional = good;
    fractional["model"]["vocab"]["a"] = 3.5;
    CHECK_ERROR_HAS(error_for(fractional), "found 3.5");
    json added_huge = good;
    added_huge["added_tokens"][0]["id"] = 1000000000000;
    CHECK_ERROR_HAS(
        error_for(added_huge),
        "t.json added_tokens: token \"<x>\": id 1000000000000 is past the vocabulary (expected an id below 6)");
    json added_float = good;  // a double far outside int64: converting it was undefined behaviour (UBSan)
    added_float["added_tokens"][0]["id"] = 1e300;
    CHECK_ERROR_HAS(error_for(added_float), "t.json added_tokens: field 'id': expected an integer");
    json type_id = good;
    type_id["post_processor"] = {{"type", "TemplateProcessing"},
                                 {"special_tokens", json::object()},
                                 {"single", json::array({{{"Sequence", {{"id", "A"}, {"type_id", -1}}}}})},
                                 {"pair", json::array()}};
    CHECK_ERROR_HAS(error_for(type_id), "field 'type_id': expected an integer in [0, 4294967295], found -1");
    json chars = good;
    chars["model"]["max_input_chars_per_word"] = -1;
    CHECK_ERROR_HAS(error_for(chars), "field 'max_input_chars_per_word': expected an integer in [0, ");
}

TEST_CASE("tokenizer.json: a huge max_input_chars_per_word and a very long word stay linear") {
    // WordPiece used to step the end of each piece down from the end of the word: quadratic in its length.
    json j = {{"model",
               {{"type", "WordPiece"},
                {"max_input_chars_per_word", 1000000000},
                {"vocab", {{"[UNK]", 0}, {"a", 1}, {"##a", 2}, {"aa", 3}, {"##aa", 4}}}}},
              {"pre_tokenizer", {{"type", "BertPreTokenizer"}}}};
    const auto tok = text::WordPiece::from_json(j, "t.json");
    const auto e = tok.encode(std::string(400000, 'a'), {.truncation = false, .padding = text::Padding::None});
    CHECK(e.ids.size() == 200000);
    CHECK(e.ids[0] == 3);
    CHECK(e.ids[1] == 4);
}

// ---- datasets ------------------------------------------------------------------------------------------------

TEST_CASE("datasets: hostile rows and files give file:line errors") {
    TempDir d("data");
    auto error_for = [&](const std::string& name, const std::string& text, const train::TableOptions& o) {
        write_text(d / name, text);
        return error_of([&] { train::read_table(d / name, o); });
    };
    // A stray huge id must not make a billion inferred label names.
    std::string msg = error_for("big.csv", "text,label\na,0\nb,999999999\n", {.label_column = "label"});
    CHECK_ERROR_HAS(msg, d / "big.csv" + ": label id 999999999 is too large to infer the label names 0..999999999");
    msg = error_for("big.jsonl", "{\"text\": \"a\", \"labels\": [1, 99999999]}\n", {.label_list_column = "labels"});
    CHECK_ERROR_HAS(msg, "label id 99999999 is too large");
    // Invalid UTF-8: in a JSONL line, a CSV field, a CSV header.
    msg = error_for("bad.jsonl", "{\"text\": \"ok\", \"label\": \"a\"}\n{\"text\": \"\xc3\x28\", \"label\": \"a\"}\n",
                    {.label_column = "label"});
    CHECK_ERROR_HAS(msg, d / "bad.jsonl" + ":2: not valid UTF-8 (byte 11 of the line)");
    msg = error_for("bad.csv", "text,label\nfine,a\n\xed\xa0\x80 surrogate,a\n", {.label_column = "label"});
    CHECK_ERROR_HAS(msg, d / "bad.csv" + ":3: field 1 is not valid UTF-8 (byte 1)");
    msg = error_for("badhead.csv", "te\xffxt,label\nfine,a\n", {.label_column = "label"});
    CHECK_ERROR_HAS(msg, d / "badhead.csv" + ":1: header is not valid UTF-8");
    // Wrong column counts, ids out of range, broken JSON, wrong JSON types.
    msg = error_for("cols.tsv", "text\tlabels\na\t1\tEXTRA\n", {.label_list_column = "labels"});
    CHECK_ERROR_HAS(msg, d / "cols.tsv" + ":2: expected 2 tab-separated fields, found 3");
    msg = error_for("range.csv", "text,label\na,5\n", {.label_column = "label", .label_names = {"x", "y"}});
    CHECK_ERROR_HAS(msg, d / "range.csv" + ":2: label id 5 out of range: expected 0..1 (2 labels)");
    msg = error_for("broken.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\", \"label\n",
                    {.label_column = "label"});
    CHECK_ERROR_HAS(msg, d / "broken.jsonl" + ":2: not a valid JSON line");
    msg = error_for("types.jsonl", "{\"text\": 7, \"label\": \"x\"}\n", {.label_column = "label"});
    CHECK_ERROR_HAS(msg, d / "types.jsonl" + ":1: field 'text': expected a string, found 7");
    msg = error_for("deep.jsonl", "{\"text\": \"a\", \"labels\": [[[\"x\"]]]}\n", {.label_list_column = "labels"});
    CHECK_ERROR_HAS(msg, d / "deep.jsonl" + ":1: field 'labels': expected a label name or id");
    // Empty and blank files.
    CHECK_ERROR_HAS(error_for("empty.jsonl", "", {.label_column = "label"}), d / "empty.jsonl" + ": file is empty");
    CHECK_ERROR_HAS(error_for("blank.csv", "\n\r\n\n", {.label_column = "label"}), d / "blank.csv" + ": file is empty");
    CHECK_ERROR_HAS(error_for("header.csv", "text,label\n", {.label_column = "label"}), "has a header but no rows");
    // Old-Mac CR line endings make one record: said as such. With thousands of columns (a wrong delimiter
    // choice) a missing-column message lists only the first 20.
    std::string cr = "text,label\r";
    for (int i = 0; i < 3000; ++i) cr += "t" + std::to_string(i) + ",joy\r";
    msg = error_for("cr.csv", cr, {.label_column = "label"});
    CHECK_ERROR_HAS(msg, d / "cr.csv" + ": has a header but no rows (lines end in a bare CR");
    std::string wide = "text";
    for (int i = 0; i < 3000; ++i) wide += ",c" + std::to_string(i);
    msg = error_for("wide.csv", wide + "\n" + wide + "\n", {.label_column = "label"});
    CHECK_ERROR_HAS(msg, d / "wide.csv" + ": no column 'label' in the header (columns: 'text', 'c0'");
    CHECK_ERROR_HAS(msg, "... 3001 in all)");
    CHECK(msg.size() < 2000);
    // A 4 MB line is data: read whole, and the tokenizer truncates it later.
    write_text(d / "long.csv", "text,label\n" + std::string(4 << 20, 'x') + ",joy\nshort,sad\n");
    const auto ds = train::read_table(d / "long.csv", {.label_column = "label"});
    CHECK(ds.texts[0].size() == size_t(4 << 20));
    CHECK(ds.label_names == std::vector<std::string>{"joy", "sad"});
}

// ---- run-directory files: thresholds.json, optimizer state -----------------------------------------------

TEST_CASE("thresholds.json and AdamW state files: overflowing numbers and inconsistent metadata are errors") {
    TempDir d("state");
    write_text(d / "thresholds.json", R"({"thresholds": {"joy": 1e999}})");
    CHECK_ERROR_HAS(error_of([&] { train::load_thresholds(d / "thresholds.json"); }),
                    d / "thresholds.json" + ": not valid JSON");
    write_text(d / "thresholds.json", R"({"thresholds": {"joy": 1.5}})");
    CHECK_ERROR_HAS(error_of([&] { train::load_thresholds(d / "thresholds.json"); }),
                    "threshold for 'joy' must be a number in [0, 1], found 1.5");
    // A state file whose group lists fewer names than parameters (indexing them read past the list).
    auto a = Tensor<float>::zeros({2}), b = Tensor<float>::zeros({2});
    a.set_requires_grad(true);
    b.set_requires_grad(true);
    optim::AdamW<float> opt({optim::ParamGroup<float>{.params = {a, b}, .names = {"a", "b"}}});
    const std::string meta = R"({"format": 1, "betas": [0.9, 0.999], "eps": 1e-8, "lerp_exp_avg": true,
        "groups": [{"num_params": 2, "names": ["a"], "lr": 0.001, "weight_decay": 0.01}]})";
    io::save_safetensors(d / "opt.safetensors", {}, {{"temper.adamw", meta}});
    CHECK_ERROR_HAS(error_of([&] { opt.load_state(d / "opt.safetensors"); }),
                    d / "opt.safetensors" + ": param group 0 has 2 params but 1 names in the state file");
}

}  // namespace test_hostile_files
