// WordPiece parity with HuggingFace tokenizers: every case of tests/fixtures/tokenizer/hf_*.json
// (written by tools/tokenizer_fixtures.py with tokenizers 0.23.3) must give identical ids,
// token_type_ids, tokens and offsets (HF reports code points; we report bytes and convert), and
// decode() must give HF's strings. Each configuration is checked through both loaders:
// vocab.txt + options, and the tokenizer.json that HF itself wrote.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "temper/text/wordpiece.hpp"
#include "tokenizer_test_util.hpp"

namespace test_tokenizer {  // this file's names apart from the others' (unity build, tests/CMakeLists.txt)

using namespace temper::text;
using nlohmann::json;

namespace {

const std::string kDir = std::string(TEMPER_FIXTURES_DIR) + "/tokenizer/";

json load(const std::string& name) {
    std::ifstream f(kDir + name);
    REQUIRE_MESSAGE(f.good(), "missing fixture ", kDir + name, " (run tools/tokenizer_fixtures.py)");
    return json::parse(f);
}

// Printable form of a test input for failure messages.
std::string show(const std::string& s) { return json(s).dump(); }

NormalizerOptions normalizer_options(const json& n) {
    NormalizerOptions o;
    o.clean_text = n.value("cleanText", true);
    o.handle_chinese_chars = n.value("handleChineseChars", true);
    o.strip_accents = n.value("stripAccents", true);
    o.lowercase = n.value("lowercase", true);
    return o;
}

// Compares one configuration's cases; returns the number of encodings that differ.
size_t check_config(const WordPiece& tok, const json& fx, const std::string& label) {
    size_t compared = 0, failed = 0;
    const auto& lines = fx["lines"];
    const auto& pairs = fx["pairs"];
    for (const auto& c : fx["cases"]) {
        const bool pair = c["pair"];
        EncodeOptions o;
        o.add_special_tokens = c["add_special_tokens"];
        o.truncation = !c["max_length"].is_null();
        o.max_length = o.truncation ? c["max_length"].get<size_t>() : 0;
        o.padding = Padding::None;
        const auto& results = c["results"];
        REQUIRE(results.size() == (pair ? pairs.size() : lines.size()));
        for (size_t i = 0; i < results.size(); ++i) {
            const auto& r = results[i];
            const std::string a = pair ? pairs[i][0].get<std::string>() : lines[i].get<std::string>();
            const std::string b = pair ? pairs[i][1].get<std::string>() : std::string();
            const Encoding e = pair ? tok.encode_pair(a, b, o) : tok.encode(a, o);
            std::string why;
            if (e.ids != r["ids"].get<std::vector<int64_t>>()) why = "ids";
            const auto types = r.contains("type_ids") ? r["type_ids"].get<std::vector<int64_t>>()
                                                      : std::vector<int64_t>(e.ids.size(), 0);
            if (why.empty() && e.type_ids != types) why = "type_ids";
            const bool all_ones =
                std::all_of(e.attention_mask.begin(), e.attention_mask.end(), [](int64_t m) { return m == 1; });
            if (why.empty() && (e.attention_mask.size() != e.ids.size() || !all_ones)) why = "attention_mask";
            if (why.empty() && r.contains("tokens") && e.tokens != r["tokens"].get<std::vector<std::string>>())
                why = "tokens";
            if (why.empty() && r.contains("offsets")) {
                // Byte offsets -> code points, against the text each token came from.
                const std::vector<size_t> got = temper::testing::hf_offsets(e, a, b, pair);
                if (got != r["offsets"].get<std::vector<size_t>>()) why = "offsets";
            }
            ++compared;
            if (!why.empty() && ++failed <= 5) {
                std::ostringstream ids;
                for (auto id : e.ids) ids << id << ' ';
                MESSAGE(label, " case ", c["name"].get<std::string>(), " #", i, " differs in ", why, ": ", show(a),
                        pair ? " | " + show(b) : "", "\n  expected ", r.dump(), "\n  got ids ", ids.str());
            }
        }
    }
    // decode() of the "single" ids, with and without special tokens.
    const auto& single = fx["cases"][0]["results"];
    for (size_t i = 0; i < single.size(); ++i) {
        const auto ids = single[i]["ids"].get<std::vector<int64_t>>();
        const std::string skip = tok.decode(ids, true), keep = tok.decode(ids, false);
        ++compared;
        if ((skip != fx["decode"][i]["skip"] || keep != fx["decode"][i]["keep"]) && ++failed <= 5)
            MESSAGE(label, " decode #", i, ": expected ", fx["decode"][i].dump(), " got ", show(skip), " / ",
                    show(keep));
    }
    MESSAGE(label, ": ", compared - failed, "/", compared, " encodings and decodings identical to HF");
    return failed;
}

}  // namespace

TEST_CASE("parity with HF tokenizers on the project corpus") {
    for (const char* name : {"uncased", "cased", "lower_nostrip"}) {
        const json fx = load(std::string("hf_") + name + ".json");
        VocabOptions vo;
        vo.normalizer = normalizer_options(fx["normalizer"]);
        const auto from_vocab = WordPiece::from_vocab_file(kDir + fx["vocab"].get<std::string>(), vo);
        CHECK(check_config(from_vocab, fx, std::string(name) + " (vocab.txt)") == 0);
        const auto from_json = WordPiece::from_tokenizer_json(kDir + fx["tokenizer_json"].get<std::string>());
        CHECK(check_config(from_json, fx, std::string(name) + " (tokenizer.json)") == 0);
    }
}

TEST_CASE("parity with HF tokenizers: added tokens (lstrip/rstrip, normalized, non-special)") {
    const json fx = load("hf_added.json");
    const auto tok = WordPiece::from_tokenizer_json(kDir + fx["tokenizer_json"].get<std::string>());
    CHECK(tok.added_tokens().size() == 10);
    CHECK(check_config(tok, fx, "added (tokenizer.json)") == 0);
}

TEST_CASE("parity with HF tokenizers: no normalizer, post-processor or decoder") {
    const json fx = load("hf_bare.json");
    const auto tok = WordPiece::from_tokenizer_json(kDir + fx["tokenizer_json"].get<std::string>());
    CHECK(tok.normalizer() == nullptr);
    CHECK(tok.num_special_tokens(true) == 0);
    CHECK(check_config(tok, fx, "bare (tokenizer.json)") == 0);
}

TEST_CASE("pair truncation matches HF's longest_first on a grid of lengths") {
    const json fx = load("hf_truncation.json");
    const auto tok = WordPiece::from_vocab_file(kDir + "vocab_uncased.txt");
    const int64_t a_id = *tok.token_to_id("a"), b_id = *tok.token_to_id("b");
    size_t failed = 0;
    for (const auto& row : fx["rows"]) {
        std::istringstream in(row.get<std::string>());
        size_t special, m, la, lb, ka, kb;
        in >> special >> m >> la >> lb >> ka >> kb;
        std::string a, b;
        for (size_t i = 0; i < la; ++i) a += "a ";
        for (size_t i = 0; i < lb; ++i) b += "b ";
        const auto ids =
            tok.encode_pair(a, b, {.max_length = m, .padding = Padding::None, .add_special_tokens = special == 1}).ids;
        const size_t got_a = std::count(ids.begin(), ids.end(), a_id), got_b = std::count(ids.begin(), ids.end(), b_id);
        if ((got_a != ka || got_b != kb) && ++failed <= 5)
            MESSAGE("special tokens ", special, ", max_length ", m, ", lengths ", la, "+", lb, ": HF keeps ", ka, "+",
                    kb, ", we keep ", got_a, "+", got_b);
    }
    CHECK(failed == 0);
    const size_t rows = fx["rows"].size();
    MESSAGE("HF truncation grid: ", rows - failed, "/", rows, " identical");
}

TEST_CASE("the corpus covers what the issue asks for") {
    const json corpus = load("corpus.json");
    std::string all;
    size_t longest = 0;
    bool empty = false;
    for (const auto& l : corpus["lines"]) {
        const std::string s = l;
        all += s;
        empty |= s.empty();
        longest = std::max(longest, unicode::count_code_points(s));
    }
    CHECK(empty);
    CHECK(longest > 100);
    CHECK(all.find('\0') != std::string::npos);
    for (const char* needle :
         {"\u200b", "\u200d", "\ufeff", "\x01",   "\ufffd",     "\u00a0",     "\u3000", "\u2028", "\t",       "\u0130",
          "\u00df", "\u03a3", "\u0301", "\u4e2d", "\U0001F600", "\U0001F3FD", "\u05e9", "\u0645", "https://", "don't"})
        CHECK_MESSAGE(all.find(needle) != std::string::npos, show(needle));
}

TEST_CASE("invalid UTF-8: replacement characters, dropped by clean_text") {
    const json fx = load("hf_uncased.json");
    VocabOptions vo;
    vo.normalizer = normalizer_options(fx["normalizer"]);
    const auto tok = WordPiece::from_vocab_file(kDir + "vocab_uncased.txt", vo);
    // Each invalid sequence behaves exactly like U+FFFD, which clean_text removes: "ab" stays one word.
    for (std::string bad : {"\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "\x80\x80"}) {
        const std::string text = "love" + bad + "ly day";
        const auto e = tok.encode(text, {.padding = Padding::None});
        const auto ref = tok.encode("lovely day", {.padding = Padding::None});
        CHECK_MESSAGE(e.ids == ref.ids, show(text));
        CHECK(e.offsets[1].first == 0);  // the word spans the invalid bytes
        CHECK(e.offsets.back() == std::pair<size_t, size_t>{0, 0});
    }
    // Without clean_text the replacement character is kept and maps back to the invalid bytes.
    BertNormalizer keep(
        {.clean_text = false, .handle_chinese_chars = true, .strip_accents = false, .lowercase = false});
    std::vector<NChar> out;
    keep.normalize(
        "a\xe2\x82"
        "b\xff",
        0, 5, out);
    REQUIRE(out.size() == 4);
    CHECK(out[1].c == unicode::kReplacement);
    CHECK(out[1].start == 1);
    CHECK(out[1].end == 3);
    CHECK(out[3].c == unicode::kReplacement);
    CHECK(out[3].start == 4);
}

TEST_CASE("encode_batch: padding, truncation, masks, threads") {
    const auto tok = WordPiece::from_vocab_file(kDir + "vocab_uncased.txt");
    const std::vector<std::string> texts = {"I really love this movie.", "",
                                            "Thank you so much for the kind words, they mean a lot to me!", "ok"};
    const int64_t pad = *tok.token_to_id("[PAD]");
    CHECK(tok.pad_id() == pad);

    auto b = tok.encode_batch(texts, {.max_length = 512});
    REQUIRE(b.batch == 4);
    size_t longest = 0;
    for (const auto& t : texts) longest = std::max(longest, tok.encode(t).ids.size());
    CHECK(b.seq_len == longest);
    REQUIRE(b.input_ids.size() == b.batch * b.seq_len);
    for (size_t i = 0; i < b.batch; ++i) {
        const auto single = tok.encode(texts[i]);
        for (size_t j = 0; j < b.seq_len; ++j) {
            const bool real = j < single.ids.size();
            CHECK(b.input_ids[i * b.seq_len + j] == (real ? single.ids[j] : pad));
            CHECK(b.attention_mask[i * b.seq_len + j] == (real ? 1 : 0));
            CHECK(b.token_type_ids[i * b.seq_len + j] == 0);
        }
        CHECK(b.encodings[i].tokens.size() == b.seq_len);
    }

    auto fixed = tok.encode_batch(texts, {.max_length = 8, .padding = Padding::MaxLength});
    CHECK(fixed.seq_len == 8);
    CHECK(fixed.input_ids.size() == 32);
    CHECK(fixed.input_ids[2 * 8 + 7] == *tok.token_to_id("[SEP]"));  // truncated, [SEP] kept
    CHECK(fixed.input_ids[1 * 8 + 2] == pad);

    auto ragged = tok.encode_batch(texts, {.padding = Padding::None});
    CHECK(ragged.seq_len == 0);
    CHECK(ragged.input_ids.empty());
    CHECK(ragged.encodings[1].ids.size() == 2);

    // MaxLength without truncation keeps long rows whole: seq_len grows to the longest.
    auto wide = tok.encode_batch(texts, {.max_length = 4, .truncation = false, .padding = Padding::MaxLength});
    CHECK(wide.seq_len == longest);

    // Threads change nothing.
    std::vector<std::string> many;
    for (int k = 0; k < 300; ++k) many.push_back(texts[k % texts.size()] + " " + std::to_string(k));
    auto one = tok.encode_batch(many, {.num_threads = 1});
    auto four = tok.encode_batch(many, {.num_threads = 4});
    CHECK(one.input_ids == four.input_ids);
    CHECK(one.seq_len == four.seq_len);

    // Pairs.
    const std::vector<std::pair<std::string, std::string>> two = {{"love", "day"}, {"a b c", ""}};
    auto pairs = tok.encode_batch(two);
    CHECK(pairs.seq_len == 6);
    CHECK(pairs.token_type_ids == std::vector<int64_t>{0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1});
    CHECK(pairs.attention_mask == std::vector<int64_t>{1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1});
    CHECK(pairs.encodings[0].ids ==
          tok.encode_pair("love", "day", {.max_length = 6, .padding = Padding::MaxLength}).ids);

    CHECK_THROWS_AS(tok.encode("hello", {.max_length = 1}), temper::Error);
    CHECK_NOTHROW(tok.encode("hello", {.max_length = 2}));
    CHECK(tok.encode("hello world", {.max_length = 2}).ids.size() == 2);
}

TEST_CASE("vocabulary access, tokenize, decode") {
    const auto tok = WordPiece::from_vocab_file(kDir + "vocab_uncased.txt");
    CHECK(tok.vocab_size() == 1035);
    CHECK(tok.token_to_id("[CLS]") == 2);
    CHECK(tok.id_to_token(2) == "[CLS]");
    CHECK_FALSE(tok.token_to_id("no-such-token").has_value());
    CHECK_THROWS_AS(tok.id_to_token(-1), temper::Error);
    CHECK_THROWS_AS(tok.id_to_token(1035), temper::Error);
    CHECK(tok.tokenize("I love tokenization!") == std::vector<std::string>{"i", "love", "tokeniz", "##ation", "!"});
    const auto e = tok.encode("I love tokenization!");
    CHECK(tok.decode(e.ids) == "[CLS] i love tokenization! [SEP]");
    CHECK(tok.decode(e.ids, true) == "i love tokenization!");
    CHECK(tok.num_special_tokens(false) == 2);
    CHECK(tok.num_special_tokens(true) == 3);
}

TEST_CASE("from_pretrained: tokenizer.json or vocab.txt, tokenizer_config.json overrides") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / "temper_test_tokenizer_pretrained";
    fs::remove_all(dir);
    fs::create_directories(dir);
    CHECK_THROWS_AS(WordPiece::from_pretrained(dir.string()), temper::Error);

    fs::copy_file(kDir + "vocab_cased.txt", dir / "vocab.txt");
    const auto lower = WordPiece::from_pretrained(dir.string());  // defaults: uncased
    CHECK(lower.tokenize("Hello")[0][0] == 'h');
    std::ofstream(dir / "tokenizer_config.json") << R"({"do_lower_case": false, "unk_token": {"content": "[UNK]"}})";
    const auto cased = WordPiece::from_pretrained(dir.string());
    CHECK(cased.tokenize("Hello")[0][0] == 'H');

    fs::copy_file(kDir + "tokenizer_uncased.json", dir / "tokenizer.json");
    std::ofstream(dir / "tokenizer_config.json") << R"({"do_lower_case": false, "strip_accents": false})";
    const auto from_json = WordPiece::from_pretrained(dir.string());
    REQUIRE(from_json.normalizer());
    CHECK_FALSE(from_json.normalizer()->options().lowercase);
    CHECK_FALSE(from_json.normalizer()->strips_accents());
    std::ofstream(dir / "tokenizer_config.json") << R"({"tokenize_chinese_chars": false})";
    const auto no_cjk = WordPiece::from_pretrained(dir.string());
    CHECK(no_cjk.normalizer()->options().lowercase);
    CHECK_FALSE(no_cjk.normalizer()->options().handle_chinese_chars);
    fs::remove_all(dir);
}

TEST_CASE("save_pretrained writes HF's tokenizer.json and the real settings; from_pretrained reads it back") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("temper_test_tokenizer_save_" + std::to_string(::getpid()));
    auto read_json = [](const fs::path& p) {
        std::ifstream f(p);
        REQUIRE_MESSAGE(f.good(), "not written: ", p.string());
        return json::parse(f);
    };
    // Loaded from files HF's tokenizers saved: what we write is the same JSON, field for field.
    for (const char* name : {"uncased", "cased", "lower_nostrip", "added", "bare"}) {
        const json fx = load(std::string("hf_") + name + ".json");
        const std::string file = fx["tokenizer_json"].get<std::string>();
        const auto tok = WordPiece::from_tokenizer_json(kDir + file);
        fs::remove_all(dir);
        tok.save_pretrained(dir.string(), {.tokenizer_class = "BertTokenizer", .model_max_length = 512});
        CHECK_MESSAGE(read_json(dir / "tokenizer.json") == load(file), name);
        const json cfg = read_json(dir / "tokenizer_config.json");
        if (tok.normalizer()) {
            CHECK(cfg.at("do_lower_case") == tok.normalizer()->options().lowercase);
            CHECK(cfg.at("tokenize_chinese_chars") == tok.normalizer()->options().handle_chinese_chars);
        } else {
            CHECK_FALSE(cfg.contains("do_lower_case"));
        }
        CHECK(cfg.at("model_max_length") == 512);
        CHECK(cfg.at("tokenizer_class") == "BertTokenizer");
        const auto back = WordPiece::from_pretrained(dir.string());
        CHECK(check_config(back, fx, std::string(name) + " (saved and reloaded)") == 0);
        // vocab.txt alone (with tokenizer_config.json) gives the same model vocabulary
        fs::remove(dir / "tokenizer.json");
        if (std::string(name) != "added" && std::string(name) != "bare") {
            const auto from_vocab = WordPiece::from_pretrained(dir.string());
            CHECK(check_config(from_vocab, fx, std::string(name) + " (saved vocab.txt + tokenizer_config.json)") == 0);
        }
    }
    // Built from a bare vocab.txt with do_lower_case false: saved cased, reloaded cased (a cased model's
    // tokenizer must not come back uncased).
    const json fx = load("hf_cased.json");
    VocabOptions vo;
    vo.normalizer = normalizer_options(fx["normalizer"]);
    REQUIRE_FALSE(vo.normalizer.lowercase);
    const auto cased = WordPiece::from_vocab_file(kDir + "vocab_cased.txt", vo);
    fs::remove_all(dir);
    cased.save_pretrained(dir.string());
    const json cfg = read_json(dir / "tokenizer_config.json");
    CHECK(cfg.at("do_lower_case") == false);
    CHECK(cfg.at("cls_token") == "[CLS]");
    CHECK(cfg.at("mask_token") == "[MASK]");
    const auto back = WordPiece::from_pretrained(dir.string());
    CHECK(back.tokenize("Hello")[0][0] == 'H');
    CHECK(check_config(back, fx, "cased vocab.txt (saved and reloaded)") == 0);
    fs::remove(dir / "tokenizer.json");
    CHECK(check_config(WordPiece::from_pretrained(dir.string()), fx, "cased vocab.txt (saved vocab.txt)") == 0);
    fs::remove_all(dir);
}

