// Text classification datasets: texts, label ids per example and label names, read from
// GoEmotions TSV files or from generic CSV / TSV / JSONL tables, plus seeded splits.
//
//   auto ge = train::read_goemotions_dir("../shared/data/goemotions");     // train / dev / test
//   auto ds = train::read_table("emotions.csv", {.text_column = "text",
//                                                .label_columns = {"anger", "fear", "joy"}});
//   auto y  = ds.multi_hot(batch);                                        // [B, L] float targets
//
// Malformed rows (wrong field count, unknown label, label id out of range, invalid UTF-8) throw
// temper::Error naming the file, the line and what was expected; with on_error = OnError::Skip
// they are dropped instead and counted in Dataset::report. Problems with the file as a whole
// (missing, empty, missing column, unclosed quote, no usable row) always throw.
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "temper/core/error.hpp"
#include "temper/core/random.hpp"
#include "temper/core/tensor.hpp"
#include "temper/io/atomic_file.hpp"
#include "temper/train/csv.hpp"
#include "temper/train/sampling.hpp"

namespace temper::train {

enum class OnError { Throw, Skip };

// What a reader did with a file.
struct LoadReport {
    std::string path = {};
    int64_t rows = 0;                            // examples read
    int64_t skipped = 0;                         // malformed rows dropped (OnError::Skip)
    std::vector<std::string> skip_reasons = {};  // the first few, as "path:line: problem"
};

struct Dataset {
    std::vector<std::string> texts = {};
    std::vector<std::vector<int>> labels = {};  // label ids per example (exactly one when !multi_label)
    std::vector<std::string> label_names = {};
    bool multi_label = true;
    LoadReport report = {};

    size_t size() const { return texts.size(); }
    int num_labels() const { return int(label_names.size()); }

    // [B, L] multi-hot targets for BCE: row b has 1 at each label of example batch[b].
    template <class T = float>
    Tensor<T> multi_hot(std::span<const int64_t> batch) const {
        const size_t L = label_names.size();
        std::vector<T> v(batch.size() * L, T(0));
        for (size_t b = 0; b < batch.size(); ++b)
            for (int id : labels.at(index(batch[b]))) v[b * L + size_t(id)] = T(1);
        return Tensor<T>::from_vector(v, {int64_t(batch.size()), int64_t(L)});
    }
    // [B] class ids for cross-entropy (single-label datasets).
    Tensor<int64_t> class_ids(std::span<const int64_t> batch) const {
        std::vector<int64_t> v;
        for (int64_t i : batch) {
            const auto& l = labels.at(index(i));
            check(l.size() == 1, "class_ids: example ", i, " has ", l.size(), " labels; single-label targets need one");
            v.push_back(l[0]);
        }
        return Tensor<int64_t>::from_vector(v, {int64_t(v.size())});
    }
    std::vector<std::string> batch_texts(std::span<const int64_t> batch) const {
        std::vector<std::string> out;
        for (int64_t i : batch) out.push_back(texts.at(index(i)));
        return out;
    }
    // The examples at `indices`, in that order (same label names; no report).
    Dataset subset(std::span<const int64_t> indices) const {
        Dataset d;
        d.label_names = label_names;
        d.multi_label = multi_label;
        for (int64_t i : indices) {
            d.texts.push_back(texts.at(index(i)));
            d.labels.push_back(labels.at(index(i)));
        }
        return d;
    }
    // Examples per label.
    std::vector<int64_t> label_counts() const {
        std::vector<int64_t> c(label_names.size(), 0);
        for (const auto& l : labels)
            for (int id : l) ++c.at(size_t(id));
        return c;
    }

private:
    size_t index(int64_t i) const {
        check(i >= 0 && size_t(i) < texts.size(), "dataset index ", i, " out of range (", texts.size(), " examples)");
        return size_t(i);
    }
};

// ---- label names ------------------------------------------------------------------------------

// One label name per line (emotions.txt). Trailing blank lines and CR are ignored; surrounding
// spaces are trimmed; blank lines in between, duplicates and invalid UTF-8 are errors.
inline std::vector<std::string> read_label_names(const std::string& path) {
    const std::string text = io::read_text_file(path);
    if (auto bad = utf8_error_at(text)) fail(path, ": not valid UTF-8 (byte ", *bad, ")");
    std::vector<std::string> lines;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string s = text.substr(start, end - start);
        const size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
        lines.push_back(b == std::string::npos ? "" : s.substr(b, e - b + 1));
        start = end + 1;
    }
    while (!lines.empty() && lines.back().empty()) lines.pop_back();
    check(!lines.empty(), path, ": no label names (expected one name per line)");
    std::set<std::string> seen;
    for (size_t i = 0; i < lines.size(); ++i) {
        check(!lines[i].empty(), path, ":", i + 1, ": blank line (expected one label name per line)");
        check(seen.insert(lines[i]).second, path, ":", i + 1, ": duplicate label name '", lines[i], "'");
    }
    return lines;
}

