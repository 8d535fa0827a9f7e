// fit() for one model type; included only by fit_distilbert.cpp and fit_bert.cpp, which instantiate it.
#pragma once

#include "common/fit.hpp"

namespace examples {

template <class Model>
FitRun fit_model(Model& model, const temper::text::WordPiece& tokenizer, const temper::train::Dataset& train,
                 const temper::train::Dataset& dev, const temper::train::Dataset& test,
                 const temper::train::TrainerOptions& options) {
    temper::train::Trainer trainer(model, tokenizer, train, dev, options);
    FitRun run{.result = trainer.fit(), .test = std::nullopt};
    if (run.result.interrupted) return run;  // --stop-at-step: nothing to score yet
    run.test = trainer.evaluate(test);       // with the thresholds fit() chose
    trainer.record_test(*run.test);
    return run;
}

}  // namespace examples
