// Trainer: resume continues bit-identically, checkpoints are loadable HF directories, metrics.jsonl and plots
// are written, a non-finite loss or gradient stops with the step number and keeps the last good checkpoint, an
// unwritable run directory fails up front, and kill -9 during training never leaves a wrong checkpoint.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>

#include "temper/temper.hpp"
#include "temper/text/text.hpp"
#include "temper/train/synthetic_emotions.hpp"
#include "temper/train/train_step_graph.hpp"
#include "temper/train/trainer.hpp"

namespace test_trainer {  // this file's names apart from the others' (unity build, tests/CMakeLists.txt)

using namespace temper;
namespace fs = std::filesystem;

namespace {

// Sends stderr to a file until destroyed, then restores it (also when the code in between throws).
class StderrToFile {
public:
    explicit StderrToFile(const std::string& path) {
        std::fflush(stderr);
        saved_ = ::dup(STDERR_FILENO);
        REQUIRE(saved_ >= 0);
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) ::close(saved_);
        REQUIRE_MESSAGE(fd >= 0, "cannot write ", path);
        ::dup2(fd, STDERR_FILENO);
        ::close(fd);
    }
    ~StderrToFile() {
        std::fflush(stderr);
        ::dup2(saved_, STDERR_FILENO);
        ::close(saved_);
    }
    StderrToFile(const StderrToFile&) = delete;
    StderrToFile& operator=(const StderrToFile&) = delete;

private:
    int saved_ = -1;
};

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
    s.tok = text::WordPiece::from_vocab(
        text::train_wordpiece(s.split.train.texts, {.vocab_size = 200, .min_frequency = 2}));
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
    return {.run_dir = dir,
            .epochs = 2,
            .batch_size = 16,
            .grad_accum = 2,
            .max_length = 48,
            .lr = 3e-3,
            .warmup_ratio = 0.2,
            .eval_every = 3,
            .seed = 9,
            .progress = false};
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
    manual_seed(12345);                                               // and restore the dropout stream
    auto rc = train::Trainer<float>(c, s.tok, s.split.train, s.split.dev, rest).fit();
    CHECK(rc.steps == ra.steps);
    CHECK(rc.best_step == ra.best_step);
    CHECK(rc.best_macro_f1 == ra.best_macro_f1);
    // Training time: per completed epoch, carried over the stop (epoch 1 of the resumed run includes the
    // time before it), summing to the total once every epoch is done.
    CHECK(ra.epoch_seconds.size() == 2);
    CHECK(rb.epoch_seconds.empty());  // stopped in epoch 1
    CHECK(rb.train_seconds > 0);
    REQUIRE(rc.epoch_seconds.size() == 2);
    CHECK(rc.epoch_seconds[0] > rb.train_seconds);
    CHECK(rc.epoch_seconds[1] > 0);
    CHECK(rc.train_seconds == doctest::Approx(rc.epoch_seconds[0] + rc.epoch_seconds[1]).epsilon(1e-12));
    auto la = lines_of(straight.run_dir + "/metrics.jsonl"), lc = lines_of(part.run_dir + "/metrics.jsonl");
    CHECK(la.size() == 12 + 4);  // a train line per step, an eval line every 3 steps
    CHECK(la == lc);
    auto pa = a.named_parameters(), pc = c.named_parameters();
    for (size_t i = 0; i < pa.size(); ++i)
        CHECK_MESSAGE(pa[i].second.to_vector() == pc[i].second.to_vector(), pa[i].first);
    fs::remove_all(straight.run_dir);
    fs::remove_all(part.run_dir);
}

