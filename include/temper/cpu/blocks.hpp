// Elementwise math in fixed blocks of Eigen packets. Every element goes through the same vectorised code: the
// last partial block is computed in a zero-padded copy, so a result never depends on the pointer's alignment,
// on where a thread's range ends, or on the thread count (a plain Eigen map would do the unaligned head and
// the tail with scalar code, whose rounding can differ from the packets').
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "temper/cpu/parallel.hpp"

namespace temper::cpu {

template <class T>
inline constexpr int kBlock = 64 / int(sizeof(T));  // one cache line: 16 floats, 8 doubles
template <class T>
using Block = Eigen::Array<T, kBlock<T>, 1>;

// exp(d) with std::exp's underflow to 0. Eigen's vectorised exp clamps its argument, so far below zero
// (masked softmax keys, GELU's tails) it returns a tiny non-zero value; below the log of the smallest
// normal number this returns 0.
// The exp is evaluated on its own: inside Eigen 3.4's select() it would run element by element through
// std::exp (select has no packet path), which cost a third of the softmax.
template <class T>
Block<T> exp_underflow_to_zero(const Block<T>& d) {
    static const T cutoff = std::log(std::numeric_limits<T>::min());
    Block<T> e = d.exp();
    for (int i = 0; i < kBlock<T>; ++i) e[i] = d[i] < cutoff ? T(0) : e[i];
    return e;
}

// y[i] = f(x-block)[i] for one block starting at i0 (n - i0 may be short: padded with zeros).
template <class T, class F>
void apply_block(const T* x, T* y, int64_t i0, int64_t n, F& f) {
    constexpr int B = kBlock<T>;
    if (i0 + B <= n) {
        Eigen::Map<Block<T>>(y + i0) = f(Eigen::Map<const Block<T>>(x + i0));
        return;
    }
    Block<T> t = Block<T>::Zero();
    std::copy(x + i0, x + n, t.data());
    Block<T> r = f(t);
    std::copy(r.data(), r.data() + (n - i0), y + i0);
}

template <class T, class F>
void apply_block(const T* a, const T* b, T* y, int64_t i0, int64_t n, F& f) {
    constexpr int B = kBlock<T>;
    if (i0 + B <= n) {
        Eigen::Map<Block<T>>(y + i0) = f(Eigen::Map<const Block<T>>(a + i0), Eigen::Map<const Block<T>>(b + i0));
        return;
    }
    Block<T> ta = Block<T>::Zero(), tb = Block<T>::Zero();
    std::copy(a + i0, a + n, ta.data());
    std::copy(b + i0, b + n, tb.data());
    Block<T> r = f(ta, tb);
    std::copy(r.data(), r.data() + (n - i0), y + i0);
}

// y = f(x) on one thread (inside a row of a parallel loop). y may alias x.
template <class T, class F>
void map_blocks_serial(const T* x, T* y, int64_t n, F f) {
    for (int64_t i = 0; i < n; i += kBlock<T>) apply_block(x, y, i, n, f);
}

// y = f(x), blocks split across threads; work_per_item is the cost of one element in rough flops.
template <class T, class F>
void map_blocks(const T* x, T* y, int64_t n, int64_t work_per_item, F f) {
    const int64_t blocks = (n + kBlock<T> - 1) / kBlock<T>;
    parallel_for(blocks, work_per_item * kBlock<T>, [&](int64_t b) { apply_block(x, y, b * kBlock<T>, n, f); });
}

// y = f(a, b), blocks split across threads.
template <class T, class F>
void map_blocks(const T* a, const T* b, T* y, int64_t n, int64_t work_per_item, F f) {
    const int64_t blocks = (n + kBlock<T> - 1) / kBlock<T>;
    parallel_for(blocks, work_per_item * kBlock<T>, [&](int64_t k) { apply_block(a, b, y, k * kBlock<T>, n, f); });
}

}  // namespace temper::cpu
