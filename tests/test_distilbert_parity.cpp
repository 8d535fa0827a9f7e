// Parity with HF DistilBERT on the committed fixtures (tools/make_fixtures.py): last_hidden_state, logits,
// loss and every parameter gradient, in float (fp32 tolerances) and double (tight tolerances); a padded and
// an unpadded run agree on the valid tokens.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "temper/temper.hpp"
#include "test_util.hpp"

namespace test_distilbert_parity {  // this file's names apart from the others' (unity build, tests/CMakeLists.txt)

using namespace temper;
using namespace temper::models;
using temper::testing::abs_error;
using temper::testing::as_double;
using temper::testing::rel_error;

namespace {

struct Tolerances {
    double out, grad, kbias_abs, padded;
};

template <class T>
void check_fixture(const std::string& name, const char* prec, Tolerances tol) {
    const std::string dir = std::string(TEMPER_FIXTURES_DIR) + "/" + name;
    auto exp = io::SafeTensors::open(dir + "/expected.safetensors");
    auto ids_v = exp.read_as<int64_t>("input_ids");
    auto mask_v = exp.read_as<int64_t>("attention_mask");
    Shape is(exp.at("input_ids").shape.begin(), exp.at("input_ids").shape.end());
    Tensor<int64_t> ids = Tensor<int64_t>::from_vector(ids_v, is), mask = Tensor<int64_t>::from_vector(mask_v, is);
    const std::string p = std::string(prec) + ".";
    const std::string tag = name + " " + prec;

    auto model = DistilBertForSequenceClassification<T>::from_pretrained(dir, {.verbose = false});
    model.eval();
    CHECK(model.load_report().initialized.empty());
    CHECK(model.load_report().unexpected.empty());

    Tensor<T> hidden = model.distilbert(ids, mask);
    double e_hidden = rel_error(as_double(hidden), exp.read_as<double>(p + "last_hidden_state"));
    Tensor<T> logits = model(ids, mask);
    double e_logits = rel_error(as_double(logits), exp.read_as<double>(p + "logits"));
    Tensor<T> loss =
        model.config.problem == Problem::MultiLabel
            ? model.loss(logits, Tensor<T>::from_vector(exp.read_as<T>("labels"), logits.shape()))
            : model.loss(logits, Tensor<int64_t>::from_vector(exp.read_as<int64_t>("labels"), {logits.size(0)}));
    double ref_loss = exp.read_as<double>(p + "loss")[0];
    double e_loss = std::abs(double(loss.item()) - ref_loss) / std::abs(ref_loss);
    MESSAGE(tag, ": rel err last_hidden_state ", e_hidden, ", logits ", e_logits, ", loss ", e_loss);
    CHECK(e_hidden <= tol.out);
    CHECK(e_logits <= tol.out);
    CHECK(e_loss <= tol.out);

    loss.backward();
    double worst = 0;
    std::string worst_name;
    int n = 0;
    for (auto& [pname, param] : model.named_parameters()) {
        REQUIRE_MESSAGE(param.grad().defined(), "no gradient for ", pname);
        auto ref = exp.read_as<double>(p + "grad." + pname);
        auto got = as_double(param.grad());
        // k_lin.bias: its true gradient is exactly 0 (softmax ignores a per-row shift), so only noise is stored.
        if (pname.find("k_lin.bias") != std::string::npos) {
            CHECK_MESSAGE(abs_error(got, ref) <= tol.kbias_abs, pname);
            continue;
        }
        double e = rel_error(got, ref);
        CHECK_MESSAGE(e <= tol.grad, pname, " rel err ", e);
        if (e > worst) {
            worst = e;
            worst_name = pname;
        }
        ++n;
    }
    MESSAGE(tag, ": ", n, " parameter gradients, worst rel err ", worst, " (", worst_name, ")");

    // Each row alone, unpadded, gives the same hidden states on its valid tokens.
    NoGradGuard ng;
    const int64_t B = ids.size(0), S = ids.size(1), D = hidden.size(2);
    double worst_pad = 0;
    for (int64_t b = 0; b < B; ++b) {
        int64_t len = 0;
        for (int64_t s = 0; s < S; ++s) len += mask_v[size_t(b * S + s)] != 0;
        std::vector<int64_t> row(ids_v.begin() + b * S, ids_v.begin() + b * S + len);
        Tensor<T> alone = model.distilbert(Tensor<int64_t>::from_vector(row, {1, len}));
        Tensor<T> part = slice(select(hidden.detach(), 0, b), 0, 0, len);
        worst_pad = std::max(worst_pad, rel_error(as_double(alone), as_double(part)));
        (void)D;
    }
    MESSAGE(tag, ": padded vs unpadded worst rel err ", worst_pad);
    CHECK(worst_pad <= tol.padded);
}

}  // namespace

// fp32 limits from the issue: outputs 1e-5, gradients 1e-4.
constexpr Tolerances kF32{1e-5, 1e-4, 1e-5, 1e-5};
constexpr Tolerances kF64{1e-12, 1e-10, 1e-12, 1e-12};

TEST_CASE("parity tiny_a (F32 weights, multi-label BCE, 4 heads, 2 layers)") {
    check_fixture<float>("tiny_a", "f32", kF32);
    check_fixture<double>("tiny_a", "f64", kF64);
}
TEST_CASE("parity tiny_b (BF16 weights, single-label CE, 2 heads, 3 layers)") {
    check_fixture<float>("tiny_b", "f32", kF32);
    check_fixture<double>("tiny_b", "f64", kF64);
}
TEST_CASE("parity tiny_c (F16 weights in two shards, 8 heads, 1 layer)") {
    check_fixture<float>("tiny_c", "f32", kF32);
    check_fixture<double>("tiny_c", "f64", kF64);
}

}  // namespace test_distilbert_parity
