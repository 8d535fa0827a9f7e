// CUDA graph capture (cuda/graph.hpp) and the fixed-shape InferenceGraph (models/inference_graph.hpp):
// replays equal eager runs bit for bit, new inputs are seen, steady replays allocate nothing, the graph's
// memory is reserved while it lives and returned after, and a capture that waits for the GPU fails clearly.
// TrainStepGraph (train/train_step_graph.hpp): replayed training steps equal eager ones bit for bit.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>

#include "cuda_test_util.hpp"
#include "temper/train/train_step_graph.hpp"

namespace test_cuda_graph {  // this file's names apart from the others' (unity build, tests/cuda/CMakeLists.txt)

using namespace temper;
using namespace temper::testing;

namespace {

bool bits_equal(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

models::DistilBertConfig tiny_config(int64_t n_heads) {
    models::DistilBertConfig c;
    c.vocab_size = 97;
    c.dim = 128;
    c.n_layers = 2;
    c.n_heads = n_heads;  // 2: head dim 64, the fused attention kernels; 8: head dim 16, the composed path
    c.hidden_dim = 96;
    c.max_position_embeddings = 64;
    c.problem = models::Problem::MultiLabel;
    c.set_num_labels(5);
    return c;
}

Tensor<int64_t> random_ids(int64_t B, int64_t S, uint64_t seed) {
    std::vector<int64_t> v(size_t(B * S));
    for (auto& x : v) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        x = int64_t((seed >> 33) % 97);
    }
    return Tensor<int64_t>::from_vector(v, {B, S});
}

Tensor<int64_t> padding_mask(int64_t B, int64_t S, uint64_t seed) {
    std::vector<int64_t> v(size_t(B * S), 0);
    for (int64_t b = 0; b < B; ++b) {
        const int64_t len = b == B - 1 ? S : 1 + int64_t((seed + uint64_t(b) * 7919) % uint64_t(S));
        for (int64_t s = 0; s < len; ++s) v[size_t(b * S + s)] = 1;
    }
    return Tensor<int64_t>::from_vector(v, {B, S});
}

}  // namespace

TEST_CASE("cuda::Graph: a captured sequence replays on new input data, its memory is reserved until reset") {
    const Device gpu = Device::cuda(0);
    Tensor<float> x = random_tensor<float>({257, 300}, 1).to(gpu);
    Tensor<float> w = random_tensor<float>({300, 64}, 2, 0.1).to(gpu);
    auto compute = [&] {
        return layer_norm(gelu(matmul(x, w)), Tensor<float>::ones({64}, gpu), Tensor<float>::zeros({64}, gpu), 1e-5);
    };
    NoGradGuard ng;
    compute();  // warm-up outside the capture
    cuda::synchronize(gpu);
    Tensor<float> out;
    cuda::Graph g;
    g.capture(gpu, [&] { out = compute(); });
    CHECK(g.captured());
    const auto reserved = cuda::allocator_stats();
    MESSAGE("graph pool: " << reserved.bytes_graph_free << " bytes free in it after the capture");
    CHECK(reserved.bytes_graph_free > 0);  // the intermediates freed during the capture stay reserved

    for (uint64_t seed : {3, 4, 5}) {
        x.copy_(random_tensor<float>({257, 300}, seed).to(gpu));
        g.replay();
        const auto eager = compute().to_vector();
        CHECK(bits_equal(out.to_vector(), eager));
    }
    g.reset();
    CHECK_FALSE(g.captured());
    CHECK(cuda::allocator_stats().bytes_graph_free == 0);
    CHECK_THROWS_WITH_AS(g.replay(), doctest::Contains("nothing has been captured"), Error);
    out = Tensor<float>();  // the graph's output, freed after the graph: back to the shared cache
    CHECK(cuda::allocator_stats().bytes_graph_free == 0);
}

TEST_CASE("cuda::Graph: a block made before the capture and freed inside it stays reserved for the graph") {
    const Device gpu = Device::cuda(0);
    const int64_t n = int64_t(1) << 20;  // 4 MiB
    Tensor<float> before = Tensor<float>::zeros({n}, gpu);
    Tensor<float> out;
    NoGradGuard ng;
    cuda::Graph g;
    g.capture(gpu, [&] {
        out = scale(before, 2.0f);  // the replays read `before`'s block ...
        before = Tensor<float>();   // ... which the host frees during the capture
    });
    CHECK(cuda::allocator_stats().bytes_graph_free >= size_t(n) * sizeof(float));
    // eager work of the same size must not get that block: the replay still reads zeros from it
    std::vector<Tensor<float>> others;
    for (int i = 0; i < 4; ++i) others.push_back(Tensor<float>::full({n}, 1.0f, gpu));
    g.replay();
    const auto v = out.to_vector();
    CHECK(std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f; }));
    g.reset();
    CHECK(cuda::allocator_stats().bytes_graph_free == 0);
}

