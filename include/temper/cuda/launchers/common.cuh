// Host launchers of kernels/common.cuh: what the launchers share: scratch memory and the deterministic column sum.
// Compiled by nvcc (or against the CUDA simulator) once, in launchers/all.cu; declared for every translation unit in
// cuda/launchers.hpp, which documents them.
#pragma once

#include "kernels/common.cuh"
#include "temper/cuda/launchers.hpp"
#include "temper/cuda/allocator.hpp"
#include "temper/cuda/runtime.hpp"

namespace temper::cuda::detail {

// Scratch on the launcher's device from the caching allocator, returned when the launcher exits. Returning it
// before the kernels have run is safe: a later user of the block is queued behind them on temper's stream for
// the device (runtime.hpp), the only stream launchers use.
class Scratch {
public:
    Scratch(size_t bytes, Device dev) : p_(device_alloc(bytes, dev)) {}
    ~Scratch() { device_free(p_); }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    template <class A> A* as() const { return static_cast<A*>(p_); }

private:
    void* p_ = nullptr;
};

// out_k[j] = sum over r < rows of f(r, j)[k] for j < cols, written (not accumulated) as T; zeros when
// rows == 0. f is a device functor: void operator()(int64_t r, int64_t j, compute_t<T> (&v)[K]) const.
template <int K, class T, class F>
void column_reduce(const F& f, int64_t rows, int64_t cols, T* out0, T* out1, Device dev) {
    const OnDevice on(dev);
    static_assert(K == 1 || K == 2);
    using A = compute_t<T>;
    if (cols == 0) return;
    check(rows >= 0 && cols > 0 && (cols + kernels::kColTile - 1) / kernels::kColTile <= 0x7fffffff,
          "column_reduce: unsupported shape [", rows, ", ", cols, "]");
    const int64_t chunks = kernels::column_chunks(rows);
    const int64_t chunk_rows = (rows + chunks - 1) / chunks;
    Scratch partial(sizeof(A) * size_t(K) * size_t(chunks) * size_t(cols), dev);
    dim3 grid(unsigned((cols + kernels::kColTile - 1) / kernels::kColTile), unsigned(chunks));
    dim3 block(kernels::kColTile, kernels::kColLanes);
    TEMPER_LAUNCH(grid, block, 0, on.stream, kernels::column_partials_kernel<K, A>)(
        f, rows, cols, chunk_rows, partial.as<A>());
    TEMPER_CUDA_CHECK_LAUNCH();
    TEMPER_LAUNCH(kernels::grid_for(cols, 256), 256, 0, on.stream, kernels::column_finalize_kernel<K, A, T>)(
        partial.as<A>(), chunks, cols, out0, out1);
    TEMPER_CUDA_CHECK_LAUNCH();
}

}  // namespace temper::cuda::detail
