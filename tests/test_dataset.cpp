// Data: CSV/TSV parsing, GoEmotions / CSV / TSV / JSONL readers and their errors, seeded splits,
// shuffling, batching, padding, undersampling and pos_weight. Small files live in
// tests/fixtures/data; the real GoEmotions files are read from the shared data directory when
// present.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "temper/train/balance.hpp"
#include "temper/train/batching.hpp"
#include "temper/train/csv.hpp"
#include "temper/train/dataset.hpp"
#include "temper/train/sampling.hpp"

namespace test_dataset {  // this file's names apart from the others' (unity build, tests/CMakeLists.txt)

namespace fs = std::filesystem;
using namespace temper;
using namespace temper::train;

namespace {

std::string data(const std::string& name) { return std::string(TEMPER_FIXTURES_DIR) + "/data/" + name; }

std::vector<std::vector<std::string>> fields_of(const std::vector<CsvRecord>& recs) {
    std::vector<std::vector<std::string>> out;
    for (const auto& r : recs) out.push_back(r.fields);
    return out;
}

using Rows = std::vector<std::vector<std::string>>;

}  // namespace

TEST_CASE("parse_delimited: RFC 4180 quoting, CRLF, blank lines, BOM") {
    auto r = parse_delimited(
        "\xEF\xBB\xBF"
        "a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\r\n\r\n\"multi\nline\",z\n,\nlast,",
        ',', true, "t.csv");
    CHECK(fields_of(r) == Rows{{"a", "b"}, {"x, y", "say \"hi\""}, {"multi\nline", "z"}, {"", ""}, {"last", ""}});
    CHECK(r[0].line == 1);
    CHECK(r[1].line == 2);
    CHECK(r[2].line == 4);  // line 3 is blank
    CHECK(r[3].line == 6);  // the quoted field spans lines 4-5
    CHECK(r[4].line == 7);
    for (const auto& x : r) CHECK(x.error.empty());
    // Unquoted quotes are kept; quoting off keeps quotes everywhere.
    CHECK(fields_of(parse_delimited("a\"b,c\n", ',', true, "t")) == Rows{{"a\"b", "c"}});
    CHECK(fields_of(parse_delimited("\"a\"\tb\n", '\t', false, "t")) == Rows{{"\"a\"", "b"}});
    CHECK(fields_of(parse_delimited("\"\"\n", ',', true, "t")) == Rows{{""}});  // an empty quoted field is a row
    CHECK(parse_delimited("", ',', true, "t").empty());
    CHECK(parse_delimited("\n\r\n", ',', true, "t").empty());
    // Junk after a closing quote marks the record malformed; parsing continues.
    auto bad = parse_delimited("\"a\"b,c\nd,e\n", ',', true, "t");
    REQUIRE(bad.size() == 2);
    CHECK(bad[0].error.find("after the closing quote of field 1") != std::string::npos);
    CHECK(bad[1].error.empty());
    CHECK_THROWS_WITH_AS(parse_delimited("a\n\"open\nstill open", ',', true, "f.csv"),
                         doctest::Contains("f.csv:2: quoted field is never closed"), Error);
}

TEST_CASE("utf8_error_at") {
    CHECK_FALSE(utf8_error_at("plain ascii").has_value());
    CHECK_FALSE(utf8_error_at("ünïcödé 🙂 中文").has_value());
    CHECK(utf8_error_at("ab\xff").value() == 2);
    CHECK(utf8_error_at("\xc0\xaf").value() == 0);          // overlong '/'
    CHECK(utf8_error_at("x\xed\xa0\x80").value() == 1);     // UTF-16 surrogate
    CHECK(utf8_error_at("\xf4\x90\x80\x80").value() == 0);  // above U+10FFFF
    CHECK(utf8_error_at("\xe2\x82").value() == 0);          // truncated
}

TEST_CASE("label names file") {
    CHECK(read_label_names(data("labels.txt")) ==
          std::vector<std::string>{"anger", "fear", "joy"});  // CRLF, trailing blank
    CHECK(read_label_names(data("goemotions_mini/emotions.txt")) ==
          std::vector<std::string>{"admiration", "amusement", "anger", "neutral"});  // no final newline
    CHECK_THROWS_WITH_AS(read_label_names(data("empty.csv")), doctest::Contains("no label names"), Error);
    CHECK_THROWS_WITH_AS(read_label_names(data("dup_labels.txt")),
                         doctest::Contains("dup_labels.txt:3: duplicate label name 'joy'"), Error);
    CHECK_THROWS_WITH_AS(read_label_names(data("missing.txt")), doctest::Contains("missing.txt"), Error);
}

TEST_CASE("GoEmotions TSV: ids, quotes kept as text, UTF-8 text") {
    auto s = read_goemotions_dir(data("goemotions_mini"));
    CHECK(s.train.size() == 6);
    CHECK(s.dev.size() == 2);
    CHECK(s.test.size() == 1);
    CHECK(s.train.multi_label);
    CHECK(s.train.label_names.size() == 4);
    CHECK(s.train.texts[1] == "\"Quotes\" at the start stay part of the text, \"even here");
    CHECK(s.train.labels[1] == std::vector<int>{1, 2});
    CHECK(s.train.labels[3] == std::vector<int>{0, 3});
    CHECK(s.train.texts[4] == "Southern charm 🙂 ünïcödé");
    CHECK(s.train.report.rows == 6);
    CHECK(s.train.report.skipped == 0);
    CHECK(s.train.label_counts() == std::vector<int64_t>{1, 2, 3, 2});
    // Multi-hot targets of a batch.
    auto y = s.train.multi_hot(std::vector<int64_t>{1, 3});
    CHECK(y.shape() == Shape{2, 4});
    CHECK(y.to_vector() == std::vector<float>{0, 1, 1, 0, 1, 0, 0, 1});
    CHECK(s.train.batch_texts(std::vector<int64_t>{2}) == std::vector<std::string>{"WHY IS BAYLESS ISOING"});
    CHECK_THROWS_AS(s.train.multi_hot(std::vector<int64_t>{6}), Error);
}

TEST_CASE("GoEmotions TSV: malformed rows throw with file and line, or are skipped and counted") {
    const std::vector<std::string> names = {"a", "b", "c", "d"};
    const std::string path = data("bad_goemotions.tsv");
    CHECK_THROWS_WITH_AS(read_goemotions_tsv(path, names),
                         doctest::Contains((path + ":2: expected 3 tab-separated fields, found 2").c_str()), Error);
    auto d = read_goemotions_tsv(path, names, {.on_error = OnError::Skip, .max_reasons = 10});
    CHECK(d.size() == 2);
    CHECK(d.texts == std::vector<std::string>{"fine row", "another fine row"});
    CHECK(d.report.skipped == 5);
    REQUIRE(d.report.skip_reasons.size() == 5);
    CHECK(d.report.skip_reasons[0] == path + ":2: expected 3 tab-separated fields, found 2");
    CHECK(d.report.skip_reasons[1] == path + ":3: label id 4 out of range: expected 0..3 (4 labels)");
    CHECK(d.report.skip_reasons[2].find(path + ":4: unknown label 'joy'") == 0);
    CHECK(d.report.skip_reasons[3] == path + ":5: field 1 is not valid UTF-8 (byte 11)");
    CHECK(d.report.skip_reasons[4] == path + ":6: no label (expected at least one)");
    auto few = read_goemotions_tsv(path, names, {.on_error = OnError::Skip, .max_reasons = 2});
    CHECK(few.report.skipped == 5);
    CHECK(few.report.skip_reasons.size() == 2);
}

TEST_CASE("CSV with 0/1 label columns (multi-label)") {
    const std::string path = data("emotions5.csv");
    auto d = read_table(path, {.label_columns = {"anger", "fear", "joy", "sadness", "surprise"}});
    REQUIRE(d.size() == 5);
    CHECK(d.multi_label);
    CHECK(d.label_names == std::vector<std::string>{"anger", "fear", "joy", "sadness", "surprise"});
    CHECK(d.texts[0] == "I can't believe it, really!");
    CHECK(d.labels[0] == std::vector<int>{2, 4});
    CHECK(d.texts[1] == "She said \"run\" and I ran");
    CHECK(d.texts[2] == "two\r\nlines");  // inside quotes the line break is data, CR included
    CHECK(d.labels[2] == std::vector<int>{0, 3});
    CHECK(d.texts[3] == "plain text with \"\"inner\"\" quotes");  // unquoted field: kept as is
    CHECK(d.labels[3].empty());                                   // no emotion
    CHECK(d.texts[4].empty());
    CHECK_THROWS_WITH_AS(read_table(path, {.text_column = "body", .label_columns = {"joy"}}),
                         doctest::Contains((path + ": no column 'body' in the header (columns: 'id', 'text',").c_str()),
                         Error);
    CHECK_THROWS_WITH_AS(read_table(path, {.label_columns = {"joy", "love"}}), doctest::Contains("no column 'love'"),
                         Error);
    CHECK_THROWS_WITH_AS(read_table(path, {.label_columns = {"id"}}),
                         doctest::Contains(":3: column 'id': expected 0 or 1, found '2'"), Error);
    CHECK_THROWS_WITH_AS(read_table(path, {}), doctest::Contains("set exactly one of"), Error);
}

TEST_CASE("CSV with a single label column (single-label), names inferred or given") {
    auto d = read_table(data("emotions6.csv"), {.label_column = "label"});
    CHECK_FALSE(d.multi_label);
    CHECK(d.label_names == std::vector<std::string>{"anger", "fear", "joy", "love", "sadness", "surprise"});  // sorted
    CHECK(d.labels[0] == std::vector<int>{2});
    CHECK(d.class_ids(std::vector<int64_t>{0, 1, 2}).to_vector() == std::vector<int64_t>{2, 4, 0});
    // Given names fix the ids (e.g. the training set's names for a dev file).
    const std::vector<std::string> names = {"sadness", "joy", "love", "anger", "fear", "surprise"};
    auto g = read_table(data("emotions6.csv"), {.label_column = "label", .label_names = names});
    CHECK(g.labels[0] == std::vector<int>{1});
    auto missing = std::vector<std::string>{"sadness", "joy", "anger", "fear", "surprise"};
    CHECK_THROWS_WITH_AS(read_table(data("emotions6.csv"), {.label_column = "label", .label_names = missing}),
                         doctest::Contains("emotions6.csv:6: unknown label 'love'"), Error);
}

TEST_CASE("CSV row errors: junk after quotes, field counts, empty labels; unclosed quote and empty file") {
    const std::string path = data("bad_rows.csv");
    CHECK_THROWS_WITH_AS(
        read_table(path, {.label_column = "label"}),
        doctest::Contains((path + ":3: unexpected character ' ' after the closing quote of field 1").c_str()), Error);
    auto d = read_table(path, {.label_column = "label", .on_error = OnError::Skip});
    CHECK(d.texts == std::vector<std::string>{"ok", "fine"});
    CHECK(d.label_names == std::vector<std::string>{"joy", "sadness"});  // inferred from the good rows only
    CHECK(d.report.skipped == 3);
    CHECK(d.report.skip_reasons[1] == path + ":4: expected 2 comma-separated fields, found 3");
    CHECK(d.report.skip_reasons[2] == path + ":5: column 'label' is empty (expected a label name or id)");
    CHECK_THROWS_WITH_AS(read_table(data("unclosed_quote.csv"), {.label_column = "label", .on_error = OnError::Skip}),
                         doctest::Contains("unclosed_quote.csv:3: quoted field is never closed"), Error);
    CHECK_THROWS_WITH_AS(read_table(data("empty.csv"), {.label_column = "label"}),
                         doctest::Contains("empty.csv: file is empty"), Error);
    CHECK_THROWS_WITH_AS(read_table(data("labels.txt"), {.label_column = "label"}),
                         doctest::Contains("cannot tell the format from the extension '.txt'"), Error);
}

TEST_CASE("TSV and JSONL with label lists") {
    auto t = read_table(data("lists.tsv"), {.label_list_column = "labels", .label_names = {"a", "b", "c", "d"}});
    CHECK(t.labels == std::vector<std::vector<int>>{{1, 3}, {0}, {}});
    auto inferred = read_table(data("lists.tsv"), {.label_list_column = "labels"});
    CHECK(inferred.label_names == std::vector<std::string>{"0", "1", "2", "3"});  // ids only: "0".."max"
    CHECK_THROWS_WITH_AS(read_table(data("lists.tsv"), {.label_list_column = "labels", .allow_no_label = false}),
                         doctest::Contains("lists.tsv:4: no label"), Error);

    const std::vector<std::string> names = {"anger", "fear", "joy"};
    auto j = read_table(data("lists.jsonl"), {.label_list_column = "labels", .label_names = names});
    CHECK(j.texts == std::vector<std::string>{"happy and scared", "just mad", "nothing", "string list"});
    CHECK(j.labels == std::vector<std::vector<int>>{{1, 2}, {0}, {}, {0, 2}});
    // Line 3 is blank; line 5's "anger" is not among these names.
    CHECK_THROWS_WITH_AS(
        read_table(data("lists.jsonl"), {.label_list_column = "labels", .label_names = {"fear", "joy"}}),
        doctest::Contains("lists.jsonl:5: unknown label 'anger'"), Error);
}

TEST_CASE("seeded split, shuffling and permutations are deterministic") {
    Dataset d;
    d.label_names = {"x"};
    for (int i = 0; i < 100; ++i) {
        d.texts.push_back(std::to_string(i));
        d.labels.push_back({0});
    }
    auto a = split_dataset(d, {.train = 0.8, .dev = 0.1, .test = 0.1}, 7);
    auto b = split_dataset(d, {.train = 0.8, .dev = 0.1, .test = 0.1}, 7);
    auto c = split_dataset(d, {.train = 0.8, .dev = 0.1, .test = 0.1}, 8);
    CHECK(a.train.size() == 80);
    CHECK(a.dev.size() == 10);
    CHECK(a.test.size() == 10);
    CHECK(a.dev.texts == b.dev.texts);
    CHECK(a.dev.texts != c.dev.texts);
    std::set<std::string> all(a.train.texts.begin(), a.train.texts.end());
    all.insert(a.dev.texts.begin(), a.dev.texts.end());
    all.insert(a.test.texts.begin(), a.test.texts.end());
    CHECK(all.size() == 100);  // a partition
    CHECK_THROWS_AS(split_dataset(d, {.train = 0.5, .dev = 0.1, .test = 0.1}, 0), Error);

    // The permutation is a fixed function of the seed on every platform. Pinned values, also
    // reproduced by an independent Python transcription of Philox4x32-10 + this Fisher-Yates.
    Generator g(42);
    CHECK(randperm(10, g) == std::vector<int64_t>{2, 8, 7, 0, 1, 6, 4, 5, 3, 9});
    Generator g1(1), g2(1);
    CHECK(randint(g1, 1000) == randint(g2, 1000));
    std::vector<int64_t> counts(4, 0);
    Generator u(3);
    for (int i = 0; i < 4000; ++i) ++counts[size_t(randint(u, 4))];
    for (int64_t c4 : counts) CHECK(c4 > 850);  // roughly uniform
}

TEST_CASE("epoch_batches: sizes, per-epoch shuffling, drop_last, length bucketing") {
    auto e0 = epoch_batches(10, 0, {.batch_size = 4, .seed = 1});
    auto e0b = epoch_batches(10, 0, {.batch_size = 4, .seed = 1});
    auto e1 = epoch_batches(10, 1, {.batch_size = 4, .seed = 1});
    CHECK(e0.size() == 3);
    CHECK(e0[2].size() == 2);
    CHECK(e0 == e0b);
    CHECK(e0 != e1);
    std::multiset<int64_t> seen;
    for (const auto& b : e1) seen.insert(b.begin(), b.end());
    CHECK(seen == std::multiset<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    CHECK(epoch_batches(10, 0, {.batch_size = 4, .shuffle = false}) ==
          std::vector<std::vector<int64_t>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}});
    CHECK(epoch_batches(10, 0, {.batch_size = 4, .drop_last = true}).size() == 2);
    CHECK(num_batches(10, {.batch_size = 4}) == 3);
    CHECK(num_batches(10, {.batch_size = 4, .drop_last = true}) == 2);

