// quickstart: the embedded default. With no arguments it writes a multi-label emotion dataset (5 emotions,
// templated sentences with one or two emotions each), trains a WordPiece vocabulary on it, fine-tunes a small
// randomly initialised DistilBERT on the CPU, reports held-out scores and shows predictions.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "common/fit.hpp"
#include "common/model.hpp"
#include "temper/models/distilbert_config.hpp"
#include "temper/text/text.hpp"
#include "temper/train/synthetic_emotions.hpp"

using namespace temper;

int main(int argc, char** argv) {
    CLI::App app{"temper quickstart: fine-tune a small DistilBERT on a generated multi-label emotion dataset"};
    int64_t examples = 6000, epochs = 3, batch = 32, layers = 2, dim = 64, heads = 4, vocab_size = 600;
    double lr = 1e-3, target = 0.9;
    uint64_t seed = 1234;
    std::string run_dir = "runs/quickstart";
    bool quiet = false;
    app.add_option("--examples", examples, "generated examples (80/10/10 train/dev/test split)")
        ->check(CLI::Range(100, 10000000));
    app.add_option("--epochs", epochs, "training epochs")->check(CLI::Range(1, 1000));
    app.add_option("--batch-size", batch, "batch size")->check(CLI::Range(1, 4096));
    app.add_option("--layers", layers, "transformer layers")->check(CLI::Range(1, 24));
    app.add_option("--dim", dim, "hidden size (divisible by --heads)")->check(CLI::Range(8, 1024));
    app.add_option("--heads", heads, "attention heads")->check(CLI::Range(1, 64));
    app.add_option("--vocab-size", vocab_size, "WordPiece vocabulary size to train")->check(CLI::Range(50, 100000));
    app.add_option("--lr", lr, "peak learning rate (linear warmup 10%, then linear decay)");
    app.add_option("--seed", seed, "seed for data, initialisation, batch order and dropout");
    app.add_option("--run-dir", run_dir, "where checkpoints, metrics.jsonl and plots go");
    app.add_option("--target", target, "macro-F1 the test split must reach (exit code 1 below it)");
    app.add_flag("--quiet", quiet, "no progress output");
    CLI11_PARSE(app, argc, argv);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // keep stdout in order with the progress lines on stderr

    try {
        const auto t0 = std::chrono::steady_clock::now();
        // 1. Data: generated, then split.
        train::Dataset all;
        all.label_names = train::synthetic_emotion_names();
        all.multi_label = true;
        for (auto& ex : train::make_synthetic_emotions(size_t(examples), seed)) {
            all.texts.push_back(std::move(ex.text));
            all.labels.push_back(std::move(ex.labels));
        }
        train::Splits split = train::split_dataset(all, {.train = 0.8, .dev = 0.1, .test = 0.1}, seed);
        std::printf("data: %zu generated sentences (train %zu, dev %zu, test %zu), labels: ", all.size(),
                    split.train.size(), split.dev.size(), split.test.size());
        for (const auto& n : all.label_names) std::printf("%s ", n.c_str());
        std::printf("\nexample: \"%s\"\n", split.train.texts[0].c_str());

        // 2. Vocabulary, trained on the training split only.
        auto vocab = text::train_wordpiece(split.train.texts, {.vocab_size = size_t(vocab_size), .min_frequency = 2});
        auto tok = text::WordPiece::from_vocab(vocab);
        std::printf("vocab: %zu WordPiece tokens trained on the train split\n", tok.vocab_size());

        // 3. A small DistilBERT, randomly initialised.
        models::DistilBertConfig cfg;
        cfg.vocab_size = int64_t(tok.vocab_size());
        cfg.dim = dim;
        cfg.n_layers = layers;
        cfg.n_heads = heads;
        cfg.hidden_dim = 4 * dim;
        cfg.max_position_embeddings = 64;
        cfg.labels = all.label_names;
        cfg.problem = models::Problem::MultiLabel;
        cfg.pad_token_id = *tok.token_to_id("[PAD]");
        examples::ModelSetup setup = examples::random_model(std::move(tok), cfg, seed);
        std::printf("model: DistilBERT %lld layers, dim %lld, %lld heads, %lld parameters\n", (long long)layers,
                    (long long)dim, (long long)heads, (long long)examples::num_parameters(setup.model));

        // 4. Fine-tune, then 5. score the held-out test split with the thresholds tuned on dev.
        train::TrainerOptions opt{.run_dir = run_dir,
                                  .epochs = epochs,
                                  .batch_size = batch,
                                  .max_length = 64,
                                  .lr = lr,
                                  .weight_decay = 0.01,
                                  .warmup_ratio = 0.1,
                                  .seed = seed,
                                  .progress = !quiet};
        const examples::FitRun run = examples::fit(setup, split.train, split.dev, split.test, opt);
        const train::TrainResult& res = run.result;
        const train::EvalResult& test = *run.test;
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("\ntest set (%zu sentences), per-label thresholds tuned on dev:\n%s", split.test.size(),
                    train::classification_report(test.scores, all.label_names).c_str());
        std::printf(
            "\nexact-match accuracy %.4f, micro-F1 %.4f, macro-F1 %.4f (target >= %.2f) in %.1f s; best dev "
            "macro-F1 %.4f at step %lld\n",
            test.scores.accuracy, test.scores.micro.f1, test.macro_f1(), target, secs, res.best_macro_f1,
            (long long)res.best_step);
        std::printf("checkpoint: %s/best (HF format: config.json, model.safetensors, vocab.txt, thresholds.json)\n",
                    run_dir.c_str());

        // 6. Predictions on sentences the generator did not write.
        const std::vector<std::string> samples = {
            "I am thrilled because my best friend is visiting", "honestly i was terrified when the storm got worse",
            "they lied to me again and I am furious, but also a bit sad", "wow, I never expected that, I am speechless",
            "the house feels so empty since my grandmother left"};
        std::printf("\npredictions:\n");
        for (const auto& s : samples) {
            const auto p = examples::predict_probabilities(setup.model, setup.tokenizer, {s}, 64)[0];
            std::printf("  \"%s\"\n   ", s.c_str());
            for (size_t j = 0; j < p.size(); ++j)
                std::printf(" %s%s %.2f", p[j] >= res.thresholds[j] ? "*" : "", all.label_names[j].c_str(), p[j]);
            std::printf("\n");
        }
        std::printf("(* = above the label's tuned threshold)\n");
        return test.macro_f1() >= target ? 0 : 1;
    } catch (const Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    }
}
