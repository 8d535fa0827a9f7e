// Fine-tuning a ModelSetup with train::Trainer, whichever architecture it holds. The Trainer is
// instantiated once per architecture in the temper_examples_common library (fit_distilbert.cpp,
// fit_bert.cpp); this header only declares it.
#pragma once

#include <optional>

#include "common/model.hpp"
#include "temper/train/dataset.hpp"
#include "temper/train/trainer.hpp"  // TrainerOptions, TrainResult, EvalResult (no Trainer is instantiated here)

namespace examples {

struct FitRun {
    temper::train::TrainResult result;
    // The test set scored with the run's decision rule (the thresholds in result.thresholds when multi-label,
    // argmax when single-label), also appended to metrics.jsonl; none when the run stopped at --stop-at-step.
    std::optional<temper::train::EvalResult> test;
};

// Trains setup.model on `train`, picking the best model on `dev` (Trainer::fit), then scores `test`.
FitRun fit(ModelSetup& setup, const temper::train::Dataset& train, const temper::train::Dataset& dev,
           const temper::train::Dataset& test, const temper::train::TrainerOptions& options);

// fit() for one architecture (what fit() dispatches to).
FitRun fit(temper::models::DistilBertForSequenceClassification<float>& model, const temper::text::WordPiece& tokenizer,
           const temper::train::Dataset& train, const temper::train::Dataset& dev, const temper::train::Dataset& test,
           const temper::train::TrainerOptions& options);
FitRun fit(temper::models::BertForSequenceClassification<float>& model, const temper::text::WordPiece& tokenizer,
           const temper::train::Dataset& train, const temper::train::Dataset& dev, const temper::train::Dataset& test,
           const temper::train::TrainerOptions& options);

}  // namespace examples
