// A consumer of temper: tokenizes with a small vocabulary, builds a tiny DistilBERT from a config.json, runs
// a forward pass, trains a few steps, and saves and reloads the model. Exit code 0 only when every result is
// as expected, so the ctest that builds this program also checks that the installed or fetched temper works.
//   consumer <fixtures>  <out-dir>     fixtures: tests/fixtures/examples (tiny_config.json, vocab.txt)
#include <temper/temper.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

using namespace temper;

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
    std::printf("%s: %s\n", ok ? "ok" : "FAILED", what.c_str());
    if (!ok) ++failures;
}

bool all_finite(const std::vector<float>& v) {
    for (float x : v)
        if (!std::isfinite(x)) return false;
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s <fixtures dir with tiny_config.json and vocab.txt> <output dir>\n", argv[0]);
        return 2;
    }
    const std::string fixtures = argv[1], out = argv[2];
    try {
        auto tok = text::WordPiece::from_vocab_file(fixtures + "/vocab.txt");
        auto cfg = models::DistilBertConfig::load(fixtures + "/tiny_config.json");
        cfg.labels = {"joy", "fear", "anger"};
        cfg.problem = models::Problem::MultiLabel;
        models::DistilBertForSequenceClassification<float> model(cfg, /*seed=*/7);

        const std::vector<std::string> texts = {"I am so happy today!", "this is scary", "why would you do that"};
        auto batch = tok.encode_batch(texts, {.max_length = 32, .padding = text::Padding::Longest});
        const int64_t B = int64_t(batch.batch), S = int64_t(batch.seq_len);
        auto ids = Tensor<int64_t>::from_vector(batch.input_ids, {B, S});
        auto mask = Tensor<int64_t>::from_vector(batch.attention_mask, {B, S});
        expect(B == 3 && S > 4 && batch.input_ids[0] == *tok.token_to_id("[CLS]"), "tokenized into [3, S] with [CLS] first");

        // Forward in eval mode: [B, num_labels], finite.
        model.eval();
        std::vector<float> before;
        {
            NoGradGuard no_grad;
            auto logits = model(ids, mask);
            expect(logits.shape() == Shape{3, 3}, "logits have shape [3, 3]");
            before = logits.to_vector();
            expect(all_finite(before), "logits are finite");
        }

        // AdamW steps on one batch: the loss (measured without dropout) goes down.
        auto targets = Tensor<float>::from_vector({1, 0, 0, 0, 1, 0, 0, 0, 1}, {3, 3});
        auto eval_loss = [&] {
            NoGradGuard no_grad;
            model.eval();
            return nn::bce_with_logits(model(ids, mask), targets).item();
        };
        const float first = eval_loss();
        model.train();
        optim::AdamW<float> opt(optim::decay_param_groups(model.named_parameters(), 0.01), {.lr = 1e-2});
        for (int step = 0; step < 30; ++step) {
            nn::bce_with_logits(model(ids, mask), targets).backward();
            opt.step();
            opt.zero_grad();
        }
        const float last = eval_loss();
        expect(std::isfinite(last) && last < 0.5f * first,
               "training lowers the loss (" + std::to_string(first) + " -> " + std::to_string(last) + ")");

        // Save in HF format and load back: the same logits.
        model.save_pretrained(out);
        auto loaded = models::DistilBertForSequenceClassification<float>::from_pretrained(out, {.verbose = false});
        loaded.eval();
        NoGradGuard no_grad;
        auto a = model(ids, mask).to_vector(), b = loaded(ids, mask).to_vector();
        expect(a == b, "save_pretrained + from_pretrained gives identical logits");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return failures == 0 ? 0 : 1;
}
