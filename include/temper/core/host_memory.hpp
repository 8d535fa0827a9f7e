// Bytes of host (CPU) memory held by tensor storage: now, and the peak since the last reset. The
// CPU counterpart of cuda::allocator_stats(); the benchmarks report it as peak memory per step.
#pragma once

#include <atomic>
#include <cstddef>

namespace temper {

struct HostMemoryStats {
    size_t bytes_in_use = 0;
    size_t peak_in_use = 0;
    size_t allocations = 0;  // calls to the host allocator so far
};

namespace detail {
struct HostMemoryCounters {
    std::atomic<size_t> in_use{0}, peak{0}, allocations{0};
};
inline HostMemoryCounters& host_memory_counters() {
    static HostMemoryCounters c;
    return c;
}
inline void host_memory_allocated(size_t bytes) {
    auto& c = host_memory_counters();
    c.allocations.fetch_add(1, std::memory_order_relaxed);
    const size_t now = c.in_use.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    size_t peak = c.peak.load(std::memory_order_relaxed);
    while (now > peak && !c.peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
}
inline void host_memory_freed(size_t bytes) { host_memory_counters().in_use.fetch_sub(bytes, std::memory_order_relaxed); }
}  // namespace detail

inline HostMemoryStats host_memory_stats() {
    auto& c = detail::host_memory_counters();
    return {c.in_use.load(), c.peak.load(), c.allocations.load()};
}

// Starts a new peak measurement from what is in use now.
inline void reset_peak_host_memory() {
    auto& c = detail::host_memory_counters();
    c.peak.store(c.in_use.load());
}

}  // namespace temper
