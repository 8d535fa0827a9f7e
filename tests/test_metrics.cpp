// Metrics against hand-computed cases (arithmetic in the comments) and against scikit-learn's results
// for the cases in tests/fixtures/metrics (tools/make_metrics_fixtures.py).
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "temper/io/atomic_file.hpp"
#include "temper/train/metrics.hpp"

#include "test_util.hpp"

namespace test_metrics {  // this file's names apart from the others' (unity build, tests/CMakeLists.txt)

namespace fs = std::filesystem;
using namespace temper;
using namespace temper::train;

using temper::testing::TempDir;

namespace {

// 4 samples, 3 labels.
//   true: s0 {0,2}  s1 {1}  s2 {0,1}  s3 {}
//   pred: s0 {0}    s1 {1}  s2 {0,2}  s3 {}
const LabelMatrix kTrue = {{1, 0, 1}, {0, 1, 0}, {1, 1, 0}, {0, 0, 0}};
const LabelMatrix kPred = {{1, 0, 0}, {0, 1, 0}, {1, 0, 1}, {0, 0, 0}};

using nlohmann::json;

std::vector<fs::path> sklearn_cases() {
    std::vector<fs::path> out;
    for (auto& e : fs::directory_iterator(fs::path(TEMPER_FIXTURES_DIR) / "metrics"))
        if (e.path().extension() == ".json") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

// Largest |temper - sklearn| over every score of a case, and where it was.
struct Worst {
    double diff = 0;
    std::string where;
    void add(double got, double want, const std::string& what) {
        const double d = std::abs(got - want);
        if (d > diff || where.empty()) {
            diff = d;
            where = what;
        }
    }
};

void add_prf(Worst& w, const PRF& got, const json& want, const std::string& what) {
    w.add(got.precision, want.at("precision").get<double>(), what + " precision");
    w.add(got.recall, want.at("recall").get<double>(), what + " recall");
    w.add(got.f1, want.at("f1").get<double>(), what + " f1");
}

// classification_report of sklearn without its "samples avg" line, which temper does not print.
std::string without_samples_avg(const std::string& text) {
    std::string out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        end = end == std::string::npos ? text.size() : end + 1;
        const std::string line = text.substr(pos, end - pos);
        if (line.find("samples avg") == std::string::npos) out += line;
        pos = end;
    }
    return out;
}

}  // namespace

TEST_CASE("multi-label scores: hand-computed") {
    auto s = multilabel_scores(kTrue, kPred);
    // label 0: tp 2 (s0, s2), fp 0, fn 0 -> P 1, R 1, F1 4/4 = 1
    // label 1: tp 1 (s1), fp 0, fn 1 (s2) -> P 1, R 1/2, F1 2/(2+0+1) = 2/3
    // label 2: tp 0, fp 1 (s2), fn 1 (s0) -> P 0, R 0, F1 0/(0+1+1) = 0
    REQUIRE(s.per_label.size() == 3);
    CHECK(s.counts[1].tp == 1);
    CHECK(s.counts[1].fn == 1);
    CHECK(s.counts[2].fp == 1);
    CHECK(s.per_label[0].f1 == 1.0);
    CHECK(s.per_label[1].precision == 1.0);
    CHECK(s.per_label[1].recall == 0.5);
    CHECK(s.per_label[1].f1 == 2.0 / 3);
    CHECK(s.per_label[2].f1 == 0.0);
    // micro: tp 3, fp 1, fn 2 -> P 3/4, R 3/5, F1 6/(6+1+2) = 2/3
    CHECK(s.micro.precision == 0.75);
    CHECK(s.micro.recall == 0.6);
    CHECK(s.micro.f1 == 6.0 / 9);
    // macro: P (1+1+0)/3, R (1+0.5+0)/3, F1 (1+2/3+0)/3 = 5/9
    CHECK(s.macro.precision == (1.0 + 1.0 + 0.0) / 3);
    CHECK(s.macro.recall == 0.5);
    CHECK(s.macro.f1 == (1.0 + 2.0 / 3 + 0.0) / 3);
    // weighted by support (2, 2, 1): P (2+2+0)/5 = 0.8, R (2+1+0)/5 = 0.6, F1 (2+4/3+0)/5
    CHECK(s.weighted.precision == 0.8);
    CHECK(s.weighted.recall == 0.6);
    CHECK(s.weighted.f1 == doctest::Approx((2.0 + 4.0 / 3) / 5).epsilon(1e-15));
    // exact match: s1 and s3 -> 2/4
    CHECK(s.accuracy == 0.5);
    CHECK(subset_accuracy(kTrue, kPred) == 0.5);
}

TEST_CASE("zero_division = 0 corner cases, labels without support stay in the macro average") {
    // label 0: perfect (tp 1). label 1: never true, never predicted -> 0/0 everywhere -> P=R=F1=0.
    // label 2: predicted but never true (fp 1) -> P 0/1 = 0, R 0/0 -> 0, F1 0/1 = 0.
    // label 3: true but never predicted (fn 1) -> P 0/0 -> 0, R 0/1 = 0, F1 0.
    LabelMatrix t = {{1, 0, 0, 1}, {0, 0, 0, 0}};
    LabelMatrix p = {{1, 0, 1, 0}, {0, 0, 0, 0}};
    auto s = multilabel_scores(t, p);
    for (int j = 1; j < 4; ++j) {
        CAPTURE(j);
        CHECK(s.per_label[size_t(j)].precision == 0.0);
        CHECK(s.per_label[size_t(j)].recall == 0.0);
        CHECK(s.per_label[size_t(j)].f1 == 0.0);
    }
    CHECK(s.macro.f1 == 0.25);        // (1 + 0 + 0 + 0) / 4, sklearn includes every label
    CHECK(s.micro.precision == 0.5);  // tp 1, fp 1
    CHECK(s.micro.recall == 0.5);     // tp 1, fn 1
    CHECK(s.weighted.f1 == 0.5);      // supports 1, 0, 0, 1: (1*1 + 0*1) / 2

    // Nothing true, nothing predicted: everything is 0 except exact-match accuracy (1).
    auto e = multilabel_scores(LabelMatrix{{0, 0}, {0, 0}}, LabelMatrix{{0, 0}, {0, 0}});
    CHECK(e.micro.f1 == 0.0);
    CHECK(e.macro.f1 == 0.0);
    CHECK(e.weighted.f1 == 0.0);
    CHECK(e.accuracy == 1.0);

    auto none = multilabel_scores(LabelMatrix{}, LabelMatrix{});
    CHECK(none.accuracy == 0.0);
    CHECK(none.per_label.empty());
}

TEST_CASE("multi-label scores equal sklearn's float64 results bit for bit (28 labels, numpy pairwise sums)") {
    // y_true[i][j] = (31i + 17j) % 7 == 0 or (i + j) % 13 == 0
    // y_pred[i][j] = ((31i + 17j) % 7 == 0 and i % 3 != 0) or (5i + j) % 11 == 0
    // Expected values: sklearn's formulas (tp_sum / pred_sum / true_sum, np.average) in numpy 1.24.
    LabelMatrix t(50, std::vector<uint8_t>(28)), p = t;
    for (int i = 0; i < 50; ++i)
        for (int j = 0; j < 28; ++j) {
            t[size_t(i)][size_t(j)] = (31 * i + 17 * j) % 7 == 0 || (i + j) % 13 == 0;
            p[size_t(i)][size_t(j)] = ((31 * i + 17 * j) % 7 == 0 && i % 3 != 0) || (5 * i + j) % 11 == 0;
        }
    auto s = multilabel_scores(t, p);
    CHECK(s.micro.precision == 0.6016260162601627);
    CHECK(s.micro.recall == 0.48366013071895425);
    CHECK(s.micro.f1 == 0.5362318840579711);
    CHECK(s.macro.precision == 0.6011337868480726);
    CHECK(s.macro.recall == 0.4834415584415584);
    CHECK(s.macro.f1 == 0.5349980343014398);  // a plain left-to-right sum gives ...399
    CHECK(s.weighted.precision == 0.6016975308641976);
    CHECK(s.weighted.recall == 0.48366013071895425);
    CHECK(s.weighted.f1 == 0.5353597533497976);
    CHECK(s.accuracy == 0.0);
}

TEST_CASE("numpy pairwise summation") {
    std::vector<double> a;
    for (int i = 0; i < 300; ++i) a.push_back(1.0 / (i + 1));
    // Block structure for n = 300: split at 144 (150 rounded down to a multiple of 8), then each
    // half is 8 running sums combined as a tree plus the tail.
    double r[8] = {0};
    auto block = [&](size_t lo, size_t n) {
        for (int j = 0; j < 8; ++j) r[j] = a[lo + size_t(j)];
        size_t i = 8;
        for (; i < n - n % 8; i += 8)
            for (int j = 0; j < 8; ++j) r[j] += a[lo + i + size_t(j)];
        double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) s += a[lo + i];
        return s;
    };
    auto half = [&](size_t lo, size_t n) {
        size_t n2 = n / 2;
        n2 -= n2 % 8;
        return block(lo, n2) + block(lo + n2, n - n2);
    };
    CHECK(pairwise_sum(a.data(), 300) == half(0, 144) + half(144, 156));
    CHECK(pairwise_sum(a.data(), 5) == (((a[0] + a[1]) + a[2]) + a[3]) + a[4]);
    CHECK(numpy_mean({}) == 0.0);
}

