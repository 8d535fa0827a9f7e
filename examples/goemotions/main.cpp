// goemotions: fine-tune DistilBERT or BERT on GoEmotions (27 emotions + neutral, multi-label) and report the test
// set's exact-match accuracy, micro/macro-F1 and per-label scores, with per-label thresholds tuned on dev
// and with the fixed threshold.
//
//   goemotions --data ../shared/data/goemotions --model distilbert-base-uncased
//   goemotions --data ../shared/data/goemotions --init random --config small.json --vocab vocab.txt
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

#include "common/cli.hpp"
#include "common/data.hpp"
#include "common/fit.hpp"
#include "common/model.hpp"
#include "common/report.hpp"
#include "temper/train/balance.hpp"

using namespace temper;

int main(int argc, char** argv) {
    CLI::App app{"Fine-tune DistilBERT or BERT on GoEmotions (28 labels, multi-label) and report test scores"};
    std::string data;
    examples::ModelArgs margs;
    examples::TrainArgs targs;
    // The GoEmotions setup: BCE, threshold 0.3, max_len 128, batch 16, AdamW lr 2e-5; HF Trainer-like rest.
    targs.run_dir = "runs/goemotions";
    targs.warmup_ratio = 0.1;
    double threshold = 0.3;
    bool no_tune = false, use_pos_weight = false, skip_bad = false;
    int64_t limit_eval = 0;
    app.add_option("--data", data, "GoEmotions directory: train.tsv, dev.tsv, test.tsv and emotions.txt")->required();
    examples::add_model_options(app, margs);
    examples::add_train_options(app, targs);
    app.add_option("--threshold", threshold, "decision threshold on each label's sigmoid probability")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    app.add_flag("--no-tune-thresholds", no_tune,
                 "keep the fixed threshold (default: tune one threshold per label on dev, saved as thresholds.json)");
    app.add_flag("--pos-weight", use_pos_weight,
                 "weight positive targets by negatives/positives per label (BCE pos_weight)");
    app.add_option("--limit-eval", limit_eval, "use only the first N dev and test examples (0: all), for quick runs")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_flag("--skip-bad-rows", skip_bad, "drop malformed rows with a warning instead of stopping");

    return examples::run_main(app, argc, argv, [&] {
        const auto t0 = std::chrono::steady_clock::now();
        train::Splits s = train::read_goemotions_dir(
            data, {.on_error = skip_bad ? train::OnError::Skip : train::OnError::Throw, .max_reasons = 5});
        for (const auto* d : {&s.train, &s.dev, &s.test})
            if (d->report.skipped > 0)
                std::fprintf(stderr, "warning: %s: skipped %lld malformed rows, first: %s\n", d->report.path.c_str(),
                             (long long)d->report.skipped, d->report.skip_reasons[0].c_str());
        s.train = examples::take_first(s.train, targs.limit_train);
        s.dev = examples::take_first(s.dev, limit_eval);
        s.test = examples::take_first(s.test, limit_eval);
        const auto& names = s.train.label_names;
        std::printf("data: %s: train %zu, dev %zu, test %zu examples, %zu labels\n", data.c_str(), s.train.size(),
                    s.dev.size(), s.test.size(), names.size());

        examples::ModelSetup setup = examples::make_model(margs, names, models::Problem::MultiLabel, targs.seed);
        train::TrainerOptions opt = examples::trainer_options(targs);
        opt.threshold = threshold;
        opt.tune_thresholds = !no_tune;
        if (use_pos_weight) opt.pos_weight = train::pos_weight(s.train);
        const examples::FitRun run = examples::fit(setup, s.train, s.dev, s.test, opt);
        if (!examples::print_run(run.result, targs.run_dir)) return 0;
        examples::report_multilabel_test(*run.test, run.result, s.test, threshold, !no_tune);
        std::printf("\ntotal time %.1f s\n",
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        return 0;
    });
}
