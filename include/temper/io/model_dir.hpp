// A fine-tuned model's directory, written as one piece: the model (config.json, model.safetensors), its
// tokenizer (vocab.txt, tokenizer.json, tokenizer_config.json) and, for a multi-label model, its decision
// thresholds (thresholds.json). It is what examples/predict, from_pretrained and transformers load.
//
//   io::save_model_dir("runs/x/best", model, tokenizer, {.thresholds = th});
//
// The files go into dir.tmp, which then replaces dir (dir -> dir.old, dir.tmp -> dir, remove dir.old): a crash
// never leaves a half-written directory under the final name, and recover_model_dir, at the next start, puts
// back dir.old when a crash came between the two renames.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "temper/io/thresholds.hpp"
#include "temper/text/wordpiece.hpp"

namespace temper::io {

struct ModelDirOptions {
    std::vector<double> thresholds = {};  // multi-label: one per label of model.config.labels (empty: none)
    std::function<void(const std::string& tmp)> extra = {};  // writes further files into the new directory
};

// Model: save_pretrained(dir), config.labels and config.max_position_embeddings; its tokenizer_class (when it
// names one) goes into tokenizer_config.json.
template <class Model>
void save_model_dir(const std::string& dir, Model& model, const text::WordPiece& tokenizer,
                    const ModelDirOptions& o = {}) {
    namespace fs = std::filesystem;
    const std::string tmp = dir + ".tmp", old = dir + ".old";
    fs::remove_all(tmp);
    model.save_pretrained(tmp);
    text::TokenizerSaveOptions so{.model_max_length = model.config.max_position_embeddings};
    if constexpr (requires { Model::tokenizer_class; }) so.tokenizer_class = Model::tokenizer_class;
    tokenizer.save_pretrained(tmp, so);
    if (!o.thresholds.empty()) save_thresholds(tmp + "/thresholds.json", model.config.labels, o.thresholds);
    if (o.extra) o.extra(tmp);
    fs::remove_all(old);
    if (fs::exists(dir)) fs::rename(dir, old);
    fs::rename(tmp, dir);
    fs::remove_all(old);
}

// Undoes what a crash inside save_model_dir left: a dir.tmp is incomplete (or never swapped in) and goes; a
// dir.old without dir is the previous directory, complete, and comes back.
inline void recover_model_dir(const std::string& dir) {
    namespace fs = std::filesystem;
    const std::string tmp = dir + ".tmp", old = dir + ".old";
    fs::remove_all(tmp);
    if (fs::exists(old) && !fs::exists(dir)) fs::rename(old, dir);
    fs::remove_all(old);
}

}  // namespace temper::io