TEST_CASE("single-label: accuracy, confusion matrix, macro F1 over range(num_classes)") {
    std::vector<int> t = {0, 0, 1, 1, 2, 2}, p = {0, 1, 1, 1, 0, 2};
    auto s = single_label_scores(t, p, 4);
    // confusion rows = true class: [1 1 0 0] [0 2 0 0] [1 0 1 0] [0 0 0 0]
    CHECK(s.confusion == std::vector<std::vector<int64_t>>{{1, 1, 0, 0}, {0, 2, 0, 0}, {1, 0, 1, 0}, {0, 0, 0, 0}});
    CHECK(s.accuracy == 4.0 / 6);
    // class 0: tp 1, fp 1, fn 1 -> .5/.5/.5; class 1: tp 2, fp 1, fn 0 -> 2/3, 1, 4/5;
    // class 2: tp 1, fp 0, fn 1 -> 1, .5, 2/3; class 3: all 0.
    CHECK(s.per_label[0].f1 == 0.5);
    CHECK(s.per_label[1].precision == 2.0 / 3);
    CHECK(s.per_label[1].f1 == 0.8);
    CHECK(s.per_label[2].f1 == 2.0 / 3);
    CHECK(s.per_label[3].f1 == 0.0);
    CHECK(s.macro.f1 == (((0.5 + 0.8) + 2.0 / 3) + 0.0) / 4);  // sklearn with labels=[0,1,2,3]
    CHECK(s.micro.f1 == s.accuracy);                           // micro = accuracy for single-label
    CHECK(s.weighted.f1 == doctest::Approx((1 + 1.6 + 4.0 / 3) / 6).epsilon(1e-15));
    CHECK_THROWS_WITH_AS(single_label_scores({0, 4}, {0, 0}, 4), doctest::Contains("sample 1 has true class 4"), Error);
    CHECK_THROWS_AS(single_label_scores({0}, {0, 0}, 2), Error);
}

