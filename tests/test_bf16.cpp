// bf16 tensors and mixed precision on the CPU: bf16 arithmetic, every op DistilBERT uses run on bf16 tensors
// (each is the float op on the widened inputs, rounded once, bit for bit, where the op has one kernel), the
// cast op between the float and the bf16 graphs, and nn::MixedPrecision (bf16 copy, fp32 master weights)
// against the fp32 model: logits, gradients and a 10-step AdamW run.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "temper/temper.hpp"
#include "test_util.hpp"

namespace test_bf16 {  // this file's names apart from the others' (unity build, tests/CMakeLists.txt)

using namespace temper;
using temper::testing::rel_error;

namespace {

template <class T>
std::vector<double> values(const Tensor<T>& t) {
    std::vector<double> out;
    for (T v : t.to_vector()) out.push_back(double(float(v)));
    return out;
}

Tensor<bf16> rnd(const Shape& s, uint64_t seed, double std = 1.0) {
    Generator g(seed);
    return Tensor<bf16>::randn(s, g, std);
}

// Runs f on bf16 inputs and on the same values as float; back-propagates the same (bf16-valued) R through
// both. Returns the output's and every input gradient's rel err of bf16 vs float; with exact, also requires
// each bf16 result to equal the float result rounded to bf16, bit for bit.
template <class F>
std::vector<double> bf16_vs_float(const std::string& name, F f, const std::vector<Tensor<bf16>>& inputs, bool exact) {
    std::vector<Tensor<bf16>> xb;
    std::vector<Tensor<float>> xf;
    for (const auto& x : inputs) {
        xb.push_back(x.clone().set_requires_grad(true));
        xf.push_back(cast<float>(x).set_requires_grad(true));
    }
    Tensor<bf16> yb = f(xb);
    Tensor<float> yf = f(xf);
    Tensor<bf16> r = rnd(yb.shape(), 4242);
    yb.backward(r);
    yf.backward(cast<float>(r));
    std::vector<std::pair<Tensor<bf16>, Tensor<float>>> pairs{{yb, yf}};
    for (size_t i = 0; i < xb.size(); ++i) pairs.push_back({xb[i].grad(), xf[i].grad()});
    std::vector<double> errs;
    for (size_t k = 0; k < pairs.size(); ++k) {
        auto& [b, fl] = pairs[k];
        const std::string what = name + (k == 0 ? " output" : " gradient of input " + std::to_string(k - 1));
        REQUIRE_MESSAGE(b.defined() == fl.defined(), what);
        if (!b.defined()) {
            errs.push_back(0);
            continue;
        }
        errs.push_back(rel_error(values(b), values(fl)));
        if (exact) {
            auto bv = b.to_vector();
            auto fv = fl.to_vector();
            size_t differ = 0;
            for (size_t i = 0; i < bv.size(); ++i) differ += bv[i].bits != bf16(fv[i]).bits;
            CHECK_MESSAGE(differ == 0, what, ": ", differ, " of ", bv.size(), " elements differ");
        }
    }
    return errs;
}

// bf16_vs_float, reported and checked against tol (the worst of the output's and the gradients' rel errs).
template <class F>
void check_op(const std::string& name, F f, const std::vector<Tensor<bf16>>& inputs, bool exact, double tol) {
    double worst = 0;
    for (double e : bf16_vs_float(name, f, inputs, exact)) worst = std::max(worst, e);
    MESSAGE(name << ": bf16 vs float rel err, worst of output and gradients " << worst);
    CHECK(worst <= tol);
}

models::DistilBertConfig tiny_config() {
    models::DistilBertConfig c;
    c.vocab_size = 50;
    c.dim = 32;
    c.n_layers = 2;
    c.n_heads = 4;
    c.hidden_dim = 48;
    c.max_position_embeddings = 12;
    c.problem = models::Problem::MultiLabel;
    c.set_num_labels(3);
    return c;
}

using Classifier = models::DistilBertForSequenceClassification<float>;
using Mixed = nn::MixedPrecision<models::DistilBertForSequenceClassification>;

Tensor<int64_t> ids() { return Tensor<int64_t>::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {2, 6}); }
Tensor<int64_t> mask() { return Tensor<int64_t>::from_vector({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 6}); }
Tensor<float> targets() { return Tensor<float>::from_vector({1, 0, 1, 0, 1, 0}, {2, 3}); }

std::vector<double> all_grads(Classifier& m) {
    std::vector<double> v;
    for (auto& p : m.parameters())
        for (float g : p.grad().to_vector()) v.push_back(g);
    return v;
}

}  // namespace

