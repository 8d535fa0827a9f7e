// The whole DistilBERT on the GPU against the same model on the CPU: logits, every parameter gradient,
// and a 10-step training run (dropout on: both devices draw the same masks) with AdamW and clipping.
#include <doctest/doctest.h>

#include <filesystem>
#include <unistd.h>

#include "cuda_test_util.hpp"

namespace test_cuda_model {  // this file's names apart from the others' (unity build, tests/cuda/CMakeLists.txt)

using namespace temper;
using namespace temper::testing;

TEST_CASE("DistilBERT forward and backward: GPU vs CPU, eval mode") {
    using Model = models::DistilBertForSequenceClassification<float>;
    Model cpu(tiny_model_config(), 11), gpu(tiny_model_config(), 11);
    gpu.to(Device::cuda());
    CHECK(gpu.device() == Device::cuda());
    cpu.eval();
    gpu.eval();
    auto [ids, mask] = tiny_model_batch();
    auto targets = Tensor<float>::from_vector(std::vector<float>{1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1}, {3, 5});
    Tensor<float> lc = cpu(ids, mask), lg = gpu(ids, mask);  // the model moves CPU inputs to its device
    const double logit_err = rel_error(lg.to_vector(), lc.to_vector());
    Tensor<float> loss_c = cpu.loss(lc, targets), loss_g = gpu.loss(lg, targets.to(Device::cuda()));
    loss_c.backward();
    loss_g.backward();
    double worst = 0;
    std::string worst_name;
    auto pc = cpu.named_parameters(), pg = gpu.named_parameters();
    REQUIRE(pc.size() == pg.size());
    for (size_t i = 0; i < pc.size(); ++i) {
        REQUIRE(pg[i].second.grad().defined());
        double e = rel_error(pg[i].second.grad().to_vector(), pc[i].second.grad().to_vector());
        if (pc[i].first.find("k_lin.bias") != std::string::npos) continue;  // true gradient is 0: rounding noise only
        if (e > worst) {
            worst = e;
            worst_name = pc[i].first;
        }
    }
    MESSAGE("GPU vs CPU: logits rel err " << logit_err << ", loss " << loss_g.item() << " vs " << loss_c.item()
                                          << ", worst gradient rel err " << worst << " (" << worst_name << ")");
    CHECK(logit_err <= 1e-5);
    CHECK(loss_g.item() == doctest::Approx(loss_c.item()).epsilon(1e-6));
    CHECK(worst <= 1e-4);
}

TEST_CASE("DistilBERT training on the GPU: 10 steps with dropout, AdamW and clipping follow the CPU") {
    using Model = models::DistilBertForSequenceClassification<float>;
    Model cpu(tiny_model_config(), 5), gpu(tiny_model_config(), 5);
    gpu.to(Device::cuda());
    auto [ids, mask] = tiny_model_batch();
    auto targets = Tensor<float>::from_vector(std::vector<float>{1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1}, {3, 5});
    auto targets_g = targets.to(Device::cuda());
    optim::AdamW<float> oc(optim::decay_param_groups(cpu.named_parameters(), 0.01), {.lr = 1e-3});
    optim::AdamW<float> og(optim::decay_param_groups(gpu.named_parameters(), 0.01), {.lr = 1e-3});
    std::vector<double> traj_c, traj_g;
    size_t mallocs_after_warmup = 0;
    for (int step = 0; step < 10; ++step) {
        if (step == 3) mallocs_after_warmup = cuda::allocator_stats().cuda_mallocs;
        // The same dropout stream on both devices: the GPU kernel draws the CPU's Philox mask.
        manual_seed(1000 + uint64_t(step));
        Tensor<float> l1 = cpu.loss(cpu(ids, mask), targets);
        manual_seed(1000 + uint64_t(step));
        Tensor<float> l2 = gpu.loss(gpu(ids, mask), targets_g);
        l1.backward();
        l2.backward();
        optim::clip_grad_norm(cpu.parameters(), 1.0);
        optim::clip_grad_norm(gpu.parameters(), 1.0);
        oc.step();
        og.step();
        oc.zero_grad();
        og.zero_grad();
        traj_c.push_back(l1.item());
        traj_g.push_back(l2.item());
    }
    // The caching allocator serves every steady-state step from its free lists.
    const size_t steady_mallocs = cuda::allocator_stats().cuda_mallocs - mallocs_after_warmup;
    MESSAGE("cudaMalloc calls in steps 4-10: " << steady_mallocs);
    CHECK(steady_mallocs == 0);
    double worst = 0;
    for (size_t i = 0; i < traj_c.size(); ++i) worst = std::max(worst, std::abs(traj_g[i] - traj_c[i]) / traj_c[i]);
    MESSAGE("10-step loss trajectory, CPU: " << traj_c.front() << " ... " << traj_c.back() << "; worst relative "
                                             << "difference GPU vs CPU " << worst);
    CHECK(worst <= 1e-5);
    CHECK(traj_c.back() < traj_c.front());  // it trains
    // k_lin.bias is left out, as in the eval test: its true gradient is exactly 0 (a key bias adds the same
    // q.b to every score of a query, which softmax ignores), so both devices feed AdamW rounding noise, which it
    // normalises into lr-sized steps of arbitrary sign.
    double pworst = 0;
    std::string pworst_name;
    auto pc = cpu.named_parameters(), pg = gpu.named_parameters();
    for (size_t i = 0; i < pc.size(); ++i) {
        if (pc[i].first.find("k_lin.bias") != std::string::npos) continue;
        const double e = rel_error(pg[i].second.to_vector(), pc[i].second.to_vector());
        if (e > pworst) pworst = e, pworst_name = pc[i].first;
    }
    MESSAGE("parameters after 10 steps: worst rel err " << pworst << " (" << pworst_name << ")");
    CHECK(pworst <= 1e-5);
}

TEST_CASE("from_pretrained onto the GPU and save_pretrained from it") {
    const std::string dir = std::string(TEMPER_FIXTURES_DIR) + "/tiny_a";
    using Model = models::DistilBertForSequenceClassification<float>;
    Model cpu = Model::from_pretrained(dir, {.verbose = false});
    Model gpu = Model::from_pretrained(dir, {.verbose = false}, Device::cuda());
    CHECK(gpu.device() == Device::cuda());
    cpu.eval();
    gpu.eval();
    auto ids_small = Tensor<int64_t>::full({2, 6}, 5);
    double e = rel_error(gpu(ids_small).to_vector(), cpu(ids_small).to_vector());
    MESSAGE("tiny_a logits GPU vs CPU: " << e);
    CHECK(e <= 1e-5);
    const auto tmp = std::filesystem::temp_directory_path() / ("temper_gpu_save_" + std::to_string(::getpid()));
    gpu.save_pretrained(tmp.string());
    Model back = Model::from_pretrained(tmp.string(), {.verbose = false});
    std::filesystem::remove_all(tmp);
    auto a = back.named_parameters(), b = cpu.named_parameters();
    for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].second.to_vector() == b[i].second.to_vector());
}

}  // namespace test_cuda_model
