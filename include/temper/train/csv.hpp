// Delimited text (CSV per RFC 4180, TSV) split into records, and UTF-8 validation.
//
// With quoting on, a field that starts with '"' is quoted: it ends at the next lone '"', may hold
// delimiters and newlines, and '""' inside it is one '"'. A '"' inside an unquoted field is kept
// as is (as Python's csv module does). Records end at LF or CRLF; blank lines are skipped; a
// UTF-8 byte-order mark at the start is dropped. With quoting off (TSV as written by most tools,
// GoEmotions included) quotes are ordinary characters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "temper/core/error.hpp"

namespace temper::train {

// Byte offset of the first invalid UTF-8 sequence in s (overlong forms, surrogates, code points
// above U+10FFFF and truncated sequences are invalid), or nullopt when s is valid.
inline std::optional<size_t> utf8_error_at(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        const unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else
            return i;
        if (i + len > n) return i;
        for (size_t k = 1; k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += len;
    }
    return std::nullopt;
}

struct CsvRecord {
    int64_t line = 0;  // 1-based line where the record starts
    std::vector<std::string> fields = {};
    std::string error = {};  // non-empty: the record is malformed (fields are then partial)
};

// Splits text into records. A quoted field left open at the end of the text cannot be recovered
// from (everything after it would be swallowed), so it throws, naming `path` and the line.
inline std::vector<CsvRecord> parse_delimited(std::string_view text, char delimiter, bool quoting,
                                              const std::string& path) {
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    enum class State { FieldStart, Unquoted, Quoted, AfterQuote } state = State::FieldStart;
    std::vector<CsvRecord> out;
    CsvRecord rec;
    std::string field;
    bool has_content = false;  // anything but the line ending seen in this record
    int64_t line = 1, quote_line = 1;
    rec.line = 1;

    auto end_field = [&] {
        rec.fields.push_back(std::move(field));
        field.clear();
        state = State::FieldStart;
    };
    auto end_record = [&] {
        end_field();
        if (has_content) out.push_back(std::move(rec));  // else a blank line
        rec = CsvRecord{};
        rec.line = ++line;
        has_content = false;
    };

    const size_t n = text.size();
    for (size_t i = 0; i < n; ++i) {
        const char c = text[i];
        const bool crlf = c == '\r' && i + 1 < n && text[i + 1] == '\n';
        if (state == State::Quoted) {
            if (c == '"' && i + 1 < n && text[i + 1] == '"') {
                field += '"';
                ++i;
            } else if (c == '"') {
                state = State::AfterQuote;
            } else {
                line += c == '\n';
                field += c;
            }
            continue;
        }
        if (crlf) continue;  // the '\n' that follows ends the record
        if (c == '\n') {
            end_record();
            continue;
        }
        has_content = true;
        if (c == delimiter) {
            end_field();
        } else if (state == State::FieldStart && quoting && c == '"') {
            state = State::Quoted;
            quote_line = line;
        } else {
            if (state == State::AfterQuote && rec.error.empty())
                rec.error = str("unexpected character '", c, "' after the closing quote of field ",
                                rec.fields.size() + 1, " (a quote inside a quoted field must be doubled)");
            field += c;
            state = State::Unquoted;
        }
    }
    if (state == State::Quoted) fail(path, ":", quote_line, ": quoted field is never closed (missing '\"')");
    if (has_content || !field.empty()) {
        has_content = true;
        end_record();
    }
    return out;
}

}  // namespace temper::train
