// kernels/adamw.cuh: the multi-tensor AdamW step against cpu::adamw_update, bit for bit over 10 steps
// (float and double; both branches of torch's lerp and the torch 1.x mul+add form; decay and no-decay
// groups; more tensors than one launch takes; empty, 1-element and chunk-boundary sizes; denormal
// gradients), and global-norm clipping against optim::clip_grad_norm.
#include <cstring>
#include <memory>
#include <random>

#include "kernel_check.hpp"
#include "temper/cuda/launchers.hpp"
#include "temper/cpu/adamw.hpp"
#include "temper/optim/clip.hpp"

namespace test_kernel_adamw {  // this file's names apart from the others' (unity build, tests/cuda/CMakeLists.txt)

using namespace temper;
using test::DeviceBuffer;

namespace {

template <class T>
bool bit_identical(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// Sizes: the edge cases, then random ones, count in all (more than kAdamWTensorsPerLaunch when count is).
std::vector<int64_t> tensor_sizes(size_t count, uint64_t seed) {
    std::vector<int64_t> n = {0, 1, 7, 8191, 8192, 8193, 20011};
    std::mt19937_64 rng(seed);
    while (n.size() < count) n.push_back(int64_t(rng() % 3000));
    n.resize(count);
    return n;
}

// Gradients with a few exact zeros and tiny values whose squares are denormal in float.
template <class T>
std::vector<T> gradient(int64_t n, uint64_t seed) {
    std::vector<T> g = test::random_vector<T>(size_t(n), seed, -1.0, 1.0);
    for (size_t i = 0; i < g.size(); i += 97) g[i] = T(0);
    for (size_t i = 5; i < g.size(); i += 89) g[i] = T(i % 2 ? 3e-21 : -7e-22);
    return g;
}

struct AdamWConfig {
    double beta1;
    bool lerp;
};

}  // namespace

TEST_CASE_TEMPLATE("multi-tensor AdamW is bit-identical to cpu::adamw_update for 10 steps", T, float, double) {
    // beta1 0.9: lerp weight 0.1 (first branch); 0.3: weight 0.7 (second branch); then the mul+add form.
    for (AdamWConfig cfg : {AdamWConfig{0.9, true}, AdamWConfig{0.3, true}, AdamWConfig{0.9, false}}) {
        const std::vector<int64_t> n = tensor_sizes(41, 7);
        const size_t k = n.size();
        std::vector<std::vector<T>> p(k), m(k), v(k);
        std::vector<std::unique_ptr<DeviceBuffer<T>>> dp, dg, dm, dv;
        for (size_t j = 0; j < k; ++j) {
            p[j] = test::random_vector<T>(size_t(n[j]), 100 + j, -0.5, 0.5);
            m[j].assign(size_t(n[j]), T(0));
            v[j].assign(size_t(n[j]), T(0));
            dp.push_back(std::make_unique<DeviceBuffer<T>>(p[j]));
            dm.push_back(std::make_unique<DeviceBuffer<T>>(m[j]));
            dv.push_back(std::make_unique<DeviceBuffer<T>>(v[j]));
            dg.push_back(std::make_unique<DeviceBuffer<T>>(size_t(n[j])));
        }
        bool same = true;
        for (int64_t step = 1; step <= 10; ++step) {
            std::vector<cuda::AdamWParam<T>> params;
            for (size_t j = 0; j < k; ++j) {
                const std::vector<T> g = gradient<T>(n[j], uint64_t(1000 * step) + j);
                dg[j]->upload(g);
                const double wd = j % 2 ? 0.0 : 0.01;                  // decay and no-decay groups alternate
                const double lr = 1e-3 * (1.0 - 0.05 * double(step));  // a schedule: lr changes every step
                const auto s = cpu::adamw_scalars<T>(lr, cfg.beta1, 0.999, 1e-8, wd, step, cfg.lerp);
                cpu::adamw_update(p[j].data(), g.data(), m[j].data(), v[j].data(), n[j], s);
                params.push_back({dp[j]->get(), dg[j]->get(), dm[j]->get(), dv[j]->get(), n[j], s});
            }
            cuda::adamw_update_multi(params.data(), params.size(), test::gpu());
            for (size_t j = 0; j < k; ++j) {
                const bool ok = bit_identical(dp[j]->download(), p[j]) && bit_identical(dm[j]->download(), m[j]) &&
                                bit_identical(dv[j]->download(), v[j]);
                CHECK_MESSAGE(ok, "beta1 ", cfg.beta1, " lerp ", cfg.lerp, " step ", step, " tensor ", j, " (", n[j],
                              " elements)");
                same = same && ok;
            }
        }
        MESSAGE("AdamW beta1 ", cfg.beta1, " lerp ", cfg.lerp, ", ", k,
                " tensors, 10 steps: ", same ? "bit-identical" : "DIFFERENT");
    }
}

TEST_CASE_TEMPLATE("single-tensor adamw_update matches cpu::adamw_update", T, float, double) {
    const int64_t n = 30001;
    std::vector<T> p = test::random_vector<T>(size_t(n), 1), m = test::random_vector<T>(size_t(n), 2, -0.1, 0.1);
    std::vector<T> v = test::random_vector<T>(size_t(n), 3, 0.0, 0.01);
    const std::vector<T> g = gradient<T>(n, 4);
    DeviceBuffer<T> dp(p), dg(g), dm(m), dv(v);
    const auto s = cpu::adamw_scalars<T>(2e-5, 0.9, 0.999, 1e-8, 0.01, 37, true);
    cpu::adamw_update(p.data(), g.data(), m.data(), v.data(), n, s);
    cuda::adamw_update(dp.get(), dg.get(), dm.get(), dv.get(), n, s, test::gpu());
    CHECK(bit_identical(dp.download(), p));
    CHECK(bit_identical(dm.download(), m));
    CHECK(bit_identical(dv.download(), v));
}

namespace {

// CPU reference through optim::clip_grad_norm (on CPU tensors whose .grad are the given vectors) and the
// GPU launcher on copies; compares the total and every clipped element.
template <class T>
void check_clip(const std::vector<int64_t>& n, double max_norm, uint64_t seed, double scale_grads = 1.0) {
    std::vector<Tensor<T>> params;
    std::vector<std::unique_ptr<DeviceBuffer<T>>> dg;
    std::vector<T*> ptrs;
    for (size_t j = 0; j < n.size(); ++j) {
        std::vector<T> g = test::random_vector<T>(size_t(n[j]), seed + j, -scale_grads, scale_grads);
        Tensor<T> p = Tensor<T>::zeros({n[j]});
        p.set_grad(Tensor<T>::from_vector(g, {n[j]}));
        params.push_back(p);
        dg.push_back(std::make_unique<DeviceBuffer<T>>(g));
        ptrs.push_back(dg.back()->get());
    }
    const double ref_total = optim::clip_grad_norm(params, max_norm);
    DeviceBuffer<double> total(1);
    cuda::clip_grad_norm(ptrs.data(), n.data(), n.size(), max_norm, total.get(), test::gpu());
    const double got = total.download()[0];
    const double rel = std::fabs(got - ref_total) / ref_total;
    MESSAGE(n.size(), " tensors, max_norm ", max_norm, ": total ", got, " vs CPU ", ref_total, " (relative error ", rel,
            got == ref_total ? ", bit-identical)" : ")");
    CHECK(rel <= test::kTol<T>);
    std::vector<T> out, ref;
    for (size_t j = 0; j < n.size(); ++j) {
        const std::vector<T> o = dg[j]->download(), r = params[j].grad().to_vector();
        out.insert(out.end(), o.begin(), o.end());
        ref.insert(ref.end(), r.begin(), r.end());
    }
    test::check_close(out, ref, "clipped gradients");
}

}  // namespace

TEST_CASE_TEMPLATE("clip_grad_norm on the GPU matches optim::clip_grad_norm", T, float, double) {
    check_clip<T>({1}, 0.1, 1);                         // one element, clipped
    check_clip<T>({0, 7, 8192, 8193, 100003}, 1.0, 2);  // clipped; an empty gradient
    check_clip<T>({0, 7, 8192, 8193, 100003}, 1e6, 3);  // not clipped: untouched
    check_clip<T>(tensor_sizes(130, 4), 0.5, 5);        // more tensors than one launch takes
    check_clip<T>(tensor_sizes(300, 6), 3.0, 7, 1e-3);  // small gradients, not clipped

    // No gradients: total 0.
    DeviceBuffer<double> total(std::vector<double>{42.0});
    cuda::clip_grad_norm<T>(nullptr, nullptr, 0, 1.0, total.get(), test::gpu());
    CHECK(total.download()[0] == 0.0);
}

TEST_CASE_TEMPLATE("clip_grad_norm with a non-finite gradient behaves as torch (and the CPU)", T, float, double) {
    // total = inf, coef = 0: finite elements become 0, the infinite one NaN.
    std::vector<T> g = test::random_vector<T>(1000, 9);
    g[123] = T(INFINITY);
    Tensor<T> p = Tensor<T>::zeros({1000});
    p.set_grad(Tensor<T>::from_vector(g, {1000}));
    const double ref_total = optim::clip_grad_norm(std::vector<Tensor<T>>{p}, 1.0);
    DeviceBuffer<T> dg(g);
    DeviceBuffer<double> total(1);
    T* ptr = dg.get();
    const int64_t n = 1000;
    cuda::clip_grad_norm(&ptr, &n, 1, 1.0, total.get(), test::gpu());
    CHECK(std::isinf(ref_total));
    CHECK(total.download()[0] == ref_total);
    const std::vector<T> out = dg.download(), ref = p.grad().to_vector();
    size_t mismatches = 0;
    for (size_t i = 0; i < out.size(); ++i)
        mismatches += !((std::isnan(out[i]) && std::isnan(ref[i])) || out[i] == ref[i]);
    CHECK(mismatches == 0);
    CHECK(std::isnan(out[123]));
}

}  // namespace test_kernel_adamw
