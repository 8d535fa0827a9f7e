// CUDA graphs: temper work on a device recorded once and replayed with a single launch. A small-batch
// forward is hundreds of short kernels whose launch cost exceeds their run time; a replay launches them
// all at once from the driver.
//
// What a capture records is fixed: the kernels, their arguments (shapes, scalars, dropout seeds) and every
// address. So the captured function must
//   - not wait for the GPU: no item(), to_vector(), copies to the host or from pageable host memory
//     (they fail the capture with an error that says so);
//   - read its inputs from tensors that outlive the graph, and be given new data by copying into those
//     tensors (Tensor::copy_) before a replay;
//   - not run other temper work on the device from another thread meanwhile (it would be captured too).
// Memory allocated during the capture comes from a pool private to the graph (allocator.hpp), and memory
// freed during it goes there too: the replays reuse those addresses, so that memory stays reserved until
// the graph is destroyed.
#pragma once

#include <utility>

#include "temper/core/error.hpp"
#include "temper/cuda/allocator.hpp"
#include "temper/cuda/runtime.hpp"

namespace temper::cuda {

class Graph {
public:
    Graph() = default;
    Graph(const Graph&) = delete;
    Graph& operator=(const Graph&) = delete;
    Graph(Graph&& o) noexcept { *this = std::move(o); }
    Graph& operator=(Graph&& o) noexcept {
        if (this != &o) {
            reset();
            std::swap(exec_, o.exec_);
            std::swap(pool_, o.pool_);
            std::swap(dev_, o.dev_);
        }
        return *this;
    }
    ~Graph() { reset(); }

    // Runs fn once while recording the work it queues on temper's stream for dev (fn's kernels do not run
    // now; replay() runs them). Run fn once without capturing first, so that lazy initialisation (cuBLAS
    // handles, kernel attributes, the stream itself) happens outside the capture.
    template <class Fn>
    void capture(Device dev, Fn&& fn) {
        reset();
        check_device(dev);
        DeviceGuard guard(dev);
        cudaStream_t s = stream(dev);
        CachingAllocator& alloc = CachingAllocator::instance();
        dev_ = dev;
        pool_ = alloc.begin_graph_pool(dev);
        // Relaxed: cudaMalloc (a pool growing during the capture) is allowed; stream syncs still fail it.
        if (cudaError_t e = cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed); e != cudaSuccess) {
            alloc.end_graph_pool(dev);
            reset();
            check_cuda(e, "cudaStreamBeginCapture", __FILE__, __LINE__);
        }
        cudaGraph_t graph = nullptr;
        try {
            fn();
        } catch (const Error& e) {
            abandon(s, alloc);
            fail("while capturing a CUDA graph on ", dev.str(), ": ", e.what(),
                 " (captured work must not wait for the GPU: no item(), to_vector(), or copies to the host or from "
                 "pageable host memory)");
        } catch (...) {
            abandon(s, alloc);
            throw;
        }
        const cudaError_t end = cudaStreamEndCapture(s, &graph);
        alloc.end_graph_pool(dev);
        if (end != cudaSuccess || !graph) {
            if (graph) cudaGraphDestroy(graph);
            reset();
            check_cuda(end != cudaSuccess ? end : cudaErrorStreamCaptureInvalidated,
                       "cudaStreamEndCapture (the captured work synchronised with the host, or used another stream)",
                       __FILE__, __LINE__);
        }
        const cudaError_t inst = cudaGraphInstantiate(&exec_, graph, 0);
        cudaGraphDestroy(graph);  // the executable graph keeps what it needs
        if (inst != cudaSuccess) {
            exec_ = nullptr;
            reset();
            check_cuda(inst, "cudaGraphInstantiate", __FILE__, __LINE__);
        }
    }

    // Queues one run of the captured work on temper's stream for the device (asynchronous, like any kernel).
    void replay() const {
        check(exec_ != nullptr, "cuda::Graph::replay: nothing has been captured");
        DeviceGuard guard(dev_);
        TEMPER_CUDA_CHECK(cudaGraphLaunch(exec_, stream(dev_)));
    }

    bool captured() const { return exec_ != nullptr; }
    Device device() const { return dev_; }

    // Waits for queued replays, destroys the graph and gives its memory back to the shared cache.
    void reset() noexcept {
        if (exec_ || pool_) {
            int prev = 0;
            cudaGetDevice(&prev);
            cudaSetDevice(dev_.index);
            if (exec_) {
                cudaStream_t s = nullptr;
                try {
                    s = stream(dev_);
                } catch (...) {}
                if (s) cudaStreamSynchronize(s);
                cudaGraphExecDestroy(exec_);
                exec_ = nullptr;
            }
            if (pool_) CachingAllocator::instance().release_graph_pool(pool_);
            pool_ = 0;
            cudaSetDevice(prev);
            cudaGetLastError();  // nothing here may throw; a sticky error shows up at the next checked call
        }
    }

private:
    // A failed capture: end it (the graph, if any, is discarded) and give the pool back.
    void abandon(cudaStream_t s, CachingAllocator& alloc) noexcept {
        cudaGraph_t g = nullptr;
        cudaStreamEndCapture(s, &g);
        if (g) cudaGraphDestroy(g);
        cudaGetLastError();
        alloc.end_graph_pool(dev_);
        reset();
    }

    cudaGraphExec_t exec_ = nullptr;
    uint64_t pool_ = 0;
    Device dev_ = Device::cpu();
};

}  // namespace temper::cuda
