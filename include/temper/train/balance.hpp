// Class imbalance: undersampling for single-label data and BCE pos_weight for multi-label data.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "temper/core/error.hpp"
#include "temper/core/random.hpp"
#include "temper/train/dataset.hpp"
#include "temper/train/sampling.hpp"

namespace temper::train {

// Indices of a class-balanced subset of a single-label dataset: every class that occurs is
// downsampled to the size of the smallest such class, choosing examples with a seeded
// permutation. Classes with no example are ignored. Indices come back sorted (file order).
inline std::vector<int64_t> undersample_indices(const Dataset& d, uint64_t seed) {
    check(!d.multi_label, "undersample: needs a single-label dataset (multi-label examples belong to several classes)");
    std::vector<std::vector<int64_t>> by_class(d.label_names.size());
    for (size_t i = 0; i < d.size(); ++i) {
        check(d.labels[i].size() == 1, "undersample: example ", i, " has ", d.labels[i].size(), " labels, expected 1");
        by_class.at(size_t(d.labels[i][0])).push_back(int64_t(i));
    }
    size_t smallest = SIZE_MAX;
    for (const auto& c : by_class)
        if (!c.empty()) smallest = std::min(smallest, c.size());
    std::vector<int64_t> keep;
    Generator g(seed);
    for (auto& c : by_class) {  // in class order, so the draws are reproducible
        if (c.empty()) continue;
        shuffle(c, g);
        keep.insert(keep.end(), c.begin(), c.begin() + ptrdiff_t(smallest));
    }
    std::sort(keep.begin(), keep.end());
    return keep;
}

inline Dataset undersample(const Dataset& d, uint64_t seed) { return d.subset(undersample_indices(d, seed)); }

// BCEWithLogitsLoss pos_weight per label: negatives / positives, torch's recommended value
// ("if a dataset contains 100 positive and 300 negative examples of a single class, then
// pos_weight for the class should be equal to 300/100 = 3"). A label with fewer than
// min_positives positives is computed as if it had min_positives (default 1), so the weight stays
// finite; it only scales the loss of positive targets, which such a label barely has.
inline std::vector<double> pos_weight(const Dataset& d, double min_positives = 1.0) {
    check(min_positives > 0, "pos_weight: min_positives must be positive, got ", min_positives);
    const std::vector<int64_t> pos = d.label_counts();
    std::vector<double> w;
    for (int64_t p : pos) w.push_back(double(int64_t(d.size()) - p) / std::max(double(p), min_positives));
    return w;
}

}  // namespace temper::train
