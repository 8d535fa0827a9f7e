// bf16 tensors on the CPU. A kernel widens its bf16 inputs to float, runs the float kernel and rounds each
// output once, so a bf16 op's result is the float op's result rounded to bf16. The GPU's bf16 kernels
// compute in float as well, so the CPU stays their reference.
#pragma once

#include <cstdint>
#include <vector>

#include "temper/core/dtype.hpp"
#include "temper/cpu/parallel.hpp"

namespace temper::cpu {

inline std::vector<float> widen(const bf16* p, int64_t n) {
    std::vector<float> v(size_t(n > 0 ? n : 0));
    parallel_for(n, 1, [&](int64_t i) { v[size_t(i)] = float(p[i]); });
    return v;
}

inline void narrow(const float* src, int64_t n, bf16* dst) {
    parallel_for(n, 1, [&](int64_t i) { dst[i] = bf16(src[i]); });
}
inline void narrow(const std::vector<float>& src, bf16* dst) { narrow(src.data(), int64_t(src.size()), dst); }

}  // namespace temper::cpu
