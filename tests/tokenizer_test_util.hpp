// Shared by the tokenizer parity tests: our byte offsets in HF's unit (code points, flattened).
#pragma once

#include <string>
#include <vector>

#include "temper/text/text.hpp"

namespace temper::testing {

// Code point index of every byte position of s (and of s.size()).
inline std::vector<size_t> char_index(const std::string& s) {
    std::vector<size_t> index(s.size() + 1, 0);
    size_t n = 0;
    for (size_t pos = 0; pos < s.size(); ++n) {
        const size_t start = pos;
        text::unicode::decode_utf8(s, pos);
        for (size_t k = start; k < pos; ++k) index[k] = n;
    }
    index[s.size()] = n;
    return index;
}

// [start0, end0, start1, end1, ...] in code points, each token measured in the text it came from
// (b for the second sequence of a pair), as HF's bindings report offsets.
inline std::vector<size_t> hf_offsets(const text::Encoding& e, const std::string& a, const std::string& b, bool pair) {
    const auto ia = char_index(a), ib = char_index(b);
    std::vector<size_t> out;
    for (size_t k = 0; k < e.offsets.size(); ++k) {
        const auto& index = (pair && e.type_ids[k] == 1) ? ib : ia;
        const auto [s, t] = e.offsets[k];
        if (t >= index.size() || s > t) return {};  // an offset outside the text never matches HF
        out.push_back(index[s]);
        out.push_back(index[t]);
    }
    return out;
}

}  // namespace temper::testing