// ---- generic tables ---------------------------------------------------------------------------

enum class TableFormat { Auto, Csv, Tsv, Jsonl };  // Auto: from the extension (.csv, .tsv/.tab, .jsonl/.ndjson)
enum class Quoting { Auto, On, Off };              // Auto: on for CSV, off for TSV

// Where the labels are. Set exactly one of label_columns, label_column, label_list_column.
struct TableOptions {
    TableFormat format = TableFormat::Auto;
    std::string text_column = "text";
    // Multi-label, one 0/1 column per label (0, 1, 0.0, 1.0, true, false). Label names default to
    // the column names.
    std::vector<std::string> label_columns = {};
    // Single-label: a class name or integer id per row.
    std::string label_column = "";
    // Multi-label: a list of label names or ids per row: "3,17", "[3, 17]", "['joy', 'fear']",
    // or in JSONL an array. An empty list is an example with no label.
    std::string label_list_column = "";
    char list_separator = ',';
    // Names, in id order. When empty they are inferred from the data: the column names for
    // label_columns, "0".."max" when every value is an integer id, else the distinct names sorted
    // (byte order). Pass the training set's label_names when reading its dev and test files.
    std::vector<std::string> label_names = {};
    bool has_header = true;  // CSV/TSV; without a header columns are named "0", "1", ...
    Quoting quoting = Quoting::Auto;
    size_t num_columns = 0;      // CSV/TSV: fields every row must have; 0 = as many as the header (first row)
    bool allow_no_label = true;  // false: a row without any label is malformed
    OnError on_error = OnError::Throw;
    size_t max_reasons = 5;  // skip reasons kept in the report
};

