// train_wordpiece: learns a WordPiece vocabulary (vocab.txt) from raw text, the way HF's
// WordPieceTrainer does it — BPE merges over BERT-normalized, pre-tokenized words, where a piece
// that does not start a word carries the "##" prefix.
//
// Vocabulary layout: special tokens, then every kept character alone and as "##c" (so any word
// made of known characters tokenizes without [UNK]), then merged pieces in the order learned.
// Deterministic: ties go to the lexicographically smallest merged piece.
#pragma once

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "temper/core/error.hpp"
#include "temper/text/normalizer.hpp"
#include "temper/text/pre_tokenizer.hpp"

namespace temper::text {

struct TrainerOptions {
    size_t vocab_size = 30522;
    size_t min_frequency = 2;  // a pair seen fewer times is never merged
    std::vector<std::string> special_tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    size_t limit_alphabet = 1000;  // keep the most frequent characters only
    bool lowercase = true;
    std::optional<bool> strip_accents{};  // unset: follows lowercase
    bool handle_chinese_chars = true;
    std::string continuing_subword_prefix = "##";
};

inline std::vector<std::string> train_wordpiece(const std::vector<std::string>& corpus, const TrainerOptions& o = {}) {
    check(o.vocab_size >= o.special_tokens.size(), "train_wordpiece: vocab_size ", o.vocab_size,
          " is smaller than the ", o.special_tokens.size(), " special tokens");
    const BertNormalizer normalizer({.clean_text = true,
                                     .handle_chinese_chars = o.handle_chinese_chars,
                                     .strip_accents = o.strip_accents,
                                     .lowercase = o.lowercase});

    // 1. Word frequencies, words as code point sequences.
    std::map<std::u32string, uint64_t> word_count;  // ordered: deterministic iteration
    std::vector<NChar> chars;
    std::vector<WordSpan> spans;
    for (const auto& line : corpus) {
        chars.clear();
        spans.clear();
        normalizer.normalize(line, 0, line.size(), chars);
        bert_pre_tokenize(chars.data(), chars.size(), spans);
        for (auto [b, e] : spans) {
            std::u32string w;
            for (uint32_t i = b; i < e; ++i) w += chars[i].c;
            ++word_count[w];
        }
    }

    // 2. Alphabet: the limit_alphabet most frequent characters.
    std::unordered_map<char32_t, uint64_t> char_count;
    for (const auto& [w, n] : word_count)
        for (char32_t c : w) char_count[c] += n;
    std::vector<std::pair<char32_t, uint64_t>> alphabet(char_count.begin(), char_count.end());
    std::sort(alphabet.begin(), alphabet.end(),
              [](auto& a, auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
    if (alphabet.size() > o.limit_alphabet) alphabet.resize(o.limit_alphabet);
    std::sort(alphabet.begin(), alphabet.end());

    std::vector<std::string> vocab;
    std::unordered_map<std::string, int32_t> index;
    auto add = [&](const std::string& tok) {
        auto [it, fresh] = index.emplace(tok, static_cast<int32_t>(vocab.size()));
        if (fresh) vocab.push_back(tok);
        return it->second;
    };
    for (const auto& s : o.special_tokens) add(s);
    std::unordered_map<char32_t, int32_t> initial, continuation;
    for (auto [c, n] : alphabet) {
        std::string s;
        unicode::append_utf8(s, c);
        initial[c] = add(s);
    }
    for (auto [c, n] : alphabet) {
        std::string s = o.continuing_subword_prefix;
        unicode::append_utf8(s, c);
        continuation[c] = add(s);
    }

    // 3. Words as symbol id sequences (words with characters outside the alphabet are left out).
    std::vector<std::vector<int32_t>> words;
    std::vector<uint64_t> counts;
    for (const auto& [w, n] : word_count) {
        std::vector<int32_t> syms;
        bool ok = true;
        for (size_t i = 0; i < w.size() && ok; ++i) {
            const auto& table = i == 0 ? initial : continuation;
            auto it = table.find(w[i]);
            ok = it != table.end();
            if (ok) syms.push_back(it->second);
        }
        if (ok && syms.size() > 1) words.push_back(std::move(syms)), counts.push_back(n);
    }

    // 4. BPE merges. Pair counts are kept exact; the heap holds (count, pair) candidates that are
    //    re-checked when popped, so stale entries are simply skipped.
    auto key = [](int32_t a, int32_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); };
    std::unordered_map<uint64_t, int64_t> pair_count;
    std::unordered_map<uint64_t, std::vector<uint32_t>> pair_words;
    for (uint32_t w = 0; w < words.size(); ++w) {
        for (size_t i = 0; i + 1 < words[w].size(); ++i) {
            const uint64_t k = key(words[w][i], words[w][i + 1]);
            pair_count[k] += static_cast<int64_t>(counts[w]);
            pair_words[k].push_back(w);
        }
    }
    const std::string& prefix = o.continuing_subword_prefix;
    auto merged = [&](uint64_t k) {
        const std::string& b = vocab[static_cast<uint32_t>(k)];
        return vocab[k >> 32] + b.substr(b.compare(0, prefix.size(), prefix) == 0 ? prefix.size() : 0);
    };
    struct Cand {
        int64_t count;
        uint64_t pair;
        std::string piece;
    };
    auto worse = [](const Cand& x, const Cand& y) {
        return x.count != y.count ? x.count < y.count : x.piece > y.piece;
    };
    std::priority_queue<Cand, std::vector<Cand>, decltype(worse)> heap(worse);
    for (const auto& [k, n] : pair_count) heap.push({n, k, merged(k)});

    while (vocab.size() < o.vocab_size && !heap.empty()) {
        Cand top = heap.top();
        heap.pop();
        auto it = pair_count.find(top.pair);
        if (it == pair_count.end() || it->second != top.count) continue;  // stale
        if (top.count < static_cast<int64_t>(o.min_frequency)) break;
        const int32_t a = static_cast<int32_t>(top.pair >> 32),
                      b = static_cast<int32_t>(static_cast<uint32_t>(top.pair));
        const int32_t ab = add(top.piece);
        std::unordered_set<uint64_t> touched;
        std::vector<uint32_t> ws = std::move(pair_words[top.pair]);
        std::sort(ws.begin(), ws.end());
        ws.erase(std::unique(ws.begin(), ws.end()), ws.end());
        for (uint32_t w : ws) {
            auto& syms = words[w];
            const int64_t n = static_cast<int64_t>(counts[w]);
            for (size_t i = 0; i + 1 < syms.size(); ++i) {
                const uint64_t k = key(syms[i], syms[i + 1]);
                pair_count[k] -= n;
                touched.insert(k);
            }
            std::vector<int32_t> next;
            for (size_t i = 0; i < syms.size(); ++i) {
                if (i + 1 < syms.size() && syms[i] == a && syms[i + 1] == b)
                    next.push_back(ab), ++i;
                else
                    next.push_back(syms[i]);
            }
            syms = std::move(next);
            for (size_t i = 0; i + 1 < syms.size(); ++i) {
                const uint64_t k = key(syms[i], syms[i + 1]);
                pair_count[k] += n;
                pair_words[k].push_back(w);
                touched.insert(k);
            }
        }
        pair_count.erase(top.pair);
        for (uint64_t k : touched) {
            auto pc = pair_count.find(k);
            if (pc == pair_count.end()) continue;
            if (pc->second <= 0)
                pair_count.erase(pc);
            else
                heap.push({pc->second, k, merged(k)});
        }
    }
    return vocab;
}

// Writes one token per line (the vocab.txt format WordPiece::from_vocab_file reads).
inline void save_vocab(const std::vector<std::string>& vocab, const std::string& path) {
    std::ofstream f(path, std::ios::binary);
    check(f.good(), "save_vocab: cannot write ", path);
    for (const auto& t : vocab) {
        check(t.find('\n') == std::string::npos, "save_vocab: token \"", t, "\" contains a newline");
        f << t << '\n';
    }
    check(f.good(), "save_vocab: error while writing ", path);
}

}  // namespace temper::text
