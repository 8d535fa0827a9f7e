// Caching allocator for GPU memory. cudaMalloc/cudaFree synchronise the device and cost tens of
// microseconds, so freed blocks are kept in per-device free lists keyed by their rounded size and handed
// out again. A training step repeats the same shapes, so after the first step it allocates nothing new
// (stats().cuda_mallocs stops growing; a test checks that).
//
// All temper work on a device runs on that device's one stream (runtime.hpp), so a block freed by the host
// may be reused at once: any later kernel on the same stream runs after the kernels that used it.
//
// CUDA graphs (graph.hpp) replay kernels with the addresses they were captured with. While a graph is being
// captured on a device, that device's blocks come from a pool private to the graph, and every block freed
// meanwhile (also one allocated before the capture) goes into that pool: all stay reserved for the graph's
// replays until the graph releases its pool.
#pragma once

#include <cstddef>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "temper/cuda/runtime.hpp"

namespace temper::cuda {

struct AllocatorStats {
    size_t bytes_in_use = 0;      // handed out to tensors now
    size_t bytes_cached = 0;      // held in free lists
    size_t bytes_graph_free = 0;  // free blocks reserved for captured CUDA graphs (their private pools)
    size_t peak_in_use = 0;
    size_t cuda_mallocs = 0;  // calls to cudaMalloc so far
};

class CachingAllocator {
public:
    // Small sizes round up to 512 bytes (cudaMalloc's own granularity), large ones to 2 MiB so that
    // slightly different large requests share blocks.
    static size_t round_size(size_t bytes) {
        constexpr size_t kSmall = 512, kLarge = size_t(2) << 20;
        if (bytes == 0) bytes = 1;
        size_t unit = bytes <= (size_t(1) << 20) ? kSmall : kLarge;
        return (bytes + unit - 1) / unit * unit;
    }

    void* allocate(size_t bytes, Device dev) {
        check_device(dev);
        const size_t size = round_size(bytes);
        std::lock_guard<std::mutex> lock(mu_);
        const auto cap = capturing_.find(dev.index);
        const uint64_t graph_pool = cap == capturing_.end() ? 0 : cap->second;
        void* p = nullptr;
        if (graph_pool) p = take(private_pools_[graph_pool].free[size], size, stats_.bytes_graph_free);
        if (!p) p = take(pool(dev.index)[size], size, stats_.bytes_cached);
        if (!p) p = device_malloc(size, bytes, dev, graph_pool != 0);
        blocks_[p] = {size, dev.index, graph_pool};
        stats_.bytes_in_use += size;
        if (stats_.bytes_in_use > stats_.peak_in_use) stats_.peak_in_use = stats_.bytes_in_use;
        return p;
    }

    void deallocate(void* p) noexcept {
        if (!p) return;
        std::lock_guard<std::mutex> lock(mu_);
        auto it = blocks_.find(p);
        if (it == blocks_.end()) return;  // not ours; never happens through Storage
        const Block b = it->second;
        blocks_.erase(it);
        stats_.bytes_in_use -= b.size;
        // A block of a live graph stays reserved for it, even when another graph is being captured: that
        // graph's pool would hand the block back to the shared cache when it dies, while this graph's replays
        // still use it. A shared block freed while its device is being captured joins the capture's pool:
        // captured kernels may still use it (a tensor made before the capture, freed inside it).
        uint64_t graph_pool = b.graph_pool && private_pools_.count(b.graph_pool) ? b.graph_pool : 0;
        const auto cap = capturing_.find(b.device);
        if (!graph_pool && cap != capturing_.end()) graph_pool = cap->second;
        const auto pp = graph_pool ? private_pools_.find(graph_pool) : private_pools_.end();
        if (pp != private_pools_.end()) {
            pp->second.free[b.size].push_back(p);
            stats_.bytes_graph_free += b.size;
            return;
        }
        stats_.bytes_cached += b.size;
        pool(b.device)[b.size].push_back(p);
    }

    // Starts a private pool on dev: until end_graph_pool(dev), blocks on dev are allocated from it (taking
    // them from the shared cache or cudaMalloc when it has none of the size) and freed back into it.
    uint64_t begin_graph_pool(Device dev) {
        std::lock_guard<std::mutex> lock(mu_);
        check(!capturing_.count(dev.index), "a CUDA graph is already being captured on ", dev);
        const uint64_t id = ++last_graph_pool_;
        private_pools_[id].device = dev.index;
        capturing_[dev.index] = id;
        return id;
    }
    void end_graph_pool(Device dev) {
        std::lock_guard<std::mutex> lock(mu_);
        capturing_.erase(dev.index);
    }
    // The graph is gone: its free blocks return to the shared cache now, blocks still held by tensors (the
    // graph's outputs) when those are freed. The caller has synchronised the stream.
    void release_graph_pool(uint64_t id) {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = private_pools_.find(id);
        if (it == private_pools_.end()) return;
        for (auto& [size, list] : it->second.free)
            for (void* p : list) {
                pool(it->second.device)[size].push_back(p);
                stats_.bytes_graph_free -= size;
                stats_.bytes_cached += size;
            }
        private_pools_.erase(it);
    }

