// temper's CPU dropout kernel as a C function, for tools/temper_order.py (ctypes): a PyTorch run that drops
// exactly what temper's Trainer drops needs ~10 million draws per step, which numpy takes seconds for.
// Built without OpenMP (serial), so it never starts a second OpenMP runtime inside a PyTorch process.
#include <cstdint>

#include "temper/cpu/dropout.hpp"

// mask[i] = 1 / (1 - p) where temper's dropout keeps element i of a tensor at stream (seed, offset), else 0.
extern "C" void temper_dropout_mask(uint64_t seed, uint64_t offset, int64_t n, double p, float* mask) {
    for (int64_t i = 0; i < n; ++i) mask[i] = 1.0f;
    temper::cpu::dropout_apply(mask, mask, n, p, seed, offset);
}
