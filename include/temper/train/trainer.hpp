// Trainer: fine-tunes a sequence classifier (DistilBertForSequenceClassification by default, or
// BertForSequenceClassification: Trainer<float, models::BertForSequenceClassification>, or deduced from the
// model: `train::Trainer trainer(model, ...)`) on a Dataset. Epochs of shuffled, dynamically
// padded batches; AdamW with HF's no-decay split, linear warmup/decay, global-norm clipping and gradient
// accumulation; evaluation on the dev set every N steps with best-checkpoint keeping and early stopping;
// metrics.jsonl and SVG plots in the run directory; `resume` continues bit-identically from run_dir/last.
//
// Run directory layout:
//   metrics.jsonl            one JSON object per line: {"type": "train"|"eval"|"test", "step": ..., ...}
//                            (no times: a resumed run writes the same file as a straight one; the training
//                            time per epoch is in TrainResult and last/trainer_state.json)
//   best/  last/             HF-compatible checkpoints (config.json, model.safetensors, vocab.txt,
//                            tokenizer.json, tokenizer_config.json, thresholds.json); last/ also has
//                            optimizer.safetensors and trainer_state.json for resuming
//   loss.svg  f1.svg  per_label_f1.svg
#pragma once

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "temper/io/model_dir.hpp"
#include "temper/models/bert.hpp"
#include "temper/models/distilbert.hpp"
#include "temper/models/probabilities.hpp"
#include "temper/nn/mixed_precision.hpp"
#include "temper/optim/accumulation.hpp"
#include "temper/optim/adamw.hpp"
#include "temper/optim/clip.hpp"
#include "temper/optim/schedule.hpp"
#include "temper/text/wordpiece.hpp"
#include "temper/train/batching.hpp"
#include "temper/train/dataset.hpp"
#include "temper/train/metrics.hpp"
#include "temper/train/plot.hpp"
#include "temper/train/progress.hpp"
#include "temper/train/train_step.hpp"

namespace temper::train {

struct TrainerOptions {
    std::string run_dir = "runs/default";
    int64_t epochs = 3;
    int64_t batch_size = 16;
    int64_t grad_accum = 1;    // micro-batches per optimizer step
    int64_t max_length = 128;  // tokens per example, [CLS] and [SEP] included
    double lr = 2e-5;
    double weight_decay = 0.01;           // not applied to biases and LayerNorm weights
    double warmup_ratio = 0.0;            // fraction of optimizer steps with linear warmup
    double max_grad_norm = 1.0;           // <= 0: no clipping
    int64_t eval_every = 0;               // optimizer steps between dev evaluations; 0: at the end of each epoch
    int64_t patience = 0;                 // evaluations without improvement before stopping; 0: never stop early
    int64_t max_steps = 0;                // stop after this many optimizer steps; 0: run all epochs
    int64_t stop_at_step = 0;             // > 0: save run_dir/last and return at this step without changing the
                                          // schedule (a time-boxed run; continue it later with resume)
    double threshold = 0.5;               // multi-label decision threshold during training
    bool tune_thresholds = true;          // multi-label: tune per-label thresholds on dev at the end
    int64_t bucket_batches = 0;           // > 0: length bucketing over chunks of this many batches
    std::vector<double> pos_weight = {};  // multi-label BCE pos_weight, one per label (empty: none)
    uint64_t seed = 42;                   // batch order and dropout
    bool resume = false;                  // continue from run_dir/last
    bool progress = true;
    int64_t eval_batch_size = 64;
    // Replay each full-size training step from a CUDA graph (train::TrainStep's cuda_graph): multi-label only,
    // grad_accum 1; batches are padded to max_length, so dropout draws over that shape and results differ
    // from the default (padding to the batch's longest). A shorter last batch of an epoch runs eagerly. On
    // the CPU the same steps run without a graph.
    bool cuda_graph = false;
    // Mixed precision (nn::MixedPrecision): forward and backward run in a bf16 copy of the model (bf16
    // activations and GEMMs, float reductions); the model itself keeps fp32 master weights, which AdamW
    // updates and checkpoints store. Needs Trainer<float>; not combined with cuda_graph.
    bool bf16 = false;
};

// Scores of one pass over a dataset.
struct EvalResult {
    double loss = 0;
    ClassificationScores scores;
    std::vector<std::vector<double>> probs;  // sigmoid (multi-label) or softmax (single-label) per example
    double macro_f1() const { return scores.macro.f1; }
};

struct TrainResult {
    int64_t steps = 0;
    int64_t best_step = -1;
    double best_macro_f1 = -1;
    bool stopped_early = false;
    bool interrupted = false;        // stopped by stop_at_step; resume to continue
    std::vector<double> thresholds;  // per label (multi-label), the ones saved with the best model
    // Wall time of the training steps (batching, forward, backward, optimizer), without evaluation,
    // checkpoints and plots; summed over resumed parts of a run. Per completed epoch, and in all.
    std::vector<double> epoch_seconds;
    double train_seconds = 0;
};

// M: the classifier's template (DistilBERT's or BERT's); M<T> needs what TrainStep and save_model_dir use
// (operator()(ids, mask), forward_checked, loss, save_pretrained, config.labels / problem / pad_token_id /
// vocab_size / max_position_embeddings).
template <class T, template <class> class M = models::DistilBertForSequenceClassification>
class Trainer {
public:
    using Model = M<T>;