    // Bucketing without shuffling: each chunk of 2 batches (4 examples) sorted longest first.
    std::vector<int64_t> len = {1, 5, 3, 4, 9, 2, 7, 8, 6};
    CHECK(epoch_batches(9, 0, {.batch_size = 2, .shuffle = false, .bucket_batches = 2}, len) ==
          std::vector<std::vector<int64_t>>{{1, 3}, {2, 0}, {4, 7}, {6, 5}, {8}});
    // With shuffling, batches still hold examples of similar length: within a chunk they are sorted.
    auto s = epoch_batches(9, 3, {.batch_size = 2, .seed = 5, .bucket_batches = 2}, len);
    for (const auto& b : s)
        if (b.size() == 2) CHECK(len[size_t(b[0])] >= len[size_t(b[1])]);
    CHECK_THROWS_AS(epoch_batches(9, 0, {.bucket_batches = 2}), Error);  // lengths missing
}

TEST_CASE("pad_batch pads to the longest example in the batch") {
    std::vector<std::vector<int64_t>> ids = {{101, 7, 102}, {101, 102}, {101, 5, 6, 7, 102}};
    auto p = pad_batch(ids, std::vector<int64_t>{1, 0});
    CHECK(p.input_ids.shape() == Shape{2, 3});
    CHECK(p.input_ids.to_vector() == std::vector<int64_t>{101, 102, 0, 101, 7, 102});
    CHECK(p.attention_mask.to_vector() == std::vector<int64_t>{1, 1, 0, 1, 1, 1});
    CHECK(pad_batch(ids, std::vector<int64_t>{2}).input_ids.shape() == Shape{1, 5});
}

