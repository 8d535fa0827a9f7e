// UTF-8 decoding/encoding and the Unicode queries the BERT tokenizer needs (categories, NFD,
// lowercase), answered from the generated tables so that results match HuggingFace tokenizers.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "temper/text/unicode_tables.hpp"

namespace temper::text::unicode {

inline constexpr char32_t kReplacement = 0xFFFD;

// Decodes one code point at s[pos] and advances pos. Invalid input yields U+FFFD for each
// "maximal subpart" (Unicode §3.9, the same policy as WHATWG and Rust's String::from_utf8_lossy),
// so the result is deterministic and every input byte belongs to exactly one code point.
inline char32_t decode_utf8(std::string_view s, size_t& pos) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    const unsigned char b0 = p[pos];
    if (b0 < 0x80) {
        ++pos;
        return b0;
    }
    int len;
    char32_t cp;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        len = 2, cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        len = 3, cp = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
        if (b0 == 0xED) hi = 0x9F;  // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        len = 4, cp = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
        ++pos;
        return kReplacement;
    }
    size_t i = pos + 1;
    for (int k = 1; k < len; ++k, ++i) {
        if (i >= n) break;
        const unsigned char b = p[i];
        if (b < lo || b > hi) break;
        cp = (cp << 6) | (b & 0x3F);
        lo = 0x80, hi = 0xBF;
        if (k == len - 1) {
            pos = i + 1;
            return cp;
        }
    }
    pos = i;  // the maximal subpart [pos, i) becomes one replacement character
    return kReplacement;
}

inline void append_utf8(std::string& out, char32_t c) {
    if (c < 0x80) {
        out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (c >> 6)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (c >> 12)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (c >> 18)));
        out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
}

inline size_t utf8_length(char32_t c) { return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }

// Number of code points in s (invalid sequences count as decode_utf8 counts them).
inline size_t count_code_points(std::string_view s) {
    size_t n = 0;
    for (size_t pos = 0; pos < s.size(); ++n) decode_utf8(s, pos);
    return n;
}

// ---- properties -------------------------------------------------------------------------------

enum Flag : uint8_t { kOther = 1, kMarkNonspacing = 2, kPunctuation = 4, kWhitespace = 8 };

// Looks up a run table of (first << 8) | value entries.
inline uint8_t run_value(const uint32_t* runs, size_t n, char32_t c) {
    const uint32_t key = (static_cast<uint32_t>(c) << 8) | 0xFF;
    const uint32_t* it = std::upper_bound(runs, runs + n, key);
    return static_cast<uint8_t>(it[-1] & 0xFF);  // runs[0] starts at code point 0
}

inline uint8_t flags(char32_t c) {
    if (c < 256) return tables::kLatin1Flags[c];
    if (c > 0x10FFFF) return 0;
    return run_value(tables::kPropRuns, std::size(tables::kPropRuns), c);
}

// Rust's char::is_whitespace (White_Space property); the pre-tokenizer splits on these.
inline bool is_whitespace(char32_t c) { return flags(c) & kWhitespace; }
// Categories Cc, Cf, Co, Cs (HF's `is_other`, Unicode 8.0 data).
inline bool is_other(char32_t c) { return flags(c) & kOther; }
inline bool is_mark_nonspacing(char32_t c) { return flags(c) & kMarkNonspacing; }
// BertPreTokenizer's punctuation: ASCII punctuation (includes $ + < = > ^ ` | ~) or category P*.
inline bool is_punctuation(char32_t c) { return flags(c) & kPunctuation; }

// BertNormalizer's clean_text: \t \n \r count as whitespace, not control.
inline bool is_bert_whitespace(char32_t c) { return c == '\t' || c == '\n' || c == '\r' || is_whitespace(c); }
inline bool is_bert_control(char32_t c) { return c != '\t' && c != '\n' && c != '\r' && is_other(c); }

// The CJK ranges of tokenizers' BertNormalizer. Note 0x2B920 (not 0x2B820 as in the original BERT
// Python code): that is what the Rust implementation checks, verified against tokenizers 0.23.2.
inline bool is_chinese_char(char32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// ---- normalization ----------------------------------------------------------------------------

inline uint8_t combining_class(char32_t c) {
    if (c < 0x300 || c > 0x10FFFF) return 0;
    return run_value(tables::kCccRuns, std::size(tables::kCccRuns), c);
}

// Hangul syllables decompose algorithmically (Unicode §3.12).
inline constexpr char32_t kHangulBase = 0xAC00, kHangulCount = 11172;

// Writes the full canonical decomposition of c to out (at most 8 code points) and returns its
// length; 1 (c itself) when c does not decompose.
inline int decompose(char32_t c, char32_t* out) {
    if (c < 0xC0) {
        out[0] = c;
        return 1;
    }
    if (c >= kHangulBase && c < kHangulBase + kHangulCount) {
        const char32_t s = c - kHangulBase;
        out[0] = 0x1100 + s / 588;
        out[1] = 0x1161 + (s % 588) / 28;
        if (s % 28 == 0) return 2;
        out[2] = 0x11A7 + s % 28;
        return 3;
    }
    const auto* begin = std::begin(tables::kDecompositions);
    const auto* end = std::end(tables::kDecompositions);
    const auto* it =
        std::lower_bound(begin, end, c, [](const tables::Decomposition& d, char32_t v) { return d.cp < v; });
    if (it == end || it->cp != c) {
        out[0] = c;
        return 1;
    }
    std::copy_n(tables::kDecompData + it->offset, it->len, out);
    return it->len;
}

// Rust's char::to_lowercase: writes 1..3 code points to out and returns how many.
inline int to_lower(char32_t c, char32_t* out) {
    if (c < 0x80) {
        out[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
        return 1;
    }
    for (const auto& m : tables::kLowerMulti) {
        if (m.cp == c) {
            int n = 0;
            while (n < 3 && m.out[n]) out[n] = m.out[n], ++n;
            return n;
        }
    }
    const auto* begin = std::begin(tables::kLowerRuns);
    const auto* end = std::end(tables::kLowerRuns);
    const auto* it = std::upper_bound(begin, end, c, [](char32_t v, const tables::LowerRun& r) { return v < r.first; });
    out[0] = c;
    if (it != begin) {
        const auto& r = it[-1];
        const char32_t k = c - r.first;
        if (k % r.step == 0 && k / r.step < r.count) out[0] = static_cast<char32_t>(static_cast<int32_t>(c) + r.delta);
    }
    return 1;
}

}  // namespace temper::text::unicode
