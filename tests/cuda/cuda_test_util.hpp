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

}  // namespace temper::testing