    Trainer(Model& model, const text::WordPiece& tokenizer, const Dataset& train, const Dataset& dev,
            TrainerOptions opt)
        : model_(model), tok_(tokenizer), train_(train), dev_(dev), opt_(std::move(opt)) {
        check(train.size() > 0, "Trainer: the training set is empty");
        check(dev.size() > 0, "Trainer: the dev set is empty");
        check(train.label_names == model.config.labels, "Trainer: the model's labels (", model.config.num_labels(),
              ") differ from the training set's (", train.label_names.size(), ")");
        check(train.multi_label == (model.config.problem == models::Problem::MultiLabel),
              "Trainer: the model's problem_type does not match the dataset (multi-label vs single-label)");
        check(opt_.batch_size > 0 && opt_.grad_accum > 0 && opt_.epochs > 0 && opt_.eval_batch_size > 0,
              "Trainer: batch_size, grad_accum, epochs and eval_batch_size must be positive");
        check(opt_.max_length >= 2 && opt_.max_length <= model.config.max_position_embeddings, "Trainer: max_length ",
              opt_.max_length, " must be in [2, max_position_embeddings = ", model.config.max_position_embeddings, "]");
        check(opt_.pos_weight.empty() || opt_.pos_weight.size() == train.label_names.size(), "Trainer: pos_weight has ",
              opt_.pos_weight.size(), " values for ", train.label_names.size(), " labels");
        check(int64_t(tokenizer.vocab_size()) <= model.config.vocab_size, "Trainer: the tokenizer has ",
              tokenizer.vocab_size(), " tokens but the model's vocab_size is ", model.config.vocab_size);
        check(!opt_.cuda_graph || (train.multi_label && opt_.grad_accum == 1),
              "Trainer: cuda_graph needs a "
              "multi-label task and grad_accum 1 (one whole step per graph replay)");
        check(!opt_.bf16 || std::is_same_v<T, float>, "Trainer: bf16 mixed precision needs a float model");
        check(!(opt_.bf16 && opt_.cuda_graph), "Trainer: bf16 and cuda_graph cannot be combined yet");
        train_ids_ = tokenize(train);
        dev_ids_ = tokenize(dev);
    }

