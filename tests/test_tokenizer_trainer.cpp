// train_wordpiece: the committed fixture vocabularies are exactly what the trainer produces from
// the project-written corpus, and a trained vocabulary behaves as a WordPiece vocabulary should.
// Regenerate the vocabularies with TEMPER_UPDATE_FIXTURES=1 ./test_tokenizer_trainer, then rerun
// tools/tokenizer_fixtures.py (the HF expectations depend on them).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "temper/text/trainer.hpp"
#include "temper/text/wordpiece.hpp"

namespace test_tokenizer_trainer {  // this file's names apart from the others' (unity build, tests/CMakeLists.txt)

using namespace temper::text;

namespace {

const std::string kDir = std::string(TEMPER_FIXTURES_DIR) + "/tokenizer/";

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream f(path);
    REQUIRE_MESSAGE(f.good(), "cannot open ", path);
    std::vector<std::string> lines;
    for (std::string l; std::getline(f, l);) lines.push_back(l);
    return lines;
}

// The settings the fixture vocabularies are trained with.
TrainerOptions fixture_options(bool lowercase) {
    TrainerOptions o;
    o.vocab_size = 2000;
    o.min_frequency = 2;
    o.lowercase = lowercase;
    return o;
}

}  // namespace

TEST_CASE("fixture vocabularies are reproduced by train_wordpiece") {
    const auto corpus = read_lines(kDir + "train_corpus.txt");
    const bool update = std::getenv("TEMPER_UPDATE_FIXTURES") != nullptr;
    for (bool lowercase : {true, false}) {
        const std::string path = kDir + (lowercase ? "vocab_uncased.txt" : "vocab_cased.txt");
        const auto vocab = train_wordpiece(corpus, fixture_options(lowercase));
        if (update) {
            save_vocab(vocab, path);
            MESSAGE("wrote ", path, " (", vocab.size(), " tokens)");
        }
        CHECK(vocab == read_lines(path));
    }
}

TEST_CASE("trained vocabulary: layout and coverage") {
    const auto corpus = read_lines(kDir + "train_corpus.txt");
    const auto vocab = train_wordpiece(corpus, fixture_options(true));
    REQUIRE(vocab.size() > 500);
    CHECK(vocab.size() <= 2000);
    // Special tokens first, in order; no duplicates.
    const std::vector<std::string> specials = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    CHECK(std::vector<std::string>(vocab.begin(), vocab.begin() + 5) == specials);
    CHECK(std::set<std::string>(vocab.begin(), vocab.end()).size() == vocab.size());
    // Every training word tokenizes without [UNK], and whole frequent words are single pieces.
    const auto tok = WordPiece::from_vocab(vocab);
    for (const auto& line : corpus) {
        for (const auto& t : tok.tokenize(line)) CHECK_MESSAGE(t != "[UNK]", line);
    }
    for (const char* w : {"the", "and", "love", "happy", "thank"}) {
        auto pieces = tok.tokenize(w);
        CHECK_MESSAGE(pieces.size() == 1, w);
    }
    // Deterministic.
    CHECK(train_wordpiece(corpus, fixture_options(true)) == vocab);
}

TEST_CASE("trainer options") {
    const std::vector<std::string> corpus = {"low lower lowest", "low low lower", "newer newest wider"};
    TrainerOptions o;
    o.vocab_size = 40;
    o.min_frequency = 1;
    o.special_tokens = {"[UNK]", "[CLS]", "[SEP]"};
    const auto v = train_wordpiece(corpus, o);
    CHECK(v.size() <= 40);
    CHECK(v[0] == "[UNK]");
    CHECK(std::find(v.begin(), v.end(), "low") != v.end());
    CHECK(std::find(v.begin(), v.end(), "##w") != v.end());
    // min_frequency above every pair count: alphabet only.
    o.min_frequency = 1000;
    const auto alpha = train_wordpiece(corpus, o);
    for (size_t i = 3; i < alpha.size(); ++i)
        CHECK(unicode::count_code_points(alpha[i].substr(alpha[i].rfind('#') + 1)) == 1);
    o.vocab_size = 2;
    CHECK_THROWS_AS(train_wordpiece(corpus, o), temper::Error);
}

TEST_CASE("save_vocab round trip") {
    const std::vector<std::string> v = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "##b", "é", "中"};
    const std::string path = "test_tokenizer_trainer_vocab.txt";
    save_vocab(v, path);
    CHECK(read_lines(path) == v);
    const auto tok = WordPiece::from_vocab_file(path);
    CHECK(tok.vocab_size() == v.size());
    CHECK(tok.token_to_id("##b") == 5);
    std::remove(path.c_str());
    CHECK_THROWS_AS(save_vocab({"bad\ntoken"}, path), temper::Error);
}

}  // namespace test_tokenizer_trainer
