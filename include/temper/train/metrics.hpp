// Classification metrics with scikit-learn's semantics (zero_division = 0) and per-label
// decision thresholds for multi-label models.
//
//   auto y_true = to_indicator(dev.labels, L);
//   auto y_pred = apply_threshold(probs, 0.3);                 // or per-label thresholds
//   auto s = multilabel_scores(y_true, y_pred);                 // s.micro.f1, s.macro.f1, s.accuracy
//   std::cout << classification_report(s, dev.label_names);
//   auto th = tune_thresholds(dev_probs, y_true);               // best F1 per label on the dev set
//   save_thresholds(dir + "/thresholds.json", dev.label_names, th);
//
// Definitions (sklearn.metrics.precision_recall_fscore_support, zero_division=0):
//   precision = tp / (tp + fp), recall = tp / (tp + fn), F1 = 2 tp / (2 tp + fp + fn), each 0 when
//   its denominator is 0. micro pools tp/fp/fn over labels; macro is the unweighted mean over ALL
//   labels (a label with no true and no predicted samples counts as 0, as sklearn does for
//   multi-label targets); weighted weights by support. Averages are summed the way numpy does
//   (pairwise summation), so they equal sklearn's float64 results bit for bit.
//   Multi-label accuracy is exact-match (subset) accuracy, sklearn's accuracy_score.
//   Single-label scores use labels = range(num_classes); sklearn's default uses only the classes
//   present in y_true or y_pred, which differs when a class never occurs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "temper/core/error.hpp"
#include "temper/core/tensor.hpp"
#include "temper/io/atomic_file.hpp"
#include "temper/io/thresholds.hpp"

namespace temper::train {

// Multi-label targets or predictions: y[i][j] = 1 when sample i has label j (sklearn's indicator matrix).
using LabelMatrix = std::vector<std::vector<uint8_t>>;

// Label-id lists (Dataset::labels) to an indicator matrix.
inline LabelMatrix to_indicator(const std::vector<std::vector<int>>& label_ids, int num_labels) {
    LabelMatrix y(label_ids.size(), std::vector<uint8_t>(size_t(num_labels), 0));
    for (size_t i = 0; i < label_ids.size(); ++i)
        for (int id : label_ids[i]) {
            check(id >= 0 && id < num_labels, "to_indicator: sample ", i, " has label id ", id, ", expected 0..",
                  num_labels - 1);
            y[i][size_t(id)] = 1;
        }
    return y;
}

// Rows of a [N, L] tensor, for the functions below.
template <class T>
std::vector<std::vector<T>> rows_of(const Tensor<T>& t) {
    check(t.dim() == 2, "rows_of: expected a [N, L] tensor, got shape ", shape_of(t.shape()));
    const std::vector<T> v = t.to_vector();
    const size_t n = size_t(t.size(0)), l = size_t(t.size(1));
    std::vector<std::vector<T>> out(n);
    for (size_t i = 0; i < n; ++i) out[i].assign(v.begin() + ptrdiff_t(i * l), v.begin() + ptrdiff_t((i + 1) * l));
    return out;
}

// 1 where prob >= threshold (one threshold for all labels, or one per label).
template <class P>
LabelMatrix apply_threshold(const std::vector<std::vector<P>>& probs, const std::vector<double>& thresholds) {
    LabelMatrix y(probs.size());
    for (size_t i = 0; i < probs.size(); ++i) {
        check(probs[i].size() == thresholds.size(), "apply_threshold: sample ", i, " has ", probs[i].size(),
              " scores but there are ", thresholds.size(), " thresholds");
        y[i].resize(probs[i].size());
        for (size_t j = 0; j < probs[i].size(); ++j) y[i][j] = double(probs[i][j]) >= thresholds[j] ? 1 : 0;
    }
    return y;
}
template <class P>
LabelMatrix apply_threshold(const std::vector<std::vector<P>>& probs, double threshold) {
    return apply_threshold(probs, std::vector<double>(probs.empty() ? 0 : probs[0].size(), threshold));
}

// Index of the largest score per row (the first one on ties, like numpy.argmax).
template <class P>
std::vector<int> argmax(const std::vector<std::vector<P>>& scores) {
    std::vector<int> out;
    out.reserve(scores.size());
    for (const auto& row : scores) {
        check(!row.empty(), "argmax: empty row");
        out.push_back(int(std::max_element(row.begin(), row.end()) - row.begin()));
    }
    return out;
}

// numpy's pairwise summation of float64 (numpy/core/src/umath/loops_utils.h), so means equal
// numpy's bit for bit.
inline double pairwise_sum(const double* a, size_t n) {
    if (n < 8) {
        double s = 0.0;
        for (size_t i = 0; i < n; ++i) s += a[i];
        return s;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; ++j) r[j] = a[j];
        size_t i = 8;
        for (; i < n - n % 8; i += 8)
            for (int j = 0; j < 8; ++j) r[j] += a[i + size_t(j)];
        double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) s += a[i];
        return s;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}
