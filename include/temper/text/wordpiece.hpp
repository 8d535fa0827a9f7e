// text::WordPiece — a BERT tokenizer that gives the same ids and offsets as HuggingFace's
// BertTokenizerFast (tokenizers' BertNormalizer + BertPreTokenizer + WordPiece + TemplateProcessing).
//
//   auto tok = text::WordPiece::from_pretrained("distilbert-base-uncased/");   // tokenizer.json or vocab.txt
//   auto batch = tok.encode_batch(texts, {.max_length = 128});                // [batch, seq_len] row-major
//   tok.save_pretrained("out/");             // vocab.txt, tokenizer.json, tokenizer_config.json
//
// Offsets are byte offsets into the UTF-8 text that was passed in (HF's Python and Node bindings
// report code point offsets: text::char_offsets converts). See docs/tokenizer.md.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "temper/core/error.hpp"
#include "temper/cpu/parallel.hpp"
#include "temper/io/atomic_file.hpp"
#include "temper/io/json_fields.hpp"
#include "temper/text/normalizer.hpp"
#include "temper/text/pre_tokenizer.hpp"
#include "temper/text/unicode.hpp"

namespace temper::text {

struct Encoding {
    std::vector<int64_t> ids, type_ids, attention_mask;
    std::vector<std::pair<size_t, size_t>> offsets;  // byte offsets into the input; (0, 0) for special and pad tokens
    std::vector<std::string> tokens;
};

enum class Padding { None, Longest, MaxLength };

struct EncodeOptions {
    size_t max_length = 512;
    bool truncation = true;  // HF's longest_first strategy, room kept for the special tokens
    Padding padding = Padding::Longest;
    bool add_special_tokens = true;
    size_t num_threads = 0;  // encode_batch: 0 = OpenMP's thread count from 64 texts up; 1 = serial
};

// Row-major [batch, seq_len] arrays. With Padding::None they are filled only when every
// sequence has the same length (otherwise seq_len = 0 and only `encodings` is set).
// With Padding::MaxLength and truncation off, seq_len = max(max_length, longest sequence).
struct BatchEncoding {
    size_t batch = 0, seq_len = 0;
    std::vector<int64_t> input_ids, attention_mask, token_type_ids;
    std::vector<Encoding> encodings;
};

// A token matched in the text before the model runs ([CLS], [MASK], user-added tokens).
struct AddedToken {
    std::string content;
    int64_t id = -1;
    bool special = true;                  // skipped by decode(ids, /*skip_special_tokens=*/true)
    bool normalized = false;              // match against the normalized text instead of the original
    bool lstrip = false, rstrip = false;  // absorb whitespace on that side
};

// Settings for a tokenizer built from a bare vocab.txt (as transformers' BertTokenizerFast does).
struct VocabOptions {
    NormalizerOptions normalizer = {};
    std::string unk_token = "[UNK]", sep_token = "[SEP]", pad_token = "[PAD]", cls_token = "[CLS]",
                mask_token = "[MASK]";
    size_t max_input_chars_per_word = 100;
};

// What save_pretrained writes into tokenizer_config.json besides the tokenizer's own settings.
struct TokenizerSaveOptions {
    std::string tokenizer_class = "BertTokenizer";  // transformers' AutoTokenizer picks the class by this name
    int64_t model_max_length = 0;                   // the model's max_position_embeddings; 0: not written
};

// Converts byte offsets into `text` to code point offsets (the unit HF's Python and Node bindings use).
inline std::vector<std::pair<size_t, size_t>> char_offsets(std::string_view text,
                                                           const std::vector<std::pair<size_t, size_t>>& byte_offsets) {
    std::vector<size_t> index(text.size() + 1, 0);  // byte position -> code point index
    size_t n = 0;
    for (size_t pos = 0; pos < text.size(); ++n) {
        const size_t start = pos;
        unicode::decode_utf8(text, pos);
        for (size_t b = start; b < pos; ++b) index[b] = n;
    }
    index[text.size()] = n;
    std::vector<std::pair<size_t, size_t>> out;
    out.reserve(byte_offsets.size());
    for (auto [s, e] : byte_offsets) {
        check(s <= e && e <= text.size(), "char_offsets: offset (", s, ", ", e, ") outside a text of ", text.size(),
              " bytes");
        out.emplace_back(index[s], index[e]);
    }
    return out;
}

namespace detail {

// Hash map keyed by std::string that can be probed with a string_view without allocating.
struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using StringMap = std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>>;

inline nlohmann::json read_json_file(const std::string& path) {
    return io::parse_json_file(io::read_text_file(path), path);
}

// Open-addressing string -> id table for WordPiece's inner loop: one probe usually touches one
// slot and the token bytes, where std::unordered_map chases bucket and node pointers.
class VocabTable {
public:
    void build(const std::vector<std::pair<std::string_view, int64_t>>& entries) {  // distinct tokens
        size_t cap = 16;
        while (cap < 2 * entries.size()) cap *= 2;
        slots_.assign(cap, Slot{});
        mask_ = cap - 1;
        arena_.clear();
        max_len_ = 0;
        for (const auto& [token, id] : entries) {
            check(id >= 0 && id <= INT32_MAX && arena_.size() + token.size() <= UINT32_MAX, "vocabulary too large");
            const uint32_t h = hash(token);
            size_t i = h & mask_;
            while (slots_[i].id >= 0 && !(slots_[i].hash == h && view(slots_[i]) == token)) i = (i + 1) & mask_;
            if (slots_[i].id < 0) {
                slots_[i] = {h, static_cast<int32_t>(id), static_cast<uint32_t>(arena_.size()),
                             static_cast<uint32_t>(token.size())};
                arena_.append(token);
            }
            max_len_ = std::max(max_len_, token.size());
        }
    }

    // The id of `token`, or -1.
    int64_t find(std::string_view token) const {
        const uint32_t h = hash(token);
        for (size_t i = h & mask_;; i = (i + 1) & mask_) {
            const Slot& s = slots_[i];
            if (s.id < 0) return -1;
            if (s.hash == h && s.len == token.size() &&
                std::memcmp(arena_.data() + s.off, token.data(), token.size()) == 0)
                return s.id;
        }
    }

    size_t max_len() const { return max_len_; }  // longer strings are never in the table

private:
    struct Slot {
        uint32_t hash = 0;
        int32_t id = -1;  // -1: empty
        uint32_t off = 0, len = 0;
    };

