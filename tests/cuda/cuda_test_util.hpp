// GPU-vs-CPU checks for differentiable ops: run f on CPU inputs and on copies on the GPU, compare the
// outputs and the gradients of <f(inputs), R> (R fixed random) with respect to every input.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "temper/temper.hpp"

namespace temper::testing {

// ||a - b|| / ||b|| (0 when both are 0).
template <class T>
double rel_error(const std::vector<T>& a, const std::vector<T>& b) {
    REQUIRE(a.size() == b.size());
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        double d = double(a[i]) - double(b[i]);
        num += d * d;
        den += double(b[i]) * double(b[i]);
    }
    if (den == 0) return std::sqrt(num);
    return std::sqrt(num / den);
}

template <class T>
Tensor<T> random_tensor(const Shape& shape, uint64_t seed, double std = 1.0) {
    Generator gen(seed);
    return Tensor<T>::randn(shape, gen, std);
}

struct DeviceCheck {
    double out_err = 0;
    std::vector<double> grad_err;  // one per input
    double worst_grad() const {
        double w = 0;
        for (double e : grad_err) w = std::max(w, e);
        return w;
    }
};

template <class T>
using OpFn = std::function<Tensor<T>(const std::vector<Tensor<T>>&)>;

template <class T>
DeviceCheck cpu_vs_gpu(const OpFn<T>& f, const std::vector<Tensor<T>>& inputs, uint64_t seed = 99) {
    const Device gpu = Device::cuda(0);
    std::vector<Tensor<T>> xc, xg;
    for (const auto& x : inputs) {
        xc.push_back(x.clone().set_requires_grad(true));
        xg.push_back(x.to(gpu).clone().set_requires_grad(true));
    }
    Tensor<T> yc = f(xc), yg = f(xg);
    REQUIRE(yg.device() == gpu);
    REQUIRE(yc.shape() == yg.shape());
    Tensor<T> r = random_tensor<T>(yc.shape(), seed);
    yc.backward(r);
    yg.backward(r.to(gpu));
    DeviceCheck out;
    out.out_err = rel_error(yg.to_vector(), yc.to_vector());
    for (size_t i = 0; i < inputs.size(); ++i) {
        REQUIRE(xc[i].grad().defined() == xg[i].grad().defined());
        out.grad_err.push_back(xc[i].grad().defined() ? rel_error(xg[i].grad().to_vector(), xc[i].grad().to_vector())
                                                      : 0.0);
    }
    return out;
}

// Checks and prints: the GPU run's log carries every measured error.
inline void expect_close(const DeviceCheck& c, double tol, const std::string& what) {
    MESSAGE(what << ": output rel err " << c.out_err << ", worst gradient rel err " << c.worst_grad());
    CHECK(c.out_err <= tol);
    CHECK(c.worst_grad() <= tol);
}

// A DistilBERT small enough for the CPU reference, with head dim 64 so that the GPU runs the fused attention.
inline models::DistilBertConfig tiny_model_config() {
    models::DistilBertConfig c;
    c.vocab_size = 97;
    c.dim = 128;
    c.n_layers = 2;
    c.n_heads = 2;  // head dim 64: the GPU runs the fused attention kernels
    c.hidden_dim = 96;
    c.max_position_embeddings = 40;
    c.problem = models::Problem::MultiLabel;
    c.set_num_labels(5);
    return c;
}

// A batch of 3 with 21 / 13 / 1 real tokens (the rest padding).
inline std::pair<Tensor<int64_t>, Tensor<int64_t>> tiny_model_batch() {
    const int64_t B = 3, S = 21;
    std::vector<int64_t> ids(B * S, 0), mask(B * S, 0);
    const int64_t lens[3] = {21, 13, 1};
    uint64_t x = 7;
    for (int64_t b = 0; b < B; ++b)
        for (int64_t s = 0; s < lens[b]; ++s) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            ids[size_t(b * S + s)] = 1 + int64_t((x >> 33) % 96);
            mask[size_t(b * S + s)] = 1;
        }
    return {Tensor<int64_t>::from_vector(ids, {B, S}), Tensor<int64_t>::from_vector(mask, {B, S})};
}

}  // namespace temper::testing