    TrainResult fit() {
        namespace fs = std::filesystem;
        prepare_run_dir();
        sync_mixed();
        BatchOptions bo{.batch_size = opt_.batch_size,
                        .shuffle = true,
                        .seed = derive_seed(opt_.seed, 1),
                        .drop_last = false,
                        .bucket_batches = opt_.bucket_batches};
        std::vector<int64_t> lengths;
        for (const auto& t : train_ids_) lengths.push_back(int64_t(t.size()));
        const int64_t batches_per_epoch = num_batches(int64_t(train_.size()), bo);
        const optim::GradientAccumulation accum{.steps = opt_.grad_accum};
        const int64_t steps_per_epoch = accum.optimizer_steps_per_epoch(batches_per_epoch);
        int64_t total_steps = steps_per_epoch * opt_.epochs;
        if (opt_.max_steps > 0) total_steps = std::min(total_steps, opt_.max_steps);
        const int64_t warmup = int64_t(std::ceil(opt_.warmup_ratio * double(total_steps)));

        optim::AdamW<T> opt(optim::decay_param_groups(model_.named_parameters(), opt_.weight_decay),
                            {.lr = opt_.lr, .weight_decay = opt_.weight_decay});
        optim::LinearWarmupDecay<optim::AdamW<T>> sched(opt, warmup, total_steps);
        Tensor<T> pos_weight;
        if (!opt_.pos_weight.empty())
            pos_weight = Tensor<T>::from_vector(std::vector<T>(opt_.pos_weight.begin(), opt_.pos_weight.end()),
                                                {int64_t(opt_.pos_weight.size())});

        State st;
        // Dropout masks come from the default generator. Batch order and dropout get their own keys, so neither
        // replays the stream that initialised a model from the same seed.
        manual_seed(derive_seed(opt_.seed, 2));
        if (opt_.resume) resume_from_last(opt, sched, st);

        // The step (train_step.hpp): forward, loss, backward, bf16 gradients to the master, clipping, AdamW, the
        // schedule. A NaN/Inf loss or gradient norm stops the run (NonFiniteError): eagerly before AdamW writes it
        // into the weights; in a replayed graph after the step, but still before anything is saved.
        std::optional<TrainStep<Model>> step;
        step.emplace(model_, opt,
                     TrainStepOptions{.max_grad_norm = std::max(opt_.max_grad_norm, 0.0),
                                      .bf16 = opt_.bf16,
                                      .cuda_graph = opt_.cuda_graph,
                                      .graph_batch = opt_.batch_size,
                                      .graph_seq_len = opt_.max_length},
                     &sched, pos_weight, mixed_.get());
        Progress progress(total_steps, opt_.progress, st.step);
        model_.train();
        double window_loss = 0;
        int64_t window_n = 0, window_samples = 0;
        auto window_start = std::chrono::steady_clock::now();
        bool done = st.step >= total_steps;
        for (int64_t epoch = st.epoch; epoch < opt_.epochs && !done; ++epoch) {
            auto batches = epoch_batches(int64_t(train_.size()), epoch, bo, lengths);
            for (int64_t bi = (epoch == st.epoch ? st.batch : 0); bi < batches_per_epoch && !done; ++bi) {
                const auto step_start = std::chrono::steady_clock::now();
                const auto& idx = batches[size_t(bi)];
                // With cuda_graph, full-size batches are padded to max_length: the graph's one shape.
                const bool full = int64_t(idx.size()) == opt_.batch_size;
                PaddedBatch pb = pad_batch(train_ids_, idx, model_.config.pad_token_id,
                                           opt_.cuda_graph && full ? opt_.max_length : 0);
                // Average over the micro-batches of this optimizer step (the last group may be short).
                const double loss_scale = accum.loss_scale(bi, batches_per_epoch);
                const bool finish = accum.is_step(bi, batches_per_epoch);
                StepResult<T> r;
                try {
                    r = train_.multi_label
                            ? (*step)(pb.input_ids, pb.attention_mask, train_.template multi_hot<T>(idx), loss_scale,
                                      finish)
                            : (*step)(pb.input_ids, pb.attention_mask, train_.class_ids(idx), loss_scale, finish);
                } catch (const NonFiniteError& e) {
                    stop_nonfinite(e.what, e.value, st.step + 1);
                }
                window_loss += double(r.loss.item());  // waits for the step (a GPU runs it asynchronously)
                st.current_epoch_seconds +=
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count();
                ++window_n;
                window_samples += int64_t(idx.size());
                if (!r.stepped) continue;
                ++st.step;
                st.epoch = epoch;
                st.batch = bi + 1;
                if (st.batch == batches_per_epoch) {
                    st.epoch = epoch + 1;
                    st.batch = 0;
                }

                const double secs =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - window_start).count();
                const double mean_loss = window_loss / double(window_n);
                progress.update(st.step, mean_loss, opt.lr(0), secs > 0 ? double(window_samples) / secs : 0);
                log({{"type", "train"},
                     {"step", st.step},
                     {"epoch", double(st.step) / double(steps_per_epoch)},
                     {"loss", mean_loss},
                     {"lr", opt.lr(0)}});
                history_.train_steps.push_back(double(st.step));
                history_.train_loss.push_back(mean_loss);
                window_loss = 0;
                window_n = window_samples = 0;
                window_start = std::chrono::steady_clock::now();

                const bool epoch_end = st.batch == 0;
                if (epoch_end) {
                    st.finished_epochs.push_back(st.current_epoch_seconds);
                    st.current_epoch_seconds = 0;
                }
                const bool last_step = st.step >= total_steps;
                const bool eval_now =
                    opt_.eval_every > 0 ? (st.step % opt_.eval_every == 0 || last_step) : (epoch_end || last_step);
                if (eval_now) {
                    EvalResult r = evaluate_dev();
                    model_.train();
                    if (!std::isfinite(r.loss)) stop_nonfinite("dev loss", r.loss, st.step);  // before it is saved
                    log({{"type", "eval"},
                         {"step", st.step},
                         {"loss", r.loss},
                         {"accuracy", r.scores.accuracy},
                         {"micro_f1", r.scores.micro.f1},
                         {"macro_f1", r.macro_f1()}});
                    history_.eval_steps.push_back(double(st.step));
                    history_.eval_loss.push_back(r.loss);
                    history_.eval_macro_f1.push_back(r.macro_f1());
                    history_.eval_micro_f1.push_back(r.scores.micro.f1);
                    progress.note(str("step ", st.step, ": dev loss ", r.loss, ", macro-F1 ", r.macro_f1(),
                                      ", micro-F1 ", r.scores.micro.f1));
                    if (r.macro_f1() > st.best_metric) {
                        st.best_metric = r.macro_f1();
                        st.best_step = st.step;
                        st.bad_evals = 0;
                        save_checkpoint(run_path("best"), nullptr, nullptr);
                    } else if (opt_.patience > 0 && ++st.bad_evals >= opt_.patience) {
                        progress.note(str("early stopping: no dev improvement in ", st.bad_evals, " evaluations"));
                        st.stopped_early = true;
                        done = true;
                    }
                    save_checkpoint(run_path("last"), &opt, &st);
                    write_plots();
                }
                if (last_step) done = true;
                if (!done && opt_.stop_at_step > 0 && st.step >= opt_.stop_at_step) {
                    if (!eval_now) save_checkpoint(run_path("last"), &opt, &st);
                    write_plots();
                    progress.note(str("stopped at step ", st.step, "; continue with resume"));
                    return {.steps = st.step,
                            .best_step = st.best_step,
                            .best_macro_f1 = st.best_metric,
                            .stopped_early = false,
                            .interrupted = true,
                            .thresholds = {},
                            .epoch_seconds = st.finished_epochs,
                            .train_seconds = st.train_seconds()};
                }
            }
        }