TEST_CASE("undersampling (single-label) and pos_weight (multi-label)") {
    auto d = read_table(data("emotions6.csv"), {.label_column = "label"});
    // joy 2, sadness 2, the other four classes 1 each -> one example of every class.
    auto idx = undersample_indices(d, 0);
    CHECK(idx.size() == 6);
    auto u = d.subset(idx);
    CHECK(u.label_counts() == std::vector<int64_t>{1, 1, 1, 1, 1, 1});
    CHECK(undersample_indices(d, 0) == idx);  // seeded
    std::set<std::vector<int64_t>> picks;
    for (uint64_t seed = 0; seed < 8; ++seed) picks.insert(undersample_indices(d, seed));
    CHECK(picks.size() > 1);  // different seeds pick different joy / sadness examples

    auto m = read_table(data("emotions5.csv"), {.label_columns = {"anger", "fear", "joy", "sadness", "surprise"}});
    CHECK_THROWS_WITH_AS(undersample(m, 0), doctest::Contains("single-label"), Error);
    // 5 examples; positives anger 2, fear 1, joy 1, sadness 1, surprise 1 -> (5 - p) / p.
    CHECK(pos_weight(m) == std::vector<double>{1.5, 4.0, 4.0, 4.0, 4.0});
    Dataset none = m;
    none.labels.assign(5, {});
    CHECK(pos_weight(none) == std::vector<double>(5, 5.0));  // no positives: 5 / max(0, 1)
    CHECK(pos_weight(none, 2.5) == std::vector<double>(5, 2.0));
}

TEST_CASE("the real GoEmotions data (shared/data/goemotions)") {
    const std::string dir = std::string(TEMPER_SHARED_DIR) + "/data/goemotions";
    if (!fs::exists(dir + "/train.tsv")) {
        MESSAGE("skipped: ", dir, " is not present");
        return;
    }
    auto s = read_goemotions_dir(dir);
    CHECK(s.train.size() == 43410);
    CHECK(s.dev.size() == 5426);
    CHECK(s.test.size() == 5427);
    CHECK(s.train.label_names.size() == 28);
    CHECK(s.train.label_names[27] == "neutral");
    CHECK(s.train.report.skipped == 0);
    int64_t multi = 0;
    for (const auto& l : s.train.labels) multi += l.size() > 1;
    MESSAGE("GoEmotions train: ", multi, " of ", s.train.size(), " examples have more than one label; neutral has ",
            s.train.label_counts()[27], " examples");
    CHECK(multi > 0);
}

}  // namespace test_dataset
