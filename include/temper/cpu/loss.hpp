// The losses on the CPU, each element in double: BCE-with-logits (mean over all elements, optional pos_weight
// per label) and cross-entropy (log-softmax with max subtraction, mean over the rows whose label is not
// ignore_index), with their gradients. The CUDA kernels (kernels/loss.cuh) are checked against these.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace temper::cpu {

// *loss = mean over the n elements of (1-y) x + w softplus(-x), w = 1 + (p - 1) y with pos_weight p of label
// i % c (nullable): max(x,0) - x y + log(1 + exp(-|x|)) without it.
template <class T>
void bce_with_logits_forward(const T* x, const T* y, const T* pos_weight, int64_t n, int64_t c, T* loss) {
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
        const double xi = x[i], yi = y[i];
        const double softplus_neg = std::log1p(std::exp(-std::abs(xi))) + std::max(-xi, 0.0);  // stable
        total += pos_weight ? (1 - yi) * xi + (1 + (double(pos_weight[i % c]) - 1) * yi) * softplus_neg
                            : (1 - yi) * xi + softplus_neg;
    }
    *loss = T(total / double(n));
}

// dx = d loss / dx times *dloss: ((1-y) + w (sigma(x) - 1)) / n, which is (sigma(x) - y) / n without pos_weight.
template <class T>
void bce_with_logits_backward(const T* x, const T* y, const T* pos_weight, int64_t n, int64_t c, const T* dloss,
                              T* dx) {
    const double scale = double(*dloss) / double(n);
    for (int64_t i = 0; i < n; ++i) {
        const double xi = x[i], yi = y[i];
        const double sig = 1.0 / (1.0 + std::exp(-xi));
        const double d = pos_weight ? (1 - yi) + (1 + (double(pos_weight[i % c]) - 1) * yi) * (sig - 1) : sig - yi;
        dx[i] = T(d * scale);
    }
}

namespace detail {
// log(sum exp(row)) with the row's maximum subtracted first.
template <class T>
double logsumexp(const T* row, int64_t C) {
    double mx = -INFINITY, s = 0;
    for (int64_t j = 0; j < C; ++j) mx = std::max(mx, double(row[j]));
    for (int64_t j = 0; j < C; ++j) s += std::exp(double(row[j]) - mx);
    return mx + std::log(s);
}
inline int64_t count_labels(const int64_t* labels, int64_t B, int64_t ignore_index) {
    int64_t count = 0;
    for (int64_t b = 0; b < B; ++b) count += labels[b] != ignore_index;
    return count;
}
}  // namespace detail

// *loss = mean over rows b with labels[b] != ignore_index of lse(logits[b]) - logits[b, labels[b]]; logits
// [B, C]. The labels are in [0, C) or ignore_index, and at least one is not (the op checks).
template <class T>
void cross_entropy_forward(const T* logits, const int64_t* labels, int64_t B, int64_t C, int64_t ignore_index,
                           T* loss) {
    double total = 0;
    for (int64_t b = 0; b < B; ++b) {
        if (labels[b] == ignore_index) continue;
        total += detail::logsumexp(logits + b * C, C) - double(logits[b * C + labels[b]]);
    }
    *loss = T(total / double(detail::count_labels(labels, B, ignore_index)));
}

// dlogits = (softmax(logits) - onehot(label)) * *dloss / count for valid rows, 0 for ignored rows; the softmax
// rounded to T first, as a saved probability tensor would be.
template <class T>
void cross_entropy_backward(const T* logits, const int64_t* labels, int64_t B, int64_t C, int64_t ignore_index,
                            const T* dloss, T* dlogits) {
    const double scale = double(*dloss) / double(detail::count_labels(labels, B, ignore_index));
    for (int64_t b = 0; b < B; ++b) {
        const T* row = logits + b * C;
        T* d = dlogits + b * C;
        const int64_t l = labels[b];
        if (l == ignore_index) {
            std::fill_n(d, C, T(0));
            continue;
        }
        const double lse = detail::logsumexp(row, C);
        for (int64_t j = 0; j < C; ++j) {
            const T p = T(std::exp(double(row[j]) - lse));
            d[j] = T((double(p) - (j == l ? 1.0 : 0.0)) * scale);
        }
    }
}

}  // namespace temper::cpu
