// BertNormalizer: clean_text, handle_chinese_chars, strip_accents (NFD + drop Mn), lowercase —
// the same steps, in the same order, as tokenizers/src/normalizers/bert.rs.
//
// The output is a sequence of code points, each carrying the byte range [start, end) of the
// original text it came from. Those ranges follow HF's NormalizedString alignment rules exactly
// (a character that replaces another takes its range, an inserted one takes the range of the
// character before it), which is what makes our token offsets equal to HF's.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "temper/text/unicode.hpp"

namespace temper::text {

// One normalized code point and the original byte range it maps back to.
struct NChar {
    char32_t c;
    uint32_t start, end;
};

struct NormalizerOptions {
    bool clean_text = true;
    bool handle_chinese_chars = true;
    std::optional<bool> strip_accents{};  // unset: follows lowercase, as in HF
    bool lowercase = true;
};

class BertNormalizer {
public:
    explicit BertNormalizer(NormalizerOptions opts = {}) : opts_(opts) {}

    const NormalizerOptions& options() const { return opts_; }
    bool strips_accents() const { return opts_.strip_accents.value_or(opts_.lowercase); }

    // Decodes text[begin, end) (invalid UTF-8 becomes U+FFFD per maximal subpart), normalizes it
    // and appends the result to out. Offsets are absolute byte offsets into text.
    void normalize(std::string_view text, size_t begin, size_t end, std::vector<NChar>& out) const {
        const size_t first = out.size();
        bool non_ascii = false;  // only code points >= 0xC0 can decompose, reorder or need the full lowercase
        // An inserted character (the space before a CJK character) takes the range of the
        // previous character; at the very start of the piece HF uses the empty range (0, 0).
        uint32_t prev_start = static_cast<uint32_t>(begin), prev_end = static_cast<uint32_t>(begin);
        const std::string_view piece = text.substr(0, end);
        for (size_t pos = begin; pos < end;) {
            const uint32_t s = static_cast<uint32_t>(pos);
            char32_t c = static_cast<unsigned char>(piece[pos]);
            if (c < 0x80) {
                ++pos;
                // ASCII: NFD leaves it alone and lowercase is per character, so both are done here.
                if (opts_.lowercase && c >= 'A' && c <= 'Z') c += 32;
            } else {
                c = unicode::decode_utf8(piece, pos);
            }
            const uint32_t e = static_cast<uint32_t>(pos);
            if (opts_.clean_text) {
                if (c == 0 || c == unicode::kReplacement || unicode::is_bert_control(c)) continue;
                if (unicode::is_bert_whitespace(c)) c = ' ';
            }
            if (opts_.handle_chinese_chars && c >= 0x3400 && unicode::is_chinese_char(c)) {
                out.push_back({' ', prev_start, prev_end});
                out.push_back({c, s, e});
                out.push_back({' ', s, e});
            } else {
                out.push_back({c, s, e});
            }
            non_ascii |= c >= 0xC0;
            prev_start = s, prev_end = e;
        }
        if (!non_ascii) return;
        if (strips_accents()) {
            nfd(out, first, static_cast<uint32_t>(begin));
            auto it = std::remove_if(out.begin() + first, out.end(),
                                     [](const NChar& n) { return unicode::is_mark_nonspacing(n.c); });
            out.erase(it, out.end());
        }
        if (opts_.lowercase) lowercase(out, first);
    }

    // Convenience for tests and tools: the normalized text as UTF-8.
    std::string normalize_string(std::string_view text) const {
        std::vector<NChar> chars;
        normalize(text, 0, text.size(), chars);
        std::string s;
        for (const auto& n : chars) unicode::append_utf8(s, n.c);
        return s;
    }

private:
    // NFD of out[first..] with HF's alignment bookkeeping: the first code point of each
    // decomposition "replaces" the next original character, the others are "inserted" and share
    // the range of the character consumed before them. Canonical reordering moves code points
    // together with that replaced/inserted tag, as unicode-normalization-alignments does.
    static void nfd(std::vector<NChar>& out, size_t first, uint32_t begin) {
        struct Item {
            char32_t c;
            uint8_t ccc;
            bool inserted;
        };
        thread_local std::vector<Item> items;
        thread_local std::vector<NChar> old;
        items.clear();
        char32_t buf[8];
        bool changed = false;
        for (size_t i = first; i < out.size(); ++i) {
            const int n = unicode::decompose(out[i].c, buf);
            changed |= n > 1 || buf[0] != out[i].c;
            for (int k = 0; k < n; ++k) {
                const uint8_t ccc = unicode::combining_class(buf[k]);
                changed |= ccc != 0;
                items.push_back({buf[k], ccc, k > 0});
            }
        }
        if (!changed) return;
        // Canonical ordering: stable sort of every run of non-starters by combining class.
        for (size_t i = 0; i < items.size();) {
            if (items[i].ccc == 0) {
                ++i;
                continue;
            }
            size_t j = i;
            while (j < items.size() && items[j].ccc != 0) ++j;
            std::stable_sort(items.begin() + i, items.begin() + j,
                             [](const Item& a, const Item& b) { return a.ccc < b.ccc; });
            i = j;
        }
        old.assign(out.begin() + first, out.end());
        out.resize(first);
        size_t cursor = 0;
        for (const auto& it : items) {
            if (!it.inserted) {
                out.push_back({it.c, old[cursor].start, old[cursor].end});
                ++cursor;
            } else if (cursor > 0) {
                out.push_back({it.c, old[cursor - 1].start, old[cursor - 1].end});
            } else {
                out.push_back({it.c, begin, begin});
            }
        }
    }

    // char::to_lowercase per code point; extra code points share the original's range.
    static void lowercase(std::vector<NChar>& out, size_t first) {
        char32_t buf[3];
        for (size_t i = first; i < out.size(); ++i) {
            const int n = unicode::to_lower(out[i].c, buf);
            out[i].c = buf[0];
            if (n > 1) {
                const NChar src = out[i];
                for (int k = 1; k < n; ++k)
                    out.insert(out.begin() + static_cast<std::ptrdiff_t>(i) + k, NChar{buf[k], src.start, src.end});
                i += n - 1;
            }
        }
    }

    NormalizerOptions opts_;
};

}  // namespace temper::text
