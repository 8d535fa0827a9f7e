// LayerNorm over the last dimension: y = (x - mean) / sqrt(var + eps) * gamma + beta, biased variance.
// Forward saves mean and 1/std per row for the backward, in compute_t<T> (float for bf16).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "temper/cpu/blocks.hpp"
#include "temper/cpu/half.hpp"
#include "temper/cpu/parallel.hpp"

namespace temper::cpu {

template <class T>
void layernorm_forward(const T* x, const T* gamma, const T* beta, T* y, compute_t<T>* mean, compute_t<T>* rstd,
                       int64_t rows, int64_t d, double eps) {
    parallel_for(rows, d * 6, [&](int64_t r) {
        const T* xr = x + r * d;
        wide_t<T> s = 0;
        for (int64_t j = 0; j < d; ++j) s += xr[j];
        wide_t<T> mu = s / d, v = 0;
        for (int64_t j = 0; j < d; ++j) v += (xr[j] - mu) * (xr[j] - mu);
        wide_t<T> rs = 1.0 / std::sqrt(v / d + eps);
        for (int64_t j = 0; j < d; ++j) y[r * d + j] = T((xr[j] - mu) * rs) * gamma[j] + beta[j];
        mean[r] = compute_t<T>(mu);
        rstd[r] = compute_t<T>(rs);
    });
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * gamma; dgamma, dbeta summed over rows.
template <class T>
void layernorm_backward(const T* x, const T* gamma, const compute_t<T>* mean, const compute_t<T>* rstd, const T* dy,
                        T* dx, T* dgamma, T* dbeta, int64_t rows, int64_t d) {
    parallel_for(rows, d * 8, [&](int64_t r) {
        const T* xr = x + r * d;
        const T* dyr = dy + r * d;
        wide_t<T> sg = 0, sgx = 0;
        for (int64_t j = 0; j < d; ++j) {
            wide_t<T> xhat = (wide_t<T>(xr[j]) - mean[r]) * rstd[r];
            wide_t<T> g = wide_t<T>(dyr[j]) * gamma[j];
            sg += g;
            sgx += g * xhat;
        }
        sg /= d;
        sgx /= d;
        for (int64_t j = 0; j < d; ++j) {
            wide_t<T> xhat = (wide_t<T>(xr[j]) - mean[r]) * rstd[r];
            wide_t<T> g = wide_t<T>(dyr[j]) * gamma[j];
            dx[r * d + j] = T(rstd[r] * (g - sg - xhat * sgx));
        }
    });
    // Parameter gradients: column sums, accumulated in double.
    std::vector<wide_t<T>> dg(size_t(d), 0), db(size_t(d), 0);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < d; ++j) {
            wide_t<T> xhat = (wide_t<T>(x[r * d + j]) - mean[r]) * rstd[r];
            dg[size_t(j)] += wide_t<T>(dy[r * d + j]) * xhat;
            db[size_t(j)] += dy[r * d + j];
        }
    for (int64_t j = 0; j < d; ++j) {
        dgamma[j] = T(dg[size_t(j)]);
        dbeta[j] = T(db[size_t(j)]);
    }
}

// bf16: widened to float; the statistics are float already (compute_t).
template <>
inline void layernorm_forward<bf16>(const bf16* x, const bf16* gamma, const bf16* beta, bf16* y, float* mean,
                                    float* rstd, int64_t rows, int64_t d, double eps) {
    std::vector<float> yf(size_t(rows * d));
    layernorm_forward(widen(x, rows * d).data(), widen(gamma, d).data(), widen(beta, d).data(), yf.data(), mean, rstd,
                      rows, d, eps);
    narrow(yf, y);
}
template <>
inline void layernorm_backward<bf16>(const bf16* x, const bf16* gamma, const float* mean, const float* rstd,
                                     const bf16* dy, bf16* dx, bf16* dgamma, bf16* dbeta, int64_t rows, int64_t d) {
    std::vector<float> dxf(size_t(rows * d)), dgf(static_cast<size_t>(d)), dbf(static_cast<size_t>(d));
    layernorm_backward(widen(x, rows * d).data(), widen(gamma, d).data(), mean, rstd, widen(dy, rows * d).data(),
                       dxf.data(), dgf.data(), dbf.data(), rows, d);
    narrow(dxf, dx);
    narrow(dgf, dgamma);
    narrow(dbf, dbeta);
}

// x = a + b (written to sum_out, rounded to T), then y = LayerNorm(x) as layernorm_forward.
template <class T>
void layernorm_residual_forward(const T* a, const T* b, const T* gamma, const T* beta, T* sum_out, T* y,
                                compute_t<T>* mean, compute_t<T>* rstd, int64_t rows, int64_t d, double eps) {
    if constexpr (is_half_v<T>) {
        parallel_for(rows * d, 1, [&](int64_t i) { sum_out[i] = a[i] + b[i]; });
    } else {
        map_blocks(a, b, sum_out, rows * d, 1, [](const auto& u, const auto& v) -> Block<T> { return u + v; });
    }
    layernorm_forward(sum_out, gamma, beta, y, mean, rstd, rows, d, eps);
}

}  // namespace temper::cpu