    std::string_view view(const Slot& s) const { return std::string_view(arena_).substr(s.off, s.len); }

    // 8 bytes at a time, multiply-xorshift mixing: fast for the short strings of a vocabulary.
    static uint32_t hash(std::string_view s) {
        uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
        size_t i = 0;
        for (; i + 8 <= s.size(); i += 8) {
            uint64_t w;
            std::memcpy(&w, s.data() + i, 8);
            h = (h ^ w) * 0xFF51AFD7ED558CCDull;
            h ^= h >> 29;
        }
        uint64_t w = 0;
        if (i < s.size()) std::memcpy(&w, s.data() + i, s.size() - i);
        h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
        h ^= h >> 32;
        return static_cast<uint32_t>(h);
    }

    std::vector<Slot> slots_;
    std::string arena_;
    size_t mask_ = 0, max_len_ = 0;
};

}  // namespace detail

class WordPiece {
public:
    // ---- loading --------------------------------------------------------------------------------

    // A directory with tokenizer.json (preferred) or vocab.txt; tokenizer_config.json, when present,
    // overrides do_lower_case / strip_accents / tokenize_chinese_chars like transformers does.
    static WordPiece from_pretrained(const std::string& dir) {
        namespace fs = std::filesystem;
        const fs::path d(dir);
        const fs::path config = d / "tokenizer_config.json";
        nlohmann::json cfg = fs::exists(config) ? detail::read_json_file(config.string()) : nlohmann::json::object();
        check(cfg.is_object(), lazy([&] { return config.string(); }), ": expected a JSON object");
        if (fs::exists(d / "tokenizer.json")) {
            WordPiece tok = from_tokenizer_json((d / "tokenizer.json").string());
            if (tok.normalizer_) {
                NormalizerOptions o = tok.normalizer_->options();
                apply_config(cfg, config.string(), o);
                tok.normalizer_ = BertNormalizer(o);
                tok.refresh_normalized_patterns();
            }
            if (auto pad = config_token(cfg, "pad_token", config.string())) tok.set_pad_token(*pad);
            for (auto [key, role] : {std::pair{"unk_token", &tok.unk_token_},
                                     {"cls_token", &tok.cls_token_},
                                     {"sep_token", &tok.sep_token_},
                                     {"mask_token", &tok.mask_token_}})
                if (auto t = config_token(cfg, key, config.string())) *role = *t;
            return tok;
        }
        check(fs::exists(d / "vocab.txt"), "from_pretrained: ", dir, " has neither tokenizer.json nor vocab.txt");
        VocabOptions o;
        apply_config(cfg, config.string(), o.normalizer);
        if (auto t = config_token(cfg, "unk_token", config.string())) o.unk_token = *t;
        if (auto t = config_token(cfg, "sep_token", config.string())) o.sep_token = *t;
        if (auto t = config_token(cfg, "pad_token", config.string())) o.pad_token = *t;
        if (auto t = config_token(cfg, "cls_token", config.string())) o.cls_token = *t;
        if (auto t = config_token(cfg, "mask_token", config.string())) o.mask_token = *t;
        return from_vocab_file((d / "vocab.txt").string(), o);
    }

    // vocab.txt: one token per line, id = line number. Lines are trimmed at the end like
    // tokenizers' WordPiece::read_file does.
    static WordPiece from_vocab_file(const std::string& path, const VocabOptions& opts = {}) {
        std::ifstream f(path, std::ios::binary);
        check(f.good(), "cannot open vocab file ", path);
        std::vector<std::string> vocab;
        std::string line;
        while (std::getline(f, line)) vocab.push_back(trim_end(line));
        check(!vocab.empty(), "vocab file ", path, " is empty");
        return from_vocab(std::move(vocab), opts, path);
    }

    // An in-memory vocabulary (e.g. from train_wordpiece): id = index.
    static WordPiece from_vocab(std::vector<std::string> vocab, const VocabOptions& opts = {},
                                const std::string& source = "vocab") {
        WordPiece t;
        t.source_ = source;
        t.vocab_ = std::move(vocab);
        // HF keeps the last of duplicate lines and leaves the earlier id unreachable; a duplicate is far more
        // likely a corrupted or concatenated file, so it is refused.
        for (size_t i = 0; i < t.vocab_.size(); ++i) {
            auto [it, inserted] = t.model_vocab_.emplace(t.vocab_[i], static_cast<int64_t>(i));
            check(inserted, source, ":", i + 1, ": duplicate token \"", t.vocab_[i], "\" (first on line ",
                  it->second + 1, "; expected one distinct token per line)");
        }
        t.unk_token_ = opts.unk_token;
        t.cls_token_ = opts.cls_token;
        t.sep_token_ = opts.sep_token;
        t.mask_token_ = opts.mask_token;
        t.max_input_chars_ = opts.max_input_chars_per_word;
        t.normalizer_ = BertNormalizer(opts.normalizer);
        auto require = [&](const std::string& tok, const char* role) {
            auto it = t.model_vocab_.find(tok);
            check(it != t.model_vocab_.end(), source, ": the ", role, " token ", tok, " is not in the vocabulary");
            return it->second;
        };
        const int64_t cls = require(opts.cls_token, "cls"), sep = require(opts.sep_token, "sep");
        require(opts.unk_token, "unk");
        // BertTokenizerFast registers these as special, non-normalized added tokens.
        for (const auto& s : {opts.pad_token, opts.unk_token, opts.cls_token, opts.sep_token, opts.mask_token}) {
            auto it = t.model_vocab_.find(s);
            if (!s.empty() && it != t.model_vocab_.end())
                t.added_.push_back({s, it->second, true, false, false, false});
        }
        t.single_ = {special_piece(cls, 0), seq_piece(0, 0), special_piece(sep, 0)};
        t.pair_ = {special_piece(cls, 0), seq_piece(0, 0), special_piece(sep, 0), seq_piece(1, 1),
                   special_piece(sep, 1)};
        t.has_decoder_ = true;
        t.finish(opts.pad_token);
        return t;
    }

    static WordPiece from_tokenizer_json(const std::string& path) {
        return from_json(detail::read_json_file(path), path);
    }