TEST_CASE("classification_report has sklearn's layout") {
    auto s = multilabel_scores(kTrue, kPred);
    // Expected text: sklearn's classification_report formatting code run on these numbers.
    CHECK(classification_report(s, {"a", "bb", "c"}, 2) ==
          "              precision    recall  f1-score   support\n\n"
          "           a       1.00      1.00      1.00         2\n"
          "          bb       1.00      0.50      0.67         2\n"
          "           c       0.00      0.00      0.00         1\n\n"
          "   micro avg       0.75      0.60      0.67         5\n"
          "   macro avg       0.67      0.50      0.56         5\n"
          "weighted avg       0.80      0.60      0.67         5\n");
    auto c = single_label_scores({0, 0, 1, 1, 2, 2}, {0, 1, 1, 1, 0, 2}, 4);
    CHECK(classification_report(c, {"c0", "c1", "c2", "c3"}) ==
          "              precision    recall  f1-score   support\n\n"
          "          c0     0.5000    0.5000    0.5000         2\n"
          "          c1     0.6667    1.0000    0.8000         2\n"
          "          c2     1.0000    0.5000    0.6667         2\n"
          "          c3     0.0000    0.0000    0.0000         0\n\n"
          "    accuracy                         0.6667         6\n"
          "   macro avg     0.5417    0.5000    0.4917         6\n"
          "weighted avg     0.7222    0.6667    0.6556         6\n");
    CHECK_THROWS_AS(classification_report(s, {"a"}), Error);
}

