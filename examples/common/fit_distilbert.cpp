// The Trainer for DistilBERT (with its bf16 mixed-precision copy), compiled once for all the examples.
#include "common/fit_model.hpp"

namespace examples {

FitRun fit(temper::models::DistilBertForSequenceClassification<float>& model, const temper::text::WordPiece& tokenizer,
           const temper::train::Dataset& train, const temper::train::Dataset& dev, const temper::train::Dataset& test,
           const temper::train::TrainerOptions& options) {
    return fit_model(model, tokenizer, train, dev, test, options);
}

}  // namespace examples