    static WordPiece from_json(const nlohmann::json& j, const std::string& source = "tokenizer.json") {
        using io::json_get;
        check(j.is_object(), source, ": expected a JSON object at the top level");
        WordPiece t;
        t.source_ = source;
        // model
        check(j.contains("model") && j["model"].is_object(), source, ": missing the 'model' object");
        const auto& m = j["model"];
        const std::string mtype = json_get<std::string>(m, "type", "WordPiece", source + " model");
        check(mtype == "WordPiece", source, ": model.type is \"", mtype,
              "\", expected \"WordPiece\" (only BERT-style tokenizers are supported)");
        check(m.contains("vocab") && m["vocab"].is_object(), source, ": model.vocab must be an object {token: id}");
        // Ids must be distinct and below the number of entries, so the id -> token table is no larger than
        // the file (a hostile id such as 10^12 must not size an allocation) and every id has one token.
        const size_t n_vocab = m["vocab"].size();
        check(n_vocab > 0, source, ": model.vocab is empty");
        t.vocab_.assign(n_vocab, std::string());
        std::vector<bool> seen(n_vocab, false);
        for (auto it = m["vocab"].begin(); it != m["vocab"].end(); ++it) {
            const auto& v = it.value();
            const bool ok = v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
            if (!ok || v.get<uint64_t>() >= n_vocab)
                fail(source, ": model.vocab[\"", it.key(), "\"]: expected an id in [0, ", n_vocab,
                     ") (the vocabulary has ", n_vocab, " entries), found ", v.dump());
            const size_t id = v.get<size_t>();
            check(!seen[id], source, ": model.vocab[\"", it.key(), "\"]: id ", id, " is also the id of \"",
                  t.vocab_[id], "\"");
            seen[id] = true;
            t.vocab_[id] = it.key();
            t.model_vocab_[it.key()] = static_cast<int64_t>(id);
        }
        t.unk_token_ = json_get<std::string>(m, "unk_token", "[UNK]", source + " model");
        t.prefix_ = json_get<std::string>(m, "continuing_subword_prefix", "##", source + " model");
        t.max_input_chars_ = json_get<size_t>(m, "max_input_chars_per_word", 100, source + " model");
        check(t.model_vocab_.count(t.unk_token_), source, ": model.unk_token ", t.unk_token_, " is not in model.vocab");

        // normalizer
        if (j.contains("normalizer") && !j["normalizer"].is_null()) {
            const auto& n = j["normalizer"];
            const std::string type = json_get<std::string>(n, "type", "", source + " normalizer");
            check(type == "BertNormalizer", source, ": normalizer.type is \"", type, "\", expected \"BertNormalizer\"");
            NormalizerOptions o;
            o.clean_text = json_get<bool>(n, "clean_text", true, source + " normalizer");
            o.handle_chinese_chars = json_get<bool>(n, "handle_chinese_chars", true, source + " normalizer");
            if (n.contains("strip_accents") && !n["strip_accents"].is_null())
                o.strip_accents = json_get<bool>(n, "strip_accents", true, source + " normalizer");
            o.lowercase = json_get<bool>(n, "lowercase", true, source + " normalizer");
            t.normalizer_ = BertNormalizer(o);
        }

        // pre-tokenizer
        check(j.contains("pre_tokenizer") && j["pre_tokenizer"].is_object(), source,
              ": pre_tokenizer must be {\"type\": \"BertPreTokenizer\"}");
        const std::string ptype = json_get<std::string>(j["pre_tokenizer"], "type", "", source + " pre_tokenizer");
        check(ptype == "BertPreTokenizer", source, ": pre_tokenizer.type is \"", ptype,
              "\", expected \"BertPreTokenizer\"");

        // added tokens
        if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
            check(j["added_tokens"].is_array(), source, ": added_tokens must be an array");
            for (const auto& a : j["added_tokens"]) {
                const std::string where = source + " added_tokens";
                AddedToken tok;
                tok.content = json_get<std::string>(a, "content", "", where);
                tok.id = json_get<int64_t>(a, "id", -1, where);
                check(tok.id >= 0, where, ": token \"", tok.content, "\" has no valid id");
                tok.special = json_get<bool>(a, "special", false, where);
                tok.normalized = json_get<bool>(a, "normalized", !tok.special, where);
                tok.lstrip = json_get<bool>(a, "lstrip", false, where);
                tok.rstrip = json_get<bool>(a, "rstrip", false, where);
                check(!json_get<bool>(a, "single_word", false, where), where, ": token \"", tok.content,
                      "\" has single_word = true, which is not supported");
                if (tok.content.empty()) continue;
                // Added tokens extend the vocabulary: ids up to one per added token past model.vocab.
                const size_t limit = n_vocab + j["added_tokens"].size();
                check(static_cast<uint64_t>(tok.id) < limit, where, ": token \"", tok.content, "\": id ", tok.id,
                      " is past the vocabulary (expected an id below ", limit, ")");
                if (static_cast<size_t>(tok.id) >= t.vocab_.size()) t.vocab_.resize(static_cast<size_t>(tok.id) + 1);
                t.vocab_[static_cast<size_t>(tok.id)] = tok.content;
                t.added_.push_back(tok);
            }
        }

        // post-processor
        if (j.contains("post_processor") && !j["post_processor"].is_null()) {
            t.parse_post_processor(j["post_processor"]);
        } else {
            t.single_ = {seq_piece(0, 0)};
            t.pair_ = {seq_piece(0, 0), seq_piece(1, 1)};
        }

        // decoder
        if (j.contains("decoder") && !j["decoder"].is_null()) {
            const auto& d = j["decoder"];
            const std::string type = json_get<std::string>(d, "type", "", source + " decoder");
            check(type == "WordPiece", source, ": decoder.type is \"", type, "\", expected \"WordPiece\"");
            t.has_decoder_ = true;
            t.decoder_prefix_ = json_get<std::string>(d, "prefix", "##", source + " decoder");
            t.cleanup_ = json_get<bool>(d, "cleanup", true, source + " decoder");
        }

