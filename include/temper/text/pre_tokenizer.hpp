// BertPreTokenizer: split on whitespace (dropped), then make every punctuation character its own
// word (tokenizers/src/pre_tokenizers/bert.rs). Whitespace is Rust's char::is_whitespace here,
// not BertNormalizer's definition; punctuation is ASCII punctuation or category P*.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "temper/text/normalizer.hpp"

namespace temper::text {

// A word is the half-open range [first, last) of normalized characters.
using WordSpan = std::pair<uint32_t, uint32_t>;

inline void bert_pre_tokenize(const NChar* chars, size_t n, std::vector<WordSpan>& words) {
    uint32_t start = 0;
    bool in_word = false;
    for (uint32_t i = 0; i < n; ++i) {
        const uint8_t f = unicode::flags(chars[i].c);
        if (f & (unicode::kWhitespace | unicode::kPunctuation)) {
            if (in_word) words.emplace_back(start, i);
            in_word = false;
            if (!(f & unicode::kWhitespace)) words.emplace_back(i, i + 1);
        } else if (!in_word) {
            start = i;
            in_word = true;
        }
    }
    if (in_word) words.emplace_back(start, static_cast<uint32_t>(n));
}

}  // namespace temper::text
