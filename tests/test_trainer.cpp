// Trainer: resume continues bit-identically, checkpoints are loadable HF directories, metrics.jsonl and plots
// are written, a non-finite loss stops with the step number, an unwritable run directory fails up front.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "temper/temper.hpp"
#include "temper/text/text.hpp"
#include "temper/train/synthetic_emotions.hpp"
#include "temper/train/trainer.hpp"

using namespace temper;
namespace fs = std::filesystem;

namespace {

struct Setup {
    train::Splits split;
    text::WordPiece tok;
    models::DistilBertConfig cfg;
};

Setup make_setup() {
    train::Dataset all;
    all.label_names = train::synthetic_emotion_names();
    for (auto& ex : train::make_synthetic_emotions(240, 5)) {
        all.texts.push_back(ex.text);
        all.labels.push_back(ex.labels);
    }
    Setup s{train::split_dataset(all, {.train = 0.7, .dev = 0.15, .test = 0.15}, 5), text::WordPiece(), {}};
    s.tok = text::WordPiece::from_vocab(text::train_wordpiece(s.split.train.texts, {.vocab_size = 200, .min_frequency = 2}));
    s.cfg.vocab_size = int64_t(s.tok.vocab_size());
    s.cfg.dim = 16;
    s.cfg.n_layers = 1;
    s.cfg.n_heads = 2;
    s.cfg.hidden_dim = 32;
    s.cfg.max_position_embeddings = 48;
    s.cfg.labels = all.label_names;
    s.cfg.problem = models::Problem::MultiLabel;
    return s;
}

std::string tmp_dir(const std::string& name) {
    auto p = fs::temp_directory_path() / ("temper_trainer_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(p);
    return p.string();
}

std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream f(path);
    std::vector<std::string> out;
    for (std::string l; std::getline(f, l);) out.push_back(l);
    return out;
}

train::TrainerOptions base_options(const std::string& dir) {
    return {.run_dir = dir, .epochs = 2, .batch_size = 16, .grad_accum = 2, .max_length = 48, .lr = 3e-3,
            .warmup_ratio = 0.2, .eval_every = 3, .seed = 9, .progress = false};
}

}  // namespace

TEST_CASE("stop + resume gives the same losses, metrics and weights as one straight run") {
    Setup s = make_setup();
    auto straight = base_options(tmp_dir("straight"));
    models::DistilBertForSequenceClassification<float> a(s.cfg, 1);
    auto ra = train::Trainer<float>(a, s.tok, s.split.train, s.split.dev, straight).fit();
    CHECK(ra.steps == 2 * 6);  // 168 examples / 16 = 11 batches -> 6 optimizer steps per epoch

    auto part = base_options(tmp_dir("resumed"));
    part.stop_at_step = 4;  // between evaluations: the checkpoint is taken mid-epoch
    models::DistilBertForSequenceClassification<float> b(s.cfg, 1);
    auto rb = train::Trainer<float>(b, s.tok, s.split.train, s.split.dev, part).fit();
    CHECK(rb.interrupted);
    CHECK(rb.steps == 4);

    auto rest = base_options(part.run_dir);
    rest.resume = true;
    models::DistilBertForSequenceClassification<float> c(s.cfg, 77);  // different init: resume must overwrite it
    manual_seed(12345);                                              // and restore the dropout stream
    auto rc = train::Trainer<float>(c, s.tok, s.split.train, s.split.dev, rest).fit();
    CHECK(rc.steps == ra.steps);
    CHECK(rc.best_step == ra.best_step);
    CHECK(rc.best_macro_f1 == ra.best_macro_f1);
    auto la = lines_of(straight.run_dir + "/metrics.jsonl"), lc = lines_of(part.run_dir + "/metrics.jsonl");
    CHECK(la.size() == 12 + 4);  // a train line per step, an eval line every 3 steps
    CHECK(la == lc);
    auto pa = a.named_parameters(), pc = c.named_parameters();
    for (size_t i = 0; i < pa.size(); ++i) CHECK_MESSAGE(pa[i].second.to_vector() == pc[i].second.to_vector(), pa[i].first);
    fs::remove_all(straight.run_dir);
    fs::remove_all(part.run_dir);
}