        std::string pad = "[PAD]";
        if (j.contains("padding") && j["padding"].is_object())
            pad = json_get<std::string>(j["padding"], "pad_token", pad, source + " padding");
        t.finish(pad);
        // tokenizer.json names no other roles: the post-processor's first and last special tokens are BERT's
        // [CLS] and [SEP] (tokenizer_config.json may rename any, from_pretrained).
        auto special_at = [&](bool last) -> std::string {
            for (size_t i = 0; i < t.single_.size(); ++i) {
                const Piece& piece = t.single_[last ? t.single_.size() - 1 - i : i];
                if (piece.seq < 0 && piece.ids.size() == 1) return t.vocab_[size_t(piece.ids[0])];
            }
            return "";
        };
        t.cls_token_ = special_at(false);
        t.sep_token_ = special_at(true);
        t.mask_token_ = t.token_to_id("[MASK]") ? "[MASK]" : "";
        return t;
    }

    // ---- saving ---------------------------------------------------------------------------------

    // Writes dir/vocab.txt, dir/tokenizer.json and dir/tokenizer_config.json (each atomically; dir is created)
    // with this tokenizer's settings, so that from_pretrained(dir) and transformers'
    // AutoTokenizer.from_pretrained(dir) load the same tokenizer. tokenizer.json is what tokenizers'
    // Tokenizer.save writes for it; tokenizer_config.json repeats the normalizer's settings (do_lower_case,
    // strip_accents, tokenize_chinese_chars), which transformers applies over tokenizer.json's.
    void save_pretrained(const std::string& dir, const TokenizerSaveOptions& o = {}) const {
        namespace fs = std::filesystem;
        std::error_code ec;
        fs::create_directories(dir, ec);
        check(!ec && fs::is_directory(dir), dir, ": cannot create the tokenizer directory (",
              ec ? ec.message() : "not a directory", ")");
        const fs::path d(dir);
        std::string vocab;
        for (size_t id = 0; id < model_vocab_.size(); ++id) {
            check(vocab_[id].find_first_of("\r\n") == std::string::npos, "save_pretrained: token ", id,
                  " contains a line break, which vocab.txt cannot hold");
            vocab += vocab_[id] + "\n";
        }
        io::write_file_atomic((d / "vocab.txt").string(), vocab);
        io::write_file_atomic((d / "tokenizer.json").string(), to_json().dump(2) + "\n");

        nlohmann::ordered_json cfg;
        if (normalizer_) {
            const NormalizerOptions& n = normalizer_->options();
            cfg["do_lower_case"] = n.lowercase;
            cfg["strip_accents"] = n.strip_accents ? nlohmann::ordered_json(*n.strip_accents) : nullptr;
            cfg["tokenize_chinese_chars"] = n.handle_chinese_chars;
        }
        for (auto [key, value] : {std::pair{"unk_token", &unk_token_},
                                  {"sep_token", &sep_token_},
                                  {"pad_token", &pad_token_},
                                  {"cls_token", &cls_token_},
                                  {"mask_token", &mask_token_}})
            if (!value->empty()) cfg[key] = *value;
        cfg["clean_up_tokenization_spaces"] = cleanup_;
        if (o.model_max_length > 0) cfg["model_max_length"] = o.model_max_length;
        cfg["tokenizer_class"] = o.tokenizer_class;
        io::write_file_atomic((d / "tokenizer_config.json").string(), cfg.dump(2) + "\n");
    }

    // The tokenizer in tokenizers' tokenizer.json format (from_json reads it back).
    nlohmann::ordered_json to_json() const {
        using J = nlohmann::ordered_json;
        J added = J::array();
        std::vector<AddedToken> by_id = added_;  // tokenizers writes them in id order
        std::stable_sort(by_id.begin(), by_id.end(),
                         [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; });
        for (const AddedToken& a : by_id)
            added.push_back({{"id", a.id},
                             {"content", a.content},
                             {"single_word", false},
                             {"lstrip", a.lstrip},
                             {"rstrip", a.rstrip},
                             {"normalized", a.normalized},
                             {"special", a.special}});
        J normalizer = nullptr;
        if (normalizer_) {
            const NormalizerOptions& n = normalizer_->options();
            normalizer = {{"type", "BertNormalizer"},
                          {"clean_text", n.clean_text},
                          {"handle_chinese_chars", n.handle_chinese_chars},
                          {"strip_accents", n.strip_accents ? J(*n.strip_accents) : J(nullptr)},
                          {"lowercase", n.lowercase}};
        }
        J post = nullptr;
        if (n_special_single_ + n_special_pair_ > 0) {
            J special = J::object();
            auto name_of = [&](const Piece& p) {
                std::string name;
                for (int64_t id : p.ids) name += vocab_[size_t(id)];
                return name;
            };
            auto items = [&](const std::vector<Piece>& pieces) {
                J out = J::array();
                for (const Piece& p : pieces) {
                    if (p.seq >= 0) {
                        out.push_back({{"Sequence", {{"id", p.seq == 0 ? "A" : "B"}, {"type_id", p.type_id}}}});
                        continue;
                    }
                    const std::string name = name_of(p);
                    out.push_back({{"SpecialToken", {{"id", name}, {"type_id", p.type_id}}}});
                    J tokens = J::array();
                    for (int64_t id : p.ids) tokens.push_back(vocab_[size_t(id)]);
                    special[name] = {{"id", name}, {"ids", p.ids}, {"tokens", tokens}};
                }
                return out;
            };
            post = {{"type", "TemplateProcessing"}, {"single", items(single_)}, {"pair", items(pair_)}};
            post["special_tokens"] = special;
        }
        J decoder = nullptr;
        if (has_decoder_) decoder = {{"type", "WordPiece"}, {"prefix", decoder_prefix_}, {"cleanup", cleanup_}};
        J vocab = J::object();
        for (size_t id = 0; id < model_vocab_.size(); ++id) vocab[vocab_[id]] = id;
        return {{"version", "1.0"},
                {"truncation", nullptr},
                {"padding", nullptr},
                {"added_tokens", added},
                {"normalizer", normalizer},
                {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
                {"post_processor", post},
                {"decoder", decoder},
                {"model",
                 {{"type", "WordPiece"},
                  {"unk_token", unk_token_},
                  {"continuing_subword_prefix", prefix_},
                  {"max_input_chars_per_word", max_input_chars_},
                  {"vocab", vocab}}}};
    }

    // ---- encoding -------------------------------------------------------------------------------

    Encoding encode(std::string_view text, const EncodeOptions& o = {}) const {
        Seq a;
        encode_sequence(text, a);
        prepare(a, nullptr, o);
        return build(a, nullptr, o, o.padding == Padding::MaxLength ? o.max_length : 0);
    }

    // [CLS] a [SEP] b [SEP] with token_type_ids 0 for a and 1 for b; b's offsets refer to b.
    Encoding encode_pair(std::string_view a, std::string_view b, const EncodeOptions& o = {}) const {
        Seq ta, tb;
        encode_sequence(a, ta);
        encode_sequence(b, tb);
        prepare(ta, &tb, o);
        return build(ta, &tb, o, o.padding == Padding::MaxLength ? o.max_length : 0);
    }

    BatchEncoding encode_batch(const std::vector<std::string>& texts, const EncodeOptions& o = {}) const {
        return batch(texts.size(), false, o, [&](size_t i, Seq& a, Seq&) { encode_sequence(texts[i], a); });
    }

    BatchEncoding encode_batch(const std::vector<std::pair<std::string, std::string>>& pairs,
                               const EncodeOptions& o = {}) const {
        return batch(pairs.size(), true, o, [&](size_t i, Seq& a, Seq& b) {
            encode_sequence(pairs[i].first, a);
            encode_sequence(pairs[i].second, b);
        });
    }

    // The model tokens of a text, without special tokens or truncation.
    std::vector<std::string> tokenize(std::string_view text) const {
        return encode(text, {.truncation = false, .padding = Padding::None, .add_special_tokens = false}).tokens;
    }

    // ---- decoding -------------------------------------------------------------------------------

    // Joins tokens the way tokenizers' WordPiece decoder does: "##" pieces glue to the previous
    // token, others get a space, and with cleanup " ." " ?" " !" " ," etc. lose their space.
    std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = false) const {
        std::string out;
        size_t n = 0;
        for (int64_t id : ids) {
            const std::string& tok = id_to_token(id);
            if (skip_special_tokens && special_ids_.count(id)) continue;
            if (!has_decoder_) {
                if (n++) out += ' ';
                out += tok;
                continue;
            }
            std::string piece;
            if (n++ == 0) {
                piece = tok;
            } else if (tok.compare(0, decoder_prefix_.size(), decoder_prefix_) == 0) {
                piece = tok.substr(decoder_prefix_.size());
            } else {
                piece = " " + tok;
            }
            if (cleanup_) piece = cleanup(std::move(piece));
            out += piece;
        }
        return out;
    }