TEST_CASE("progress of a resumed run: its first step is shown, the ETA timed on its own steps") {
    // 5 steps took 10 s and 20 remain: 40 s; nothing run yet, or nothing left: 0.
    CHECK(train::Progress::eta_seconds(10, 5, 20) == 40);
    CHECK(train::Progress::eta_seconds(10, 0, 20) == 0);
    CHECK(train::Progress::eta_seconds(10, 5, 0) == 0);
    CHECK(train::Progress::format_time(3725) == "1h02m");
    CHECK(train::Progress::format_time(65) == "1m05s");

    Setup s = make_setup();
    auto part = base_options(tmp_dir("progress"));
    part.stop_at_step = 4;
    models::DistilBertForSequenceClassification<float> a(s.cfg, 1);
    train::Trainer<float>(a, s.tok, s.split.train, s.split.dev, part).fit();

    // The resumed run with its progress lines on, stderr (a file here, so plain lines) captured.
    auto rest = base_options(part.run_dir);
    rest.resume = true;
    rest.progress = true;
    const std::string log = part.run_dir + "/stderr.txt";
    train::TrainResult r;
    {
        StderrToFile capture(log);
        models::DistilBertForSequenceClassification<float> b(s.cfg, 1);
        r = train::Trainer<float>(b, s.tok, s.split.train, s.split.dev, rest).fit();
    }
    CHECK(r.steps == 12);
    std::vector<std::string> steps;
    for (auto& l : lines_of(log))
        if (l.rfind("step ", 0) == 0 && l.find("samples/s") != std::string::npos) steps.push_back(l);
    REQUIRE(steps.size() >= 2);
    CHECK(steps.front().rfind("step 5/12 ", 0) == 0);  // the first step after the stop, not step 1's rule
    CHECK(steps.back().rfind("step 12/12 ", 0) == 0);
    CHECK(steps.back().find("ETA 0m00s") != std::string::npos);
    fs::remove_all(part.run_dir);
}

