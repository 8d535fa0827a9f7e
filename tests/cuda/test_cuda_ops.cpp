// Differentiable ops on the GPU against the same ops on the CPU: outputs and gradients.
#include <doctest/doctest.h>

#include "cuda_test_util.hpp"

namespace test_cuda_ops {  // this file's names apart from the others' (unity build, tests/cuda/CMakeLists.txt)

using namespace temper;
using namespace temper::testing;

TEST_CASE("matmul on the GPU: 2-D, batched, transposed views, shared right operand, odd sizes") {
    using T = float;
    struct Case {
        Shape a, b;
        bool ta, tb;
    };
    for (Case c : {Case{{7, 13}, {13, 5}, false, false}, Case{{3, 33, 17}, {3, 17, 65}, false, false},
                   Case{{2, 4, 31, 9}, {9, 129}, false, false}, Case{{13, 7}, {13, 5}, true, false},
                   Case{{7, 13}, {5, 13}, false, true}, Case{{2, 17, 33}, {2, 65, 17}, true, true}}) {
        auto f = [&](const std::vector<Tensor<T>>& x) {
            Tensor<T> a = c.ta ? transpose(x[0], -1, -2) : x[0];
            Tensor<T> b = c.tb ? transpose(x[1], -1, -2) : x[1];
            return matmul(a, b);
        };
        auto r = cpu_vs_gpu<T>(f, {random_tensor<T>(c.a, 1), random_tensor<T>(c.b, 2)});
        expect_close(r, 1e-5,
                     "matmul " + shape_str(c.a) + (c.ta ? "^T" : "") + " @ " + shape_str(c.b) + (c.tb ? "^T" : ""));
    }
}

TEST_CASE("linear on the GPU, with and without bias, in float and double") {
    for (bool bias : {true, false}) {
        auto f = [&](const std::vector<Tensor<float>>& x) { return linear(x[0], x[1], bias ? x[2] : Tensor<float>()); };
        auto r = cpu_vs_gpu<float>(f, {random_tensor<float>({2, 37, 96}, 3), random_tensor<float>({50, 96}, 4, 0.1),
                                       random_tensor<float>({50}, 5)});
        expect_close(r, 1e-5, bias ? "linear float (bias)" : "linear float");
    }
    auto fd = [](const std::vector<Tensor<double>>& x) { return linear(x[0], x[1], x[2]); };
    auto rd = cpu_vs_gpu<double>(
        fd, {random_tensor<double>({11, 24}, 6), random_tensor<double>({7, 24}, 7), random_tensor<double>({7}, 8)});
    expect_close(rd, 1e-12, "linear double");
}

TEST_CASE("math modes: TF32 and BF16 GEMMs stay within their documented error, strict is restored") {
    auto f = [](const std::vector<Tensor<float>>& x) { return matmul(x[0], x[1]); };
    std::vector<Tensor<float>> in = {random_tensor<float>({128, 768}, 9), random_tensor<float>({768, 256}, 10)};
    for (auto [mode, tol] : {std::pair{cuda::MathMode::TF32, 5e-3}, std::pair{cuda::MathMode::BF16, 2e-2}}) {
        cuda::set_math_mode(mode);
        auto r = cpu_vs_gpu<float>(f, in);
        cuda::set_math_mode(cuda::MathMode::Strict);
        MESSAGE(std::string(cuda::math_mode_name(mode))
                << " GEMM 128x768x256: output rel err " << r.out_err << ", gradients " << r.worst_grad());
        CHECK(r.out_err <= tol);
        CHECK(r.out_err > 1e-7);  // the mode really changed the arithmetic
    }
    CHECK(cpu_vs_gpu<float>(f, in).out_err <= 1e-5);
}

TEST_CASE("views on the GPU: reshape, transpose, slice, select, contiguous, and gradient accumulation") {
    auto f = [](const std::vector<Tensor<float>>& x) {
        Tensor<float> t = transpose(reshape(x[0], {3, 4, 10}), 0, 2);  // [10, 4, 3] strided
        Tensor<float> s = slice(t, 0, 2, 9);                           // [7, 4, 3]
        Tensor<float> c = contiguous(select(s, 1, 2));                 // [7, 3]
        return matmul(transpose(c, 0, 1), slice(x[0], 0, 0, 7));       // [3, 10]; x[0] used twice
    };
    auto r = cpu_vs_gpu<float>(f, {random_tensor<float>({12, 10}, 11)});
    expect_close(r, 1e-5, "views");
}

TEST_CASE("add / sub / mul with broadcasting, scale, sum, mean on the GPU") {
    using T = float;
    auto f = [](const std::vector<Tensor<T>>& x) {
        Tensor<T> y = add(x[0], x[1]);      // [4, 5, 33] + [33] (bias)
        y = sub(y, x[2]);                   // - [4, 1, 33]
        y = mul(y, transpose(x[3], 0, 1));  // * [5, 33]^T^T strided
        return scale(y, T(0.75));
    };
    auto r = cpu_vs_gpu<T>(f, {random_tensor<T>({4, 5, 33}, 1), random_tensor<T>({33}, 2),
                               random_tensor<T>({4, 1, 33}, 3), random_tensor<T>({33, 5}, 4)});
    expect_close(r, 1e-6, "add/sub/mul/scale");
    auto fs = [](const std::vector<Tensor<T>>& x) { return add(sum(x[0]), mean(x[1])); };
    auto rs = cpu_vs_gpu<T>(fs, {random_tensor<T>({1000, 37}, 5), random_tensor<T>({3, 3}, 6)});
    expect_close(rs, 1e-5, "sum + mean");
}

TEST_CASE("gelu, relu, masked_softmax and layer_norm on the GPU") {
    using T = float;
    auto fa = [](const std::vector<Tensor<T>>& x) { return relu(gelu(transpose(x[0], 0, 1))); };
    expect_close(cpu_vs_gpu<T>(fa, {random_tensor<T>({77, 130}, 7)}), 1e-6, "gelu + relu");

    // Scores [B=3, H=2, S=37, S=37] with padded keys; batch item 2 is fully masked.
    std::vector<int64_t> m(3 * 37, 1);
    for (int j = 20; j < 37; ++j) m[size_t(37 + j)] = 0;
    for (int j = 0; j < 37; ++j) m[size_t(74 + j)] = 0;
    auto mask_cpu = Tensor<int64_t>::from_vector(m, {3, 37});
    auto mask_gpu = mask_cpu.to(Device::cuda());
    auto fs = [&](const std::vector<Tensor<T>>& x) {
        return masked_softmax(x[0], x[0].device().is_cuda() ? mask_gpu : mask_cpu, T(0.125));
    };
    expect_close(cpu_vs_gpu<T>(fs, {random_tensor<T>({3, 2, 37, 37}, 8, 3.0)}), 1e-5, "masked_softmax");

    auto fl = [](const std::vector<Tensor<T>>& x) { return layer_norm(x[0], x[1], x[2], 1e-12); };
    expect_close(cpu_vs_gpu<T>(
                     fl, {random_tensor<T>({2, 45, 768}, 9), random_tensor<T>({768}, 10), random_tensor<T>({768}, 11)}),
                 1e-5, "layer_norm");
}

TEST_CASE("fused add_layer_norm and bias_gelu on the GPU (the transformer block's fused ops)") {
    using T = float;
    // widths with and without the 16-byte packed path (768, 130), a transposed operand, a + a
    for (int64_t d : {768, 130}) {
        auto fl = [](const std::vector<Tensor<T>>& x) { return add_layer_norm(x[0], x[1], x[2], x[3], 1e-12); };
        expect_close(cpu_vs_gpu<T>(fl, {random_tensor<T>({2, 45, d}, 12), random_tensor<T>({2, 45, d}, 13),
                                        random_tensor<T>({d}, 14), random_tensor<T>({d}, 15)}),
                     1e-5, "add_layer_norm d=" + std::to_string(d));
    }
    auto ft = [](const std::vector<Tensor<T>>& x) {
        return add_layer_norm(transpose(x[0], 0, 1), x[1], x[2], x[3], 1e-5);
    };
    expect_close(cpu_vs_gpu<T>(ft, {random_tensor<T>({33, 17}, 16), random_tensor<T>({17, 33}, 17),
                                    random_tensor<T>({33}, 18), random_tensor<T>({33}, 19)}),
                 1e-5, "add_layer_norm, transposed operand");
    auto fs = [](const std::vector<Tensor<T>>& x) { return add_layer_norm(x[0], x[0], x[1], x[2], 1e-5); };
    expect_close(
        cpu_vs_gpu<T>(fs, {random_tensor<T>({9, 64}, 20), random_tensor<T>({64}, 21), random_tensor<T>({64}, 22)}),
        1e-5, "add_layer_norm(a, a)");
    for (int64_t cols : {3072, 257, 1}) {
        auto fg = [](const std::vector<Tensor<T>>& x) { return bias_gelu(x[0], x[1]); };
        expect_close(cpu_vs_gpu<T>(fg, {random_tensor<T>({3, 41, cols}, 23), random_tensor<T>({cols}, 24)}), 1e-5,
                     "bias_gelu cols=" + std::to_string(cols));
    }
    // no autograd: the forward writes no pre-activation buffer
    NoGradGuard ng;
    Tensor<T> x = random_tensor<T>({64, 300}, 25), b = random_tensor<T>({300}, 26);
    const double e =
        rel_error(bias_gelu(x.to(Device::cuda()), b.to(Device::cuda())).to_vector(), bias_gelu(x, b).to_vector());
    MESSAGE("bias_gelu, inference path: rel err " << e);
    CHECK(e <= 1e-6);
}

TEST_CASE("embedding (with padding_idx), dropout, bce_with_logits, cross_entropy on the GPU") {
    using T = float;
    const Device gpu = Device::cuda();
    std::vector<int64_t> idv = {3, 0, 7, 7, 1, 0, 9, 3, 3, 2, 8, 5};
    auto ids = Tensor<int64_t>::from_vector(idv, {3, 4});
    auto ids_g = ids.to(gpu);
    auto fe = [&](const std::vector<Tensor<T>>& x) {
        return embedding(x[0], x[0].device().is_cuda() ? ids_g : ids, /*padding_idx=*/0);
    };
    auto re = cpu_vs_gpu<T>(fe, {random_tensor<T>({10, 33}, 12)});
    MESSAGE("embedding: output rel err " << re.out_err << ", weight gradient " << re.worst_grad());
    CHECK(re.out_err == 0.0);
    CHECK(re.worst_grad() == 0.0);  // the kernel adds in the CPU's order: bit-identical
    CHECK_THROWS_AS(embedding(random_tensor<T>({10, 3}, 1).to(gpu), Tensor<int64_t>::full({2}, 10, gpu)), Error);

    // Dropout draws the same Philox mask on both devices: outputs and gradients are bit-identical.
    auto fd = [](const std::vector<Tensor<T>>& x) {
        Generator gen(1234);
        return dropout(x[0], 0.3, true, gen);
    };
    auto rd = cpu_vs_gpu<T>(fd, {random_tensor<T>({5, 1001}, 13)});
    MESSAGE("dropout: output rel err " << rd.out_err << ", gradient " << rd.worst_grad());
    CHECK(rd.out_err == 0.0);
    CHECK(rd.worst_grad() == 0.0);

    auto targets = Tensor<T>::from_vector(std::vector<T>{1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1}, {3, 5});
    auto pos_weight = Tensor<T>::from_vector(std::vector<T>{2.0f, 0.5f, 1.0f, 3.0f, 1.5f}, {5});
    for (bool pw : {false, true}) {
        auto fb = [&](const std::vector<Tensor<T>>& x) {
            Device d = x[0].device();
            Tensor<T> l = bce_with_logits(x[0], targets.to(d), pw ? pos_weight.to(d) : Tensor<T>());
            return scale(l, T(0.5));  // a non-unit upstream gradient reaches the fused backward
        };
        expect_close(cpu_vs_gpu<T>(fb, {random_tensor<T>({3, 5}, 14, 3.0)}), 1e-6,
                     pw ? "bce_with_logits (pos_weight)" : "bce_with_logits");
    }
    auto labels = Tensor<int64_t>::from_vector({2, -100, 0, 4}, {4});
    auto fc = [&](const std::vector<Tensor<T>>& x) { return cross_entropy(x[0], labels.to(x[0].device())); };
    expect_close(cpu_vs_gpu<T>(fc, {random_tensor<T>({4, 5}, 15, 2.0)}), 1e-6, "cross_entropy (ignore_index)");
    CHECK_THROWS_AS(cross_entropy(random_tensor<T>({1, 5}, 1).to(gpu), Tensor<int64_t>::full({1}, 5, gpu)), Error);
}

TEST_CASE("AdamW and clip_grad_norm on the GPU follow the CPU bit for bit over 10 steps") {
    using T = float;
    const Device gpu = Device::cuda();
    std::vector<Tensor<T>> pc = {random_tensor<T>({64, 33}, 20).set_requires_grad(true),
                                 random_tensor<T>({33}, 21).set_requires_grad(true)};
    std::vector<Tensor<T>> pg = {pc[0].detach().to(gpu).set_requires_grad(true),
                                 pc[1].detach().to(gpu).set_requires_grad(true)};
    auto make = [](std::vector<Tensor<T>>& p) {
        std::vector<optim::ParamGroup<T>> groups(2);
        groups[0].params = {p[0]};
        groups[1].params = {p[1]};
        groups[1].weight_decay = 0.0;
        return optim::AdamW<T>(groups, {.lr = 1e-2, .weight_decay = 0.01});
    };
    auto oc = make(pc);
    auto og = make(pg);
    for (int step = 0; step < 10; ++step) {
        for (size_t i = 0; i < 2; ++i) {
            Tensor<T> g = random_tensor<T>(pc[i].shape(), uint64_t(100 + 10 * step + int(i)), 5.0);
            pc[i].set_grad(g.clone());
            pg[i].set_grad(g.to(gpu));
        }
        double nc = optim::clip_grad_norm(pc, 1.0), ng = optim::clip_grad_norm(pg, 1.0);
        CHECK(ng == doctest::Approx(nc).epsilon(1e-6));
        oc.step();
        og.step();
    }
    double worst = 0;
    for (size_t i = 0; i < 2; ++i) worst = std::max(worst, rel_error(pg[i].to_vector(), pc[i].to_vector()));
    MESSAGE("AdamW + clipping, 10 steps: parameter rel err GPU vs CPU " << worst);
    // Clipping sums squares in a different order on the GPU, so the scale can differ in the last bit.
    CHECK(worst <= 1e-6);
}

TEST_CASE("scaled_dot_product_attention: fused on the GPU (head dim 64) and composed (head dim 16) vs the CPU") {
    using T = float;
    // Batch item 1 has 70 of 100 keys, item 2 none (fully masked: uniform weights).
    std::vector<int64_t> m(3 * 100, 1);
    for (int j = 70; j < 100; ++j) m[size_t(100 + j)] = 0;
    for (int j = 0; j < 100; ++j) m[size_t(200 + j)] = 0;
    auto mask_cpu = Tensor<int64_t>::from_vector(m, {3, 100});
    auto mask_gpu = mask_cpu.to(Device::cuda());
    for (int64_t D : {64, 16}) {
        for (double p : {0.0, 0.1}) {
            auto f = [&](const std::vector<Tensor<T>>& x) {
                Generator gen(77);  // the same dropout stream on both devices
                return scaled_dot_product_attention(x[0], x[1], x[2], x[0].device().is_cuda() ? mask_gpu : mask_cpu, p,
                                                    true, gen);
            };
            auto r = cpu_vs_gpu<T>(f, {random_tensor<T>({3, 2, 100, D}, 30), random_tensor<T>({3, 2, 100, D}, 31),
                                       random_tensor<T>({3, 2, 100, D}, 32)});
            expect_close(r, 1e-5, "attention D=" + std::to_string(D) + " dropout " + std::to_string(p));
        }
    }
}

}  // namespace test_cuda_ops
