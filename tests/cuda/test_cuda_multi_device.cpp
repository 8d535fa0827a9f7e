// Two GPUs: work on tensors of cuda:1 while cuda:0 is the current device (every launcher makes its stream's
// device current; scratch comes from that device; cuBLAS runs under the handle's device), copies between the
// devices and across host and device (to(), copy_()). Needs two GPUs; the CUDA simulator has two by default.
#include <doctest/doctest.h>

#include <cstring>

#include "cuda_test_util.hpp"

namespace test_cuda_multi_device {  // this file's names apart from the others' (unity build, tests/cuda/CMakeLists.txt)

using namespace temper;
using namespace temper::testing;

namespace {

bool two_gpus() {
    if (cuda::device_count() >= 2) return true;
    MESSAGE("skipped: this machine has " << cuda::device_count() << " GPU(s); these tests need 2");
    return false;
}

bool bits_equal(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct StepResult {
    float loss;
    double norm;
    std::vector<std::vector<float>> params;
};

// Three training steps of the tiny DistilBERT (dropout, BCE, clipping, AdamW) on dev, with cuda:0 current.
StepResult train_on(Device dev) {
    using Model = models::DistilBertForSequenceClassification<float>;
    TEMPER_CUDA_CHECK(cudaSetDevice(0));
    Model m(tiny_model_config(), 31);
    m.to(dev);
    m.train();
    optim::AdamW<float> opt(optim::decay_param_groups(m.named_parameters(), 0.01), {.lr = 1e-3});
    auto [ids, mask] = tiny_model_batch();
    auto targets = Tensor<float>::from_vector(std::vector<float>{1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1}, {3, 5});
    StepResult r{};
    for (int step = 0; step < 3; ++step) {
        manual_seed(70 + uint64_t(step));
        Tensor<float> loss = m.loss(m(ids, mask), targets.to(dev));
        loss.backward();
        r.norm = optim::clip_grad_norm(m.parameters(), 1.0);
        opt.step();
        opt.zero_grad();
        r.loss = loss.item();
        int current = -1;
        TEMPER_CUDA_CHECK(cudaGetDevice(&current));
        REQUIRE(current == 0);  // no op changed the caller's device
    }
    for (auto& p : m.parameters()) r.params.push_back(p.to_vector());
    return r;
}

}  // namespace

TEST_CASE("a model on cuda:1 trains while cuda:0 is current, bit for bit as on cuda:0") {
    if (!two_gpus()) return;
    const StepResult on0 = train_on(Device::cuda(0)), on1 = train_on(Device::cuda(1));
    MESSAGE("3 steps: loss " << on0.loss << " on cuda:0, " << on1.loss << " on cuda:1; grad norm " << on0.norm << ", "
                             << on1.norm);
    CHECK(on0.loss == on1.loss);
    CHECK(on0.norm == on1.norm);
    REQUIRE(on0.params.size() == on1.params.size());
    for (size_t i = 0; i < on0.params.size(); ++i) CHECK(bits_equal(on0.params[i], on1.params[i]));
}

TEST_CASE("to() between GPUs, and copy_() across host and GPUs, deliver the values before the next op") {
    if (!two_gpus()) return;
    const Device g0 = Device::cuda(0), g1 = Device::cuda(1);
    std::vector<float> v(1000);
    for (size_t i = 0; i < v.size(); ++i) v[i] = float(i) * 0.5f - 7.0f;
    const Tensor<float> host = Tensor<float>::from_vector(v, {10, 100});

    // cuda:1 -> cuda:0, then at once a kernel on cuda:0 reads the copy.
    const Tensor<float> on1 = scale(host.to(g1), 2.0f);
    const Tensor<float> back = scale(on1.to(g0), 0.5f);
    CHECK(back.to_vector() == v);
    // A transposed (strided) view across devices.
    CHECK(transpose(on1, 0, 1).to(g0).to_vector() == transpose(scale(host, 2.0f), 0, 1).to_vector());

    Tensor<float> dst1 = Tensor<float>::zeros({10, 100}, g1);
    dst1.copy_(host);  // host -> cuda:1
    CHECK(dst1.to_vector() == v);
    Tensor<float> dst0 = Tensor<float>::zeros({10, 100}, g0);
    dst0.copy_(dst1);  // cuda:1 -> cuda:0
    CHECK(scale(dst0, 1.0f).to_vector() == v);
    Tensor<float> dst_host = Tensor<float>::zeros({10, 100});
    dst_host.copy_(dst0);  // cuda:0 -> host
    CHECK(dst_host.to_vector() == v);
}

}  // namespace test_cuda_multi_device