inline double numpy_mean(const std::vector<double>& a) {
    return a.empty() ? 0.0 : pairwise_sum(a.data(), a.size()) / double(a.size());
}

struct LabelCounts {
    int64_t tp = 0, fp = 0, fn = 0;
    int64_t support() const { return tp + fn; }
};

struct PRF {
    double precision = 0, recall = 0, f1 = 0;
};

// Precision, recall and F1 from counts with zero_division = 0.
inline PRF prf(const LabelCounts& c) {
    auto ratio = [](double num, double den) { return den == 0 ? 0.0 : num / den; };
    return {ratio(double(c.tp), double(c.tp + c.fp)), ratio(double(c.tp), double(c.tp + c.fn)),
            ratio(2.0 * double(c.tp), double(c.tp + c.fn) + double(c.tp + c.fp))};
}

struct ClassificationScores {
    bool multi_label = true;
    int64_t num_samples = 0;
    double accuracy = 0;                   // subset accuracy (multi-label) or accuracy
    std::vector<LabelCounts> counts = {};  // per label / class
    std::vector<PRF> per_label = {};
    PRF micro = {}, macro = {}, weighted = {};
    std::vector<std::vector<int64_t>> confusion = {};  // single-label: [true class][predicted class]
};

namespace detail {

// Fills per-label scores and the three averages from counts.
inline void summarize(ClassificationScores& s) {
    LabelCounts total;
    std::vector<double> p, r, f, pw, rw, fw, w;
    for (const LabelCounts& c : s.counts) {
        total.tp += c.tp;
        total.fp += c.fp;
        total.fn += c.fn;
        const PRF x = prf(c);
        s.per_label.push_back(x);
        p.push_back(x.precision);
        r.push_back(x.recall);
        f.push_back(x.f1);
        // np.average(a, weights=support): sum(a * w) / sum(w)
        const double sw = double(c.support());
        pw.push_back(x.precision * sw);
        rw.push_back(x.recall * sw);
        fw.push_back(x.f1 * sw);
        w.push_back(sw);
    }
    s.micro = prf(total);
    s.macro = {numpy_mean(p), numpy_mean(r), numpy_mean(f)};
    const double wsum = pairwise_sum(w.data(), w.size());
    if (wsum > 0)
        s.weighted = {pairwise_sum(pw.data(), pw.size()) / wsum, pairwise_sum(rw.data(), rw.size()) / wsum,
                      pairwise_sum(fw.data(), fw.size()) / wsum};
}

}  // namespace detail

// Exact-match accuracy: the fraction of samples whose whole label set is right.
inline double subset_accuracy(const LabelMatrix& y_true, const LabelMatrix& y_pred) {
    check(y_true.size() == y_pred.size(), "subset_accuracy: ", y_true.size(), " true rows but ", y_pred.size(),
          " predicted rows");
    if (y_true.empty()) return 0.0;
    int64_t hits = 0;
    for (size_t i = 0; i < y_true.size(); ++i) hits += y_true[i] == y_pred[i];
    return double(hits) / double(y_true.size());
}

