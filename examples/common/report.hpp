// Printing results on stdout: sklearn-style per-label tables, summary lines, thresholds and the
// confusion matrix.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "temper/train/metrics.hpp"
#include "temper/train/trainer.hpp"  // TrainResult, EvalResult

namespace examples {

// Multi-label scores of already computed probabilities at the given per-label thresholds.
inline temper::train::ClassificationScores scores_at(const temper::train::EvalResult& r,
                                                     const temper::train::Dataset& d,
                                                     const std::vector<double>& thresholds) {
    using namespace temper::train;
    return multilabel_scores(to_indicator(d.labels, d.num_labels()), apply_threshold(r.probs, thresholds));
}

inline void print_multilabel(const std::string& title, const temper::train::ClassificationScores& s,
                             const std::vector<std::string>& names) {
    std::printf("\n%s\n%s", title.c_str(), temper::train::classification_report(s, names).c_str());
    std::printf("exact-match accuracy %.4f, micro-F1 %.4f, macro-F1 %.4f\n", s.accuracy, s.micro.f1, s.macro.f1);
}

inline void print_thresholds(const std::vector<std::string>& names, const std::vector<double>& th) {
    std::printf("\nper-label thresholds tuned on dev:");
    for (size_t j = 0; j < names.size(); ++j)
        std::printf("%s %s %.2f", j % 6 == 0 ? "\n " : ",", names[j].c_str(), th[j]);
    std::printf("\n");
}

// Rows: true class; columns: predicted class.
inline void print_confusion(const temper::train::ClassificationScores& s, const std::vector<std::string>& names) {
    int w = 6;
    for (const auto& n : names) w = std::max(w, int(n.size()));
    std::printf("\nconfusion matrix (rows: true class, columns: predicted class)\n%*s", w, "");
    for (const auto& n : names) std::printf(" %*s", w, n.c_str());
    std::printf("\n");
    for (size_t i = 0; i < names.size(); ++i) {
        std::printf("%*s", w, names[i].c_str());
        for (size_t j = 0; j < names.size(); ++j) std::printf(" %*lld", w, (long long)s.confusion[i][j]);
        std::printf("\n");
    }
}

inline void print_single_label(const std::string& title, const temper::train::ClassificationScores& s,
                               const std::vector<std::string>& names) {
    std::printf("\n%s\n%s", title.c_str(), temper::train::classification_report(s, names).c_str());
    print_confusion(s, names);
    std::printf("\naccuracy %.4f, macro-F1 %.4f, weighted-F1 %.4f\n", s.accuracy, s.macro.f1, s.weighted.f1);
}

// Examples per label, e.g. "joy 120, fear 80".
inline std::string label_counts(const temper::train::Dataset& d) {
    const auto c = d.label_counts();
    std::string out;
    for (size_t j = 0; j < c.size(); ++j) out += (j ? ", " : "") + d.label_names[j] + " " + std::to_string(c[j]);
    return out;
}

// The end of every training run: where the model went and how training went.
// Prints how a fit() ended. Returns false when it stopped at --stop-at-step (nothing to score yet).
inline bool print_run(const temper::train::TrainResult& res, const std::string& run_dir) {
    if (res.interrupted) {
        std::printf("stopped at step %lld; continue with --resume\n", (long long)res.steps);
        return false;
    }
    std::printf("\ntrained %lld steps%s; best dev macro-F1 %.4f at step %lld\n", (long long)res.steps,
                res.stopped_early ? " (stopped early)" : "", res.best_macro_f1, (long long)res.best_step);
    std::printf("training time %.1f s (evaluation excluded); per epoch:", res.train_seconds);
    for (double s : res.epoch_seconds) std::printf(" %.1f s", s);
    std::fputs(res.epoch_seconds.empty() ? " none completed\n" : "\n", stdout);
    std::printf("checkpoint: %s/best (HF format: config.json, model.safetensors, vocab.txt%s)\n", run_dir.c_str(),
                res.thresholds.empty() ? "" : ", thresholds.json");
    std::printf("metrics: %s/metrics.jsonl, plots: %s/{loss,f1,per_label_f1}.svg\n", run_dir.c_str(), run_dir.c_str());
    return true;
}

// Test-set scores of a multi-label run (FitRun::test, scored with res.thresholds): with the thresholds
// tuned on dev (when they were) and with the fixed threshold.
inline void report_multilabel_test(const temper::train::EvalResult& r, const temper::train::TrainResult& res,
                                   const temper::train::Dataset& test, double threshold, bool tuned) {
    const auto& names = test.label_names;
    char title[128];
    if (tuned) {
        print_thresholds(names, res.thresholds);
        std::snprintf(title, sizeof title, "test set (%zu examples), per-label thresholds tuned on dev:", test.size());
        print_multilabel(title, r.scores, names);
    }
    std::snprintf(title, sizeof title, "test set (%zu examples), fixed threshold %.2f:", test.size(), threshold);
    print_multilabel(title, scores_at(r, test, std::vector<double>(names.size(), threshold)), names);
}

}  // namespace examples
