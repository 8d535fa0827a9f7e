// train::TrainStep against the loop it replaces, and the small helpers around a step: model_inputs,
// probabilities, cpu::parallel_for, and the "no CUDA backend" error of a CPU-only build.
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "temper/cpu/parallel.hpp"
#include "temper/temper.hpp"
#include "temper/train/train_step.hpp"

namespace test_train_step {  // this file's names apart from the others' (unity build, tests/CMakeLists.txt)

using namespace temper;
using Classifier64 = models::DistilBertForSequenceClassification<double>;

namespace {

models::DistilBertConfig tiny(models::Problem problem) {
    models::DistilBertConfig c;
    c.vocab_size = 40, c.dim = 8, c.n_layers = 2, c.n_heads = 2, c.hidden_dim = 16, c.max_position_embeddings = 16;
    c.labels = {"a", "b", "c"};
    c.problem = problem;
    return c;
}

struct Batch {
    Tensor<int64_t> ids, mask;
    Tensor<double> multi_hot;
    Tensor<int64_t> classes;
};

// Three rows of different lengths (padding in the mask), fixed per step number.
Batch batch(int step) {
    std::vector<int64_t> ids(3 * 6), mask(3 * 6, 0);
    for (int b = 0; b < 3; ++b)
        for (int s = 0; s < 4 + b % 3; ++s) ids[b * 6 + s] = 1 + (7 * b + 5 * s + 3 * step) % 39, mask[b * 6 + s] = 1;
    std::vector<double> hot(9, 0.0);
    std::vector<int64_t> cls(3);
    for (int b = 0; b < 3; ++b) hot[b * 3 + (b + step) % 3] = 1.0, cls[b] = (2 * b + step) % 3;
    return {Tensor<int64_t>::from_vector(ids, {3, 6}), Tensor<int64_t>::from_vector(mask, {3, 6}),
            Tensor<double>::from_vector(hot, {3, 3}), Tensor<int64_t>::from_vector(cls, {3})};
}

std::vector<double> weights(Classifier64& m) {
    std::vector<double> w;
    for (const auto& p : m.parameters())
        for (double x : p.to_vector()) w.push_back(x);
    return w;
}

}  // namespace

TEST_CASE("TrainStep is the hand-written loop: forward, model.loss, backward, clip, AdamW, schedule") {
    for (auto problem : {models::Problem::MultiLabel, models::Problem::SingleLabel}) {
        CAPTURE(models::problem_type_name(problem));
        Classifier64 by_hand(tiny(problem), 3), stepped(tiny(problem), 3);
        auto groups = [](Classifier64& m) { return optim::decay_param_groups(m.named_parameters(), 0.01); };
        optim::AdamW<double> opt_a(groups(by_hand), {.lr = 1e-2}), opt_b(groups(stepped), {.lr = 1e-2});
        optim::LinearWarmupDecay sched_a(opt_a, 2, 6), sched_b(opt_b, 2, 6);
        train::TrainStep step(stepped, opt_b, {.max_grad_norm = 0.05}, &sched_b);
        std::vector<double> norms_a, norms_b;
        for (int k = 0; k < 5; ++k) {
            const Batch x = batch(k);
            manual_seed(100 + k);  // dropout draws the same positions in both
            Tensor<double> logits = by_hand(x.ids, x.mask);
            Tensor<double> loss = problem == models::Problem::MultiLabel ? by_hand.loss(logits, x.multi_hot)
                                                                         : by_hand.loss(logits, x.classes);
            const double loss_a = loss.item();
            loss.backward();
            norms_a.push_back(optim::clip_grad_norm(by_hand.parameters(), 0.05));
            opt_a.step();
            opt_a.zero_grad();
            sched_a.step();

            manual_seed(100 + k);
            const auto r = problem == models::Problem::MultiLabel ? step(x.ids, x.mask, x.multi_hot)
                                                                  : step(x.ids, x.mask, x.classes);
            CHECK(r.stepped);
            CHECK(r.loss.item() == loss_a);
            norms_b.push_back(r.grad_norm.item());
        }
        CHECK(norms_a == norms_b);
        CHECK(norms_a[0] > 0.05);  // clipping was active, so the comparison covers it
        CHECK(step.steps() == 5);
        CHECK(opt_a.lr(0) == opt_b.lr(0));
        CHECK(weights(by_hand) == weights(stepped));
        for (const auto& p : stepped.parameters()) CHECK_FALSE(p.grad().defined());  // zero_grad'ed
    }
}

TEST_CASE("TrainStep accumulates micro-batches: scaled losses, one optimizer step at finish") {
    Classifier64 whole(tiny(models::Problem::MultiLabel), 4), parts(tiny(models::Problem::MultiLabel), 4);
    whole.eval(), parts.eval();  // no dropout: one batch of 3 and micro-batches of 2 + 1 see the same model
    optim::AdamW<double> opt_a(whole.parameters(), {.lr = 1e-2}), opt_b(parts.parameters(), {.lr = 1e-2});
    train::TrainStep step_a(whole, opt_a), step_b(parts, opt_b);
    const Batch x = batch(0);
    step_a(x.ids, x.mask, x.multi_hot);
    auto rows = [&](const auto& t, int64_t lo, int64_t hi) { return slice(t, 0, lo, hi).contiguous(); };
    const auto first = step_b(rows(x.ids, 0, 2), rows(x.mask, 0, 2), rows(x.multi_hot, 0, 2), 2.0 / 3.0, false);
    CHECK_FALSE(first.stepped);
    CHECK_FALSE(first.grad_norm.defined());
    CHECK(step_b.steps() == 0);
    const auto last = step_b(rows(x.ids, 2, 3), rows(x.mask, 2, 3), rows(x.multi_hot, 2, 3), 1.0 / 3.0, true);
    CHECK(last.stepped);
    CHECK(step_b.steps() == 1);
    // The mean over 3 rows is 2/3 of the first micro-batch's mean plus 1/3 of the second's: equal up to rounding.
    const auto a = weights(whole), b = weights(parts);
    double diff = 0, norm = 0;
    for (size_t i = 0; i < a.size(); ++i) diff += (a[i] - b[i]) * (a[i] - b[i]), norm += a[i] * a[i];
    CHECK(std::sqrt(diff / norm) < 1e-14);
}

TEST_CASE("TrainStep stops a non-finite step before AdamW writes it into the weights") {
    Classifier64 m(tiny(models::Problem::MultiLabel), 5);
    optim::AdamW<double> opt(m.parameters(), {.lr = 1e-2});
    train::TrainStep step(m, opt);
    const Batch x = batch(1);
    Tensor<double> bad = x.multi_hot.clone();
    bad.data()[0] = NAN;  // a NaN target makes the loss NaN
    const auto before = weights(m);
    try {
        step(x.ids, x.mask, bad);
        FAIL("expected NonFiniteError");
    } catch (const train::NonFiniteError& e) {
        CHECK(std::string(e.what) == "loss");
        CHECK(std::isnan(e.value));
        CHECK_FALSE(e.applied);
    }
    CHECK(weights(m) == before);
    CHECK(step.steps() == 0);
    CHECK_THROWS_WITH_AS(train::TrainStep(m, opt, {.max_grad_norm = -1}), doctest::Contains("max_grad_norm"), Error);
}

TEST_CASE("model_inputs: a tokenizer batch as the model's [batch, seq_len] tensors") {
    const auto tok = text::WordPiece::from_vocab({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "so", "happy", "sad"});
    const std::vector<std::string> texts = {"so happy", "sad"};
    const auto padded = tok.encode_batch(texts, {.padding = text::Padding::Longest});
    const text::ModelInputs in = text::model_inputs(padded);
    CHECK(in.input_ids.shape() == Shape{2, 4});
    CHECK(in.input_ids.to_vector() == padded.input_ids);
    CHECK(in.attention_mask.to_vector() == std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 0});
    CHECK(in.input_ids.device() == Device::cpu());
    const auto ragged = tok.encode_batch(texts, {.padding = text::Padding::None});
    CHECK_THROWS_WITH_AS(text::model_inputs(ragged),
                         doctest::Contains("sequences have different lengths; encode with padding"), Error);
    CHECK_THROWS_WITH_AS(text::model_inputs(text::BatchEncoding{}), doctest::Contains("the batch is empty"), Error);
}

