// Device built-ins of the simulator: threadIdx, blockIdx, blockDim, gridDim, warpSize; block barriers; warp
// collectives; the round-to-nearest arithmetic intrinsics; CUDA's float overloads of the math functions.
//
// A kernel runs once per simulated thread, each thread a fiber that switches only here: at a barrier, at a
// warp collective, and when it returns. The simulator checks what CUDA leaves undefined: every live thread
// of the block must meet at the same __syncthreads, and every lane a collective's mask names must be
// present, alive and call the same collective with the same mask; a shuffle may only read lanes in the mask.
#pragma once

#include <math.h>  // the float overloads in the global namespace, as CUDA's math headers provide (expf, fabs(float))

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <source_location>
#include <type_traits>

#include "cudasim/runtime_api.hpp"

namespace cudasim {

// What device code sees of the block and the thread that is running; set by the simulator before it resumes
// a thread. The runtime's own state of a thread extends ThreadContext.
struct BlockContext {
    uint3 block_idx;
    dim3 block_dim, grid_dim;
    unsigned char* dynamic_smem;
};
struct ThreadContext {
    uint3 thread_idx;
    const BlockContext* block;
};

// The running simulated thread of this worker; null outside device code. Lives in libcudasim (a shared
// library, so that its thread-locals are not in the program's own TLS block, which is __shared__ memory).
extern __thread ThreadContext* current_thread __attribute__((tls_model("initial-exec")));

inline unsigned char* dynamic_shared_memory() { return current_thread->block->dynamic_smem; }

namespace detail {

enum class Sync : unsigned char {
    Barrier,
    BarrierCount,
    BarrierAnd,
    BarrierOr,  // __syncthreads*: the whole block
    SyncWarp,
    Shfl,
    ShflUp,
    ShflDown,
    ShflXor,
    Ballot,
    Any,
    All,  // warp collectives: the lanes of `mask`
};

struct SyncCall {
    Sync kind;
    unsigned mask;   // warp collectives: the lanes taking part
    uint64_t value;  // this thread's value (shuffles), or predicate (barriers with a result, votes)
    int lane_arg;    // shuffles: source lane, delta or lane mask
    int width;       // shuffles: segment width
    std::source_location where;
};

// Blocks the calling simulated thread until its block or warp partners arrive; returns this thread's result.
uint64_t synchronize(const SyncCall& call);

template <class T>
concept Shuffleable = std::is_arithmetic_v<T> &&(sizeof(T) == 4 || sizeof(T) == 8);

template <class T>
uint64_t to_bits(T v) {
    uint64_t b = 0;
    std::memcpy(&b, &v, sizeof v);
    return b;
}
template <class T>
T from_bits(uint64_t b) {
    T v;
    std::memcpy(&v, &b, sizeof v);
    return v;
}

// Keeps the compiler from fusing one rounded operation with its neighbours (an FMA contraction), whatever
// -ffp-contract says: the _rn intrinsics are single IEEE operations by definition.
template <class T>
inline T rounded(T v) {
#if defined(__x86_64__)
    asm volatile("" : "+x"(v));
#elif defined(__aarch64__)
    asm volatile("" : "+w"(v));
#endif
    return v;
}

}  // namespace detail
}  // namespace cudasim

#define threadIdx (static_cast<const uint3&>(::cudasim::current_thread->thread_idx))
#define blockIdx (static_cast<const uint3&>(::cudasim::current_thread->block->block_idx))
#define blockDim (static_cast<const dim3&>(::cudasim::current_thread->block->block_dim))
#define gridDim (static_cast<const dim3&>(::cudasim::current_thread->block->grid_dim))
constexpr int warpSize = 32;

// ---- block barriers ------------------------------------------------------------------------------------

inline void __syncthreads(std::source_location where = std::source_location::current()) {
    using namespace cudasim::detail;
    synchronize({Sync::Barrier, 0, 0, 0, 0, where});
}
inline int __syncthreads_count(int pred, std::source_location where = std::source_location::current()) {
    using namespace cudasim::detail;
    return int(synchronize({Sync::BarrierCount, 0, uint64_t(pred != 0), 0, 0, where}));
}
inline int __syncthreads_and(int pred, std::source_location where = std::source_location::current()) {
    using namespace cudasim::detail;
    return int(synchronize({Sync::BarrierAnd, 0, uint64_t(pred != 0), 0, 0, where}));
}
inline int __syncthreads_or(int pred, std::source_location where = std::source_location::current()) {
    using namespace cudasim::detail;
    return int(synchronize({Sync::BarrierOr, 0, uint64_t(pred != 0), 0, 0, where}));
}

