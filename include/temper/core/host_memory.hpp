// Host (CPU) memory for tensor storage: allocation with a cache of freed blocks, and the byte counts
// (now, peak since the last reset) that are the CPU counterpart of cuda::allocator_stats().
//
// Why a cache: a training step frees and reallocates the same activation sizes every step. Large blocks
// from malloc come fresh from the OS (mmap) or are trimmed back to it, and every fresh page then costs a
// page fault: 8% of a CPU training step under perf. Freed blocks of at least 64 KiB therefore wait in
// free lists keyed by their rounded size and are handed out again. The cache never holds more bytes than
// the peak in use so far, so memory stays under twice the working set even when shapes change;
// release_host_cache() gives it all back.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace temper {

struct HostMemoryStats {
    size_t bytes_in_use = 0;    // held by live tensors
    size_t peak_in_use = 0;     // since the last reset_peak_host_memory()
    size_t allocations = 0;     // tensor allocations so far (served from the cache or not)
    size_t bytes_cached = 0;    // freed blocks kept for reuse
    size_t os_allocations = 0;  // allocations that had to go to malloc
};

namespace detail {

#if defined(__SANITIZE_ADDRESS__)
#define TEMPER_HOST_CACHE 0  // a reused block would hide use-after-free from AddressSanitizer
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEMPER_HOST_CACHE 0
#endif
#endif
#ifndef TEMPER_HOST_CACHE
#define TEMPER_HOST_CACHE 1
#endif

class HostAllocator {
public:
    static constexpr bool kCaching = TEMPER_HOST_CACHE;
    static constexpr size_t kMinCached = size_t(64) << 10;

    // 64-byte multiples (alignment for vector loads); from 64 KiB on, eight steps per power of two
    // (at most 12.5% waste) so that nearby sizes, e.g. a batch padded to 120 or 128 tokens, share blocks.
    static size_t block_size(size_t bytes) {
        size_t unit = 64;
        if (bytes >= kMinCached) unit = std::bit_floor(bytes) / 8;
        return (bytes + unit - 1) / unit * unit;
    }

    void* allocate(size_t bytes) {
        const size_t size = block_size(bytes);
        allocations_.fetch_add(1, std::memory_order_relaxed);
        void* p = nullptr;
        if (kCaching && size >= kMinCached) {
            std::lock_guard<std::mutex> lock(mu_);
            auto it = free_.find(size);
            if (it != free_.end() && !it->second.empty()) {
                p = it->second.back();
                it->second.pop_back();
                cached_ -= size;
            }
        }
        if (!p) {
            os_allocations_.fetch_add(1, std::memory_order_relaxed);
            p = std::aligned_alloc(64, size);
            if (!p && cached() > 0) {  // out of memory: give the cache back and try once more
                release();
                p = std::aligned_alloc(64, size);
            }
            if (!p) return nullptr;
        }
        const size_t now = in_use_.fetch_add(size, std::memory_order_relaxed) + size;
        raise_to(peak_, now);
        raise_to(high_water_, now);
        return p;
    }

    void deallocate(void* p, size_t bytes) noexcept {
        if (!p) return;
        const size_t size = block_size(bytes);
        in_use_.fetch_sub(size, std::memory_order_relaxed);
        if (kCaching && size >= kMinCached) {
            std::lock_guard<std::mutex> lock(mu_);
            if (cached_ + size <= high_water_.load(std::memory_order_relaxed)) {
                try {
                    free_[size].push_back(p);
                    cached_ += size;
                    return;
                } catch (...) {  // no memory for the list entry: free the block instead
                }
            }
        }
        std::free(p);
    }

    void release() {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& [size, blocks] : free_)
            for (void* p : blocks) std::free(p);
        free_.clear();
        cached_ = 0;
    }

    size_t cached() const {
        std::lock_guard<std::mutex> lock(mu_);
        return cached_;
    }

    HostMemoryStats stats() const {
        return {in_use_.load(), peak_.load(), allocations_.load(), cached(), os_allocations_.load()};
    }
    void reset_peak() { peak_.store(in_use_.load()); }

private:
    static void raise_to(std::atomic<size_t>& max, size_t value) {
        size_t seen = max.load(std::memory_order_relaxed);
        while (value > seen && !max.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {}
    }

    mutable std::mutex mu_;
    std::unordered_map<size_t, std::vector<void*>> free_;
    size_t cached_ = 0;
    // high_water_ is the all-time peak (the cache limit); peak_ restarts at reset_peak().
    std::atomic<size_t> in_use_{0}, peak_{0}, high_water_{0}, allocations_{0}, os_allocations_{0};
};

// Never destroyed: tensors in static objects may be freed after any static allocator would be gone.
inline HostAllocator& host_allocator() {
    static HostAllocator* a = new HostAllocator;
    return *a;
}

}  // namespace detail

inline HostMemoryStats host_memory_stats() { return detail::host_allocator().stats(); }

// Starts a new peak measurement from what is in use now.
inline void reset_peak_host_memory() { detail::host_allocator().reset_peak(); }

// Returns every cached host block to the system (e.g. after training, before a long idle phase).
inline void release_host_cache() { detail::host_allocator().release(); }

}  // namespace temper