namespace detail {

// A malformed row: thrown while reading one row, caught by the reader.
struct RowError {
    std::string what = {};
};

inline std::string trim(std::string_view s) {
    const size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
    return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}

// The most label names inferred from integer ids ("0".."max"), as many as DistilBertConfig allows.
inline constexpr int64_t kMaxInferredLabels = 100000;

// A non-negative decimal integer, or -1.
inline int64_t parse_uint(std::string_view s) {
    if (s.empty() || s.size() > 9) return -1;
    int64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    return v;
}

inline std::string shown(std::string_view s) {
    std::string t(s.substr(0, 40));
    return "'" + t + (s.size() > 40 ? "...'" : "'");
}

// "3,17" / "[3, 17]" / "['joy', 'fear']" -> items without brackets, spaces and quotes.
inline std::vector<std::string> split_list(std::string_view s, char sep) {
    std::string t = trim(s);
    if (t.size() >= 2 && t.front() == '[' && t.back() == ']') t = trim(std::string_view(t).substr(1, t.size() - 2));
    std::vector<std::string> items;
    if (t.empty()) return items;
    size_t start = 0;
    for (;;) {
        const size_t end = t.find(sep, start);
        std::string item =
            trim(std::string_view(t).substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (item.size() >= 2 && (item.front() == '\'' || item.front() == '"') && item.back() == item.front())
            item = item.substr(1, item.size() - 2);
        if (item.empty()) throw RowError{str("empty item in label list ", shown(s))};
        items.push_back(item);
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return items;
}

// 0/1 flags of label columns.
inline bool parse_flag(const std::string& raw, const std::string& column) {
    const std::string s = trim(raw);
    if (s == "1" || s == "1.0" || s == "true" || s == "True") return true;
    if (s == "0" || s == "0.0" || s == "false" || s == "False") return false;
    throw RowError{str("column '", column, "': expected 0 or 1, found ", shown(s))};
}

// Maps label values (names or ids) to ids against a fixed name list.
class LabelIndex {
public:
    explicit LabelIndex(const std::vector<std::string>& names) : names_(names) {
        for (size_t i = 0; i < names.size(); ++i) ids_.emplace(names[i], int(i));
    }
    int id(const std::string& value) const {
        if (auto it = ids_.find(value); it != ids_.end()) return it->second;
        const int64_t v = parse_uint(value);
        if (v >= 0 && v < int64_t(names_.size())) return int(v);
        if (v >= 0)
            throw RowError{
                str("label id ", v, " out of range: expected 0..", names_.size() - 1, " (", names_.size(), " labels)")};
        throw RowError{str("unknown label ", shown(value), " (not one of the ", names_.size(),
                           " label names, nor an id 0..", names_.size() - 1, ")")};
    }

private:
    const std::vector<std::string>& names_;
    std::map<std::string, int> ids_;
};

// Names inferred from the values seen: "0".."max" when all are integers, else sorted distinct.
inline std::vector<std::string> infer_label_names(const std::set<std::string>& values, const std::string& path) {
    int64_t max_id = -1;
    for (const std::string& v : values) {
        const int64_t id = parse_uint(v);
        if (id < 0) return {values.begin(), values.end()};
        max_id = std::max(max_id, id);
    }
    // Names "0".."max": a stray huge id must not make a billion names.
    check(max_id < kMaxInferredLabels, path, ": label id ", max_id, " is too large to infer the label names 0..",
          max_id, " (limit ", kMaxInferredLabels, " labels); pass TableOptions::label_names");
    std::vector<std::string> names;
    for (int64_t i = 0; i <= max_id; ++i) names.push_back(std::to_string(i));
    return names;
}

// One row as read from the file, before its labels become ids.
struct RawRow {
    int64_t line = 0;
    std::string text = {};
    std::vector<std::string> values = {};  // the label columns' flags, the single label, or the list items
    std::string error = {};                // non-empty: why the row is malformed
};

// Runs read_row (which throws RowError for a malformed row) and records the error in the row.
template <class F>
RawRow guarded(int64_t line, F&& read_row) {
    try {
        RawRow r = read_row();
        r.line = line;
        return r;
    } catch (const RowError& e) {
        return RawRow{.line = line, .error = e.what};
    }
}

inline RawRow jsonl_row(std::string_view raw, const TableOptions& o) {
    if (auto bad = utf8_error_at(raw)) throw RowError{str("not valid UTF-8 (byte ", *bad + 1, " of the line)")};
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(raw);
    } catch (const nlohmann::json::exception& e) {
        throw RowError{str("not a valid JSON line (", e.what(), ")")};
    }
    if (!j.is_object()) throw RowError{"expected a JSON object"};
    auto field = [&](const std::string& name) -> const nlohmann::json& {
        if (!j.contains(name)) throw RowError{str("no field '", name, "'")};
        return j[name];
    };
    // A label value: name or id as a string; booleans and 0/1 numbers of label columns as "0"/"1".
    auto scalar = [&](const nlohmann::json& v, const std::string& name) -> std::string {
        if (v.is_string()) return v.get<std::string>();
        if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
        if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
        if (v.is_number_float() && v.get<double>() == std::floor(v.get<double>()) && std::abs(v.get<double>()) < 1e9)
            return std::to_string(int64_t(v.get<double>()));
        throw RowError{str("field '", name, "': expected a label name or id, found ", v.dump())};
    };
    RawRow r;
    const auto& t = field(o.text_column);
    if (!t.is_string()) throw RowError{str("field '", o.text_column, "': expected a string, found ", t.dump())};
    r.text = t.get<std::string>();
    if (!o.label_columns.empty()) {
        for (const auto& c : o.label_columns) r.values.push_back(scalar(field(c), c));
    } else if (!o.label_column.empty()) {
        r.values.push_back(trim(scalar(field(o.label_column), o.label_column)));
        if (r.values[0].empty()) throw RowError{str("field '", o.label_column, "' is empty (expected a label)")};
    } else {
        const auto& v = field(o.label_list_column);
        if (v.is_array())
            for (const auto& item : v) r.values.push_back(scalar(item, o.label_list_column));
        else if (v.is_string())
            r.values = split_list(v.get<std::string>(), o.list_separator);
        else
            throw RowError{str("field '", o.label_list_column, "': expected a list of labels, found ", v.dump())};
    }
    return r;
}

inline std::vector<RawRow> read_jsonl_rows(const std::string& path, const std::string& text, const TableOptions& o) {
    std::vector<RawRow> rows;
    int64_t line = 0;
    for (size_t start = 0; start < text.size();) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        const std::string_view raw(text.data() + start, end - start);
        start = end + 1;
        ++line;
        if (!trim(raw).empty()) rows.push_back(guarded(line, [&] { return jsonl_row(raw, o); }));
    }
    check(!rows.empty(), path, ": file is empty (expected one JSON object per line)");
    return rows;
}

inline std::vector<RawRow> read_delimited_rows(const std::string& path, const std::string& text, TableFormat format,
                                               const TableOptions& o) {
    const char delimiter = format == TableFormat::Csv ? ',' : '\t';
    const bool quoting = o.quoting == Quoting::Auto ? format == TableFormat::Csv : o.quoting == Quoting::On;
    const std::vector<CsvRecord> records = parse_delimited(text, delimiter, quoting, path);
    check(!records.empty(), path, ": file is empty");

    // Column names: the header, or "0", "1", ...
    std::vector<std::string> columns;
    if (o.has_header) {
        const CsvRecord& h = records[0];
        for (const std::string& c : h.fields)
            check(!utf8_error_at(c), path, ":", h.line, ": header is not valid UTF-8");
        check(h.error.empty(), path, ":", h.line, ": malformed header: ", h.error);
        // Lines ending in a bare CR (old Mac files) read as one record: say so rather than just "no rows".
        bool bare_cr = false;
        for (size_t i = 0; i < text.size() && !bare_cr; ++i)
            bare_cr = text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n');
        check(records.size() > 1, path, ": has a header but no rows",
              bare_cr ? " (lines end in a bare CR: save the file with LF or CRLF line endings)" : "");
        columns = h.fields;
    } else {
        const size_t n = o.num_columns ? o.num_columns : records[0].fields.size();
        for (size_t i = 0; i < n; ++i) columns.push_back(std::to_string(i));
    }
    auto column = [&](const std::string& name) -> size_t {
        auto it = std::find(columns.begin(), columns.end(), name);
        if (it == columns.end()) {
            std::string have;  // the first 20: a file with the wrong delimiter can have thousands
            for (size_t i = 0; i < columns.size() && i < 20; ++i) have += (i ? ", " : "") + shown(columns[i]);
            if (columns.size() > 20) have += str(", ... ", columns.size(), " in all");
            fail(path, ": no column '", name, "'", o.has_header ? " in the header" : "", " (columns: ", have, ")");
        }
        return size_t(it - columns.begin());
    };
    const size_t text_col = column(o.text_column);
    std::vector<size_t> label_cols;
    if (!o.label_columns.empty())
        for (const auto& c : o.label_columns) label_cols.push_back(column(c));
    else
        label_cols.push_back(column(o.label_column.empty() ? o.label_list_column : o.label_column));

    const size_t width = o.num_columns ? o.num_columns : columns.size();
    const char* sep_name = format == TableFormat::Csv ? "comma" : "tab";
    std::vector<RawRow> rows;
    for (size_t k = o.has_header ? 1 : 0; k < records.size(); ++k) {
        const CsvRecord& rec = records[k];
        rows.push_back(guarded(rec.line, [&] {
            if (!rec.error.empty()) throw RowError{rec.error};
            if (rec.fields.size() != width)
                throw RowError{str("expected ", width, " ", sep_name, "-separated fields, found ", rec.fields.size())};
            for (size_t f = 0; f < rec.fields.size(); ++f)
                if (auto bad = utf8_error_at(rec.fields[f]))
                    throw RowError{str("field ", f + 1, " is not valid UTF-8 (byte ", *bad + 1, ")")};
            RawRow r;
            r.text = rec.fields[text_col];
            if (!o.label_columns.empty()) {
                for (size_t c : label_cols) r.values.push_back(rec.fields[c]);
            } else if (!o.label_column.empty()) {
                r.values.push_back(trim(rec.fields[label_cols[0]]));
                if (r.values[0].empty())
                    throw RowError{str("column '", o.label_column, "' is empty (expected a label name or id)")};
            } else {
                r.values = split_list(rec.fields[label_cols[0]], o.list_separator);
            }
            return r;
        }));
    }
    return rows;
}

inline TableFormat format_of(const std::string& path, TableFormat f) {
    if (f != TableFormat::Auto) return f;
    std::string ext = std::filesystem::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (ext == ".csv") return TableFormat::Csv;
    if (ext == ".tsv" || ext == ".tab") return TableFormat::Tsv;
    if (ext == ".jsonl" || ext == ".ndjson") return TableFormat::Jsonl;
    fail(path, ": cannot tell the format from the extension '", ext, "': set TableOptions::format (Csv, Tsv or Jsonl)");
}

}  // namespace detail