TEST_CASE("run directory: best/ is an HF checkpoint with thresholds and vocab; plots and metrics written") {
    Setup s = make_setup();
    auto o = base_options(tmp_dir("layout"));
    models::DistilBertForSequenceClassification<float> m(s.cfg, 1);
    train::Trainer<float> t(m, s.tok, s.split.train, s.split.dev, o);
    auto r = t.fit();
    for (const char* f : {"metrics.jsonl", "loss.svg", "f1.svg", "best/config.json", "best/model.safetensors",
                          "best/vocab.txt", "best/tokenizer.json", "best/tokenizer_config.json", "best/thresholds.json",
                          "last/optimizer.safetensors", "last/trainer_state.json"})
        CHECK_MESSAGE(fs::exists(fs::path(o.run_dir) / f), f);
    CHECK_FALSE(fs::exists(fs::path(o.run_dir) / "best.tmp"));
    auto loaded =
        models::DistilBertForSequenceClassification<float>::from_pretrained(o.run_dir + "/best", {.verbose = false});
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

TEST_CASE("checkpoints keep the tokenizer's settings: a cased tokenizer is saved cased") {
    Setup s = make_setup();
    text::VocabOptions cased;
    cased.normalizer.lowercase = false;
    cased.normalizer.strip_accents = false;
    std::vector<std::string> vocab;
    for (size_t i = 0; i < s.tok.vocab_size(); ++i) vocab.push_back(s.tok.id_to_token(int64_t(i)));
    vocab.push_back("Joy");  // a token only a cased tokenizer produces
    const auto tok = text::WordPiece::from_vocab(vocab, cased);
    s.cfg.vocab_size = int64_t(tok.vocab_size());
    auto o = base_options(tmp_dir("cased"));
    o.epochs = 1;
    o.max_steps = 1;
    o.tune_thresholds = false;
    models::DistilBertForSequenceClassification<float> m(s.cfg, 1);
    train::Trainer<float>(m, tok, s.split.train, s.split.dev, o).fit();
    for (const char* dir : {"/best", "/last"}) {
        std::ifstream f(o.run_dir + dir + "/tokenizer_config.json");
        const auto cfg = nlohmann::json::parse(f);
        CHECK(cfg.at("do_lower_case") == false);
        CHECK(cfg.at("strip_accents") == false);
        CHECK(cfg.at("tokenizer_class") == "DistilBertTokenizer");
        CHECK(cfg.at("model_max_length") == s.cfg.max_position_embeddings);
        const auto back = text::WordPiece::from_pretrained(o.run_dir + dir);
        CHECK(back.tokenize("Joy") == std::vector<std::string>{"Joy"});
        CHECK(back.encode("Joy and joy").ids == tok.encode("Joy and joy").ids);
    }
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
    fs::remove_all(o.run_dir);

    auto bad = base_options("/proc/version/run");  // under a file: cannot be created
    models::DistilBertForSequenceClassification<float> m2(s.cfg, 1);
    CHECK_THROWS_WITH_AS(train::Trainer<float>(m2, s.tok, s.split.train, s.split.dev, bad).fit(),
                         doctest::Contains("/proc/version/run"), Error);
    // A directory that exists but cannot be written (even by root).
    CHECK_THROWS_WITH_AS(train::Trainer<float>(m2, s.tok, s.split.train, s.split.dev, base_options("/proc")).fit(),
                         doctest::Contains("/proc: the run directory is not writable"), Error);
    auto again = base_options(tmp_dir("noresume"));
    again.resume = true;
    CHECK_THROWS_WITH_AS(train::Trainer<float>(m2, s.tok, s.split.train, s.split.dev, again).fit(),
                         doctest::Contains("nothing to resume"), Error);
    // A corrupt trainer_state.json is an error naming it (nlohmann's own exceptions used to escape).
    again.resume = false;
    again.stop_at_step = 1;
    train::Trainer<float>(m2, s.tok, s.split.train, s.split.dev, again).fit();
    const std::string state = again.run_dir + "/last/trainer_state.json";
    auto j = nlohmann::json::parse(io::read_text_file(state));
    j["history"]["eval_loss"] = "lots";
    io::write_file_atomic(state, j.dump());
    again.resume = true;
    again.stop_at_step = 0;
    CHECK_THROWS_WITH_AS(train::Trainer<float>(m2, s.tok, s.split.train, s.split.dev, again).fit(),
                         doctest::Contains((state + ": field 'history': expected").c_str()), Error);
    fs::remove_all(again.run_dir);
}

TEST_CASE("too little free space for the checkpoints is an error naming the directory and the sizes") {
    const std::string dir = tmp_dir("space");
    fs::create_directories(dir);
    CHECK_NOTHROW(io::require_free_space(dir, 1, "checkpoints"));
    CHECK_THROWS_WITH_AS(io::require_free_space(dir, uint64_t(1) << 62, "checkpoints (best/ and last/)"),
                         doctest::Contains((dir + ": checkpoints (best/ and last/) need about 4398046511104 MiB, but "
                                                  "only")
                                               .c_str()),
                         Error);
    fs::remove_all(dir);
}

namespace {

// Weights whose forward pass is finite but whose gradient overflows: pre_classifier's output is a tiny
// constant, the classifier multiplies it by -1e37 (logits about -16), and pos_weight 1e6 makes dL/dlogits
// about -1e4, so dL/dh = W^T dL/dlogits is about 1e41: Inf in float, NaN further down.
void make_gradient_overflow(models::DistilBertForSequenceClassification<float>& m) {
    std::fill_n(m.pre_classifier.weight.data(), m.pre_classifier.weight.numel(), 0.0f);
    std::fill_n(m.pre_classifier.bias.data(), m.pre_classifier.bias.numel(), 1e-37f);
    std::fill_n(m.classifier.weight.data(), m.classifier.weight.numel(), -1e37f);
}

}  // namespace

TEST_CASE("NaN/Inf gradients with a finite loss stop at that step, with or without clipping") {
    Setup s = make_setup();
    for (double clip : {0.0, 1.0}) {
        auto o = base_options(tmp_dir("nangrad"));
        o.max_grad_norm = clip;
        o.pos_weight.assign(s.cfg.labels.size(), 1e6);
        models::DistilBertForSequenceClassification<float> m(s.cfg, 1);
        make_gradient_overflow(m);
        std::string msg;
        try {
            train::Trainer<float>(m, s.tok, s.split.train, s.split.dev, o).fit();
        } catch (const Error& e) {
            msg = e.what();
        }
        CHECK_MESSAGE(msg.find("training stopped at step 1: the gradient norm is") == 0, msg);
        CHECK_MESSAGE(msg.find("No checkpoint had been saved yet") != std::string::npos, msg);
        for (const auto& named : m.named_parameters())  // stopped before opt.step() wrote the NaNs into the weights
            for (float v : named.second.to_vector()) REQUIRE_MESSAGE(std::isfinite(v), named.first);
        fs::remove_all(o.run_dir);
    }
}

TEST_CASE("a NaN stop keeps the last good checkpoint as it was and names its step") {
    Setup s = make_setup();
    auto o = base_options(tmp_dir("nankeep"));
    o.eval_every = 1;
    o.stop_at_step = 2;
    models::DistilBertForSequenceClassification<float> m(s.cfg, 1);
    CHECK(train::Trainer<float>(m, s.tok, s.split.train, s.split.dev, o).fit().interrupted);
    // Make step 3 overflow: weights that do so go into last/, as if training had drifted there.
    auto last = io::Checkpoint::open(o.run_dir + "/last");
    models::DistilBertForSequenceClassification<float> bad(s.cfg, 1);
    io::load_into<float>(bad, last, {});
    make_gradient_overflow(bad);
    bad.save_pretrained(o.run_dir + "/last");
    const auto before = io::read_file(o.run_dir + "/last/model.safetensors");
    const auto state = io::read_file(o.run_dir + "/last/trainer_state.json");

    o.resume = true;
    o.stop_at_step = 0;
    o.pos_weight.assign(s.cfg.labels.size(), 1e6);
    models::DistilBertForSequenceClassification<float> m2(s.cfg, 5);
    std::string msg;
    try {
        train::Trainer<float>(m2, s.tok, s.split.train, s.split.dev, o).fit();
    } catch (const Error& e) {
        msg = e.what();
    }
    CHECK_MESSAGE(msg.find("training stopped at step 3: the gradient norm is") == 0, msg);
    CHECK_MESSAGE(msg.find("The last good checkpoint is " + o.run_dir + "/last (step 2)") != std::string::npos, msg);
    CHECK(io::read_file(o.run_dir + "/last/model.safetensors") == before);
    CHECK(io::read_file(o.run_dir + "/last/trainer_state.json") == state);
    fs::remove_all(o.run_dir);
}

namespace {

// Reads the "eval" lines of metrics.jsonl: step -> dev loss.
std::map<int64_t, double> eval_losses(const std::string& run_dir) {
    std::map<int64_t, double> out;
    for (const auto& line : lines_of(run_dir + "/metrics.jsonl")) {
        auto j = nlohmann::json::parse(line);
        if (j["type"] == "eval") out[j["step"].get<int64_t>()] = j["loss"].get<double>();
    }
    return out;
}

}  // namespace

TEST_CASE("kill -9 at random times during training never leaves a checkpoint that loads but is wrong") {
    Setup s = make_setup();
    auto o = base_options(tmp_dir("kill_ref"));
    o.eval_every = 1;  // checkpoints (last/, often best/) after every optimizer step: kills often land in a write
    o.epochs = 3;
    models::DistilBertForSequenceClassification<float> ref(s.cfg, 1);
    const auto t0 = std::chrono::steady_clock::now();
    train::Trainer<float>(ref, s.tok, s.split.train, s.split.dev, o).fit();
    const double run_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    const std::map<int64_t, double> ref_losses = eval_losses(o.run_dir);
    REQUIRE(ref_losses.size() == 18);

    // A checkpoint directory that exists must load, and be the state of one step: its weights give exactly
    // the dev loss the uninterrupted run logged at that step, and (last/) its optimizer state has that step.
    auto verify = [&](const std::string& dir, bool is_last) {
        auto loaded = models::DistilBertForSequenceClassification<float>::from_pretrained(dir, {.verbose = false});
        train::Trainer<float> t(loaded, s.tok, s.split.train, s.split.dev, o);
        const double loss = t.evaluate(s.split.dev).loss;
        (void)train::load_thresholds(dir + "/thresholds.json", s.cfg.labels);
        if (!is_last) {
            bool found = false;
            for (const auto& [step, l] : ref_losses) found = found || l == loss;
            CHECK_MESSAGE(found, dir, ": dev loss ", loss, " is the loss of no step of the uninterrupted run");
            return;
        }
        const auto state = nlohmann::json::parse(io::read_text_file(dir + "/trainer_state.json"));
        const int64_t step = state["step"].get<int64_t>();
        REQUIRE(ref_losses.count(step));
        CHECK_MESSAGE(loss == ref_losses.at(step), dir, " at step ", step);
        const auto opt_state = io::SafeTensors::open(dir + "/optimizer.safetensors");
        CHECK(opt_state.read_as<int64_t>("state.0.step") == std::vector<int64_t>{step});
    };

    auto k = o;
    k.run_dir = tmp_dir("kill");
    uint64_t state = 12345;  // delays from a fixed LCG: the same schedule each run (what it hits still varies)
    int in_write = 0;
    for (int round = 0; round < 12; ++round) {
        const fs::path dir(k.run_dir);
        k.resume = fs::exists(dir / "last") || fs::exists(dir / "last.old");
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        const auto delay = useconds_t(double(state >> 11) / double(1ull << 53) * 0.5 * run_us);
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {  // the child trains until it is killed; _exit skips the test framework's teardown
            try {
                models::DistilBertForSequenceClassification<float> m(s.cfg, 1);
                train::Trainer<float>(m, s.tok, s.split.train, s.split.dev, k).fit();
                ::_exit(0);
            } catch (...) {
                ::_exit(1);
            }
        }
        ::usleep(delay);
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        CHECK((WIFSIGNALED(status) || WEXITSTATUS(status) == 0));  // killed, or finished first: never a failure
        in_write += fs::exists(dir / "last.tmp") || fs::exists(dir / "best.tmp") || fs::exists(dir / "last.old");
        // A crash between the renames leaves only last.old (the previous checkpoint), which the next start restores.
        for (const char* name : {"best", "last"}) {
            const fs::path d = fs::exists(dir / name) ? dir / name : dir / (std::string(name) + ".old");
            if (fs::exists(d)) verify(d.string(), std::string(name) == "last");
        }
    }
    MESSAGE(in_write, " of 12 kills landed while a checkpoint was being written");

    // Resuming from whatever the kills left finishes exactly like the uninterrupted run.
    k.resume = fs::exists(fs::path(k.run_dir) / "last") || fs::exists(fs::path(k.run_dir) / "last.old");
    models::DistilBertForSequenceClassification<float> fin(s.cfg, 1);
    train::Trainer<float>(fin, s.tok, s.split.train, s.split.dev, k).fit();
    CHECK(eval_losses(k.run_dir) == ref_losses);
    auto pa = ref.named_parameters(), pb = fin.named_parameters();
    for (size_t i = 0; i < pa.size(); ++i)
        CHECK_MESSAGE(pa[i].second.to_vector() == pb[i].second.to_vector(), pa[i].first);
    for (const char* left : {"best.tmp", "best.old", "last.tmp", "last.old"})
        CHECK_FALSE(fs::exists(fs::path(k.run_dir) / left));
    fs::remove_all(o.run_dir);
    fs::remove_all(k.run_dir);
}

TEST_CASE("TrainStepGraph on the CPU: the same steps as a hand-written loop, bit for bit; shape errors") {
    using Model = models::DistilBertForSequenceClassification<float>;
    models::DistilBertConfig c;
    c.vocab_size = 60;
    c.dim = 16;
    c.n_layers = 2;
    c.n_heads = 2;
    c.hidden_dim = 24;
    c.max_position_embeddings = 16;
    c.problem = models::Problem::MultiLabel;
    c.set_num_labels(4);
    Model ma(c, 3), mb(c, 3);
    optim::AdamW<float> oa(optim::decay_param_groups(ma.named_parameters(), 0.01), {.lr = 1e-2});
    optim::AdamW<float> ob(optim::decay_param_groups(mb.named_parameters(), 0.01), {.lr = 1e-2});
    auto pos_weight = Tensor<float>::from_vector({1, 2, 0.5, 1}, {4});
    train::TrainStepGraph<Model> graph(mb, ob, 2, 6, {.max_grad_norm = 0.5}, pos_weight);
    Generator data(1);
    std::vector<float> la, lb;
    for (int step = 0; step < 4; ++step) {
        std::vector<int64_t> v(12);
        for (auto& x : v) x = int64_t(data.uniform() * 59);
        auto ids = Tensor<int64_t>::from_vector(v, {2, 6});
        auto mask = Tensor<int64_t>::from_vector({1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}, {2, 6});
        auto targets = Tensor<float>::from_vector({1, 0, 0, 1, 0, 1, 1, 0}, {2, 4});
        const double lr = 1e-2 * (1.0 - 0.2 * step);  // a schedule
        oa.set_lr(lr);
        ob.set_lr(lr);
        manual_seed(100);  // dropout draws: both runs start each step from the same generator state
        Tensor<float> loss = ma.loss(ma(ids, mask), targets, pos_weight);
        loss.backward();
        const double norm = optim::clip_grad_norm(ma.parameters(), 0.5);
        oa.step();
        oa.zero_grad();
        la.push_back(loss.item());
        manual_seed(100);
        lb.push_back(graph(ids, mask, targets).item());
        CHECK(graph.grad_norm().item() == norm);
    }
    CHECK(la == lb);
    CHECK(graph.steps() == 4);
    auto pa = ma.parameters(), pb = mb.parameters();
    for (size_t i = 0; i < pa.size(); ++i) CHECK(pa[i].to_vector() == pb[i].to_vector());
    CHECK_THROWS_WITH_AS(graph(Tensor<int64_t>::zeros({2, 7}), {}, Tensor<float>::zeros({2, 4})),
                         doctest::Contains("expected [2, 6]"), Error);
    CHECK_THROWS_WITH_AS(graph(Tensor<int64_t>::zeros({2, 6}), {}, Tensor<float>::zeros({2, 3})),
                         doctest::Contains("as in the first step"), Error);
    // a gradient left over from another backward would be silently dropped by a replayed step
    mb.loss(mb(Tensor<int64_t>::zeros({2, 6})), Tensor<float>::zeros({2, 4})).backward();
    CHECK_THROWS_WITH_AS(graph(Tensor<int64_t>::zeros({2, 6}), {}, Tensor<float>::zeros({2, 4})),
                         doctest::Contains("has a gradient before the step"), Error);
    ob.zero_grad();
    CHECK_NOTHROW(graph(Tensor<int64_t>::zeros({2, 6}), {}, Tensor<float>::zeros({2, 4})));
}

TEST_CASE(
    "Trainer with cuda_graph: fixed-shape steps through TrainStepGraph (eager on the CPU), short last batch "
    "eagerly; option errors") {
    Setup s = make_setup();
    models::DistilBertForSequenceClassification<float> model(s.cfg, 9);
    auto o = base_options(tmp_dir("graph"));
    o.grad_accum = 1;
    o.batch_size = 16;
    o.cuda_graph = true;
    o.max_length = 24;
    o.eval_every = 0;
    train::Trainer<float> tr(model, s.tok, s.split.train, s.split.dev, o);
    const int64_t n = int64_t(s.split.train.size());
    REQUIRE(n % 16 != 0);  // a short last batch, which runs eagerly
    const train::TrainResult r = tr.fit();
    CHECK(r.steps == 2 * ((n + 15) / 16));
    CHECK(r.best_step > 0);
    CHECK(std::isfinite(r.best_macro_f1));
    std::vector<double> losses;
    for (const auto& line : lines_of(o.run_dir + "/metrics.jsonl")) {
        auto j = nlohmann::json::parse(line);
        if (j["type"] == "train") losses.push_back(j["loss"].get<double>());
    }
    REQUIRE(losses.size() == size_t(r.steps));
    for (double l : losses) CHECK(std::isfinite(l));
    CHECK(losses.back() < losses.front());  // it trains
    fs::remove_all(o.run_dir);

    auto bad = base_options(tmp_dir("graph_bad"));
    bad.cuda_graph = true;  // base_options has grad_accum 2
    CHECK_THROWS_WITH_AS(train::Trainer<float>(model, s.tok, s.split.train, s.split.dev, bad),
                         doctest::Contains("cuda_graph needs a multi-label task and grad_accum 1"), Error);
}

TEST_CASE("Trainer with bf16 mixed precision: trains close to fp32, fp32 checkpoints, resume is exact") {
    Setup s = make_setup();
    auto fp32 = base_options(tmp_dir("fp32"));
    models::DistilBertForSequenceClassification<float> a(s.cfg, 1);
    train::Trainer<float> ta(a, s.tok, s.split.train, s.split.dev, fp32);
    const train::TrainResult ra = ta.fit();

    auto straight = base_options(tmp_dir("bf16"));
    straight.bf16 = true;
    models::DistilBertForSequenceClassification<float> b(s.cfg, 1);
    train::Trainer<float> tb(b, s.tok, s.split.train, s.split.dev, straight);
    const train::TrainResult rb = tb.fit();
    CHECK(rb.steps == ra.steps);
    auto train_losses = [](const std::string& dir) {
        std::vector<double> v;
        for (const auto& line : lines_of(dir + "/metrics.jsonl")) {
            auto j = nlohmann::json::parse(line);
            if (j["type"] == "train") v.push_back(j["loss"].get<double>());
        }
        return v;
    };
    const std::vector<double> la = train_losses(fp32.run_dir), lb = train_losses(straight.run_dir);
    REQUIRE(la.size() == lb.size());
    double worst = 0;
    for (size_t i = 0; i < la.size(); ++i) worst = std::max(worst, std::abs(lb[i] - la[i]) / la[i]);
    const double dev_a = ta.evaluate(s.split.dev).loss, dev_b = tb.evaluate(s.split.dev).loss;
    MESSAGE("bf16 vs fp32 training (" << la.size() << " steps): worst relative train-loss difference " << worst
                                      << "; dev loss of the best models " << dev_b << " vs " << dev_a);
    CHECK(worst <= 5e-2);
    CHECK(worst > 0);  // the bf16 copy did run: fp32 alone would repeat the losses exactly
    CHECK(lb.back() < lb.front());
    CHECK(std::abs(dev_b - dev_a) / dev_a <= 5e-2);

    // best/ holds fp32 weights (the master), which load into a plain float model.
    auto loaded = models::DistilBertForSequenceClassification<float>::from_pretrained(straight.run_dir + "/best",
                                                                                      {.verbose = false});
    auto pb = b.named_parameters(), pl = loaded.named_parameters();
    bool some_not_bf16 = false;  // fp32 master weights: not all representable in bf16
    for (size_t i = 0; i < pb.size(); ++i) {
        CHECK_MESSAGE(pb[i].second.to_vector() == pl[i].second.to_vector(), pb[i].first);
        for (float v : pl[i].second.to_vector()) some_not_bf16 |= float(bf16(v)) != v;
    }
    CHECK(some_not_bf16);

    // Stop + resume: the bf16 copy is rebuilt from the restored master weights, so nothing differs.
    auto part = base_options(tmp_dir("bf16_part"));
    part.bf16 = true;
    part.stop_at_step = 4;
    models::DistilBertForSequenceClassification<float> c(s.cfg, 1);
    CHECK(train::Trainer<float>(c, s.tok, s.split.train, s.split.dev, part).fit().interrupted);
    auto rest = part;
    rest.stop_at_step = 0;
    rest.resume = true;
    models::DistilBertForSequenceClassification<float> d(s.cfg, 77);
    manual_seed(12345);
    const train::TrainResult rd = train::Trainer<float>(d, s.tok, s.split.train, s.split.dev, rest).fit();
    CHECK(rd.steps == rb.steps);
    CHECK(rd.best_macro_f1 == rb.best_macro_f1);
    CHECK(lines_of(straight.run_dir + "/metrics.jsonl") == lines_of(part.run_dir + "/metrics.jsonl"));
    auto pd = d.named_parameters();
    for (size_t i = 0; i < pb.size(); ++i)
        CHECK_MESSAGE(pb[i].second.to_vector() == pd[i].second.to_vector(), pb[i].first);

    auto bad = base_options(tmp_dir("bf16_bad"));
    bad.bf16 = true;
    bad.cuda_graph = true;
    bad.grad_accum = 1;
    CHECK_THROWS_WITH_AS(train::Trainer<float>(b, s.tok, s.split.train, s.split.dev, bad),
                         doctest::Contains("bf16 and cuda_graph cannot be combined"), Error);
    for (const auto& dir : {fp32.run_dir, straight.run_dir, part.run_dir}) fs::remove_all(dir);
}

}  // namespace test_trainer
