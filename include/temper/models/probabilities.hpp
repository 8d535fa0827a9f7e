// Class probabilities from a classifier's logits, as the model's problem type defines them:
// a sigmoid per label (multi-label) or a softmax over the labels (single-label). Host-side, in double,
// for thresholds, metrics and printing.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "temper/core/error.hpp"
#include "temper/core/tensor.hpp"
#include "temper/models/classifier_config.hpp"

namespace temper::models {

// One row of L logits.
template <class T>
std::vector<double> probabilities(const T* logits, size_t L, Problem problem) {
    std::vector<double> p(L);
    if (problem == Problem::MultiLabel) {
        for (size_t j = 0; j < L; ++j) p[j] = 1.0 / (1.0 + std::exp(-double(logits[j])));
        return p;
    }
    double mx = -INFINITY, sum = 0;
    for (size_t j = 0; j < L; ++j) mx = std::max(mx, double(logits[j]));
    for (size_t j = 0; j < L; ++j) sum += (p[j] = std::exp(double(logits[j]) - mx));  // max first: no overflow
    for (auto& x : p) x /= sum;
    return p;
}

// [N, L] logits on any device -> N rows of L probabilities.
template <class T>
std::vector<std::vector<double>> probabilities(const Tensor<T>& logits, Problem problem) {
    check(logits.dim() == 2, "probabilities: expected [N, num_labels] logits, got shape ", shape_of(logits.shape()));
    const std::vector<T> v = logits.to_vector();
    const size_t n = size_t(logits.size(0)), L = size_t(logits.size(1));
    std::vector<std::vector<double>> rows;
    rows.reserve(n);
    for (size_t b = 0; b < n; ++b) rows.push_back(probabilities(v.data() + b * L, L, problem));
    return rows;
}

}  // namespace temper::models
