// The device layer for graphs: device work recorded once and replayed with one launch per call. On a GPU that
// is a CUDA graph (cuda/graph.hpp); the CPU has no launch cost to save and records nothing, so code built on
// graphs asks graphs_available(dev) and runs the same work eagerly where it is false.
#pragma once

#include "temper/backend/memory.hpp"
#include "temper/core/tensor.hpp"
#include "temper/cuda/api.hpp"

namespace temper::backend {

using Graph = cuda::Graph;

inline bool graphs_available(Device dev) { return dev.is_cuda(); }

// New inputs for a captured graph: ids and mask (from any device) copied into the graph's own ids/mask
// tensors; an undefined mask means every position is a token.
inline void copy_graph_inputs(Tensor<int64_t>& graph_ids, Tensor<int64_t>& graph_mask, const Tensor<int64_t>& ids,
                              const Tensor<int64_t>& mask) {
    graph_ids.copy_(ids);
    if (mask.defined())
        graph_mask.copy_(mask);
    else
        fill(graph_mask.data(), int64_t(1), graph_mask.numel(), graph_mask.device());
}

}  // namespace temper::backend