TEST_CASE("cuda::Graph: a graph's block freed while another graph captures stays the first graph's") {
    const Device gpu = Device::cuda(0);
    const int64_t n = int64_t(3) << 20;  // 12 MiB, a size nothing else here uses
    Tensor<float> x = Tensor<float>::full({n}, 1.0f, gpu), y = Tensor<float>::full({1024}, 1.0f, gpu);
    NoGradGuard ng;
    Tensor<float> out_a;
    cuda::Graph a, b;
    a.capture(gpu, [&] { out_a = scale(x, 2.0f); });  // out_a's block is A's
    b.capture(gpu, [&] {
        (void)scale(y, 3.0f);
        out_a = Tensor<float>();  // A's block freed during B's capture: it must not join B's pool ...
    });
    b.reset();  // ... which goes back to the shared cache here
    const Tensor<float> eager = Tensor<float>::full({n}, 7.0f, gpu);
    a.replay();  // still writes 2 * x into its output block
    const auto v = eager.to_vector();
    CHECK(std::all_of(v.begin(), v.end(), [](float e) { return e == 7.0f; }));
    a.reset();
    CHECK(cuda::allocator_stats().bytes_graph_free == 0);
}

TEST_CASE("cuda::Graph: capturing work that waits for the GPU is a clear error, and the device stays usable") {
    const Device gpu = Device::cuda(0);
    Tensor<float> x = random_tensor<float>({1000}, 6).to(gpu);
    cuda::Graph g;
    CHECK_THROWS_WITH_AS(g.capture(gpu, [&] { (void)sum(x).item(); }),
                         doctest::Contains("while capturing a CUDA graph"), Error);
    CHECK_FALSE(g.captured());
    CHECK(cuda::allocator_stats().bytes_graph_free == 0);
    // the stream is no longer capturing: ordinary work runs and syncs
    CHECK(sum(x).item() == doctest::Approx(sum(x.to(Device::cpu())).item()).epsilon(1e-5));
    // a host exception inside the capture ends it too
    CHECK_THROWS_AS(g.capture(gpu, [&] { (void)add(x, Tensor<float>::zeros({3}, gpu)); }), Error);
    CHECK(sum(x).item() == doctest::Approx(sum(x.to(Device::cpu())).item()).epsilon(1e-5));
}

TEST_CASE(
    "InferenceGraph: logits equal the eager forward bit for bit, with and without padding, both attention paths") {
    using Model = models::DistilBertForSequenceClassification<float>;
    for (int64_t heads : {2, 8}) {
        Model m(tiny_config(heads), 11);
        m.to(Device::cuda());
        m.eval();
        for (auto [B, S] : {std::pair<int64_t, int64_t>{1, 64}, {3, 21}}) {
            models::InferenceGraph<Model> graph(m, B, S);
            for (uint64_t seed : {1, 2, 3}) {
                Tensor<int64_t> ids = random_ids(B, S, seed), mask = padding_mask(B, S, seed);
                const auto replayed = graph(ids, mask).to_vector();
                NoGradGuard ng;
                const auto eager = m(ids, mask).to_vector();
                CHECK(bits_equal(replayed, eager));
                // device inputs and no mask (every position a token)
                const auto replayed2 = graph(ids.to(Device::cuda()), Tensor<int64_t>()).to_vector();
                CHECK(bits_equal(replayed2, m(ids).to_vector()));
            }
            const size_t mallocs = cuda::allocator_stats().cuda_mallocs;
            for (int i = 0; i < 10; ++i) graph(random_ids(B, S, 9), padding_mask(B, S, 9));
            cuda::synchronize(Device::cuda());
            MESSAGE("heads " << heads << ", [" << B << ", " << S << "]: replays matched eager runs; cudaMalloc calls "
                             << "in 10 further replays: " << cuda::allocator_stats().cuda_mallocs - mallocs);
            CHECK(cuda::allocator_stats().cuda_mallocs == mallocs);
            CHECK_THROWS_WITH_AS(graph(random_ids(B, S + 1, 1)), doctest::Contains("captured for"), Error);
            CHECK_THROWS_WITH_AS(graph(Tensor<int64_t>::full({B, S}, 97)), doctest::Contains("out of range"), Error);
        }
    }
}

