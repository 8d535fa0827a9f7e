// Parity on real data with the real vocabulary: every GoEmotions text from ../shared/data (never committed)
// through bert-base-uncased's vocab.txt and through a checkpoint's tokenizer.json (all-MiniLM-L6-v2's, the
// same vocabulary: tools/minilm.py). The HF expectations are generated locally with
//   .venv/bin/python tools/tokenizer_fixtures.py --goemotions   (-> .devdata/tokenizer/, git-ignored)
// Without the shared data or those files the tests say so and skip.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "temper/text/wordpiece.hpp"
#include "tokenizer_test_util.hpp"

namespace test_tokenizer_goemotions {  // this file's names apart from the others' (unity build, tests/CMakeLists.txt)

using namespace temper::text;
namespace fs = std::filesystem;

namespace {

const std::string kShared = std::string(TEMPER_SHARED_DIR) + "/data/";

// The locally generated expectations: .devdata/tokenizer/<name>.
std::string devdata_file(const std::string& name) {
    return (fs::path(TEMPER_FIXTURES_DIR) / ".." / ".." / ".devdata" / "tokenizer" / name).string();
}

std::string expected_file() {
    if (const char* env = std::getenv("TEMPER_TOKENIZER_GOEMOTIONS")) return env;
    return devdata_file("goemotions_bert-base-uncased.jsonl");
}

// Text column of a GoEmotions TSV, indexed by line number (as tools/tokenizer_fixtures.py counts them).
std::map<size_t, std::string> read_texts(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::map<size_t, std::string> texts;
    std::string line;
    for (size_t i = 0; std::getline(f, line); ++i)
        if (!line.empty()) texts[i] = line.substr(0, line.find('\t'));
    return texts;
}

}  // namespace

TEST_CASE("bert-base-uncased vocab: known ids") {
    const std::string vocab = kShared + "bert-base-uncased/vocab.txt";
    if (!fs::exists(vocab)) {
        MESSAGE("skipped: ", vocab, " not present");
        return;
    }
    const auto tok = WordPiece::from_vocab_file(vocab);
    CHECK(tok.vocab_size() == 30522);
    CHECK(tok.encode("I love this movie!").ids == std::vector<int64_t>{101, 1045, 2293, 2023, 3185, 999, 102});
    CHECK(tok.encode("feel happy").ids == std::vector<int64_t>{101, 2514, 3407, 102});
    CHECK(tok.pad_id() == 0);
    CHECK(tok.unk_id() == 100);
    CHECK(tok.token_to_id("[MASK]") == 103);
}

// Every record of an expectations file (tools/tokenizer_fixtures.py --goemotions) through `tok`: each text's ids and
// offsets, and each truncated pair's ids, type ids and offsets, must be HF's. A first line {"tokenizer_dir": ...}
// (which tokenizer made the file) is skipped.
void check_goemotions(const WordPiece& tok, const std::string& expected, const std::string& what) {
    std::map<std::string, std::map<size_t, std::string>> texts;
    for (const char* f : {"train.tsv", "dev.tsv", "test.tsv"}) texts[f] = read_texts(kShared + "goemotions/" + f);

    std::ifstream in(expected);
    size_t singles = 0, pairs = 0, failed = 0, tokens = 0;
    for (std::string line; std::getline(in, line);) {
        const auto r = nlohmann::json::parse(line);
        if (r.contains("tokenizer_dir")) continue;
        const auto& file = texts.at(r["file"].get<std::string>());
        const bool pair = r.contains("pair");
        const std::string a = file.at(pair ? r["pair"][0].get<size_t>() : r["line"].get<size_t>());
        const std::string b = pair ? file.at(r["pair"][1].get<size_t>()) : std::string();
        EncodeOptions o;
        o.padding = Padding::None;
        o.truncation = pair;
        if (pair) o.max_length = r["max_length"];
        const Encoding e = pair ? tok.encode_pair(a, b, o) : tok.encode(a, o);
        bool same = e.ids == r["ids"].get<std::vector<int64_t>>();
        if (same && pair) same = e.type_ids == r["type_ids"].get<std::vector<int64_t>>();
        if (same) {
            const std::vector<size_t> got = temper::testing::hf_offsets(e, a, b, pair);
            same = got == r["offsets"].get<std::vector<size_t>>();
        }
        (pair ? pairs : singles) += 1;
        tokens += e.ids.size();
        if (!same && ++failed <= 5)
            MESSAGE("differs: ", nlohmann::json(a).dump(), pair ? " | " + nlohmann::json(b).dump() : "", "\n  HF ",
                    line);
    }
    CHECK(singles > 50000);
    CHECK(pairs > 2000);
    CHECK(failed == 0);
    MESSAGE("GoEmotions, ", what, ": ", singles + pairs - failed, "/", singles + pairs, " encodings identical to HF (",
            singles, " texts, ", pairs, " truncated pairs, ", tokens, " tokens)");
}

bool shared_data_present() {
    if (fs::exists(kShared + "goemotions/train.tsv")) return true;
    MESSAGE("skipped: shared data (", kShared, ") not present");
    return false;
}

bool expectations_present(const std::string& expected) {
    if (fs::exists(expected)) return true;
    MESSAGE("skipped: ", expected,
            " not present; create it with `.venv/bin/python tools/tokenizer_fixtures.py --goemotions`");
    return false;
}

TEST_CASE("GoEmotions with bert-base-uncased: identical to HF tokenizers") {
    const std::string vocab = kShared + "bert-base-uncased/vocab.txt";
    const std::string expected = expected_file();
    if (!shared_data_present() || !expectations_present(expected)) return;
    if (!fs::exists(vocab)) {
        MESSAGE("skipped: ", vocab, " not present");
        return;
    }
    check_goemotions(WordPiece::from_vocab_file(vocab), expected, "vocab.txt");
}

// The other way a tokenizer is loaded: a checkpoint directory's tokenizer.json (from_pretrained, what
// `goemotions --model DIR` uses), against transformers' AutoTokenizer on the same directory.
TEST_CASE("GoEmotions with a checkpoint's tokenizer.json: identical to HF tokenizers") {
    const std::string expected = devdata_file("goemotions_minilm.jsonl");
    if (!shared_data_present() || !expectations_present(expected)) return;
    std::ifstream f(expected);
    std::string header;
    std::getline(f, header);
    const std::string dir = nlohmann::json::parse(header).value("tokenizer_dir", "");
    REQUIRE_MESSAGE(!dir.empty(), expected, ": the first line must name the tokenizer_dir it was made from");
    if (!fs::exists(fs::path(dir) / "tokenizer.json")) {
        MESSAGE("skipped: ", dir, "/tokenizer.json (named by ", expected, ") not present");
        return;
    }
    check_goemotions(WordPiece::from_pretrained(dir), expected, dir + "/tokenizer.json");
}

}  // namespace test_tokenizer_goemotions