TEST_CASE("run directory: best/ is an HF checkpoint with thresholds and vocab; plots and metrics written") {
    Setup s = make_setup();
    auto o = base_options(tmp_dir("layout"));
    models::DistilBertForSequenceClassification<float> m(s.cfg, 1);
    train::Trainer<float> t(m, s.tok, s.split.train, s.split.dev, o);
    auto r = t.fit();
    for (const char* f : {"metrics.jsonl", "loss.svg", "f1.svg", "best/config.json", "best/model.safetensors",
                          "best/vocab.txt", "best/tokenizer_config.json", "best/thresholds.json",
                          "last/optimizer.safetensors", "last/trainer_state.json"})
        CHECK_MESSAGE(fs::exists(fs::path(o.run_dir) / f), f);
    CHECK_FALSE(fs::exists(fs::path(o.run_dir) / "best.tmp"));
    auto loaded = models::DistilBertForSequenceClassification<float>::from_pretrained(o.run_dir + "/best", {.verbose = false});
    CHECK(loaded.config.labels == s.cfg.labels);
    CHECK(loaded.config.problem == models::Problem::MultiLabel);
    auto th = train::load_thresholds(o.run_dir + "/best/thresholds.json", s.cfg.labels);
    CHECK(th.values == r.thresholds);
    auto tok = text::WordPiece::from_vocab_file(o.run_dir + "/best/vocab.txt");
    CHECK(tok.vocab_size() == s.tok.vocab_size());
    // the reloaded best model scores exactly what the trainer reports for it
    auto e1 = t.evaluate(s.split.test);
    train::Trainer<float> t2(loaded, tok, s.split.train, s.split.dev, o);
    auto e2 = t2.evaluate(s.split.test, r.thresholds);
    CHECK(e1.loss == e2.loss);
    CHECK(e1.macro_f1() == e2.macro_f1());
    t.record_test(e1);
    CHECK(fs::exists(fs::path(o.run_dir) / "per_label_f1.svg"));
    auto lines = lines_of(o.run_dir + "/metrics.jsonl");
    CHECK(lines.back().find("\"type\":\"test\"") != std::string::npos);
    fs::remove_all(o.run_dir);
}

TEST_CASE("a non-finite loss stops training with the step number; bad run dirs fail before training") {
    Setup s = make_setup();
    auto o = base_options(tmp_dir("nan"));
    o.lr = 1e12;
    o.max_grad_norm = 0;  // no clipping: the weights blow up
    o.eval_every = 1;
    models::DistilBertForSequenceClassification<float> m(s.cfg, 1);
    CHECK_THROWS_WITH_AS(train::Trainer<float>(m, s.tok, s.split.train, s.split.dev, o).fit(),
                         doctest::Contains("training stopped at step"), Error);
    CHECK(fs::exists(fs::path(o.run_dir) / "last" / "model.safetensors"));  // the last good checkpoint stays
    fs::remove_all(o.run_dir);

    auto bad = base_options("/proc/version/run");  // under a file: cannot be created
    models::DistilBertForSequenceClassification<float> m2(s.cfg, 1);
    CHECK_THROWS_WITH_AS(train::Trainer<float>(m2, s.tok, s.split.train, s.split.dev, bad).fit(),
                         doctest::Contains("/proc/version/run"), Error);
    auto again = base_options(tmp_dir("noresume"));
    again.resume = true;
    CHECK_THROWS_WITH_AS(train::Trainer<float>(m2, s.tok, s.split.train, s.split.dev, again).fit(),
                         doctest::Contains("nothing to resume"), Error);
    fs::remove_all(again.run_dir);
}