TEST_CASE("probabilities: a sigmoid per label, or a softmax over the labels, without overflow") {
    const auto logits = Tensor<float>::from_vector({0.f, 2.f, -3.f, 1000.f, 0.f, -1000.f}, {2, 3});
    const auto sig = models::probabilities(logits, models::Problem::MultiLabel);
    REQUIRE(sig.size() == 2);
    CHECK(sig[0][0] == 0.5);
    CHECK(sig[0][1] == doctest::Approx(1 / (1 + std::exp(-2.0))).epsilon(1e-15));
    CHECK(sig[1] == std::vector<double>{1.0, 0.5, 0.0});
    const auto soft = models::probabilities(logits, models::Problem::SingleLabel);
    const double z = 1 + std::exp(2.0) + std::exp(-3.0);
    CHECK(soft[0][0] == doctest::Approx(1 / z).epsilon(1e-15));
    CHECK(soft[0][1] == doctest::Approx(std::exp(2.0) / z).epsilon(1e-15));
    CHECK(soft[1] == std::vector<double>{1.0, 0.0, 0.0});  // exp(1000) would overflow without the max shift
    CHECK_THROWS_WITH_AS(models::probabilities(Tensor<float>::zeros({3}), models::Problem::MultiLabel),
                         doctest::Contains("expected [N, num_labels] logits, got shape [3]"), Error);
}

TEST_CASE("parallel_for visits every index once and hands an exception back to the caller") {
    for (int64_t threads : {0, 1, 2, 3}) {
        CAPTURE(threads);
        std::vector<std::atomic<int>> seen(1000);
        cpu::parallel_for(
            1000, 1 << 10, [&](int64_t i) { seen[size_t(i)]++; }, threads);
        int ok = 0;
        for (auto& s : seen) ok += s.load() == 1;
        CHECK(ok == 1000);
        CHECK_THROWS_WITH_AS(cpu::parallel_for(
                                 1000, 1 << 10,
                                 [](int64_t i) {
                                     if (i == 777) throw std::runtime_error("row 777 is bad");
                                 },
                                 threads),
                             "row 777 is bad", std::runtime_error);
    }
}

#if !defined(TEMPER_WITH_CUDA)
TEST_CASE("without the CUDA backend, anything that needs a GPU says so") {
    CHECK(cuda::device_count() == 0);
    CHECK(Device::best() == Device::cpu());
    const auto x = Tensor<float>::ones({2, 2});
    CHECK_THROWS_WITH_AS(x.to(Device::cuda()), doctest::Contains("this build of temper has no CUDA backend"), Error);
    Classifier64 m(tiny(models::Problem::MultiLabel), 1);
    CHECK_THROWS_WITH_AS(m.to(Device::cuda()), doctest::Contains("no CUDA backend"), Error);
}
#endif

}  // namespace test_train_step
