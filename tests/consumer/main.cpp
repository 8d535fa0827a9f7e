// A consumer of temper: tokenizes with a small vocabulary, builds a tiny DistilBERT from a config.json, runs
// a forward pass, trains a few steps, and saves and reloads the model. Exit code 0 only when every result is
// as expected, so the ctest that builds this program also checks that the installed or fetched temper works.
//   consumer <fixtures> <out-dir> [cpu|cuda]     fixtures: tests/fixtures/examples (tiny_config.json, vocab.txt)
// Plain C++ either way: linked with temper::cuda, the same file runs on the GPU ("cuda"), where it also checks
// the GPU's logits against the CPU's. Without a GPU it says so and stops after the build and link succeeded.
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
    if (argc != 3 && argc != 4) {
        std::fprintf(stderr, "usage: %s <fixtures dir with tiny_config.json and vocab.txt> <output dir> [cpu|cuda]\n",
                     argv[0]);
        return 2;
    }
    const std::string fixtures = argv[1], out = argv[2], where = argc == 4 ? argv[3] : "cpu";
    try {
        const Device dev = parse_device(where);
        if (dev.is_cuda() && cuda::device_count() == 0) {
            std::printf(
                "skipped: no CUDA GPU here; the GPU consumer was built and linked, and runs where there is one\n");
            return 0;
        }
        std::printf("device: %s\n", dev.str().c_str());
        auto tok = text::WordPiece::from_vocab_file(fixtures + "/vocab.txt");
        auto cfg = models::DistilBertConfig::load(fixtures + "/tiny_config.json");
        cfg.labels = {"joy", "fear", "anger"};
        cfg.problem = models::Problem::MultiLabel;
        models::DistilBertForSequenceClassification<float> model(cfg, /*seed=*/7);
        model.to(dev);

        const std::vector<std::string> texts = {"I am so happy today!", "this is scary", "why would you do that"};
        auto batch = tok.encode_batch(texts, {.max_length = 32, .padding = text::Padding::Longest});
        const int64_t B = int64_t(batch.batch), S = int64_t(batch.seq_len);
        const text::ModelInputs in = text::model_inputs(batch, dev);
        const Tensor<int64_t>& ids = in.input_ids;
        const Tensor<int64_t>& mask = in.attention_mask;
        expect(B == 3 && S > 4 && batch.input_ids[0] == *tok.token_to_id("[CLS]"),
               "tokenized into [3, S] with [CLS] first");

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
        auto targets = Tensor<float>::from_vector({1, 0, 0, 0, 1, 0, 0, 0, 1}, {3, 3}).to(dev);
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
        loaded.to(dev);
        loaded.eval();
        NoGradGuard no_grad;
        auto a = model(ids, mask).to_vector(), b = loaded(ids, mask).to_vector();
        expect(a == b, "save_pretrained + from_pretrained gives identical logits");
        if (dev.is_cuda()) {  // the same weights on the CPU: the same logits but for float rounding
            loaded.to(Device::cpu());
            auto c = loaded(ids.to(Device::cpu()), mask.to(Device::cpu())).to_vector();
            double num = 0, den = 0;
            for (size_t i = 0; i < c.size(); ++i) {
                num += double(a[i] - c[i]) * double(a[i] - c[i]);
                den += double(c[i]) * double(c[i]);
            }
            const double rel = std::sqrt(num / den);
            expect(rel < 1e-5, "GPU logits match the CPU's (relative error " + std::to_string(rel) + ")");
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return failures == 0 ? 0 : 1;
}