    // ---- vocabulary -----------------------------------------------------------------------------

    std::optional<int64_t> token_to_id(std::string_view token) const {
        for (const auto& a : added_)
            if (a.content == token) return a.id;
        auto it = model_vocab_.find(token);
        if (it == model_vocab_.end()) return std::nullopt;
        return it->second;
    }

    const std::string& id_to_token(int64_t id) const {
        check(id >= 0 && static_cast<size_t>(id) < vocab_.size(), "token id ", id, " is outside the vocabulary [0, ",
              vocab_.size(), ") of ", source_);
        return vocab_[static_cast<size_t>(id)];
    }

    size_t vocab_size() const { return vocab_.size(); }
    int64_t unk_id() const { return unk_id_; }
    int64_t pad_id() const { return pad_id_; }
    const std::vector<AddedToken>& added_tokens() const { return added_; }
    const BertNormalizer* normalizer() const { return normalizer_ ? &*normalizer_ : nullptr; }
    // Number of special tokens the post-processor adds for one sequence / a pair.
    size_t num_special_tokens(bool pair) const { return pair ? n_special_pair_ : n_special_single_; }

private:
    struct Tok {
        int64_t id;
        uint32_t start, end;
        int32_t text = -1;  // index into Seq::texts for added tokens, whose token string is the matched text
    };
    struct Seq {
        std::vector<Tok> toks;
        std::vector<std::string> texts;
    };
    // One element of a post-processing template: a special token or sequence A (0) / B (1).
    struct Piece {
        int seq = -1;  // -1 = special token
        std::vector<int64_t> ids;
        uint32_t type_id = 0;
    };

    static Piece special_piece(int64_t id, uint32_t type_id) { return {-1, {id}, type_id}; }
    static Piece seq_piece(int seq, uint32_t type_id) { return {seq, {}, type_id}; }

    static std::string trim_end(std::string s) {
        // Rust's str::trim_end: drop trailing White_Space (covers \r from CRLF files).
        while (!s.empty()) {
            size_t start = s.size() - 1;
            while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
            size_t pos = start;
            const char32_t c = unicode::decode_utf8(s, pos);
            if (pos != s.size() || !unicode::is_whitespace(c)) break;
            s.resize(start);
        }
        return s;
    }

    static void apply_config(const nlohmann::json& cfg, const std::string& where, NormalizerOptions& o) {
        using io::json_get;
        o.lowercase = json_get<bool>(cfg, "do_lower_case", o.lowercase, where);
        if (cfg.contains("strip_accents")) {
            if (cfg["strip_accents"].is_null())
                o.strip_accents.reset();
            else
                o.strip_accents = json_get<bool>(cfg, "strip_accents", true, where);
        }
        o.handle_chinese_chars = json_get<bool>(cfg, "tokenize_chinese_chars", o.handle_chinese_chars, where);
    }

    // tokenizer_config.json stores special tokens as "[PAD]" or {"content": "[PAD]", ...}.
    static std::optional<std::string> config_token(const nlohmann::json& cfg, const char* key,
                                                   const std::string& where) {
        auto it = cfg.find(key);
        if (it == cfg.end() || it->is_null()) return std::nullopt;
        if (it->is_string()) return it->get<std::string>();
        check(it->is_object() && it->contains("content") && (*it)["content"].is_string(), where, ": field '", key,
              "' must be a string or an object with a string 'content'");
        return (*it)["content"].get<std::string>();
    }