inline ClassificationScores multilabel_scores(const LabelMatrix& y_true, const LabelMatrix& y_pred) {
    check(y_true.size() == y_pred.size(), "multilabel_scores: ", y_true.size(), " true rows but ", y_pred.size(),
          " predicted rows");
    ClassificationScores s;
    s.multi_label = true;
    s.num_samples = int64_t(y_true.size());
    const size_t L = y_true.empty() ? 0 : y_true[0].size();
    s.counts.resize(L);
    for (size_t i = 0; i < y_true.size(); ++i) {
        check(y_true[i].size() == L && y_pred[i].size() == L, "multilabel_scores: row ", i, " has ", y_true[i].size(),
              " true and ", y_pred[i].size(), " predicted labels, expected ", L);
        for (size_t j = 0; j < L; ++j) {
            const bool t = y_true[i][j] != 0, p = y_pred[i][j] != 0;
            s.counts[j].tp += t && p;
            s.counts[j].fp += !t && p;
            s.counts[j].fn += t && !p;
        }
    }
    s.accuracy = subset_accuracy(y_true, y_pred);
    detail::summarize(s);
    return s;
}

inline ClassificationScores single_label_scores(const std::vector<int>& y_true, const std::vector<int>& y_pred,
                                                int num_classes) {
    check(y_true.size() == y_pred.size(), "single_label_scores: ", y_true.size(), " true labels but ", y_pred.size(),
          " predictions");
    check(num_classes > 0, "single_label_scores: num_classes must be positive, got ", num_classes);
    ClassificationScores s;
    s.multi_label = false;
    s.num_samples = int64_t(y_true.size());
    const size_t C = size_t(num_classes);
    s.confusion.assign(C, std::vector<int64_t>(C, 0));
    int64_t hits = 0;
    for (size_t i = 0; i < y_true.size(); ++i) {
        check(y_true[i] >= 0 && y_true[i] < num_classes && y_pred[i] >= 0 && y_pred[i] < num_classes,
              "single_label_scores: sample ", i, " has true class ", y_true[i], " and predicted class ", y_pred[i],
              ", expected 0..", num_classes - 1);
        ++s.confusion[size_t(y_true[i])][size_t(y_pred[i])];
        hits += y_true[i] == y_pred[i];
    }
    s.accuracy = y_true.empty() ? 0.0 : double(hits) / double(y_true.size());
    s.counts.resize(C);
    for (size_t c = 0; c < C; ++c) {
        int64_t row = 0, col = 0;
        for (size_t k = 0; k < C; ++k) {
            row += s.confusion[c][k];
            col += s.confusion[k][c];
        }
        s.counts[c] = {s.confusion[c][c], col - s.confusion[c][c], row - s.confusion[c][c]};
    }
    detail::summarize(s);
    return s;
}

// sklearn.metrics.classification_report's layout: one row per label, then micro avg (multi-label)
// or accuracy (single-label), macro avg and weighted avg.
inline std::string classification_report(const ClassificationScores& s, const std::vector<std::string>& names,
                                         int digits = 4) {
    check(names.size() == s.per_label.size(), "classification_report: ", names.size(), " names for ",
          s.per_label.size(), " labels");
    size_t width = std::string("weighted avg").size();
    for (const std::string& n : names) width = std::max(width, n.size());
    width = std::max(width, size_t(digits));
    const int w = int(width), d = digits;
    auto line = [&](const std::string& name, const PRF& x, int64_t support) {
        char buf[512];
        std::snprintf(buf, sizeof buf, "%*s  %9.*f %9.*f %9.*f %9lld\n", w, name.c_str(), d, x.precision, d, x.recall,
                      d, x.f1, static_cast<long long>(support));
        return std::string(buf);
    };
    char buf[512];
    std::snprintf(buf, sizeof buf, "%*s  %9s %9s %9s %9s\n\n", w, "", "precision", "recall", "f1-score", "support");
    std::string out = buf;
    int64_t total_support = 0;
    for (size_t j = 0; j < names.size(); ++j) {
        out += line(names[j], s.per_label[j], s.counts[j].support());
        total_support += s.counts[j].support();
    }
    out += "\n";
    if (s.multi_label) {
        out += line("micro avg", s.micro, total_support);
    } else {
        std::snprintf(buf, sizeof buf, "%*s  %9s %9s %9.*f %9lld\n", w, "accuracy", "", "", d, s.accuracy,
                      static_cast<long long>(total_support));
        out += buf;
    }
    out += line("macro avg", s.macro, total_support);
    out += line("weighted avg", s.weighted, total_support);
    return out;
}