        step.reset();  // its CUDA graph, before the best weights are loaded over the ones it captured
        TrainResult res{.steps = st.step,
                        .best_step = st.best_step,
                        .best_macro_f1 = st.best_metric,
                        .stopped_early = st.stopped_early,
                        .interrupted = false,
                        .thresholds = {},
                        .epoch_seconds = st.finished_epochs,
                        .train_seconds = st.train_seconds()};
        // Finish on the best model: tune thresholds on dev and store them with it.
        if (st.best_step >= 0) load_weights(run_path("best"));
        model_.eval();
        if (train_.multi_label) {
            res.thresholds = std::vector<double>(train_.label_names.size(), opt_.threshold);
            if (opt_.tune_thresholds) {
                EvalResult r = evaluate_dev();
                res.thresholds = tune_thresholds(r.probs, to_indicator(dev_.labels, dev_.num_labels()));
            }
            if (st.best_step >= 0)
                save_thresholds(run_path("best") + "/thresholds.json", train_.label_names, res.thresholds);
        }
        thresholds_ = res.thresholds;
        write_plots();
        return res;
    }

    // Loss, scores and probabilities on a dataset, with the trainer's decision rule (the tuned per-label
    // thresholds after fit(), else the fixed threshold; argmax for single-label).
    EvalResult evaluate(const Dataset& d, std::optional<std::vector<double>> thresholds = std::nullopt) {
        sync_mixed();
        return evaluate_ids(d, &d == &dev_ ? dev_ids_ : tokenize(d), thresholds ? *thresholds : thresholds_);
    }

    // Appends a line for a held-out evaluation (e.g. the test set) to metrics.jsonl and draws per_label_f1.svg.
    void record_test(const EvalResult& r, const std::string& split = "test") {
        log({{"type", split},
             {"loss", r.loss},
             {"accuracy", r.scores.accuracy},
             {"micro_f1", r.scores.micro.f1},
             {"macro_f1", r.macro_f1()}});
        std::vector<double> f1;
        for (const auto& p : r.scores.per_label) f1.push_back(p.f1);
        io::write_file_atomic(run_path("per_label_f1.svg"),
                              svg_bar_chart("Per-label F1 (" + split + ")", train_.label_names, f1));
    }

