// predict: emotions of texts with a fine-tuned checkpoint (a run's best/ directory or any HF
// DistilBertForSequenceClassification or BertForSequenceClassification directory; config.json's model_type
// says which).
//
//   predict --model runs/goemotions/best "I'm so excited but also nervous"
//   cat texts.txt | predict --model runs/emotion6/best --json
//
// Multi-label models: sigmoid probability per label, sorted, and the labels at or above their threshold
// (thresholds.json in the model directory, or --threshold). Single-label models: softmax probabilities
// and the most likely class.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <numeric>

#include <nlohmann/json.hpp>

#include "common/cli.hpp"
#include "common/model.hpp"
#include "temper/train/metrics.hpp"

using namespace temper;

// Prints the probabilities of texts, and the labels they get, with a loaded checkpoint.
struct Predictor {
    examples::ModelSetup& setup;
    std::vector<double> thresholds;  // multi-label only
    int64_t max_length = 128;
    size_t top = 0;  // labels shown per text (0: all)
    bool json = false;

    bool multi_label() const { return config().problem == models::Problem::MultiLabel; }
    const models::ClassifierConfig& config() const { return examples::classifier_config(setup.model); }

    void run(const std::vector<std::string>& texts) {
        const auto probs = examples::predict_probabilities(setup.model, setup.tokenizer, texts, max_length);
        for (size_t b = 0; b < texts.size(); ++b) print(texts[b], probs[b]);
    }

private:
    void print(const std::string& text, const std::vector<double>& p) const {
        const auto& names = config().labels;
        std::vector<size_t> order(p.size());
        std::iota(order.begin(), order.end(), size_t(0));
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] > p[b]; });
        const size_t shown = top > 0 ? std::min(top, order.size()) : order.size();
        // Detected labels do not depend on --top: every label at or above its threshold, most likely first.
        std::vector<std::string> detected;
        for (size_t j : order)
            if (multi_label() ? p[j] >= thresholds[j] : j == order[0]) detected.push_back(names[j]);

        if (json) {
            nlohmann::ordered_json j = {{"text", text}, {"probs", nlohmann::ordered_json::object()}};
            for (size_t k = 0; k < shown; ++k) j["probs"][names[order[k]]] = std::round(p[order[k]] * 1e4) / 1e4;
            if (multi_label())
                j["detected"] = detected;
            else
                j["label"] = detected[0];
            std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
            return;
        }
        size_t w = 0;
        for (const auto& n : names) w = std::max(w, n.size());
        std::printf("%s\n", text.c_str());
        for (size_t k = 0; k < shown; ++k) {
            const size_t j = order[k];
            const bool hit = multi_label() ? p[j] >= thresholds[j] : k == 0;
            std::printf("  %-*s %.4f%s\n", int(w), names[j].c_str(), p[j], hit ? "  *" : "");
        }
        std::string list;
        for (const auto& n : detected) list += (list.empty() ? "" : ", ") + n;
        std::printf("%s %s\n\n", multi_label() ? "detected:" : "predicted:", list.empty() ? "(none)" : list.c_str());
    }
};

int main(int argc, char** argv) {
    CLI::App app{"Per-emotion probabilities and detected emotions of texts, with a fine-tuned checkpoint"};
    std::string model_dir;
    std::vector<std::string> texts;
    double threshold = -1;
    int64_t top = 0, max_length = 128, batch_size = 32;
    bool json = false;
    app.add_option("--model", model_dir,
                   "checkpoint directory (config.json, model.safetensors, vocab.txt or tokenizer.json)")
        ->required();
    app.add_option("texts", texts, "texts to classify; none or '-': one text per line from stdin");
    app.add_option("--threshold", threshold,
                   "multi-label decision threshold for every label (default: thresholds.json in --model, else 0.5)")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--top", top, "show only the K most likely labels (0: all)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--max-length", max_length, "tokens per text, [CLS] and [SEP] included (longer texts are truncated)")
        ->check(CLI::Range(2, 1 << 20))
        ->capture_default_str();
    app.add_option("--batch-size", batch_size, "stdin lines classified together")
        ->check(CLI::Range(1, 65536))
        ->capture_default_str();
    app.add_flag("--json", json, "one JSON object per text: {\"text\", \"probs\" (sorted), \"detected\" or \"label\"}");

    return examples::run_main(app, argc, argv, [&] {
        examples::ModelSetup setup = examples::load_checkpoint(model_dir);
        Predictor pr{.setup = setup,
                     .thresholds = {},
                     .max_length = std::min(max_length, examples::max_position_embeddings(setup.model)),
                     .top = size_t(top),
                     .json = json};
        if (pr.multi_label()) {
            const std::string path = (std::filesystem::path(model_dir) / "thresholds.json").string();
            const size_t L = size_t(pr.config().num_labels());
            if (threshold >= 0)
                pr.thresholds.assign(L, threshold);
            else if (std::filesystem::exists(path))
                pr.thresholds = train::load_thresholds(path, pr.config().labels).values;
            else {
                std::fprintf(stderr, "note: %s not found; using threshold 0.5 (set one with --threshold)\n",
                             path.c_str());
                pr.thresholds.assign(L, 0.5);
            }
        }

        // Texts from the command line in order; '-' (or no text at all) reads stdin line by line, in
        // batches, one at a time when a person is typing.
        if (texts.empty()) texts.push_back("-");
        const size_t chunk = ::isatty(STDIN_FILENO) ? 1 : size_t(batch_size);
        for (const std::string& t : texts) {
            if (t != "-") {
                pr.run({t});
                continue;
            }
            std::vector<std::string> lines;
            std::string line;
            while (std::getline(std::cin, line)) {
                if (!line.empty() && line.back() == '\r') line.pop_back();
                lines.push_back(line);
                if (lines.size() == chunk) {
                    pr.run(lines);
                    lines.clear();
                }
            }
            pr.run(lines);
        }
        return 0;
    });
}