TEST_CASE("bf16 arithmetic computes in float and rounds once; limits") {
    Generator g(3);
    for (int i = 0; i < 1000; ++i) {
        const bf16 a(float(g.normal() * 100)), b(float(g.normal()));
        CHECK((a + b).bits == bf16(float(a) + float(b)).bits);
        CHECK((a - b).bits == bf16(float(a) - float(b)).bits);
        CHECK((a * b).bits == bf16(float(a) * float(b)).bits);
        CHECK((a / b).bits == bf16(float(a) / float(b)).bits);
        CHECK((a < b) == (float(a) < float(b)));
    }
    CHECK(float(bf16(1.0f) + bf16(1.0f / 512)) == 1.0f);  // a tie: rounds to the even neighbour
    // From double: rounded once (through float it would round twice: 1 + 2^-8 + 2^-30 -> 1 + 2^-8 -> 1).
    CHECK(float(bf16(1.0 + 1.0 / 256 + std::ldexp(1.0, -30))) == 1.0078125f);
    CHECK(float(bf16(-(1.0 + 1.0 / 256 + std::ldexp(1.0, -30)))) == -1.0078125f);
    for (int i = 0; i < 20000; ++i) {  // nearest of the neighbours, ties to even
        const double d = g.normal() * std::ldexp(1.0, int(g.uniform() * 60) - 30);
        const bf16 b(d);
        const double err = std::abs(double(float(b)) - d);
        for (int step : {-1, 1}) {
            const double other = std::abs(double(float(bf16::from_bits(uint16_t(b.bits + step)))) - d);
            CHECK((err < other || (err == other && (b.bits & 1) == 0)));
        }
    }
    CHECK(float(bf16(int64_t(3))) == 3.0f);
    CHECK(float(-bf16(2.5f)) == -2.5f);
    using L = std::numeric_limits<bf16>;
    CHECK(float(L::lowest()) == -float(L::max()));
    CHECK(float(L::max()) == 3.38953139e38f);
    CHECK(std::isinf(float(L::infinity())));
    CHECK(std::isnan(float(L::quiet_NaN())));
    CHECK(float(L::epsilon()) == 0.0078125f);
    static_assert(std::is_same_v<compute_t<bf16>, float> && std::is_same_v<compute_t<double>, double>);
}