    const std::vector<double>& thresholds() const { return thresholds_; }

private:
    struct State {
        int64_t step = 0, epoch = 0, batch = 0;  // next batch to run: (epoch, batch)
        double best_metric = -1;
        int64_t best_step = -1, bad_evals = 0;
        bool stopped_early = false;
        std::vector<double> finished_epochs;  // training seconds of each completed epoch
        double current_epoch_seconds = 0;     // ... and of the current one so far
        double train_seconds() const {
            double s = current_epoch_seconds;
            for (double e : finished_epochs) s += e;
            return s;
        }
    };
    struct History {
        std::vector<double> train_steps, train_loss, eval_steps, eval_loss, eval_macro_f1, eval_micro_f1;
    };

    std::vector<std::vector<int64_t>> tokenize(const Dataset& d) const {
        text::EncodeOptions eo{.max_length = size_t(opt_.max_length),
                               .truncation = true,
                               .padding = text::Padding::None,
                               .add_special_tokens = true,
                               .num_threads = 0};
        text::BatchEncoding enc = tok_.encode_batch(d.texts, eo);
        std::vector<std::vector<int64_t>> ids;
        ids.reserve(enc.encodings.size());
        for (auto& e : enc.encodings) ids.push_back(std::move(e.ids));
        return ids;
    }

    // The loss the step trains on (model.loss), without pos_weight: dev and test losses stay comparable.
    Tensor<T> loss_of(const Tensor<T>& logits, const Dataset& d, std::span<const int64_t> idx) const {
        const Device dev = logits.device();  // targets are built on the host and follow the model's device
        if (d.multi_label) return model_.loss(logits, d.template multi_hot<T>(idx).to(dev));
        return model_.loss(logits, d.class_ids(idx).to(dev));
    }

    EvalResult evaluate_dev() { return evaluate_ids(dev_, dev_ids_, {}); }

    EvalResult evaluate_ids(const Dataset& d, const std::vector<std::vector<int64_t>>& ids,
                            const std::vector<double>& thresholds) {
        NoGradGuard ng;
        const bool was_training = model_.is_training();
        model_.eval();
        EvalResult r;
        double loss_sum = 0;
        const int64_t n = int64_t(d.size());
        for (int64_t lo = 0; lo < n; lo += opt_.eval_batch_size) {
            std::vector<int64_t> idx;
            for (int64_t i = lo; i < std::min(n, lo + opt_.eval_batch_size); ++i) idx.push_back(i);
            PaddedBatch pb = pad_batch(ids, idx, model_.config.pad_token_id);
            Tensor<T> logits = logits_of(pb);
            loss_sum += double(loss_of(logits, d, idx).item()) * double(idx.size());
            for (auto& p : models::probabilities(
                     logits, d.multi_label ? models::Problem::MultiLabel : models::Problem::SingleLabel))
                r.probs.push_back(std::move(p));
        }
        r.loss = loss_sum / double(std::max<int64_t>(n, 1));
        if (d.multi_label) {
            auto pred =
                thresholds.empty() ? apply_threshold(r.probs, opt_.threshold) : apply_threshold(r.probs, thresholds);
            r.scores = multilabel_scores(to_indicator(d.labels, d.num_labels()), pred);
        } else {
            std::vector<int> truth;
            for (const auto& l : d.labels) truth.push_back(l.at(0));
            r.scores = single_label_scores(truth, argmax(r.probs), d.num_labels());
        }
        if (was_training) model_.train();
        return r;
    }

    std::string run_path(const std::string& name) const {
        return (std::filesystem::path(opt_.run_dir) / name).string();
    }