// Reads a CSV, TSV or JSONL table into a Dataset (see TableOptions).
inline Dataset read_table(const std::string& path, const TableOptions& o) {
    const int layouts =
        int(!o.label_columns.empty()) + int(!o.label_column.empty()) + int(!o.label_list_column.empty());
    check(layouts == 1, path, ": set exactly one of label_columns, label_column and label_list_column (", layouts,
          " set)");
    check(o.label_columns.empty() || o.label_names.empty() || o.label_names.size() == o.label_columns.size(), path,
          ": ", o.label_names.size(), " label names for ", o.label_columns.size(), " label columns");
    const TableFormat format = detail::format_of(path, o.format);

    Dataset d;
    d.multi_label = o.label_column.empty();
    d.report.path = path;
    // Malformed rows, reported in line order once both passes are done.
    std::vector<std::pair<int64_t, std::string>> rejected;
    auto reject = [&](int64_t line, const std::string& what) { rejected.emplace_back(line, what); };

    // Pass 1: rows with their raw label values.
    const std::string text = io::read_text_file(path);
    std::vector<detail::RawRow> rows = format == TableFormat::Jsonl
                                           ? detail::read_jsonl_rows(path, text, o)
                                           : detail::read_delimited_rows(path, text, format, o);
    for (const auto& r : rows)
        if (!r.error.empty()) reject(r.line, r.error);
    std::erase_if(rows, [](const detail::RawRow& r) { return !r.error.empty(); });

    // Label names: given, the label columns, or inferred from the values.
    d.label_names = o.label_names;
    if (d.label_names.empty() && !o.label_columns.empty()) d.label_names = o.label_columns;
    if (d.label_names.empty()) {
        std::set<std::string> values;
        for (const auto& r : rows) values.insert(r.values.begin(), r.values.end());
        d.label_names = detail::infer_label_names(values, path);
    }
    const detail::LabelIndex index(d.label_names);

    // Pass 2: label ids.
    for (const detail::RawRow& r : rows) {
        try {
            std::vector<int> ids;
            if (!o.label_columns.empty()) {
                for (size_t c = 0; c < r.values.size(); ++c)
                    if (detail::parse_flag(r.values[c], o.label_columns[c])) ids.push_back(int(c));
            } else {
                for (const std::string& v : r.values) {
                    const int id = index.id(v);
                    if (std::find(ids.begin(), ids.end(), id) != ids.end())
                        throw detail::RowError{str("label ", detail::shown(v), " listed twice")};
                    ids.push_back(id);
                }
                std::sort(ids.begin(), ids.end());
            }
            if (ids.empty() && !o.allow_no_label) throw detail::RowError{"no label (expected at least one)"};
            d.texts.push_back(r.text);
            d.labels.push_back(std::move(ids));
        } catch (const detail::RowError& e) {
            reject(r.line, e.what);
        }
    }
    std::stable_sort(rejected.begin(), rejected.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    if (!rejected.empty() && o.on_error == OnError::Throw) fail(path, ":", rejected[0].first, ": ", rejected[0].second);
    for (const auto& [line, what] : rejected)
        if (d.report.skip_reasons.size() < o.max_reasons)
            d.report.skip_reasons.push_back(str(path, ":", line, ": ", what));
    d.report.skipped = int64_t(rejected.size());
    d.report.rows = int64_t(d.texts.size());
    if (d.texts.empty())
        fail(path, ": no usable rows (", d.report.skipped, " malformed",
             d.report.skip_reasons.empty() ? "" : "; first: " + d.report.skip_reasons[0], ")");
    return d;
}

// ---- GoEmotions -------------------------------------------------------------------------------

struct ReadOptions {
    OnError on_error = OnError::Throw;
    size_t max_reasons = 5;
};

// A GoEmotions TSV file: "text<TAB>ids<TAB>comment id" per line, ids comma-separated (e.g. "4,27"),
// no header, no quoting (texts may contain '"').
inline Dataset read_goemotions_tsv(const std::string& path, const std::vector<std::string>& label_names,
                                   const ReadOptions& r = {}) {
    check(!label_names.empty(), path, ": read_goemotions_tsv needs the label names (emotions.txt)");
    // Ids only: GoEmotions files never hold names, and a name must not pass as one.
    std::vector<std::string> ids;
    for (size_t i = 0; i < label_names.size(); ++i) ids.push_back(std::to_string(i));
    Dataset d = read_table(path, {.format = TableFormat::Tsv,
                                  .text_column = "0",
                                  .label_list_column = "1",
                                  .label_names = ids,
                                  .has_header = false,
                                  .quoting = Quoting::Off,
                                  .num_columns = 3,
                                  .allow_no_label = false,
                                  .on_error = r.on_error,
                                  .max_reasons = r.max_reasons});
    d.label_names = label_names;
    return d;
}

struct Splits {
    Dataset train = {}, dev = {}, test = {};
};

// A GoEmotions directory: train.tsv, dev.tsv, test.tsv and emotions.txt (or labels.txt).
inline Splits read_goemotions_dir(const std::string& dir, const ReadOptions& r = {}) {
    namespace fs = std::filesystem;
    const fs::path d(dir);
    const fs::path names_file = fs::exists(d / "emotions.txt") ? d / "emotions.txt" : d / "labels.txt";
    check(fs::exists(names_file), dir, ": no emotions.txt (or labels.txt) with the label names");
    const auto names = read_label_names(names_file.string());
    return {read_goemotions_tsv((d / "train.tsv").string(), names, r),
            read_goemotions_tsv((d / "dev.tsv").string(), names, r),
            read_goemotions_tsv((d / "test.tsv").string(), names, r)};
}

// ---- seeded split -----------------------------------------------------------------------------

struct SplitFractions {
    double train = 0.8, dev = 0.1, test = 0.1;
};

// A random split: dev gets round(n * dev) examples, test round(n * test), train the rest; which
// ones is a seeded permutation (temper's Philox, the same on every platform). Each part keeps
// the original file order.
inline Splits split_dataset(const Dataset& d, const SplitFractions& f, uint64_t seed) {
    check(f.train >= 0 && f.dev >= 0 && f.test >= 0 && std::abs(f.train + f.dev + f.test - 1.0) < 1e-9,
          "split_dataset: fractions must be >= 0 and sum to 1 (train ", f.train, ", dev ", f.dev, ", test ", f.test,
          ")");
    const int64_t n = int64_t(d.size());
    const int64_t n_dev = std::llround(double(n) * f.dev), n_test = std::llround(double(n) * f.test);
    const int64_t n_train = std::max<int64_t>(0, n - n_dev - n_test);
    Generator g(seed);
    const std::vector<int64_t> perm = randperm(n, g);
    auto part = [&](int64_t lo, int64_t hi) {
        std::vector<int64_t> idx(perm.begin() + lo, perm.begin() + std::min(hi, n));
        std::sort(idx.begin(), idx.end());
        return d.subset(idx);
    };
    return {part(0, n_train), part(n_train, n_train + n_dev), part(n_train + n_dev, n)};
}

}  // namespace temper::train