    void parse_post_processor(const nlohmann::json& p) {
        using io::json_get;
        const std::string where = source_ + " post_processor";
        const std::string type = json_get<std::string>(p, "type", "", where);
        if (type == "BertProcessing") {
            auto pair_of = [&](const char* key) {
                check(p.contains(key) && p[key].is_array() && p[key].size() == 2 && p[key][0].is_string() &&
                          p[key][1].is_number_integer(),
                      where, ": '", key, "' must be [token, id]");
                return std::make_pair(p[key][0].get<std::string>(), p[key][1].get<int64_t>());
            };
            const int64_t cls = pair_of("cls").second, sep = pair_of("sep").second;
            single_ = {special_piece(cls, 0), seq_piece(0, 0), special_piece(sep, 0)};
            pair_ = {special_piece(cls, 0), seq_piece(0, 0), special_piece(sep, 0), seq_piece(1, 1),
                     special_piece(sep, 1)};
            return;
        }
        check(type == "TemplateProcessing", where, ": type is \"", type,
              "\", expected \"TemplateProcessing\" or \"BertProcessing\"");
        check(p.contains("special_tokens") && p["special_tokens"].is_object(), where, ": missing 'special_tokens'");
        auto parse = [&](const char* key) {
            check(p.contains(key) && p[key].is_array(), where, ": '", key, "' must be an array");
            std::vector<Piece> out;
            for (const auto& item : p[key]) {
                if (item.contains("Sequence")) {
                    const auto& s = item["Sequence"];
                    const std::string id = json_get<std::string>(s, "id", "A", where);
                    check(id == "A" || id == "B", where, ": sequence id \"", id, "\", expected A or B");
                    out.push_back(seq_piece(id == "A" ? 0 : 1, json_get<uint32_t>(s, "type_id", 0, where)));
                } else if (item.contains("SpecialToken")) {
                    const auto& s = item["SpecialToken"];
                    const std::string id = json_get<std::string>(s, "id", "", where);
                    check(p["special_tokens"].contains(id), where, ": special token \"", id,
                          "\" is not in special_tokens");
                    Piece piece;
                    piece.ids = json_get<std::vector<int64_t>>(p["special_tokens"][id], "ids", {}, where);
                    piece.type_id = json_get<uint32_t>(s, "type_id", 0, where);
                    out.push_back(piece);
                } else {
                    fail(where, ": template items must be {\"Sequence\": ...} or {\"SpecialToken\": ...}, found ",
                         item.dump());
                }
            }
            return out;
        };
        single_ = parse("single");
        pair_ = parse("pair");
        for (const auto& piece : single_) check(piece.seq != 1, where, ": the 'single' template uses sequence B");
    }

    // Builds the lookup structures that depend on the vocabulary and the added tokens.
    void finish(const std::string& pad_token) {
        unk_id_ = model_vocab_.at(unk_token_);
        std::vector<std::pair<std::string_view, int64_t>> initial, continuation;
        for (const auto& [tok, id] : model_vocab_) {
            initial.emplace_back(tok, id);
            if (tok.compare(0, prefix_.size(), prefix_) == 0)
                continuation.emplace_back(std::string_view(tok).substr(prefix_.size()), id);
        }
        initial_.build(initial);
        continuation_.build(continuation);
        special_ids_.clear();
        for (const auto& a : added_)
            if (a.special) special_ids_.insert(a.id);
        auto count = [](const std::vector<Piece>& t) {
            size_t n = 0;
            for (const auto& p : t) n += p.ids.size();
            return n;
        };
        for (const auto* t : {&single_, &pair_})
            for (const auto& p : *t)
                for (int64_t id : p.ids)
                    check(id >= 0 && static_cast<size_t>(id) < vocab_.size(), source_, ": post-processor token id ", id,
                          " is outside the vocabulary");
        n_special_single_ = count(single_);
        n_special_pair_ = count(pair_);
        set_pad_token(pad_token);
        refresh_normalized_patterns();
    }

    void set_pad_token(const std::string& pad) {
        pad_token_ = pad;
        auto id = token_to_id(pad);
        pad_id_ = id ? *id : -1;
    }

    // Normalized added tokens are matched in normalized text, so their patterns are normalized too.
    void refresh_normalized_patterns() {
        first_byte_.fill(false);
        patterns_.clear();
        for (size_t i = 0; i < added_.size(); ++i) {
            const auto& a = added_[i];
            if (!a.normalized) {
                first_byte_[static_cast<unsigned char>(a.content[0])] = true;
                continue;
            }
            std::vector<NChar> chars;
            if (normalizer_)
                normalizer_->normalize(a.content, 0, a.content.size(), chars);
            else
                decode_only(a.content, 0, a.content.size(), chars);
            std::u32string p;
            std::string utf8;
            for (const auto& c : chars) p += c.c, unicode::append_utf8(utf8, c.c);
            if (p.empty()) continue;
            vocab_[static_cast<size_t>(a.id)] = utf8;  // HF's id_to_token gives the normalized form
            patterns_.push_back({std::move(p), i});
        }
    }

    static void decode_only(std::string_view text, size_t begin, size_t end, std::vector<NChar>& out) {
        for (size_t pos = begin; pos < end;) {
            const uint32_t s = static_cast<uint32_t>(pos);
            const char32_t c = unicode::decode_utf8(text.substr(0, end), pos);
            out.push_back({c, s, static_cast<uint32_t>(pos)});
        }
    }

    // Tokenizes one text into (id, original byte range) tokens, without special tokens.
    void encode_sequence(std::string_view text, Seq& seq) const {
        auto& out = seq.toks;
        check(text.size() < UINT32_MAX, "encode: text of ", text.size(), " bytes is too long (limit 4 GiB)");
        // 1. Added tokens matched on the original text (leftmost-longest, like HF's Aho-Corasick).
        size_t pos = 0, i = 0;
        while (i < text.size()) {
            if (!first_byte_[static_cast<unsigned char>(text[i])]) {
                ++i;
                continue;
            }
            const AddedToken* best = nullptr;
            for (const auto& a : added_)
                if (!a.normalized && text.compare(i, a.content.size(), a.content) == 0 &&
                    (!best || a.content.size() > best->content.size()))
                    best = &a;
            if (!best) {
                ++i;
                continue;
            }
            size_t start = i, stop = i + best->content.size();
            if (best->lstrip) start = std::max(pos, whitespace_run_start(text, pos, start));
            if (best->rstrip) stop = whitespace_run_end(text, stop);
            encode_segment(text, pos, start, seq);
            // HF's token string is the matched text, absorbed whitespace included.
            seq.texts.emplace_back(text.substr(start, stop - start));
            out.push_back({best->id, static_cast<uint32_t>(start), static_cast<uint32_t>(stop),
                           static_cast<int32_t>(seq.texts.size() - 1)});
            pos = stop;
            i = std::max(i + best->content.size(), stop);
        }
        encode_segment(text, pos, text.size(), seq);
    }

