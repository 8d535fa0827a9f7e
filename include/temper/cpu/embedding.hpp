// Embedding gather and scatter-add on the CPU: the reference of kernels/embedding.cuh, whose backward adds in
// the same token order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "temper/core/dtype.hpp"
#include "temper/cpu/half.hpp"

namespace temper::cpu {

// out[t, :] = weight[ids[t], :] for t < n_ids; weight [V, D], out [n_ids, D]. The ids are in [0, V) (the op
// checks).
template <class T>
void embedding_forward(const T* weight, const int64_t* ids, T* out, int64_t n_ids, int64_t D) {
    for (int64_t i = 0; i < n_ids; ++i) std::copy_n(weight + ids[i] * D, D, out + i * D);
}

// dweight[ids[t], :] += dout[t, :] for every t with ids[t] != padding_idx, in token order. bf16 sums in float
// and rounds each row once at the end (dweight starts at zero), as the GPU kernel does.
template <class T>
void embedding_backward(const T* dout, const int64_t* ids, T* dweight, int64_t n_ids, int64_t V, int64_t D,
                        int64_t padding_idx) {
    if constexpr (is_half_v<T>) {
        std::vector<float> acc(size_t(V * D), 0.0f);
        for (int64_t i = 0; i < n_ids; ++i) {
            if (ids[i] == padding_idx) continue;
            for (int64_t j = 0; j < D; ++j) acc[size_t(ids[i] * D + j)] += float(dout[i * D + j]);
        }
        narrow(acc, dweight);
    } else {
        for (int64_t i = 0; i < n_ids; ++i) {
            if (ids[i] == padding_idx) continue;
            T* dst = dweight + ids[i] * D;
            const T* src = dout + i * D;
            for (int64_t j = 0; j < D; ++j) dst[j] += src[j];
        }
    }
}

}  // namespace temper::cpu
