// emotion5: multi-label anger / fear / joy / sadness / surprise on a table you supply (CSV, TSV or
// JSONL with a text column and one 0/1 column per emotion). BCE, AdamW lr 2e-5 weight decay 0.01,
// threshold 0.5, 3 epochs; a seeded 80/10/10 split unless --dev / --test files are given.
//
//   emotion5 --data emotions.csv --model distilbert-base-uncased
//   emotion5 --data train.csv --dev dev.csv --test test.csv --labels anger,joy --model DIR
#include <CLI/CLI.hpp>

#include <cstdio>

#include "common/cli.hpp"
#include "common/data.hpp"
#include "common/fit.hpp"
#include "common/model.hpp"
#include "common/report.hpp"
#include "temper/train/balance.hpp"

using namespace temper;

int main(int argc, char** argv) {
    CLI::App app{
        "Fine-tune DistilBERT or BERT for multi-label emotions (anger, fear, joy, sadness, surprise) on your CSV"};
    std::string data, dev, test, text_column = "text";
    std::vector<std::string> labels = {"anger", "fear", "joy", "sadness", "surprise"};
    examples::ModelArgs margs;
    examples::TrainArgs targs;
    targs.run_dir = "runs/emotion5";
    double threshold = 0.5;
    bool tune = false, use_pos_weight = false, skip_bad = false;
    app.add_option("--data", data, "table with a text column and one 0/1 column per label (.csv, .tsv or .jsonl)")
        ->required();
    app.add_option("--dev", dev, "dev table (default: 10% of --data)");
    app.add_option("--test", test, "test table (default: 10% of --data)");
    app.add_option("--text-column", text_column, "name of the text column")->capture_default_str();
    app.add_option("--labels", labels, "the label columns, comma-separated")->delimiter(',')->capture_default_str();
    examples::add_model_options(app, margs);
    examples::add_train_options(app, targs);
    app.add_option("--threshold", threshold, "decision threshold on each label's sigmoid probability")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    app.add_flag("--tune-thresholds", tune,
                 "also tune one threshold per label on dev (saved as thresholds.json with the model)");
    app.add_flag("--pos-weight", use_pos_weight,
                 "weight positive targets by negatives/positives per label (BCE pos_weight)");
    app.add_flag("--skip-bad-rows", skip_bad, "drop malformed rows with a warning instead of stopping");

    return examples::run_main(app, argc, argv, [&] {
        const train::TableOptions o{.text_column = text_column,
                                    .label_columns = labels,
                                    .on_error = skip_bad ? train::OnError::Skip : train::OnError::Throw};
        const train::Dataset all = examples::read_data(data, o);
        train::Splits s = examples::split_or_read(all, dev, test, o, targs.seed);
        s.train = examples::take_first(s.train, targs.limit_train);
        std::printf("data: %s: train %zu, dev %zu, test %zu examples\n", data.c_str(), s.train.size(), s.dev.size(),
                    s.test.size());
        std::printf("train labels: %s\n", examples::label_counts(s.train).c_str());

        examples::ModelSetup setup =
            examples::make_model(margs, all.label_names, models::Problem::MultiLabel, targs.seed);
        train::TrainerOptions opt = examples::trainer_options(targs);
        opt.threshold = threshold;
        opt.tune_thresholds = tune;
        if (use_pos_weight) opt.pos_weight = train::pos_weight(s.train);
        const examples::FitRun run = examples::fit(setup, s.train, s.dev, s.test, opt);
        if (!examples::print_run(run.result, targs.run_dir)) return 0;
        examples::report_multilabel_test(*run.test, run.result, s.test, threshold, tune);
        return 0;
    });
}