TEST_CASE("bf16 ops on the CPU: the float op on widened inputs, rounded once") {
    std::vector<int64_t> m(3 * 9, 1);
    for (int j = 0; j < 9; ++j) m[size_t(9 + j)] = 0;  // a fully masked item
    for (int j = 5; j < 9; ++j) m[size_t(18 + j)] = 0;
    const Tensor<int64_t> key_mask = Tensor<int64_t>::from_vector(m, {3, 9});
    std::vector<int64_t> idv(40);
    for (size_t i = 0; i < idv.size(); ++i) idv[i] = int64_t(i * 7 % 13);
    const Tensor<int64_t> emb_ids = Tensor<int64_t>::from_vector(idv, {4, 10});

    SUBCASE("one kernel each: bit for bit") {
        // One rounding to bf16: at most 2^-8 relative per element.
        check_op(
            "linear", [](const auto& x) { return linear(x[0], x[1], x[2]); },
            {rnd({2, 5, 40}, 1), rnd({17, 40}, 2, 0.2), rnd({17}, 3)}, true, 4e-3);
        check_op(
            "batched matmul", [](const auto& x) { return matmul(x[0], transpose(x[1], -1, -2)); },
            {rnd({3, 4, 9, 16}, 4), rnd({3, 4, 9, 16}, 5)}, true, 4e-3);
        check_op(
            "layer_norm", [](const auto& x) { return layer_norm(x[0], x[1], x[2], 1e-12); },
            {rnd({7, 40}, 7, 2.0), rnd({40}, 8), rnd({40}, 9)}, true, 4e-3);
        check_op(
            "gelu", [](const auto& x) { return gelu(x[0]); }, {rnd({301}, 10, 3.0)}, true, 4e-3);
        check_op(
            "relu", [](const auto& x) { return relu(x[0]); }, {rnd({301}, 11)}, true, 4e-3);
        check_op(
            "embedding", [&](const auto& x) { return embedding(x[0], emb_ids, 0); }, {rnd({13, 24}, 12)}, true, 4e-3);
        auto drop = [](const auto& x) {
            manual_seed(9);
            return dropout(x[0], 0.1, true);
        };
        check_op("dropout", drop, {rnd({301}, 13)}, true, 4e-3);
    }
    SUBCASE("composed, or a backward that reads the rounded forward output: bf16 tolerance") {
        check_op(
            "masked softmax", [&](const auto& x) { return masked_softmax(x[0], key_mask); },
            {rnd({3, 4, 9, 9}, 6, 3.0)}, false, 2e-2);
        check_op(
            "add_layer_norm", [](const auto& x) { return add_layer_norm(x[0], x[1], x[2], x[3], 1e-12); },
            {rnd({7, 40}, 14), rnd({7, 40}, 15), rnd({40}, 16), rnd({40}, 17)}, false, 2e-2);
        check_op(
            "bias_gelu", [](const auto& x) { return bias_gelu(x[0], x[1]); }, {rnd({9, 24}, 18), rnd({24}, 19)}, false,
            2e-2);
        auto attention = [&](const auto& x) {
            return scaled_dot_product_attention(x[0], x[1], x[2], key_mask, 0.0, false);
        };
        check_op("attention", attention, {rnd({3, 2, 9, 16}, 20), rnd({3, 2, 9, 16}, 21), rnd({3, 2, 9, 16}, 22)},
                 false, 2e-2);
    }
}

TEST_CASE("cast: the float graph continues into the bf16 graph") {
    Tensor<bf16> x = rnd({4, 6}, 30).set_requires_grad(true);
    Tensor<bf16> h = gelu(x);
    Tensor<float> w = cast<float>(rnd({4, 6}, 31));
    sum(cast<float>(h) * w).backward();
    // The same gradient through the bf16 graph alone, seeded with w rounded to bf16.
    Tensor<bf16> x2 = x.detach().clone().set_requires_grad(true);
    gelu(x2).backward(cast<bf16>(w));
    auto a = x.grad().to_vector(), b = x2.grad().to_vector();
    size_t differ = 0;
    for (size_t i = 0; i < a.size(); ++i) differ += a[i].bits != b[i].bits;
    CHECK(differ == 0);
    // Round trip: float -> bf16 -> float keeps bf16 values exactly; leaves get float .grad through a cast.
    Tensor<float> leaf = cast<float>(rnd({5}, 32)).set_requires_grad(true);
    CHECK(values(cast<float>(cast<bf16>(leaf))) == values(leaf));
    sum(cast<bf16>(leaf)).backward();
    for (float g : leaf.grad().to_vector()) CHECK(g == 1.0f);
    // A non-leaf cast twice into one backward: the second cast finds its graph freed, and says so.
    Tensor<bf16> y = gelu(rnd({3}, 33).set_requires_grad(true));
    CHECK_THROWS_WITH_AS(sum(cast<float>(y) + cast<float>(y)).backward(), doctest::Contains("already freed"), Error);
    // A non-leaf used directly and through a cast (a skip connection around a bf16 block), in either order:
    // an error, never a silently lost gradient.
    for (int order = 0; order < 2; ++order) {
        Tensor<float> w = cast<float>(rnd({4}, 34)).set_requires_grad(true);
        Tensor<float> x = scale(w, 2.0f);
        Tensor<float> direct = sum(x), through = sum(cast<float>(gelu(cast<bf16>(x))));
        Tensor<float> total = order == 0 ? direct + through : through + direct;
        CHECK_THROWS_AS(total.backward(), Error);
    }
}