    // Start of the run of whitespace that ends at `end` (not before `floor`).
    static size_t whitespace_run_start(std::string_view text, size_t floor, size_t end) {
        size_t run = floor;
        for (size_t p = floor; p < end;)
            if (!unicode::is_whitespace(unicode::decode_utf8(text.substr(0, end), p))) run = p;
        return run;
    }

    static size_t whitespace_run_end(std::string_view text, size_t p) {
        while (p < text.size()) {
            size_t q = p;
            if (!unicode::is_whitespace(unicode::decode_utf8(text, q))) break;
            p = q;
        }
        return p;
    }

    // 2. Normalize one piece between added tokens, split off normalized added tokens, then
    //    pre-tokenize and run WordPiece on every word.
    void encode_segment(std::string_view text, size_t begin, size_t end, Seq& seq) const {
        if (begin >= end) return;
        auto& out = seq.toks;
        thread_local std::vector<NChar> chars;
        chars.clear();
        if (normalizer_)
            normalizer_->normalize(text, begin, end, chars);
        else
            decode_only(text, begin, end, chars);
        if (patterns_.empty()) {
            encode_words(chars.data(), chars.size(), out);
            return;
        }
        size_t pos = 0, i = 0;
        while (i < chars.size()) {
            const Pattern* best = nullptr;
            for (const auto& p : patterns_) {
                if (i + p.text.size() > chars.size() || (best && p.text.size() <= best->text.size())) continue;
                bool match = true;
                for (size_t k = 0; k < p.text.size() && match; ++k) match = chars[i + k].c == p.text[k];
                if (match) best = &p;
            }
            if (!best) {
                ++i;
                continue;
            }
            const AddedToken& a = added_[best->index];
            size_t start = i, stop = i + best->text.size();
            if (a.lstrip)
                while (start > pos && unicode::is_whitespace(chars[start - 1].c)) --start;
            if (a.rstrip)
                while (stop < chars.size() && unicode::is_whitespace(chars[stop].c)) ++stop;
            encode_words(chars.data() + pos, start - pos, out);
            std::string matched;
            for (size_t k = start; k < stop; ++k) unicode::append_utf8(matched, chars[k].c);
            seq.texts.push_back(std::move(matched));
            out.push_back({a.id, chars[start].start, chars[stop - 1].end, static_cast<int32_t>(seq.texts.size() - 1)});
            pos = i = stop;
        }
        encode_words(chars.data() + pos, chars.size() - pos, out);
    }

    void encode_words(const NChar* chars, size_t n, std::vector<Tok>& out) const {
        thread_local std::vector<WordSpan> words;
        words.clear();
        bert_pre_tokenize(chars, n, words);
        for (auto [b, e] : words) tokenize_word(chars + b, e - b, out);
    }

    // 3. WordPiece: greedy longest-match-first; "##" pieces after the first; the whole word is
    //    [UNK] if any position cannot be matched or it has more than max_input_chars_per_word chars.
    void tokenize_word(const NChar* w, size_t n, std::vector<Tok>& out) const {
        if (n > max_input_chars_) {
            out.push_back({unk_id_, w[0].start, w[n - 1].end});
            return;
        }
        thread_local std::string bytes;
        thread_local std::vector<uint32_t> at;  // byte offset of each character in `bytes`
        bytes.clear();
        at.clear();
        for (size_t i = 0; i < n; ++i) {
            at.push_back(static_cast<uint32_t>(bytes.size()));
            unicode::append_utf8(bytes, w[i].c);
        }
        at.push_back(static_cast<uint32_t>(bytes.size()));
        const size_t mark = out.size();
        for (size_t s = 0; s < n;) {
            // Longest piece first; pieces longer than the longest token cannot match.
            const auto& table = s == 0 ? initial_ : continuation_;
            // The last end e whose piece fits in max_len bytes (a binary search: a tokenizer.json may set a huge
            // max_input_chars_per_word, and stepping down from n would be quadratic in the word length).
            size_t e = size_t(std::upper_bound(at.begin() + std::ptrdiff_t(s), at.begin() + std::ptrdiff_t(n) + 1,
                                               at[s] + table.max_len()) -
                              at.begin()) -
                       1;
            int64_t id = -1;
            for (; e > s; --e)
                if ((id = table.find(std::string_view(bytes.data() + at[s], at[e] - at[s]))) >= 0) break;
            if (id < 0) {
                out.resize(mark);
                out.push_back({unk_id_, w[0].start, w[n - 1].end});
                return;
            }
            out.push_back({id, w[s].start, w[e - 1].end});
            s = e;
        }
    }

    // HF's longest_first truncation of a pair to max_len tokens, as tokenizers' truncation.rs reads
    // and 0.23.3 behaves (checked on 3,375 length combinations, with and without special tokens):
    // the shorter sequence keeps max(len, max_len - len) and, if both must still shrink, they get
    // half each with the odd token going to the longer one. (The Node binding of 0.23.2 instead
    // gave the second sequence the odd token when both had at least max_length tokens.)
    static void truncate(std::vector<Tok>& a, std::vector<Tok>* b, size_t max_len) {
        const size_t total = a.size() + (b ? b->size() : 0);
        if (total <= max_len) return;
        if (!b) {
            a.resize(max_len);
            return;
        }
        size_t n1 = a.size(), n2 = b->size();
        const bool swap = n1 > n2;
        if (swap) std::swap(n1, n2);
        n2 = n1 > max_len ? n1 : std::max(n1, max_len - n1);
        if (n1 + n2 > max_len) {
            n1 = max_len / 2;
            n2 = n1 + max_len % 2;
        }
        if (swap) std::swap(n1, n2);
        a.resize(std::min(a.size(), n1));
        b->resize(std::min(b->size(), n2));
    }

    // Truncation (room kept for the special tokens); returns the final length.
    size_t prepare(Seq& sa, Seq* sb, const EncodeOptions& o) const {
        const size_t added = o.add_special_tokens ? num_special_tokens(sb != nullptr) : 0;
        if (o.truncation) {
            check(o.max_length >= added, "encode: max_length ", o.max_length, " leaves no room for the ", added,
                  " special tokens");
            truncate(sa.toks, sb ? &sb->toks : nullptr, o.max_length - added);
        }
        return sa.toks.size() + (sb ? sb->toks.size() : 0) + added;
    }