TEST_CASE("tokenizer.json errors name the field") {
    const json good = load("tokenizer_uncased.json");
    auto error_of = [](const json& j) {
        try {
            WordPiece::from_json(j, "t.json");
        } catch (const temper::Error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK(error_of(good).empty());
    json bpe = good;
    bpe["model"]["type"] = "BPE";
    CHECK(error_of(bpe).find("model.type is \"BPE\", expected \"WordPiece\"") != std::string::npos);
    json norm = good;
    norm["normalizer"] = {{"type", "NFKC"}};
    CHECK(error_of(norm).find("normalizer.type") != std::string::npos);
    json pre = good;
    pre["pre_tokenizer"] = {{"type", "ByteLevel"}};
    CHECK(error_of(pre).find("BertPreTokenizer") != std::string::npos);
    json unk = good;
    unk["model"]["unk_token"] = "<unk>";
    CHECK(error_of(unk).find("<unk>") != std::string::npos);
    json single_word = good;
    single_word["added_tokens"][0]["single_word"] = true;
    CHECK(error_of(single_word).find("single_word") != std::string::npos);
    json bad_type = good;
    bad_type["normalizer"]["lowercase"] = "yes";
    CHECK(error_of(bad_type).find("'lowercase'") != std::string::npos);
    json roberta = good;
    roberta["post_processor"] = {{"type", "RobertaProcessing"}};
    CHECK(error_of(roberta).find("RobertaProcessing") != std::string::npos);
    // BertProcessing is accepted and equivalent to the template.
    json bert = good;
    bert["post_processor"] = {{"type", "BertProcessing"}, {"sep", {"[SEP]", 3}}, {"cls", {"[CLS]", 2}}};
    const auto a = WordPiece::from_json(bert), b = WordPiece::from_json(good);
    CHECK(a.encode_pair("one two", "three").type_ids == b.encode_pair("one two", "three").type_ids);
    CHECK(a.encode_pair("one two", "three").ids == b.encode_pair("one two", "three").ids);
    CHECK_THROWS_AS(WordPiece::from_tokenizer_json(kDir + "no_such_file.json"), temper::Error);
    CHECK_THROWS_AS(WordPiece::from_vocab_file(kDir + "no_such_vocab.txt"), temper::Error);
}

}  // namespace test_tokenizer