// ---- per-label decision thresholds ------------------------------------------------------------

struct ThresholdGrid {
    double lo = 0.05, hi = 0.95, step = 0.05;
    double prefer = 0.5;  // ties go to the threshold closest to this (then to the higher one)

    std::vector<double> values() const {
        check(step > 0 && lo <= hi, "ThresholdGrid: need step > 0 and lo <= hi (lo ", lo, ", hi ", hi, ", step ", step,
              ")");
        std::vector<double> out;
        const int64_t n = int64_t(std::floor((hi - lo) / step + 1e-9));
        // Rounded to 9 decimals so 0.15 is 0.15, not 0.15000000000000002.
        for (int64_t k = 0; k <= n; ++k) out.push_back(std::round((lo + double(k) * step) * 1e9) / 1e9);
        return out;
    }
};

// For each label, the grid threshold that maximises that label's F1 on (probs, y_true). F1s are
// compared exactly (as fractions of integer counts), so equal F1s are ties.
template <class P>
std::vector<double> tune_thresholds(const std::vector<std::vector<P>>& probs, const LabelMatrix& y_true,
                                    const ThresholdGrid& grid = {}) {
    check(probs.size() == y_true.size(), "tune_thresholds: ", probs.size(), " rows of scores but ", y_true.size(),
          " rows of labels");
    const size_t L = y_true.empty() ? 0 : y_true[0].size();
    for (size_t i = 0; i < probs.size(); ++i)
        check(probs[i].size() == L && y_true[i].size() == L, "tune_thresholds: row ", i, " has ", probs[i].size(),
              " scores and ", y_true[i].size(), " labels, expected ", L);
    const std::vector<double> grid_values = grid.values();
    std::vector<double> best(L, grid.prefer);
    for (size_t j = 0; j < L; ++j) {
        int64_t best_num = -1, best_den = 1;  // F1 = num / den
        double best_t = grid.prefer;
        for (double t : grid_values) {
            LabelCounts c;
            for (size_t i = 0; i < probs.size(); ++i) {
                const bool yt = y_true[i][j] != 0, yp = double(probs[i][j]) >= t;
                c.tp += yt && yp;
                c.fp += !yt && yp;
                c.fn += yt && !yp;
            }
            int64_t num = 2 * c.tp, den = 2 * c.tp + c.fp + c.fn;
            if (den == 0) num = 0, den = 1;  // zero_division = 0
            // num/den vs best_num/best_den, cross-multiplied (both below 2N, so no overflow).
            const int64_t lhs = num * best_den, rhs = best_num * den;
            const double dist = std::abs(t - grid.prefer), best_dist = std::abs(best_t - grid.prefer);
            const bool closer = dist < best_dist - 1e-9 || (std::abs(dist - best_dist) <= 1e-9 && t > best_t);
            if (best_num < 0 || lhs > rhs || (lhs == rhs && closer)) {
                best_num = num;
                best_den = den;
                best_t = t;
            }
        }
        best[j] = best_t;
    }
    return best;
}

// thresholds.json lives in io/thresholds.hpp; these names stay here too.
using io::load_thresholds;
using io::save_thresholds;
using io::Thresholds;

}  // namespace temper::train
