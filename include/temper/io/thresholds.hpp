// thresholds.json: a multi-label model's per-label decision thresholds, {"thresholds": {"<label>": t, ...}} in
// label order, saved beside the model (io/model_dir.hpp) and read by examples/predict.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "temper/core/error.hpp"
#include "temper/io/atomic_file.hpp"

namespace temper::io {

// Writes thresholds.json atomically; every threshold in [0, 1], labels distinct.
inline void save_thresholds(const std::string& path, const std::vector<std::string>& label_names,
                            const std::vector<double>& thresholds) {
    check(label_names.size() == thresholds.size(), "save_thresholds: ", label_names.size(), " labels but ",
          thresholds.size(), " thresholds");
    nlohmann::ordered_json j = {{"thresholds", nlohmann::ordered_json::object()}};
    for (size_t i = 0; i < thresholds.size(); ++i) {
        check(thresholds[i] >= 0 && thresholds[i] <= 1, "save_thresholds: threshold ", thresholds[i], " for '",
              label_names[i], "' is outside [0, 1]");
        check(!j["thresholds"].contains(label_names[i]), "save_thresholds: duplicate label '", label_names[i], "'");
        j["thresholds"][label_names[i]] = thresholds[i];
    }
    io::write_file_atomic(path, j.dump(2) + "\n");
}

struct Thresholds {
    std::vector<std::string> labels = {};
    std::vector<double> values = {};
};

// Reads thresholds.json. With expected_labels, the file must have exactly those labels (any
// order) and the result follows expected_labels' order.
inline Thresholds load_thresholds(const std::string& path, const std::vector<std::string>& expected_labels = {}) {
    const std::string text = io::read_text_file(path);
    nlohmann::ordered_json j;
    try {
        j = nlohmann::ordered_json::parse(text);
    } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for numbers such as 1e11111
        fail(path, ": not valid JSON (", e.what(), ")");
    }
    check(j.is_object() && j.contains("thresholds") && j["thresholds"].is_object(), path,
          ": expected an object {\"thresholds\": {\"<label>\": <number>, ...}}");
    Thresholds t;
    for (const auto& [label, v] : j["thresholds"].items()) {
        check(v.is_number() && v.get<double>() >= 0 && v.get<double>() <= 1, path, ": threshold for '", label,
              "' must be a number in [0, 1], found ", v.dump());
        t.labels.push_back(label);
        t.values.push_back(v.get<double>());
    }
    if (expected_labels.empty()) return t;
    Thresholds ordered{expected_labels, {}};
    for (const std::string& name : expected_labels) {
        auto it = std::find(t.labels.begin(), t.labels.end(), name);
        check(it != t.labels.end(), path, ": no threshold for label '", name, "'");
        ordered.values.push_back(t.values[size_t(it - t.labels.begin())]);
    }
    check(t.labels.size() == expected_labels.size(), path, ": has ", t.labels.size(), " thresholds, the model has ",
          expected_labels.size(), " labels");
    return ordered;
}

}  // namespace temper::io