TEST_CASE("probabilities to predictions: scalar and per-label thresholds, argmax, indicator") {
    std::vector<std::vector<float>> probs = {{0.3f, 0.7f, 0.29f}, {0.9f, 0.1f, 0.5f}};
    CHECK(apply_threshold(probs, 0.3) == LabelMatrix{{1, 1, 0}, {1, 0, 1}});  // p >= t
    CHECK(apply_threshold(probs, std::vector<double>{0.95, 0.05, 0.5}) == LabelMatrix{{0, 1, 0}, {0, 1, 1}});
    CHECK_THROWS_AS(apply_threshold(probs, std::vector<double>{0.5}), Error);
    CHECK(argmax(std::vector<std::vector<double>>{{0.1, 0.5, 0.5}, {2, 1, 0}}) == std::vector<int>{1, 0});
    CHECK(to_indicator({{0, 2}, {}}, 3) == LabelMatrix{{1, 0, 1}, {0, 0, 0}});
    CHECK_THROWS_WITH_AS(to_indicator({{3}}, 3), doctest::Contains("label id 3"), Error);
    auto t = Tensor<float>::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
    CHECK(rows_of(t) == std::vector<std::vector<float>>{{1, 2, 3}, {4, 5, 6}});
}

TEST_CASE("tune_thresholds: best F1 per label, ties to the threshold closest to 0.5") {
    CHECK(ThresholdGrid{}.values().size() == 19);
    CHECK(ThresholdGrid{}.values()[2] == 0.15);
    CHECK(ThresholdGrid{}.values()[18] == 0.95);
    // label 0: positives at 0.9, 0.8, negatives 0.3, 0.1 -> F1 = 1 for every t in (0.3, 0.8]: 0.5.
    // label 1: positives at 0.2, 0.22, negatives 0.1, 0.05 -> F1 = 1 only for t in {0.15, 0.2}: 0.2.
    // label 2: no positives -> F1 = 0 for every t: 0.5.
    // label 3: positives 0.9, 0.47; negatives 0.52, 0.53.
    //   t <= 0.45: tp 2, fp 2, fn 0      -> 2*2 / (4 + 2 + 0) = 2/3
    //   t = 0.5:   tp 1, fp 2, fn 1      -> 2 / (2 + 2 + 1)   = 0.4
    //   t in 0.55..0.9: tp 1, fp 0, fn 1 -> 2 / (2 + 0 + 1)   = 2/3
    //   t = 0.95:  tp 0                  -> 0
    //   best 2/3 at 0.45 and 0.55, equally far from 0.5: the higher one, 0.55.
    std::vector<std::vector<double>> probs = {
        {0.9, 0.2, 0.7, 0.9}, {0.8, 0.22, 0.1, 0.47}, {0.3, 0.1, 0.6, 0.52}, {0.1, 0.05, 0.2, 0.53}};
    LabelMatrix t = {{1, 1, 0, 1}, {1, 1, 0, 1}, {0, 0, 0, 0}, {0, 0, 0, 0}};
    auto th = tune_thresholds(probs, t);
    CHECK(th == std::vector<double>{0.5, 0.2, 0.5, 0.55});
    // A coarser grid and another preferred value.
    CHECK(tune_thresholds(probs, t, {.lo = 0.1, .hi = 0.9, .step = 0.2, .prefer = 0.3})[0] == 0.5);
    CHECK_THROWS_AS(tune_thresholds(probs, LabelMatrix{{1}}), Error);
}

TEST_CASE("thresholds.json: atomic save, exact round trip, label checks") {
    TempDir tmp;
    const std::string path = tmp / "thresholds.json";
    save_thresholds(path, {"joy", "anger", "fear"}, {0.35, 0.5, 0.05});
    CHECK(io::read_text_file(path) ==
          "{\n  \"thresholds\": {\n    \"joy\": 0.35,\n    \"anger\": 0.5,\n    \"fear\": 0.05\n  }\n}\n");
    auto t = load_thresholds(path);
    CHECK(t.labels == std::vector<std::string>{"joy", "anger", "fear"});
    CHECK(t.values == std::vector<double>{0.35, 0.5, 0.05});
    auto o = load_thresholds(path, {"fear", "joy", "anger"});  // reordered to the model's labels
    CHECK(o.values == std::vector<double>{0.05, 0.35, 0.5});
    CHECK_THROWS_WITH_AS(load_thresholds(path, {"joy", "anger", "surprise"}),
                         doctest::Contains("no threshold for label 'surprise'"), Error);
    CHECK_THROWS_WITH_AS(load_thresholds(path, {"joy", "anger"}), doctest::Contains("has 3 thresholds"), Error);
    CHECK_THROWS_AS(save_thresholds(path, {"a"}, {1.5}), Error);
    CHECK_THROWS_AS(save_thresholds(path, {"a", "a"}, {0.1, 0.2}), Error);
    io::write_file_atomic(path, std::string_view("{\"thresholds\": {\"a\": 2}}"));
    CHECK_THROWS_WITH_AS(load_thresholds(path), doctest::Contains("must be a number in [0, 1]"), Error);
    io::write_file_atomic(path, std::string_view("{\"thresholds\": [0.5]"));
    CHECK_THROWS_WITH_AS(load_thresholds(path), doctest::Contains("not valid JSON"), Error);
    CHECK_THROWS_WITH_AS(load_thresholds(tmp / "none.json"), doctest::Contains("none.json"), Error);
}