TEST_CASE("MixedPrecision: bf16 copy of the master weights, float gradients, close to fp32") {
    Classifier ref(tiny_config(), 3), master(tiny_config(), 3);
    Mixed mp(master);
    auto mparams = master.parameters();
    auto wparams = mp.model().parameters();
    REQUIRE(mparams.size() == wparams.size());
    for (size_t i = 0; i < mparams.size(); ++i) {
        auto a = mparams[i].to_vector();
        auto b = wparams[i].to_vector();
        size_t differ = 0;
        for (size_t k = 0; k < a.size(); ++k) differ += bf16(a[k]).bits != b[k].bits;
        CHECK(differ == 0);
    }

    // The copy runs in the master's mode: eval on the master switches the copy's dropout off too.
    master.eval();
    manual_seed(1);
    const std::vector<double> e1 = values(mp(ids(), mask()));
    manual_seed(2);
    CHECK(values(mp(ids(), mask())) == e1);
    ref.eval();
    mp.eval();
    const double logit_err = rel_error(values(mp(ids(), mask())), values(ref(ids(), mask())));
    ref.train();
    mp.train();
    manual_seed(5);
    ref.loss(ref(ids(), mask()), targets()).backward();
    manual_seed(5);
    master.loss(mp(ids(), mask()), targets()).backward();
    mp.gradients_to_master();
    for (auto& p : mp.model().parameters()) CHECK(!p.grad().defined());  // moved to the master
    const double grad_err = rel_error(all_grads(master), all_grads(ref));
    MESSAGE("mixed precision vs fp32 (CPU, tiny DistilBERT): logits rel err " << logit_err << ", all gradients rel err "
                                                                              << grad_err);
    CHECK(logit_err <= 2e-2);
    CHECK(grad_err <= 3e-2);

    // A second micro-batch adds to the master gradients in float.
    const std::vector<double> once = all_grads(master);
    manual_seed(5);
    master.loss(mp(ids(), mask()), targets()).backward();
    mp.gradients_to_master();
    std::vector<double> twice = all_grads(master), doubled;
    for (double g : once) doubled.push_back(2 * g);
    CHECK(rel_error(twice, doubled) <= 1e-6);

    // Frozen master parameters are frozen in the copy.
    master.zero_grad();
    master.distilbert.embeddings.word_embeddings.weight.set_requires_grad(false);
    mp.copy_weights_from_master();
    CHECK(!mp.model().distilbert.embeddings.word_embeddings.weight.requires_grad());
    master.loss(mp(ids(), mask()), targets()).backward();
    mp.gradients_to_master();
    CHECK(!master.distilbert.embeddings.word_embeddings.weight.grad().defined());
    CHECK(master.classifier.weight.grad().defined());
}

TEST_CASE("MixedPrecision: 10 AdamW steps follow the fp32 run") {
    Classifier ref(tiny_config(), 5), master(tiny_config(), 5);
    Mixed mp(master);
    optim::AdamW<float> o_ref(optim::decay_param_groups(ref.named_parameters(), 0.01), {.lr = 3e-3});
    optim::AdamW<float> o_mp(optim::decay_param_groups(master.named_parameters(), 0.01), {.lr = 3e-3});
    std::vector<double> t_ref, t_mp;
    for (int step = 0; step < 10; ++step) {
        manual_seed(100 + uint64_t(step));
        Tensor<float> l1 = ref.loss(ref(ids(), mask()), targets());
        manual_seed(100 + uint64_t(step));
        Tensor<float> l2 = master.loss(mp(ids(), mask()), targets());
        l1.backward();
        l2.backward();
        mp.gradients_to_master();
        optim::clip_grad_norm(ref.parameters(), 1.0);
        optim::clip_grad_norm(master.parameters(), 1.0);
        o_ref.step();
        o_mp.step();
        o_ref.zero_grad();
        o_mp.zero_grad();
        mp.copy_weights_from_master();
        t_ref.push_back(l1.item());
        t_mp.push_back(l2.item());
    }
    double w = 0;
    for (size_t i = 0; i < t_ref.size(); ++i) w = std::max(w, std::abs(t_mp[i] - t_ref[i]) / t_ref[i]);
    MESSAGE("10-step loss, fp32: " << t_ref.front() << " -> " << t_ref.back() << ", mixed precision: " << t_mp.front()
                                   << " -> " << t_mp.back() << "; worst relative difference " << w);
    CHECK(w <= 3e-2);
    CHECK(t_mp.back() < t_mp.front());
}

}  // namespace test_bf16