TEST_CASE("InferenceGraph: a model in training mode is refused; an optimizer step is seen by the next replay") {
    using Model = models::DistilBertForSequenceClassification<float>;
    Model m(tiny_config(2), 12);
    m.to(Device::cuda());
    CHECK_THROWS_WITH_AS(models::InferenceGraph<Model>(m, 1, 8), doctest::Contains("model.eval()"), Error);
    m.eval();
    models::InferenceGraph<Model> graph(m, 2, 8);
    Tensor<int64_t> ids = random_ids(2, 8, 4);
    const auto before = graph(ids).to_vector();
    // one training step updates the parameters in place
    optim::AdamW<float> opt(optim::decay_param_groups(m.named_parameters(), 0.01), {.lr = 1e-2});
    Tensor<float> loss = m.loss(m(ids), Tensor<float>::ones({2, 5}, Device::cuda()));
    loss.backward();
    opt.step();
    const auto after = graph(ids).to_vector();
    NoGradGuard ng;
    CHECK(bits_equal(after, m(ids).to_vector()));
    CHECK_FALSE(bits_equal(after, before));
}

TEST_CASE("TrainStepGraph: replayed training steps equal eager steps bit for bit (dropout, clipping, lr schedule)") {
    using Model = models::DistilBertForSequenceClassification<float>;
    const Device gpu = Device::cuda(0);
    for (int64_t heads : {2, 8}) {  // fused attention (its dropout inside the kernel) and the composed path
        Model eager(tiny_config(heads), 21), graphed(tiny_config(heads), 21);
        eager.to(gpu);
        graphed.to(gpu);
        eager.train();
        graphed.train();
        optim::AdamW<float> oe(optim::decay_param_groups(eager.named_parameters(), 0.01), {.lr = 2e-3});
        optim::AdamW<float> og(optim::decay_param_groups(graphed.named_parameters(), 0.01), {.lr = 2e-3});
        const int64_t B = 3, S = 21;
        auto pos_weight = Tensor<float>::from_vector({1, 2, 0.5, 1, 3}, {5});
        train::TrainStepGraph<Model> step(graphed, og, B, S, {.max_grad_norm = 1.0}, pos_weight);
        const auto pw_gpu = pos_weight.to(gpu);
        size_t mallocs = 0;
        for (int i = 0; i < 6; ++i) {
            Tensor<int64_t> ids = random_ids(B, S, 40 + uint64_t(i)), mask = padding_mask(B, S, 40 + uint64_t(i));
            std::vector<float> t(size_t(B * 5));
            for (size_t j = 0; j < t.size(); ++j) t[j] = float((j * 7 + size_t(i)) % 3 == 0);
            auto targets = Tensor<float>::from_vector(t, {B, 5});
            const double lr = 2e-3 * (1.0 - 0.1 * i);
            oe.set_lr(lr);
            og.set_lr(lr);

            manual_seed(500 + uint64_t(i));
            Tensor<float> loss = eager.loss(eager(ids, mask), targets.to(gpu), pw_gpu);
            loss.backward();
            const double norm = optim::clip_grad_norm(eager.parameters(), 1.0);
            oe.step();
            oe.zero_grad();
            const float le = loss.item();
            const uint64_t offset_after_eager = default_generator().offset();

            manual_seed(500 + uint64_t(i));
            if (i == 3) mallocs = cuda::allocator_stats().cuda_mallocs;  // replays from step 2 on
            const float lg = step(ids, mask, targets).item();
            CHECK(default_generator().offset() == offset_after_eager);  // the replay advanced it as eagerly
            MESSAGE("heads " << heads << ", step " << i
                             << (i == 0   ? " (eager)"
                                 : i == 1 ? " (captured)"
                                          : " (replay)")
                             << ": loss " << le << " vs " << lg << ", grad norm " << norm << " vs "
                             << step.grad_norm().item());
            CHECK(le == lg);
            CHECK(step.grad_norm().item() == norm);
        }
        CHECK(cuda::allocator_stats().cuda_mallocs == mallocs);
        auto pe = eager.parameters(), pg = graphed.parameters();
        for (size_t i = 0; i < pe.size(); ++i) CHECK(bits_equal(pe[i].to_vector(), pg[i].to_vector()));
        for (size_t k = 0; k < oe.num_params(); ++k) CHECK(oe.state(k).step == og.state(k).step);
    }
}

}  // namespace test_cuda_graph
