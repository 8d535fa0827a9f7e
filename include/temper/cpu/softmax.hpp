// Fused scale + key-mask + softmax over the last dimension, and its backward.
// Rows are grouped per batch item: row r uses mask row r / rows_per_batch. Masked positions take the
// type's lowest finite value before the softmax (as HF does), so a fully masked row is uniform, never NaN.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "temper/cpu/blocks.hpp"
#include "temper/cpu/half.hpp"
#include "temper/cpu/parallel.hpp"

namespace temper::cpu {

template <class T>
void masked_softmax_forward(const T* x, T* y, const int64_t* mask, int64_t rows, int64_t cols, int64_t rows_per_batch,
                            T scale) {
    const T lowest = std::numeric_limits<T>::lowest();
    parallel_for(rows, cols * 8, [&](int64_t r) {
        const T* xr = x + r * cols;
        T* yr = y + r * cols;
        const int64_t* mr = mask ? mask + (r / rows_per_batch) * cols : nullptr;
        T mx = lowest;
        for (int64_t j = 0; j < cols; ++j) {
            T v = (mr && mr[j] == 0) ? lowest : xr[j] * scale;
            yr[j] = v;
            mx = std::max(mx, v);
        }
        map_blocks_serial(yr, yr, cols, [mx](const auto& v) -> Block<T> { return exp_underflow_to_zero<T>(v - mx); });
        // Four interleaved partial sums: independent adds instead of one latency-bound chain; a fixed order.
        wide_t<T> part[4] = {0, 0, 0, 0};
        int64_t j = 0;
        for (; j + 4 <= cols; j += 4)
            for (int k = 0; k < 4; ++k) part[k] += yr[j + k];
        for (; j < cols; ++j) part[0] += yr[j];
        const wide_t<T> sum = (part[0] + part[1]) + (part[2] + part[3]);
        T inv = T(1.0 / sum);
        for (int64_t j = 0; j < cols; ++j) yr[j] *= inv;
    });
}

// dx = scale * y * (dy - sum(dy * y)); masked positions get no gradient (they were overwritten).
template <class T>
void masked_softmax_backward(const T* y, const T* dy, T* dx, const int64_t* mask, int64_t rows, int64_t cols,
                             int64_t rows_per_batch, T scale) {
    parallel_for(rows, cols * 4, [&](int64_t r) {
        const T* yr = y + r * cols;
        const T* dyr = dy + r * cols;
        T* dxr = dx + r * cols;
        const int64_t* mr = mask ? mask + (r / rows_per_batch) * cols : nullptr;
        wide_t<T> dot = 0;
        for (int64_t j = 0; j < cols; ++j) dot += wide_t<T>(dyr[j]) * yr[j];
        for (int64_t j = 0; j < cols; ++j) dxr[j] = (mr && mr[j] == 0) ? T(0) : T(scale * yr[j] * (dyr[j] - T(dot)));
    });
}

template <>
inline void masked_softmax_forward<bf16>(const bf16* x, bf16* y, const int64_t* mask, int64_t rows, int64_t cols,
                                         int64_t rows_per_batch, bf16 scale) {
    std::vector<float> yf(size_t(rows * cols));
    masked_softmax_forward(widen(x, rows * cols).data(), yf.data(), mask, rows, cols, rows_per_batch, float(scale));
    narrow(yf, y);
}
template <>
inline void masked_softmax_backward<bf16>(const bf16* y, const bf16* dy, bf16* dx, const int64_t* mask, int64_t rows,
                                          int64_t cols, int64_t rows_per_batch, bf16 scale) {
    std::vector<float> dxf(size_t(rows * cols));
    masked_softmax_backward(widen(y, rows * cols).data(), widen(dy, rows * cols).data(), dxf.data(), mask, rows, cols,
                            rows_per_batch, float(scale));
    narrow(dxf, dx);
}

}  // namespace temper::cpu