// sklearn gives float64 results, and temper sums the averages the way numpy does, so they agree
// bit for bit: the largest difference measured over all cases is 0, and so is the tolerance (a
// 1-ulp change in a fixture value fails).
constexpr double kSklearnTol = 0;

TEST_CASE("scores equal scikit-learn's on the fixture cases (tools/make_metrics_fixtures.py)") {
    const auto files = sklearn_cases();
    REQUIRE_MESSAGE(files.size() >= 10, "tests/fixtures/metrics has ", files.size(), " cases");
    double worst_all = 0;
    for (const auto& file : files) {
        std::ifstream in(file);
        const json c = json::parse(in);
        const std::string name = c.at("case").get<std::string>();
        CAPTURE(name);
        const int L = c.at("num_labels").get<int>();
        const bool multi = c.at("kind") == "multilabel";
        ClassificationScores s;
        if (multi) {
            const auto y_true = c.at("y_true").get<LabelMatrix>();
            const auto y_pred = c.at("y_pred").get<LabelMatrix>();
            if (c.contains("probs"))  // temper's thresholding gives sklearn's input
                CHECK(apply_threshold(c.at("probs").get<std::vector<std::vector<double>>>(),
                                      c.at("thresholds").get<std::vector<double>>()) == y_pred);
            s = multilabel_scores(y_true, y_pred);
        } else {
            const auto y_true = c.at("y_true").get<std::vector<int>>();
            const auto y_pred = c.at("y_pred").get<std::vector<int>>();
            if (c.contains("scores"))  // numpy.argmax, first maximum on ties
                CHECK(argmax(c.at("scores").get<std::vector<std::vector<double>>>()) == y_pred);
            s = single_label_scores(y_true, y_pred, L);
            CHECK(s.confusion == c.at("confusion").get<std::vector<std::vector<int64_t>>>());
        }
        REQUIRE(s.counts.size() == size_t(L));
        const json& pl = c.at("per_label");
        for (size_t j = 0; j < size_t(L); ++j) {
            CAPTURE(j);
            const json& k = c.at("counts")[j];
            CHECK(s.counts[j].tp == k.at("tp").get<int64_t>());
            CHECK(s.counts[j].fp == k.at("fp").get<int64_t>());
            CHECK(s.counts[j].fn == k.at("fn").get<int64_t>());
            CHECK(s.counts[j].support() == pl.at("support")[j].get<int64_t>());
        }
        Worst w;
        w.add(s.accuracy, c.at("accuracy").get<double>(), "accuracy");
        for (size_t j = 0; j < size_t(L); ++j)
            add_prf(w, s.per_label[j],
                    json{{"precision", pl.at("precision")[j]}, {"recall", pl.at("recall")[j]}, {"f1", pl.at("f1")[j]}},
                    "label " + std::to_string(j));
        add_prf(w, s.micro, c.at("micro"), "micro");
        add_prf(w, s.macro, c.at("macro"), "macro");
        add_prf(w, s.weighted, c.at("weighted"), "weighted");
        MESSAGE(name, ": largest |temper - sklearn| ", w.diff, " (", w.where, ")");
        CHECK(w.diff <= kSklearnTol);
        worst_all = std::max(worst_all, w.diff);

        // The report's numbers and layout; sklearn adds a "samples avg" row for multi-label targets.
        const json& r = c.at("report");
        CHECK(classification_report(s, r.at("target_names").get<std::vector<std::string>>(),
                                    r.at("digits").get<int>()) == without_samples_avg(r.at("text").get<std::string>()));
    }
    MESSAGE("all ", files.size(), " sklearn cases: largest difference ", worst_all);
}

}  // namespace test_metrics