    // Post-processing template ([CLS] a [SEP] b [SEP]) and padding to pad_to tokens.
    Encoding build(const Seq& sa, const Seq* sb, const EncodeOptions& o, size_t pad_to) const {
        const size_t n = std::max(pad_to, sa.toks.size() + (sb ? sb->toks.size() : 0) +
                                              (o.add_special_tokens ? num_special_tokens(sb != nullptr) : 0));
        Encoding e;
        e.ids.reserve(n), e.type_ids.reserve(n), e.offsets.reserve(n), e.tokens.reserve(n), e.attention_mask.reserve(n);
        auto push = [&](int64_t id, uint32_t type, size_t s, size_t end, const std::string& token) {
            e.ids.push_back(id);
            e.type_ids.push_back(type);
            e.offsets.emplace_back(s, end);
            e.tokens.push_back(token);
        };
        for (const auto& p : sb ? pair_ : single_) {
            if (p.seq < 0) {
                if (o.add_special_tokens)
                    for (int64_t id : p.ids) push(id, p.type_id, 0, 0, vocab_[static_cast<size_t>(id)]);
            } else {
                const Seq& seq = p.seq == 0 ? sa : *sb;
                for (const auto& t : seq.toks)
                    push(t.id, p.type_id, t.start, t.end,
                         t.text >= 0 ? seq.texts[static_cast<size_t>(t.text)] : vocab_[static_cast<size_t>(t.id)]);
            }
        }
        e.attention_mask.assign(e.ids.size(), 1);
        if (e.ids.size() < pad_to) {
            check(pad_id_ >= 0, source_, ": padding needs the pad token ", pad_token_,
                  ", which is not in the vocabulary");
            const size_t k = pad_to - e.ids.size();
            e.ids.insert(e.ids.end(), k, pad_id_);
            e.type_ids.insert(e.type_ids.end(), k, 0);
            e.attention_mask.insert(e.attention_mask.end(), k, 0);
            e.offsets.insert(e.offsets.end(), k, {0, 0});
            e.tokens.insert(e.tokens.end(), k, pad_token_);
        }
        return e;
    }

    // Tokenizes every row (encode_row(i, a, b)), then pads all rows to a common length and lays
    // them out row-major; both passes run on several threads for large batches.
    template <class EncodeRow>
    BatchEncoding batch(size_t n, bool pair, const EncodeOptions& o, EncodeRow&& encode_row) const {
        struct Row {
            Seq a, b;
            size_t len = 0;
        };
        std::vector<Row> rows(n);
        parallel_for(n, o.num_threads, [&](size_t i) {
            encode_row(i, rows[i].a, rows[i].b);
            rows[i].len = prepare(rows[i].a, pair ? &rows[i].b : nullptr, o);
        });
        BatchEncoding out;
        out.batch = n;
        size_t longest = 0, shortest = SIZE_MAX;
        for (const auto& r : rows) longest = std::max(longest, r.len), shortest = std::min(shortest, r.len);
        if (o.padding == Padding::Longest)
            out.seq_len = longest;
        else if (o.padding == Padding::MaxLength)
            out.seq_len = std::max(longest, o.max_length);
        else
            out.seq_len = (n == 0 || longest == shortest) ? longest : 0;
        out.encodings.resize(n);
        out.input_ids.resize(n * out.seq_len);
        out.attention_mask.resize(n * out.seq_len);
        out.token_type_ids.resize(n * out.seq_len);
        parallel_for(n, o.num_threads, [&](size_t i) {
            Encoding& e = out.encodings[i] = build(rows[i].a, pair ? &rows[i].b : nullptr, o, out.seq_len);
            if (out.seq_len == 0) return;
            std::copy(e.ids.begin(), e.ids.end(), out.input_ids.begin() + static_cast<std::ptrdiff_t>(i * out.seq_len));
            std::copy(e.attention_mask.begin(), e.attention_mask.end(),
                      out.attention_mask.begin() + static_cast<std::ptrdiff_t>(i * out.seq_len));
            std::copy(e.type_ids.begin(), e.type_ids.end(),
                      out.token_type_ids.begin() + static_cast<std::ptrdiff_t>(i * out.seq_len));
        });
        return out;
    }

    // fn(i) for i in [0, n), on several threads from 64 rows up (num_threads = 0) or on num_threads.
    static void parallel_for(size_t n, size_t threads, const std::function<void(size_t)>& fn) {
        cpu::parallel_for(
            int64_t(n), 512, [&](int64_t i) { fn(size_t(i)); }, int64_t(threads));
    }

    // tokenizers' decoders/wordpiece.rs cleanup, applied to each token's text.
    static std::string cleanup(std::string s) {
        static const std::pair<std::string_view, std::string_view> rules[] = {
            {" .", "."},   {" ?", "?"},           {" !", "!"},   {" ,", ","},     {" ' ", "'"},   {" n't", "n't"},
            {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
        for (const auto& [from, to] : rules) {
            std::string r;
            size_t p = 0;
            for (size_t q; (q = s.find(from, p)) != std::string::npos; p = q + from.size())
                r.append(s, p, q - p).append(to);
            if (p == 0) continue;
            r.append(s, p, std::string::npos);
            s = std::move(r);
        }
        return s;
    }

    struct Pattern {
        std::u32string text;
        size_t index;  // into added_
    };

    std::string source_;
    std::vector<std::string> vocab_;   // id -> token (model vocabulary and added tokens)
    detail::StringMap model_vocab_;    // token -> id, model vocabulary
    detail::VocabTable initial_;       // model vocabulary, for the first piece of a word
    detail::VocabTable continuation_;  // "##" pieces, keyed without the prefix
    std::string unk_token_ = "[UNK]", prefix_ = "##", pad_token_ = "[PAD]";
    std::string cls_token_, sep_token_, mask_token_;  // roles, for tokenizer_config.json ("" when none)
    int64_t unk_id_ = -1, pad_id_ = -1;
    size_t max_input_chars_ = 100;
    std::optional<BertNormalizer> normalizer_;
    std::vector<AddedToken> added_;
    std::array<bool, 256> first_byte_{};  // first bytes of non-normalized added tokens
    std::vector<Pattern> patterns_;       // normalized added tokens
    std::unordered_set<int64_t> special_ids_;
    std::vector<Piece> single_, pair_;
    size_t n_special_single_ = 0, n_special_pair_ = 0;
    bool has_decoder_ = false, cleanup_ = true;
    std::string decoder_prefix_ = "##";
};

}  // namespace temper::text
