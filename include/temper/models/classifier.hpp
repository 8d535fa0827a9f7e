// What every sequence classifier shares, whatever its encoder: finding config.json, the options of
// from_pretrained, the losses of the two problem types, the load report, and writing a checkpoint directory
// (model.safetensors + config.json, each atomically) that HF's from_pretrained loads.
#pragma once

#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "temper/io/hf_checkpoint.hpp"
#include "temper/models/classifier_config.hpp"
#include "temper/ops.hpp"

namespace temper::models {

// config.json of a checkpoint directory, checking first that the directory exists.
inline std::string config_path(const std::string& dir) {
    check(std::filesystem::is_directory(dir), dir,
          ": not a directory (expected a HF checkpoint directory with "
          "config.json and model.safetensors)");
    return (std::filesystem::path(dir) / "config.json").string();
}

struct ClassifierOptions {
    std::optional<int64_t> num_labels = std::nullopt;  // overrides config.json's id2label count
    std::optional<Problem> problem = std::nullopt;     // overrides config.json's problem_type
    std::vector<std::string> labels = {};              // label names (sets num_labels)
    uint64_t seed = 42;                                // initialisation of anything not in the checkpoint
    bool verbose = true;                               // print the load report to stderr
};

// The head the options ask for, over the one config.json describes.
inline void apply_options(ClassifierConfig& c, const ClassifierOptions& opt) {
    if (!opt.labels.empty())
        c.labels = opt.labels;
    else if (opt.num_labels && *opt.num_labels != c.num_labels())
        c.set_num_labels(*opt.num_labels);
    if (opt.problem) c.problem = *opt.problem;
}

// Multi-label: BCE-with-logits (mean) against multi-hot targets [B, num_labels].
template <class T>
Tensor<T> classifier_loss(const ClassifierConfig& c, const Tensor<T>& logits, const Tensor<T>& targets,
                          const Tensor<T>& pos_weight = Tensor<T>()) {
    check(c.problem == Problem::MultiLabel, "loss: float targets need problem_type multi_label_classification");
    return bce_with_logits(logits, targets, pos_weight);
}
// Single-label: cross-entropy (mean) against class ids [B].
template <class T>
Tensor<T> classifier_loss(const ClassifierConfig& c, const Tensor<T>& logits, const Tensor<int64_t>& labels) {
    check(c.problem == Problem::SingleLabel, "loss: class-id labels need problem_type single_label_classification");
    return cross_entropy(logits, labels);
}

inline void print_load_report(const std::string& dir, const io::LoadReport& r) {
    std::string s = r.summary();
    if (!s.empty()) std::cerr << "temper: loaded " << r.loaded.size() << " tensors from " << dir << "\n" << s;
}

// dir/model.safetensors (the module's parameters as dtype: F32, BF16 or F16) and dir/config.json (the config
// with its "dtype" set), each written atomically; dir is created.
template <class T, class Config>
void save_pretrained_dir(nn::Module<T>& model, Config config, const std::string& dir, DType dtype) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(dir, ec);
    check(!ec && fs::is_directory(dir), dir, ": cannot create the output directory (", ec.message(), ")");
    check(dtype == DType::F32 || dtype == DType::BF16 || dtype == DType::F16, "save_pretrained: dtype ",
          dtype_name(dtype), " is not supported (F32, BF16 or F16)");
    io::save_weights(model, (fs::path(dir) / "model.safetensors").string(), dtype);
    config.extra["dtype"] = dtype == DType::F32 ? "float32" : dtype == DType::BF16 ? "bfloat16" : "float16";
    config.save((fs::path(dir) / "config.json").string());
}

}  // namespace temper::models
