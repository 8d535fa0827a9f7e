// Finite-difference gradient check in double, shared by the op tests.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "temper/ops.hpp"
#include "test_util.hpp"

namespace temper::testing {

using TD = Tensor<double>;

// Checks d/d(inputs) of sum(f(inputs) * R) for a fixed random R against central differences.
// Returns the worst relative error over inputs that require grad.
inline double gradcheck(const std::function<TD(const std::vector<TD>&)>& f, std::vector<TD> inputs, double eps = 1e-6,
                        uint64_t seed = 7) {
    Generator gen(seed);
    TD out = f(inputs);
    TD r = TD::randn(out.shape(), gen);
    TD loss = sum(mul(out, r));
    loss.backward();
    auto objective = [&] {
        NoGradGuard ng;
        TD o = f(inputs);
        auto ov = o.to_vector(), rv = r.to_vector();
        double s = 0;
        for (size_t i = 0; i < ov.size(); ++i) s += ov[i] * rv[i];
        return s;
    };
    double worst = 0;
    for (auto& x : inputs) {
        if (!x.requires_grad()) continue;
        REQUIRE(x.grad().defined());
        std::vector<double> analytic = x.grad().to_vector(), numeric(analytic.size());
        double* p = x.data();
        for (size_t i = 0; i < numeric.size(); ++i) {
            double keep = p[i];
            p[i] = keep + eps;
            double up = objective();
            p[i] = keep - eps;
            double down = objective();
            p[i] = keep;
            numeric[i] = (up - down) / (2 * eps);
        }
        worst = std::max(worst, rel_error(analytic, numeric));
    }
    return worst;
}

inline TD rand_input(const Shape& shape, uint64_t seed, double std = 1.0) {
    Generator gen(seed);
    TD t = TD::randn(shape, gen, std);
    t.set_requires_grad();
    return t;
}

}  // namespace temper::testing