    // Fails before any training when the run directory cannot be written or lacks the space for the
    // checkpoints, and finishes a checkpoint swap that a crash interrupted (io::recover_model_dir).
    void prepare_run_dir() {
        namespace fs = std::filesystem;
        std::error_code ec;
        fs::create_directories(opt_.run_dir, ec);
        check(!ec && fs::is_directory(opt_.run_dir), opt_.run_dir, ": cannot create the run directory (",
              ec ? ec.message() : "not a directory", ")");
        try {
            io::write_file_atomic(run_path(".write_test"), std::string_view("ok\n"));
        } catch (const Error& e) {
            fail(opt_.run_dir, ": the run directory is not writable (", e.what(), ")");
        }
        fs::remove(run_path(".write_test"), ec);
        for (const char* name : {"best", "last"}) io::recover_model_dir(run_path(name));
        // Peak use: best/ (F32 weights) and last/ (weights and AdamW's two moments), each written beside the
        // previous copy before the swap.
        const uint64_t n = uint64_t(model_.num_parameters()), weights = 4 * n, moments = 2 * sizeof(T) * n;
        io::require_free_space(opt_.run_dir, 2 * weights + 2 * (weights + moments), "checkpoints (best/ and last/)");
        if (!opt_.resume) {
            io::write_file_atomic(run_path("metrics.jsonl"), std::string_view(""));
        }
    }

    void log(const nlohmann::json& j) {
        const std::string path = run_path("metrics.jsonl");  // once: check() would build its message every call
        std::ofstream f(path, std::ios::app);
        f << j.dump() << "\n";
        check(f.good(), path, ": write failed");
    }

    // Writes an HF-compatible checkpoint directory (io::save_model_dir: model, tokenizer, thresholds; swapped
    // in whole, each file fsynced). With opt/st also the state needed to resume.
    void save_checkpoint(const std::string& dir, const optim::AdamW<T>* opt, const State* st) {
        io::ModelDirOptions o;
        if (train_.multi_label)
            o.thresholds =
                thresholds_.empty() ? std::vector<double>(train_.label_names.size(), opt_.threshold) : thresholds_;
        if (opt && st) {
            o.extra = [&](const std::string& tmp) {
                opt->save_state(tmp + "/optimizer.safetensors");
                nlohmann::json s = {{"step", st->step},
                                    {"epoch", st->epoch},
                                    {"batch", st->batch},
                                    {"best_metric", st->best_metric},
                                    {"best_step", st->best_step},
                                    {"bad_evals", st->bad_evals},
                                    {"epoch_train_seconds", st->finished_epochs},
                                    {"current_epoch_train_seconds", st->current_epoch_seconds},
                                    {"rng_offset", default_generator().offset()},
                                    {"seed", opt_.seed},
                                    {"history",
                                     {{"train_steps", history_.train_steps},
                                      {"train_loss", history_.train_loss},
                                      {"eval_steps", history_.eval_steps},
                                      {"eval_loss", history_.eval_loss},
                                      {"eval_macro_f1", history_.eval_macro_f1},
                                      {"eval_micro_f1", history_.eval_micro_f1}}}};
                io::write_file_atomic(tmp + "/trainer_state.json", s.dump() + "\n");
            };
        }
        io::save_model_dir(dir, model_, tok_, o);
        if (st) last_saved_step_ = st->step;
    }

    // bf16: the model's bf16 copy, made or refreshed from the model's current weights (which may have been
    // loaded or moved since the trainer was built).
    void sync_mixed() {
        if constexpr (std::is_same_v<T, float>) {
            if (!opt_.bf16) return;
            if (!mixed_ || mixed_->model().device() != model_.device())
                mixed_ = std::make_unique<Mixed>(model_);
            else
                mixed_->copy_weights_from_master();
        }
    }

    void load_weights(const std::string& dir) {
        auto ck = io::Checkpoint::open(dir);
        io::LoadRules rules;  // our own checkpoints: exact names, nothing missing
        io::load_into<T>(model_, ck, rules);
        if (mixed_) mixed_->copy_weights_from_master();
    }

    // The model's logits for a batch; with bf16, from the bf16 copy (in the model's train/eval mode).
    Tensor<T> logits_of(const PaddedBatch& pb) {
        if constexpr (std::is_same_v<T, float>)
            if (mixed_) return (*mixed_)(pb.input_ids, pb.attention_mask);
        return model_(pb.input_ids, pb.attention_mask);
    }

