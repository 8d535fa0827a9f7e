// The sequence-classification part of a HF config.json, the same for every architecture: the labels (id2label,
// label2id, num_labels) and the problem type. Each model's config derives from ClassifierConfig, so generic code
// (Trainer, the examples) reads config.labels, config.problem and config.num_labels() on any of them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "temper/io/json_fields.hpp"

namespace temper::models {

enum class Problem { SingleLabel, MultiLabel };

inline std::string problem_type_name(Problem p) {
    return p == Problem::MultiLabel ? "multi_label_classification" : "single_label_classification";
}

struct ClassifierConfig {
    Problem problem = Problem::SingleLabel;
    std::vector<std::string> labels = {"LABEL_0", "LABEL_1"};  // id2label, in id order

    int64_t num_labels() const { return int64_t(labels.size()); }

    // HF's default names LABEL_0 ... LABEL_{n-1}.
    void set_num_labels(int64_t n) {
        check(n >= 1 && n <= 100000, "num_labels must be in [1, 100000], got ", n);
        labels.clear();
        for (int64_t i = 0; i < n; ++i) labels.push_back("LABEL_" + std::to_string(i));
    }

    // problem_type, then id2label (or, without it, num_labels); `where` names the file in errors.
    void read_classifier_fields(const io::json& j, const std::string& where) {
        const std::string pt = io::get_string(j, "problem_type", "", where);
        if (pt == "multi_label_classification")
            problem = Problem::MultiLabel;
        else if (pt == "single_label_classification" || pt.empty())
            problem = Problem::SingleLabel;
        else
            fail(where,
                 ": field 'problem_type': expected \"multi_label_classification\" or "
                 "\"single_label_classification\", found \"",
                 pt, "\"");

        if (j.contains("id2label") && !j["id2label"].is_null()) {
            const io::json& m = j["id2label"];
            check(m.is_object(), where, ": field 'id2label': expected an object {\"0\": name, ...}, found ",
                  io::json_found(m));
            check(!m.empty() && m.size() <= 100000, where, ": field 'id2label': expected 1 to 100000 labels, found ",
                  m.size());
            labels.assign(m.size(), "");
            std::vector<bool> seen(m.size(), false);
            for (auto it = m.begin(); it != m.end(); ++it) {
                size_t id = 0;
                const std::string& key = it.key();
                bool ok = !key.empty() && key.size() < 8 && key.find_first_not_of("0123456789") == std::string::npos;
                if (ok) id = std::stoul(key);
                check(ok && id < m.size() && !seen[id], where, ": field 'id2label': key \"", key,
                      "\" is not a distinct id in [0, ", m.size(), ")");
                check(it.value().is_string(), where, ": field 'id2label': label ", key, " is not a string");
                seen[id] = true;
                labels[id] = it.value().get<std::string>();
            }
        } else if (j.contains("num_labels")) {
            set_num_labels(io::get_int(j, "num_labels", 2, 1, 100000, where));
        }
    }

    void write_classifier_fields(io::json& j) const {
        j["problem_type"] = problem_type_name(problem);
        io::json id2label = io::json::object(), label2id = io::json::object();
        for (size_t i = 0; i < labels.size(); ++i) {
            id2label[std::to_string(i)] = labels[i];
            label2id[labels[i]] = i;
        }
        j["id2label"] = id2label;
        j["label2id"] = label2id;
    }

    // The keys read_classifier_fields interprets (or, label2id, rebuilds), which a config does not keep in extra.
    static bool is_classifier_key(const std::string& key) {
        static const char* keys[] = {"problem_type", "id2label", "label2id", "num_labels"};
        return std::find(std::begin(keys), std::end(keys), key) != std::end(keys);
    }
};

}  // namespace temper::models
