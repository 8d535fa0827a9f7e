// Dataset readers: the first byte picks a reader and its options (CSV with 0/1 label columns, CSV with a
// class column, TSV / JSONL with label lists, JSONL with a class, GoEmotions TSV, a label-names file), the
// rest is the file. Each accepts or throws temper::Error. An accepted dataset has one label list per text,
// ids inside its label names, one label per example when single-label, and valid UTF-8 texts.
#include "fuzz_util.hpp"
#include "temper/train/dataset.hpp"

using namespace temper;
using namespace temper::train;

static void check_dataset(const Dataset& d) {
    FUZZ_CHECK(d.texts.size() == d.labels.size() && int64_t(d.texts.size()) == d.report.rows && !d.texts.empty());
    for (size_t i = 0; i < d.size(); ++i) {
        FUZZ_CHECK(!utf8_error_at(d.texts[i]));
        FUZZ_CHECK(d.multi_label || d.labels[i].size() == 1);
        for (int id : d.labels[i]) FUZZ_CHECK(id >= 0 && id < d.num_labels());
    }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t mode = data[0];
    const OnError on_error = mode & 0x80 ? OnError::Skip : OnError::Throw;
    static const char* ext[] = {".csv", ".csv", ".tsv", ".jsonl", ".jsonl", ".tsv", ".txt"};
    const int reader = (mode & 0x7F) % 7;
    const std::string path = temper_fuzz::write_scratch(std::string("data") + ext[reader], data + 1, size - 1);
    try {
        switch (reader) {
            case 0: check_dataset(read_table(path, {.label_columns = {"a", "b"}, .on_error = on_error})); break;
            case 1: check_dataset(read_table(path, {.label_column = "label", .on_error = on_error})); break;
            case 2: check_dataset(read_table(path, {.label_list_column = "labels", .on_error = on_error})); break;
            case 3:
                check_dataset(read_table(path, {.label_list_column = "labels",
                                                .label_names = {"x", "y", "z"},
                                                .allow_no_label = false,
                                                .on_error = on_error}));
                break;
            case 4: check_dataset(read_table(path, {.label_column = "label", .on_error = on_error})); break;
            case 5: check_dataset(read_goemotions_tsv(path, {"a", "b", "c", "d"}, {.on_error = on_error})); break;
            default: {
                const auto names = read_label_names(path);
                FUZZ_CHECK(!names.empty());
                for (const auto& n : names) FUZZ_CHECK(!n.empty() && !utf8_error_at(n));
            }
        }
    } catch (const Error&) {}
    return 0;
}
