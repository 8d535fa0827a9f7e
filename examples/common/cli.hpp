// Command-line plumbing shared by the example programs: parsing with one exit-code convention, and the
// training options every training program takes.
//
// Exit codes: 0 success (and --help), 2 for any error (bad option, unreadable file, malformed data),
// 1 is left to the programs for "ran, but the result is not what was asked for".
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>

#include "temper/core/error.hpp"
#include "temper/train/trainer.hpp"  // TrainerOptions

namespace examples {

// Parses argv, then runs body() with errors turned into "error: ..." on stderr and exit code 2.
template <class F>
int run_main(CLI::App& app, int argc, char** argv, F&& body) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;  // --help prints and exits 0; usage errors print the reason
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // keep stdout in order with the progress lines on stderr
    try {
        return body();
    } catch (const temper::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
    } catch (const std::exception& e) {  // std::filesystem and allocation failures
        std::fprintf(stderr, "error: %s\n", e.what());
    }
    return 2;
}

// Training hyper-parameters. Each program sets its own defaults before add_train_options(), which
// shows them in --help.
struct TrainArgs {
    std::string run_dir = "runs/default";
    int64_t epochs = 3, batch_size = 16, grad_accum = 1, max_length = 128;
    double lr = 2e-5, weight_decay = 0.01, warmup_ratio = 0.0, max_grad_norm = 1.0;
    int64_t eval_every = 0, patience = 0, max_steps = 0, stop_at_step = 0;
    int64_t limit_train = 0;  // > 0: keep only the first N training examples
    uint64_t seed = 42;
    bool resume = false, quiet = false, cuda_graph = false, bf16 = false;
};

inline void add_train_options(CLI::App& app, TrainArgs& a) {
    app.add_option("--run-dir", a.run_dir, "where checkpoints (best/, last/), metrics.jsonl and SVG plots go")
        ->capture_default_str();
    app.add_option("--epochs", a.epochs, "training epochs")->check(CLI::Range(1, 100000))->capture_default_str();
    app.add_option("--batch-size", a.batch_size, "examples per micro-batch")
        ->check(CLI::Range(1, 65536))
        ->capture_default_str();
    app.add_option("--grad-accum", a.grad_accum, "micro-batches per optimizer step")
        ->check(CLI::Range(1, 65536))
        ->capture_default_str();
    app.add_option("--max-length", a.max_length,
                   "tokens per example, [CLS] and [SEP] included (longer texts are truncated)")
        ->check(CLI::Range(2, 1 << 20))
        ->capture_default_str();
    app.add_option("--lr", a.lr, "peak learning rate of AdamW")->check(CLI::PositiveNumber)->capture_default_str();
    app.add_option("--weight-decay", a.weight_decay, "AdamW decoupled weight decay (not on biases and LayerNorm)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--warmup-ratio", a.warmup_ratio,
                   "fraction of the steps with linear warmup (then linear decay to 0)")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    app.add_option("--max-grad-norm", a.max_grad_norm, "global gradient-norm clipping (0: off)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--eval-every", a.eval_every, "optimizer steps between dev evaluations (0: every epoch)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--patience", a.patience, "stop after this many evaluations without dev macro-F1 gain (0: never)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--max-steps", a.max_steps, "stop after this many optimizer steps (0: all epochs)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--stop-at-step", a.stop_at_step, "save run_dir/last and exit at this step; continue with --resume")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--limit-train", a.limit_train, "use only the first N training examples (0: all), for quick runs")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--seed", a.seed, "seed for the split, initialisation, batch order and dropout")
        ->capture_default_str();
    app.add_flag("--resume", a.resume, "continue the run in --run-dir from its last checkpoint (same options)");
    app.add_flag("--quiet", a.quiet, "no progress lines on stderr");
    app.add_flag("--cuda-graph", a.cuda_graph,
                 "GPU: replay each training step from a CUDA graph (multi-label, --grad-accum 1; batches padded to "
                 "--max-length)");
    app.add_flag("--bf16", a.bf16,
                 "mixed precision: forward and backward in bf16 (float reductions), fp32 master weights, AdamW and "
                 "checkpoints (not with --cuda-graph)");
}

inline temper::train::TrainerOptions trainer_options(const TrainArgs& a) {
    return {.run_dir = a.run_dir,
            .epochs = a.epochs,
            .batch_size = a.batch_size,
            .grad_accum = a.grad_accum,
            .max_length = a.max_length,
            .lr = a.lr,
            .weight_decay = a.weight_decay,
            .warmup_ratio = a.warmup_ratio,
            .max_grad_norm = a.max_grad_norm,
            .eval_every = a.eval_every,
            .patience = a.patience,
            .max_steps = a.max_steps,
            .stop_at_step = a.stop_at_step,
            .threshold = 0.5,
            .tune_thresholds = true,
            .bucket_batches = 0,
            .pos_weight = {},
            .seed = a.seed,
            .resume = a.resume,
            .progress = !a.quiet,
            .eval_batch_size = 64,
            .cuda_graph = a.cuda_graph,
            .bf16 = a.bf16};
}

}  // namespace examples