// ---- warp collectives ----------------------------------------------------------------------------------

inline void __syncwarp(unsigned mask = 0xffffffffu, std::source_location where = std::source_location::current()) {
    using namespace cudasim::detail;
    synchronize({Sync::SyncWarp, mask, 0, 0, 32, where});
}
template <cudasim::detail::Shuffleable T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize,
              std::source_location where = std::source_location::current()) {
    using namespace cudasim::detail;
    return from_bits<T>(synchronize({Sync::Shfl, mask, to_bits(var), src_lane, width, where}));
}
template <cudasim::detail::Shuffleable T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                 std::source_location where = std::source_location::current()) {
    using namespace cudasim::detail;
    return from_bits<T>(synchronize({Sync::ShflUp, mask, to_bits(var), int(delta), width, where}));
}
template <cudasim::detail::Shuffleable T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                   std::source_location where = std::source_location::current()) {
    using namespace cudasim::detail;
    return from_bits<T>(synchronize({Sync::ShflDown, mask, to_bits(var), int(delta), width, where}));
}
template <cudasim::detail::Shuffleable T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize,
                  std::source_location where = std::source_location::current()) {
    using namespace cudasim::detail;
    return from_bits<T>(synchronize({Sync::ShflXor, mask, to_bits(var), lane_mask, width, where}));
}
inline unsigned __ballot_sync(unsigned mask, int pred, std::source_location where = std::source_location::current()) {
    using namespace cudasim::detail;
    return unsigned(synchronize({Sync::Ballot, mask, uint64_t(pred != 0), 0, 32, where}));
}
inline int __any_sync(unsigned mask, int pred, std::source_location where = std::source_location::current()) {
    using namespace cudasim::detail;
    return int(synchronize({Sync::Any, mask, uint64_t(pred != 0), 0, 32, where}));
}
inline int __all_sync(unsigned mask, int pred, std::source_location where = std::source_location::current()) {
    using namespace cudasim::detail;
    return int(synchronize({Sync::All, mask, uint64_t(pred != 0), 0, 32, where}));
}

// ---- integer intrinsics --------------------------------------------------------------------------------

inline int __popc(unsigned x) { return std::popcount(x); }
inline int __popcll(unsigned long long x) { return std::popcount(x); }
inline int __clz(int x) { return std::countl_zero(unsigned(x)); }
inline int __ffs(int x) { return x ? std::countr_zero(unsigned(x)) + 1 : 0; }

// ---- round-to-nearest arithmetic: exact IEEE operations, never contracted; no flush to zero --------------

inline float __fadd_rn(float a, float b) { return cudasim::detail::rounded(a + b); }
inline float __fsub_rn(float a, float b) { return cudasim::detail::rounded(a - b); }
inline float __fmul_rn(float a, float b) { return cudasim::detail::rounded(a * b); }
inline float __fdiv_rn(float a, float b) { return cudasim::detail::rounded(a / b); }
inline float __frcp_rn(float a) { return cudasim::detail::rounded(1.0f / a); }
inline float __fsqrt_rn(float a) { return cudasim::detail::rounded(std::sqrt(a)); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __dadd_rn(double a, double b) { return cudasim::detail::rounded(a + b); }
inline double __dsub_rn(double a, double b) { return cudasim::detail::rounded(a - b); }
inline double __dmul_rn(double a, double b) { return cudasim::detail::rounded(a * b); }
inline double __ddiv_rn(double a, double b) { return cudasim::detail::rounded(a / b); }
inline double __drcp_rn(double a) { return cudasim::detail::rounded(1.0 / a); }
inline double __dsqrt_rn(double a) { return cudasim::detail::rounded(std::sqrt(a)); }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }

#define CUDASIM_DYNAMIC_SMEM(name) unsigned char* const name = ::cudasim::dynamic_shared_memory()