    void resume_from_last(optim::AdamW<T>& opt, optim::LinearWarmupDecay<optim::AdamW<T>>& sched, State& st) {
        const std::string dir = run_path("last");
        check(std::filesystem::exists(dir + "/trainer_state.json"), dir,
              ": nothing to resume (no trainer_state.json); start without --resume");
        auto j = io::parse_json_file(io::read_text_file(dir + "/trainer_state.json"), dir + "/trainer_state.json");
        const std::string where = dir + "/trainer_state.json";
        check(io::get_int(j, "seed", -1, 0, INT64_MAX, where) == int64_t(opt_.seed), where,
              ": the run used a different seed; resume with the same options");
        load_weights(dir);
        opt.load_state(dir + "/optimizer.safetensors");
        st.step = io::get_int(j, "step", 0, 0, INT64_MAX, where);
        st.epoch = io::get_int(j, "epoch", 0, 0, INT64_MAX, where);
        st.batch = io::get_int(j, "batch", 0, 0, INT64_MAX, where);
        st.best_metric = io::get_double(j, "best_metric", -1, -1, 1, where);
        st.best_step = io::get_int(j, "best_step", -1, -1, INT64_MAX, where);
        st.bad_evals = io::get_int(j, "bad_evals", 0, 0, INT64_MAX, where);
        st.current_epoch_seconds = io::get_double(j, "current_epoch_train_seconds", 0, 0, 1e12, where);
        if (j.contains("epoch_train_seconds")) {  // absent in checkpoints of older versions: times start at 0
            try {
                st.finished_epochs = j.at("epoch_train_seconds").template get<std::vector<double>>();
            } catch (const nlohmann::json::exception& e) {
                fail(where, ": field 'epoch_train_seconds': expected a list of seconds (", e.what(), ")");
            }
        }
        default_generator().manual_seed(derive_seed(opt_.seed, 2));  // as fit() seeded it (seed checked above)
        default_generator().set_offset(uint64_t(io::get_int(j, "rng_offset", 0, 0, INT64_MAX, where)));
        sched.set_last_epoch(st.step);
        last_saved_step_ = st.step;
        try {
            const auto& h = j.at("history");
            auto series = [&](const char* k) { return h.at(k).template get<std::vector<double>>(); };
            history_ = {series("train_steps"), series("train_loss"),    series("eval_steps"),
                        series("eval_loss"),   series("eval_macro_f1"), series("eval_micro_f1")};
        } catch (const nlohmann::json::exception& e) {
            fail(where, ": field 'history': expected {\"train_steps\": [numbers], ...} (", e.what(), ")");
        }
        // metrics.jsonl keeps only what happened up to the checkpoint.
        std::ifstream in(run_path("metrics.jsonl"));
        std::string line, kept;
        while (std::getline(in, line)) {
            auto e = nlohmann::json::parse(line, nullptr, false);
            if (!e.is_discarded() && e.contains("step") && e["step"].is_number_integer() &&
                e["step"].get<int64_t>() <= st.step)
                kept += line + "\n";
        }
        io::write_file_atomic(run_path("metrics.jsonl"), kept);
    }

    [[noreturn]] void stop_nonfinite(const char* what, double value, int64_t step) {
        fail("training stopped at step ", step, ": the ", what, " is ", value, ". ",
             last_saved_step_ >= 0
                 ? str("The last good checkpoint is ", run_path("last"), " (step ", last_saved_step_, ")")
                 : str("No checkpoint had been saved yet"),
             "; lower the learning rate or enable gradient clipping, then resume or restart");
    }

    void write_plots() {
        io::write_file_atomic(run_path("loss.svg"),
                              svg_line_chart("Loss", "optimizer step", "loss",
                                             {{"train", history_.train_steps, history_.train_loss},
                                              {"dev", history_.eval_steps, history_.eval_loss}}));
        io::write_file_atomic(run_path("f1.svg"),
                              svg_line_chart("Dev F1", "optimizer step", "F1",
                                             {{"macro-F1", history_.eval_steps, history_.eval_macro_f1},
                                              {"micro-F1", history_.eval_steps, history_.eval_micro_f1}}));
    }

    using Mixed = nn::MixedPrecision<M>;

    Model& model_;
    std::unique_ptr<Mixed> mixed_;  // bf16: the model's bf16 copy (the model keeps the fp32 master weights)
    const text::WordPiece& tok_;
    const Dataset& train_;
    const Dataset& dev_;
    TrainerOptions opt_;
    std::vector<std::vector<int64_t>> train_ids_, dev_ids_;
    History history_;
    std::vector<double> thresholds_;
    int64_t last_saved_step_ = -1;  // step of run_dir/last, once this trainer has one
};

template <template <class> class M, class T>
Trainer(M<T>&, const text::WordPiece&, const Dataset&, const Dataset&, TrainerOptions) -> Trainer<T, M>;

}  // namespace temper::train
