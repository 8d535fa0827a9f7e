// emotion6: single-label emotion classification (sadness, joy, love, anger, fear, surprise) on a table you
// supply (CSV, TSV or JSONL with a text column and a label column holding a class name or id). The
// training split is balanced by undersampling (seeded); batch 8 x gradient accumulation 4, AdamW lr 2e-5,
// 3 epochs, 10% linear warmup, max_len 128. Reports accuracy, macro-F1, the per-class table and the
// confusion matrix on the test split.
//
//   emotion6 --data emotion.csv --model distilbert-base-uncased
//   emotion6 --data train.jsonl --dev validation.jsonl --test test.jsonl --model DIR
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>

#include "common/cli.hpp"
#include "common/data.hpp"
#include "common/fit.hpp"
#include "common/model.hpp"
#include "common/report.hpp"
#include "temper/train/balance.hpp"

using namespace temper;

// The six classes in the order of the common 6-emotion dataset (label ids 0..5).
static const std::vector<std::string> kSixEmotions = {"sadness", "joy", "love", "anger", "fear", "surprise"};

// Without --labels the names come from the data (ids "0".."k", or the distinct names sorted). Map them
// onto the six default classes when they fit: ids 0..5 are those classes, and names that are all among
// them take their order, so a model's label ids do not depend on which names a file happens to contain.
static train::Dataset with_default_names(train::Dataset d) {
    const auto& names = d.label_names;
    bool ids = names.size() <= kSixEmotions.size(), subset = true;
    for (size_t i = 0; i < names.size(); ++i) {
        ids = ids && names[i] == std::to_string(i);
        subset = subset && std::find(kSixEmotions.begin(), kSixEmotions.end(), names[i]) != kSixEmotions.end();
    }
    if (!ids && !subset) return d;
    if (subset)
        for (auto& l : d.labels)
            l[0] = int(std::find(kSixEmotions.begin(), kSixEmotions.end(), names[size_t(l[0])]) - kSixEmotions.begin());
    d.label_names = kSixEmotions;
    return d;
}

int main(int argc, char** argv) {
    CLI::App app{"Fine-tune DistilBERT or BERT for 6-class single-label emotions (with class balancing) on your CSV"};
    std::string data, dev, test, text_column = "text", label_column = "label";
    std::vector<std::string> labels;
    examples::ModelArgs margs;
    examples::TrainArgs targs;
    targs.run_dir = "runs/emotion6";
    targs.batch_size = 8;
    targs.grad_accum = 4;
    targs.warmup_ratio = 0.1;
    bool no_balance = false, skip_bad = false;
    app.add_option("--data", data, "table with a text column and a label column (.csv, .tsv or .jsonl)")->required();
    app.add_option("--dev", dev, "dev table (default: 10% of --data)");
    app.add_option("--test", test, "test table (default: 10% of --data)");
    app.add_option("--text-column", text_column, "name of the text column")->capture_default_str();
    app.add_option("--label-column", label_column, "name of the label column (a class name or id per row)")
        ->capture_default_str();
    app.add_option("--labels", labels,
                   "class names in id order, comma-separated (default: sadness,joy,love,anger,fear,surprise when the "
                   "data's labels are ids 0-5 or among those names, else the names in the data, sorted)")
        ->delimiter(',');
    examples::add_model_options(app, margs);
    examples::add_train_options(app, targs);
    app.add_flag("--no-balance", no_balance,
                 "train on the split as it is (default: undersample it to the smallest class)");
    app.add_flag("--skip-bad-rows", skip_bad, "drop malformed rows with a warning instead of stopping");

    return examples::run_main(app, argc, argv, [&] {
        const train::TableOptions o{.text_column = text_column,
                                    .label_column = label_column,
                                    .label_names = labels,
                                    .on_error = skip_bad ? train::OnError::Skip : train::OnError::Throw};
        train::Dataset all = examples::read_data(data, o);
        if (labels.empty()) all = with_default_names(std::move(all));
        train::Splits s = examples::split_or_read(all, dev, test, o, targs.seed);
        s.train = examples::take_first(s.train, targs.limit_train);
        std::printf("data: %s: train %zu, dev %zu, test %zu examples\n", data.c_str(), s.train.size(), s.dev.size(),
                    s.test.size());
        std::printf("train classes: %s\n", examples::label_counts(s.train).c_str());
        if (!no_balance) {
            s.train = train::undersample(s.train, targs.seed);
            std::printf("balanced by undersampling: %zu examples: %s\n", s.train.size(),
                        examples::label_counts(s.train).c_str());
        }

        examples::ModelSetup setup =
            examples::make_model(margs, all.label_names, models::Problem::SingleLabel, targs.seed);
        const examples::FitRun run =
            examples::fit(setup, s.train, s.dev, s.test, examples::trainer_options(targs));
        if (!examples::print_run(run.result, targs.run_dir)) return 0;
        examples::print_single_label("test set (" + std::to_string(s.test.size()) + " examples):", run.test->scores,
                                     all.label_names);
        return 0;
    });
}