    // Returns every cached block to the driver (e.g. before handing the GPU to another library).
    void empty_cache() {
        std::lock_guard<std::mutex> lock(mu_);
        release_cached();
    }

    AllocatorStats stats() const {
        std::lock_guard<std::mutex> lock(mu_);
        return stats_;
    }

    // Starts a new peak measurement from what is in use now (like torch.cuda.reset_peak_memory_stats).
    void reset_peak() {
        std::lock_guard<std::mutex> lock(mu_);
        stats_.peak_in_use = stats_.bytes_in_use;
    }

    static CachingAllocator& instance() {
        static CachingAllocator* a = new CachingAllocator();  // leaked on purpose: tensors may outlive statics
        return *a;
    }

private:
    using Pool = std::unordered_map<size_t, std::vector<void*>>;
    struct Block {
        size_t size;
        int device;
        uint64_t graph_pool;  // 0: the shared cache
    };
    struct GraphPool {
        int device = 0;
        Pool free;
    };

    Pool& pool(int index) { return pools_[index]; }

    static void* take(std::vector<void*>& list, size_t size, size_t& counter) {
        if (list.empty()) return nullptr;
        void* p = list.back();
        list.pop_back();
        counter -= size;
        return p;
    }

    void* device_malloc(size_t size, size_t requested, Device dev, bool capturing) {
        DeviceGuard g(dev);
        void* p = nullptr;
        cudaError_t err = cudaMalloc(&p, size);
        if (err == cudaErrorMemoryAllocation && !capturing) {  // (releasing synchronises: not during a capture)
            cudaGetLastError();
            release_cached();  // fragmentation: give the cache back and try once more
            err = cudaMalloc(&p, size);
        }
        if (err == cudaErrorMemoryAllocation) {
            cudaGetLastError();
            size_t free_b = 0, total_b = 0;
            cudaMemGetInfo(&free_b, &total_b);
            fail("CUDA out of memory on ", dev.str(), ": could not allocate ", mib(requested), " MiB (temper holds ",
                 mib(stats_.bytes_in_use), " MiB in tensors; the GPU has ", mib(free_b), " MiB free of ", mib(total_b),
                 " MiB). Try a smaller batch size or sequence length, or bf16 mode.");
        }
        check_cuda(err, "cudaMalloc", __FILE__, __LINE__);
        ++stats_.cuda_mallocs;
        return p;
    }

    void release_cached() {
        for (auto& [index, pool] : pools_) {
            DeviceGuard g(Device::cuda(index));
            cudaStreamSynchronize(stream(Device::cuda(index)));  // blocks may still be read by queued kernels
            for (auto& [size, blocks] : pool) {
                for (void* p : blocks) cudaFree(p);
                stats_.bytes_cached -= size * blocks.size();
                blocks.clear();
            }
        }
    }

    // "4194304" or "3.9": a double streamed as is would print 4.1943e+06.
    static std::string mib(size_t bytes) {
        char b[32];
        if (bytes % (size_t(1) << 20) == 0)
            std::snprintf(b, sizeof b, "%zu", bytes >> 20);
        else
            std::snprintf(b, sizeof b, "%.1f", double(bytes) / double(1 << 20));
        return b;
    }

    mutable std::mutex mu_;
    std::map<int, Pool> pools_;
    std::unordered_map<void*, Block> blocks_;
    std::unordered_map<uint64_t, GraphPool> private_pools_;
    std::map<int, uint64_t> capturing_;  // device -> the graph pool being captured into
    uint64_t last_graph_pool_ = 0;
    AllocatorStats stats_;
};

inline void* device_alloc(size_t bytes, Device dev) { return CachingAllocator::instance().allocate(bytes, dev); }
inline void device_free(void* p) noexcept { CachingAllocator::instance().deallocate(p); }
inline AllocatorStats allocator_stats() { return CachingAllocator::instance().stats(); }
inline void empty_cache() { CachingAllocator::instance().empty_cache(); }
inline void reset_peak_memory() { CachingAllocator::instance().reset_peak(); }

}  // namespace temper::cuda
