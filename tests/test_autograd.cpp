// Finite-difference gradient checks (double) for every differentiable op, plus engine behaviour.
#include <doctest/doctest.h>

#include <cstring>
#include <functional>
#include <memory>

#include "gradcheck.hpp"

namespace test_autograd {  // this file's names apart from the others' (unity build, tests/CMakeLists.txt)

using namespace temper;
using namespace temper::testing;

constexpr double kTol = 1e-6;

TEST_CASE("gradcheck: matmul 2-D, batched, transposed view, shared right operand") {
    CHECK(gradcheck([](const std::vector<TD>& in) { return matmul(in[0], in[1]); },
                    {rand_input({3, 4}, 1), rand_input({4, 5}, 2)}) < kTol);
    CHECK(gradcheck([](const std::vector<TD>& in) { return matmul(in[0], in[1]); },
                    {rand_input({2, 3, 3, 4}, 3), rand_input({2, 3, 4, 2}, 4)}) < kTol);
    CHECK(gradcheck([](const std::vector<TD>& in) { return matmul(in[0], transpose(in[1], -1, -2)); },
                    {rand_input({2, 2, 5, 4}, 5), rand_input({2, 2, 6, 4}, 6)}) < kTol);
    CHECK(gradcheck([](const std::vector<TD>& in) { return matmul(in[0], in[1]); },
                    {rand_input({2, 3, 4}, 7), rand_input({4, 3}, 8)}) < kTol);
    CHECK(gradcheck([](const std::vector<TD>& in) { return matmul(transpose(in[0], 1, 2), in[1]); },
                    {rand_input({2, 4, 3}, 9), rand_input({4, 3}, 10)}) < kTol);
}

TEST_CASE("gradcheck: linear with and without bias") {
    CHECK(gradcheck([](const std::vector<TD>& in) { return linear(in[0], in[1], in[2]); },
                    {rand_input({2, 3, 4}, 1), rand_input({5, 4}, 2), rand_input({5}, 3)}) < kTol);
    CHECK(gradcheck([](const std::vector<TD>& in) { return linear(in[0], in[1]); },
                    {rand_input({3, 4}, 4), rand_input({2, 4}, 5)}) < kTol);
    // a strided (transposed) input goes through the contiguous copy
    CHECK(gradcheck([](const std::vector<TD>& in) { return linear(transpose(in[0], 0, 1), in[1], in[2]); },
                    {rand_input({4, 3}, 6), rand_input({2, 4}, 7), rand_input({2}, 8)}) < kTol);
}

TEST_CASE("gradcheck: add / sub / mul with broadcasting, scale") {
    auto f_add = [](const std::vector<TD>& in) { return add(in[0], in[1]); };
    auto f_sub = [](const std::vector<TD>& in) { return sub(in[0], in[1]); };
    auto f_mul = [](const std::vector<TD>& in) { return mul(in[0], in[1]); };
    CHECK(gradcheck(f_add, {rand_input({2, 3, 4}, 1), rand_input({4}, 2)}) < kTol);
    CHECK(gradcheck(f_add, {rand_input({2, 1, 4}, 3), rand_input({3, 1}, 4)}) < kTol);
    CHECK(gradcheck(f_sub, {rand_input({3, 1}, 5), rand_input({2, 3, 4}, 6)}) < kTol);
    CHECK(gradcheck(f_mul, {rand_input({2, 3, 4}, 7), rand_input({2, 1, 4}, 8)}) < kTol);
    CHECK(gradcheck(f_mul, {rand_input({2, 3}, 9), rand_input({}, 10)}) < kTol);
    CHECK(gradcheck([](const std::vector<TD>& in) { return scale(in[0], 0.37); }, {rand_input({5, 2}, 11)}) < kTol);
    CHECK(broadcast_shapes({2, 1, 4}, {3, 1}) == Shape{2, 3, 4});
    CHECK_THROWS_AS(broadcast_shapes({2, 3}, {4}), Error);
}

TEST_CASE("gradcheck: gelu (exact erf) and relu") {
    CHECK(gradcheck([](const std::vector<TD>& in) { return gelu(in[0]); }, {rand_input({4, 7}, 1, 2.0)}) < kTol);
    // keep relu inputs away from the kink at 0, where finite differences are meaningless
    TD x = rand_input({30}, 2);
    for (int i = 0; i < 30; ++i) x.data()[i] += x.data()[i] > 0 ? 0.1 : -0.1;
    CHECK(gradcheck([](const std::vector<TD>& in) { return relu(in[0]); }, {x}) < kTol);
    // values against the closed form
    TD v = TD::from_vector({-3.0, -1.0, 0.0, 0.5, 2.0}, {5});
    auto g = gelu(v).to_vector();
    for (int i = 0; i < 5; ++i) {
        double xi = v.data()[i];
        CHECK(g[size_t(i)] == doctest::Approx(0.5 * xi * (1 + std::erf(xi / std::sqrt(2.0)))).epsilon(1e-15));
    }
}

TEST_CASE("gradcheck: masked scaled softmax, incl. a fully masked row") {
    Tensor<int64_t> mask = Tensor<int64_t>::from_vector({1, 1, 0, 1, 0, 1, 1, 1, 0, 0, 0, 0}, {3, 4});
    CHECK(gradcheck([&](const std::vector<TD>& in) { return masked_softmax(in[0], mask, 0.5); },
                    {rand_input({3, 2, 5, 4}, 1)}) < kTol);
    CHECK(gradcheck([](const std::vector<TD>& in) { return softmax(in[0]); }, {rand_input({4, 6}, 2)}) < kTol);
    TD y = masked_softmax(rand_input({3, 2, 5, 4}, 3), mask, 0.5);
    for (int64_t h = 0; h < 2; ++h)
        for (int64_t q = 0; q < 5; ++q) {
            CHECK(y.at({0, h, q, 2}) == 0.0);                    // masked key gets exactly 0
            CHECK(y.at({2, h, q, 1}) == doctest::Approx(0.25));  // fully masked row: uniform, not NaN
        }
    CHECK_THROWS_AS(masked_softmax(rand_input({3, 2, 5, 4}, 4), Tensor<int64_t>::ones({3, 5})), Error);
}

TEST_CASE("gradcheck: layer_norm") {
    CHECK(gradcheck([](const std::vector<TD>& in) { return layer_norm(in[0], in[1], in[2], 1e-5); },
                    {rand_input({2, 3, 6}, 1), rand_input({6}, 2), rand_input({6}, 3)}) < kTol);
    TD x = TD::from_vector({1, 2, 3, 4}, {1, 4});
    TD y = layer_norm(x, TD::ones({4}), TD::zeros({4}), 0.0);
    double sd = std::sqrt(1.25);  // biased variance of 1..4
    CHECK(y.at({0, 0}) == doctest::Approx(-1.5 / sd).epsilon(1e-14));
}

TEST_CASE("fused ops: add_layer_norm and bias_gelu, gradcheck and equality with the composed ops") {
    CHECK(gradcheck([](const std::vector<TD>& in) { return add_layer_norm(in[0], in[1], in[2], in[3], 1e-5); },
                    {rand_input({2, 3, 6}, 1), rand_input({2, 3, 6}, 2), rand_input({6}, 3), rand_input({6}, 4)}) <
          kTol);
    // the same tensor as both operands (a + a) and a transposed (strided) operand
    CHECK(gradcheck([](const std::vector<TD>& in) { return add_layer_norm(in[0], in[0], in[1], in[2], 1e-5); },
                    {rand_input({3, 5}, 5), rand_input({5}, 6), rand_input({5}, 7)}) < kTol);
    CHECK(
        gradcheck(
            [](const std::vector<TD>& in) { return add_layer_norm(transpose(in[0], 0, 1), in[1], in[2], in[3], 1e-5); },
            {rand_input({4, 3}, 8), rand_input({3, 4}, 9), rand_input({4}, 10), rand_input({4}, 11)}) < kTol);
    CHECK(gradcheck([](const std::vector<TD>& in) { return bias_gelu(in[0], in[1]); },
                    {rand_input({2, 3, 7}, 12), rand_input({7}, 13)}) < kTol);
    CHECK(gradcheck([](const std::vector<TD>& in) { return bias_gelu(transpose(in[0], 0, 1), in[1]); },
                    {rand_input({5, 4}, 14), rand_input({5}, 15)}) < kTol);
    CHECK_THROWS_WITH_AS(add_layer_norm(TD::zeros({2, 3}), TD::zeros({3}), TD::ones({3}), TD::zeros({3}), 1e-5),
                         doctest::Contains("differ"), Error);
    CHECK_THROWS_WITH_AS(bias_gelu(TD::zeros({2, 3}), TD::zeros({2})), doctest::Contains("bias_gelu: bias [2]"), Error);

    // float, against the composed ops: the fused forward rounds the same way (bit for bit), so do dx and the
    // LayerNorm parameter gradients; the bias gradient sums in double where sum_to sums in float.
    using TF = Tensor<float>;
    auto leaf = [](const Shape& s, uint64_t seed) {
        Generator gen(seed);
        TF t = TF::randn(s, gen);
        t.set_requires_grad();
        return t;
    };
    auto bits_equal = [](const TF& a, const TF& b) {
        auto u = a.to_vector(), v = b.to_vector();
        return u.size() == v.size() && std::memcmp(u.data(), v.data(), u.size() * sizeof(float)) == 0;
    };
    auto rel = [](const TF& a, const TF& b) {
        auto u = a.to_vector(), v = b.to_vector();
        return rel_error(std::vector<double>(u.begin(), u.end()), std::vector<double>(v.begin(), v.end()));
    };
    {
        TF a = leaf({3, 37, 40}, 20), b = leaf({3, 37, 40}, 21), w = leaf({40}, 22), bb = leaf({40}, 23);
        TF r = TF::randn({3, 37, 40}, *std::make_unique<Generator>(24));
        TF fused = add_layer_norm(a, b, w, bb, 1e-12);
        sum(mul(fused, r)).backward();
        std::vector<TF> g1 = {a.grad(), b.grad(), w.grad(), bb.grad()};
        for (TF* t : {&a, &b, &w, &bb}) t->zero_grad();
        TF composed = layer_norm(add(a, b), w, bb, 1e-12);
        sum(mul(composed, r)).backward();
        CHECK(bits_equal(fused, composed));
        CHECK(bits_equal(g1[0], a.grad()));
        CHECK(bits_equal(g1[1], b.grad()));
        CHECK(bits_equal(g1[2], w.grad()));
        CHECK(bits_equal(g1[3], bb.grad()));
    }
    {
        TF x = leaf({4, 33, 300}, 30), bias = leaf({300}, 31);
        TF r = TF::randn({4, 33, 300}, *std::make_unique<Generator>(32));
        TF fused = bias_gelu(x, bias);
        sum(mul(fused, r)).backward();
        TF gx = x.grad(), gb = bias.grad();
        x.zero_grad();
        bias.zero_grad();
        TF composed = gelu(add(x, bias));
        sum(mul(composed, r)).backward();
        CHECK(bits_equal(fused, composed));
        CHECK(bits_equal(gx, x.grad()));
        const double e = rel(gb, bias.grad());
        MESSAGE("bias_gelu bias gradient vs float sum_to: rel err " << e);
        CHECK(e < 1e-6);
        NoGradGuard ng;  // inference path: the sum is formed in the output buffer
        CHECK(bits_equal(bias_gelu(x, bias), composed));
    }
}

TEST_CASE("gradcheck: embedding gather / scatter-add, padding row gets no gradient") {
    Tensor<int64_t> ids = Tensor<int64_t>::from_vector({1, 3, 3, 0, 2, 1}, {2, 3});
    CHECK(gradcheck([&](const std::vector<TD>& in) { return embedding(in[0], ids); }, {rand_input({4, 5}, 1)}) < kTol);
    TD w = rand_input({4, 5}, 2);
    sum(embedding(w, ids, /*padding_idx=*/0)).backward();
    for (int j = 0; j < 5; ++j) {
        CHECK(w.grad().at({0, j}) == 0.0);
        CHECK(w.grad().at({3, j}) == 2.0);  // id 3 used twice
    }
    CHECK_THROWS_WITH_AS(embedding(w, Tensor<int64_t>::from_vector({4}, {1})), doctest::Contains("out of range"),
                         Error);
    CHECK_THROWS_AS(embedding(w, Tensor<int64_t>::from_vector({-1}, {1})), Error);
}

TEST_CASE("dropout: scaling, eval identity, reproducible mask, gradcheck with fixed mask") {
    TD x = TD::ones({1000});
    Generator g1(42), g2(42);
    auto a = dropout(x, 0.25, true, g1).to_vector();
    auto b = dropout(x, 0.25, true, g2).to_vector();
    CHECK(a == b);
    int kept = 0;
    for (double v : a) {
        CHECK((v == 0.0 || v == doctest::Approx(1.0 / 0.75)));
        kept += v != 0.0;
    }
    CHECK(kept > 700);
    CHECK(kept < 800);
    CHECK(dropout(x, 0.25, false, g1).to_vector() == x.to_vector());
    // gradcheck: the same generator state for each call, so the mask is fixed
    CHECK(gradcheck(
              [](const std::vector<TD>& in) {
                  Generator g(3);
                  return dropout(in[0], 0.3, true, g);
              },
              {rand_input({4, 6}, 1)}) < kTol);
    CHECK_THROWS_AS(dropout(x, 1.0, true), Error);
}

TEST_CASE("dropout: the mask is philox_uniform(seed, offset, i) >= p element by element") {
    // sizes that are not multiples of the 4-word Philox block, one large enough to run in parallel,
    // and a generator whose offset has moved
    for (int64_t n : {1, 7, 1003, 100003}) {
        Generator g(9);
        g.reserve(10);
        const uint64_t seed = g.seed(), offset = g.offset();
        auto y = dropout(TD::ones({n}), 0.4, true, g).to_vector();
        int64_t wrong = 0;
        for (int64_t i = 0; i < n; ++i) {
            const double want = philox_uniform(seed, offset, uint64_t(i)) >= 0.4f ? 1.0 / 0.6 : 0.0;
            wrong += y[size_t(i)] != want;
        }
        CHECK_MESSAGE(wrong == 0, "n = ", n);
        CHECK(g.offset() == offset + uint64_t((n + 3) / 4));
    }
}

TEST_CASE("gradcheck: reshape / transpose / slice / select / contiguous") {
    CHECK(gradcheck(
              [](const std::vector<TD>& in) {
                  return reshape(in[0], {3, -1});
              },
              {rand_input({2, 3, 2}, 1)}) < kTol);
    CHECK(gradcheck([](const std::vector<TD>& in) { return contiguous(transpose(in[0], 0, 2)); },
                    {rand_input({2, 3, 4}, 2)}) < kTol);
    CHECK(gradcheck([](const std::vector<TD>& in) { return slice(in[0], 1, 1, 3); }, {rand_input({2, 4, 3}, 3)}) <
          kTol);
    CHECK(gradcheck([](const std::vector<TD>& in) { return select(in[0], 1, 0); }, {rand_input({2, 4, 3}, 4)}) < kTol);
    CHECK(gradcheck([](const std::vector<TD>& in) { return reshape(transpose(in[0], 0, 1), {-1}); },
                    {rand_input({3, 2}, 5)}) < kTol);
    TD x = TD::from_vector({0, 1, 2, 3, 4, 5}, {2, 3});
    TD t = transpose(x, 0, 1);
    CHECK(t.shape() == Shape{3, 2});
    CHECK(t.at({2, 1}) == 5.0);
    CHECK(t.storage() == x.storage());  // a view, not a copy
    CHECK(slice(x, 1, 1, 3).to_vector() == std::vector<double>{1, 2, 4, 5});
    CHECK_THROWS_AS(reshape(x, {4, 2}), Error);
    CHECK_THROWS_AS(slice(x, 1, 2, 4), Error);
}

TEST_CASE("gradcheck: bce_with_logits with and without pos_weight; values vs the formula") {
    Generator gen(5);
    TD y = TD::uniform({3, 4}, gen);
    for (int i = 0; i < 12; ++i) y.data()[i] = y.data()[i] > 0.5 ? 1.0 : 0.0;
    TD pw = TD::from_vector({0.5, 1.0, 2.0, 3.0}, {4});
    CHECK(gradcheck([&](const std::vector<TD>& in) { return bce_with_logits(in[0], y); },
                    {rand_input({3, 4}, 1, 3.0)}) < kTol);
    CHECK(gradcheck([&](const std::vector<TD>& in) { return bce_with_logits(in[0], y, pw); },
                    {rand_input({3, 4}, 2, 3.0)}) < kTol);
    // large logits stay finite (the stable form)
    TD big = TD::from_vector({1000.0, -1000.0}, {1, 2});
    TD tgt = TD::from_vector({0.0, 1.0}, {1, 2});
    CHECK(bce_with_logits(big, tgt).item() == doctest::Approx(1000.0));
    TD x1 = TD::from_vector({0.3}, {1, 1}), y1 = TD::from_vector({1.0}, {1, 1});
    CHECK(bce_with_logits(x1, y1).item() == doctest::Approx(std::log1p(std::exp(-0.3))).epsilon(1e-14));
    CHECK(bce_with_logits(x1, y1, TD::from_vector({2.5}, {1})).item() ==
          doctest::Approx(2.5 * std::log1p(std::exp(-0.3))).epsilon(1e-14));
}

TEST_CASE("gradcheck: cross_entropy, ignore_index, label range") {
    Tensor<int64_t> labels = Tensor<int64_t>::from_vector({2, 0, -100, 1}, {4});
    CHECK(gradcheck([&](const std::vector<TD>& in) { return cross_entropy(in[0], labels); },
                    {rand_input({4, 3}, 1, 2.0)}) < kTol);
    TD x = TD::from_vector({1.0, 2.0, 3.0}, {1, 3});
    double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
    CHECK(cross_entropy(x, Tensor<int64_t>::from_vector({0}, {1})).item() == doctest::Approx(lse - 1.0).epsilon(1e-14));
    CHECK_THROWS_WITH_AS(cross_entropy(x, Tensor<int64_t>::from_vector({3}, {1})), doctest::Contains("out of range"),
                         Error);
}

TEST_CASE("engine: accumulation into .grad, shared subexpressions, no_grad, freed graph") {
    TD w = rand_input({3}, 1);
    TD a = mul(w, w);       // w used twice in one node
    TD l = sum(add(a, w));  // and again through another path
    l.backward();
    for (int i = 0; i < 3; ++i) CHECK(w.grad().data()[i] == doctest::Approx(2 * w.data()[i] + 1));
    // a second graph accumulates into the same .grad
    sum(w).backward();
    for (int i = 0; i < 3; ++i) CHECK(w.grad().data()[i] == doctest::Approx(2 * w.data()[i] + 2));
    w.zero_grad();
    CHECK_FALSE(w.grad().defined());
    // the graph is freed after backward: running it again is a clear error
    CHECK_THROWS_WITH_AS(l.backward(), doctest::Contains("already freed"), Error);
    {
        NoGradGuard ng;
        TD z = mul(w, w);
        CHECK_FALSE(z.requires_grad());
        CHECK_THROWS_AS(sum(z).backward(), Error);
    }
    CHECK(mul(w, w).requires_grad());
    // non-scalar backward needs an explicit gradient
    CHECK_THROWS_AS(mul(w, w).backward(), Error);
}

TEST_CASE("engine: one gradient tensor handed to several inputs is never added into twice") {
    // add's backward returns the same tensor for both operands; accumulating into it in place used to
    // change the other operand's gradient too (z = (x + y) + x gave dy = 2).
    TD x = rand_input({4}, 1), y = rand_input({4}, 2);
    sum(add(add(x, y), x)).backward();
    for (int i = 0; i < 4; ++i) {
        CHECK(x.grad().data()[i] == 2.0);
        CHECK(y.grad().data()[i] == 1.0);
    }
    // two leaves fed by one add: their .grad buffers must stay separate through later accumulation
    TD a = rand_input({3}, 3), b = rand_input({3}, 4);
    sum(add(a, b)).backward();
    sum(add(a, b)).backward();
    sum(a).backward();
    for (int i = 0; i < 3; ++i) {
        CHECK(a.grad().data()[i] == 3.0);
        CHECK(b.grad().data()[i] == 2.0);
    }
    // a caller's grad_output passed straight through to a leaf is copied, not added into later
    TD c = rand_input({3}, 5);
    TD seed = TD::full({3}, 1.0);
    reshape(c, {3}).backward(seed);
    sum(c).backward();
    for (int i = 0; i < 3; ++i) CHECK(seed.data()[i] == 1.0);
    for (int i = 0; i < 3; ++i) CHECK(c.grad().data()[i] == 2.0);
}

TEST_CASE("philox: known-answer vector and determinism") {
    // Random123's published answer for Philox4x32-10 with zero counter and key.
    Philox4 r = philox4x32(0, 0);
    CHECK(r.x[0] == 0x6627e8d5u);
    CHECK(r.x[1] == 0xe169c58du);
    CHECK(r.x[2] == 0xbc57ac4cu);
    CHECK(r.x[3] == 0x9b00dbd8u);
    Generator a(9), b(9);
    CHECK(a.normal() == b.normal());
    CHECK(a.uniform() == b.uniform());
}

TEST_CASE("cpu::gemm (OpenBLAS in this build when found) and cpu::eigen_gemm against a naive sum") {
    // every transpose combination, alpha/beta, odd sizes, leading dimensions wider than the matrices
    Generator gen(21);
    const int64_t M = 13, N = 7, K = 9, pad = 3;
    for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb) {
            const int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
            auto A = Tensor<double>::randn({(ta ? K : M), lda}, gen).to_vector();
            auto B = Tensor<double>::randn({(tb ? N : K), ldb}, gen).to_vector();
            auto C0 = Tensor<double>::randn({M, ldc}, gen).to_vector();
            const double alpha = 0.7, beta = -1.3;
            std::vector<double> want = C0;
            for (int64_t i = 0; i < M; ++i)
                for (int64_t j = 0; j < N; ++j) {
                    double acc = 0;
                    for (int64_t k = 0; k < K; ++k)
                        acc += (ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
                    want[i * ldc + j] = alpha * acc + beta * C0[i * ldc + j];
                }
            auto rel = [&](const std::vector<double>& got) {
                double d = 0, r = 0;
                for (size_t i = 0; i < got.size(); ++i)
                    d += (got[i] - want[i]) * (got[i] - want[i]), r += want[i] * want[i];
                return std::sqrt(d / r);
            };
            std::vector<double> c1 = C0, c2 = C0;
            cpu::gemm<double>(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, c1.data(), ldc);
            cpu::eigen_gemm<double>(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, c2.data(), ldc);
            CHECK_MESSAGE(rel(c1) < 1e-14, "gemm ta=", ta, " tb=", tb, " rel err ", rel(c1));
            CHECK_MESSAGE(rel(c2) < 1e-14, "eigen_gemm ta=", ta, " tb=", tb, " rel err ", rel(c2));
            // the padding columns of C are not touched
            for (int64_t i = 0; i < M; ++i)
                for (int64_t j = N; j < ldc; ++j) REQUIRE(c1[i * ldc + j] == C0[i * ldc + j]);
        }
}

TEST_CASE("randn / uniform: element i is the generator's i-th draw (parallel fill); skip mode advances alike") {
    // Box-Muller on block 0 of seed 9, written out
    const Philox4 r = philox4x32(0, 9);
    const double u1 = (double(r.x[0]) + 1.0) / 4294967296.0, u2 = double(r.x[1]) / 4294967296.0;
    CHECK(Generator(9).normal() == std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
    for (int64_t n : {1, 5, 100003}) {  // the last is filled by several threads
        Generator g(9), seq(9), skip(9);
        g.reserve(3), seq.reserve(3), skip.reserve(3);
        auto a = Tensor<double>::randn({n}, g, 0.5, 1.0).to_vector();
        auto u = Tensor<float>::uniform({n}, g, -2.0, 3.0).to_vector();
        int64_t wrong = 0;
        for (int64_t i = 0; i < n; ++i) wrong += a[size_t(i)] != 1.0 + 0.5 * seq.normal();
        for (int64_t i = 0; i < n; ++i) wrong += u[size_t(i)] != float(-2.0 + 5.0 * seq.uniform());
        CHECK_MESSAGE(wrong == 0, "n = ", n);
        CHECK(g.offset() == seq.offset());
        CHECK(g.normal() == seq.normal());

        skip.set_skip_values(true);
        auto s = Tensor<float>::randn({n}, skip);
        CHECK(std::isnan(s.to_vector().back()));
        (void)Tensor<float>::uniform({n}, skip);
        skip.set_skip_values(false);
        CHECK(skip.offset() + 1 == seq.offset());
    }
}

TEST_CASE("a graph that is never back-propagated is freed with its output (no reference cycles)") {
    // An op whose backward node kept its own output alive (output -> grad_fn -> node -> output) leaked the
    // whole graph of every forward pass run with gradients on and no backward(), e.g. evaluation without
    // NoGradGuard. Found by LeakSanitizer in the sanitizer build (masked_softmax).
    const TD x = rand_input({2, 3, 4}, 11), w = rand_input({4}, 12), b = rand_input({4}, 13),
             m = rand_input({5, 4}, 14);
    const Tensor<int64_t> mask = Tensor<int64_t>::ones({2, 4});
    const std::vector<std::pair<const char*, std::function<TD()>>> ops = {
        {"softmax", [&] { return softmax(x); }},
        {"masked_softmax", [&] { return masked_softmax(x, mask, 0.5); }},
        {"layer_norm", [&] { return layer_norm(x, w, b, 1e-5); }},
        {"linear", [&] { return linear(x, m, Tensor<double>()); }},
        {"gelu", [&] { return gelu(x); }},
        {"relu", [&] { return relu(x); }}};
    for (const auto& [name, op] : ops) {
        std::weak_ptr<autograd::Node<double>> node;
        {
            const TD y = op();
            node = y.grad_fn();
            REQUIRE_MESSAGE(!node.expired(), name);
        }
        CHECK_MESSAGE(node.expired(), name);
    }
}

TEST_CASE("host memory stats: bytes held by tensor storage, and the peak since a reset") {
    const auto before = host_memory_stats();
    reset_peak_host_memory();
    {
        auto a = Tensor<float>::zeros({1000});  // 4000 bytes, rounded up to 64-byte lines: 4032
        auto b = Tensor<double>::zeros({10});   // 80 -> 128
        CHECK(host_memory_stats().bytes_in_use == before.bytes_in_use + 4032 + 128);
        CHECK(host_memory_stats().allocations == before.allocations + 2);
    }
    const auto after = host_memory_stats();
    CHECK(after.bytes_in_use == before.bytes_in_use);
    CHECK(after.peak_in_use == before.bytes_in_use + 4032 + 128);
    reset_peak_host_memory();
    CHECK(host_memory_stats().peak_in_use == before.bytes_in_use);
}

TEST_CASE("host memory cache: a freed large block is handed out again, release_host_cache empties it") {
    release_host_cache();
    { auto warm = Tensor<float>::zeros({1 << 18}); }  // 1 MiB: sets the high-water mark the cache may hold
    const auto before = host_memory_stats();
    if (!detail::HostAllocator::kCaching) {
        MESSAGE("host cache off in this build (AddressSanitizer): nothing cached");
        CHECK(before.bytes_cached == 0);
        return;
    }
    CHECK(before.bytes_cached >= (size_t(1) << 20));
    {
        auto a = Tensor<float>::zeros({(1 << 18) - 100});  // rounds up to the same 1 MiB block
        CHECK(host_memory_stats().os_allocations == before.os_allocations);
        CHECK(host_memory_stats().bytes_cached == before.bytes_cached - (size_t(1) << 20));
        for (float v : a.to_vector()) REQUIRE(v == 0.0f);  // zeros() still fills a reused block
    }
    CHECK(host_memory_stats().bytes_cached == before.bytes_cached);
    { auto small = Tensor<float>::zeros({100}); }  // small blocks go straight back to malloc
    CHECK(host_memory_stats().bytes_cached == before.bytes_cached);
    release_host_cache();
    CHECK(host_memory_stats().bytes_cached == 0);
    CHECK(detail::HostAllocator::block_size(100) == 128);
    CHECK(detail::HostAllocator::block_size((size_t(1) << 20) + 1) == (size_t(1) << 20) + (size_t(1) << 17));
}

}  // namespace test_autograd
