// Batches for one epoch as lists of example indices, and dynamic padding of pre-tokenized
// examples to the longest one in the batch.
//
//   for (int64_t epoch = 0; epoch < epochs; ++epoch)
//       for (const auto& batch : train::epoch_batches(ds.size(), epoch, {.batch_size = 16, .seed = 42}))
//           ... tok.encode_batch(ds.batch_texts(batch), {.padding = Padding::Longest}) ...
//
// Shuffling is a seeded Philox permutation that depends only on (seed, epoch), so a resumed run
// sees the same batches. Length bucketing (bucket_batches > 0) works like HF's
// group_by_length: the shuffled order is cut into chunks of bucket_batches * batch_size
// examples, each chunk is sorted by length (longest first), then cut into batches, so a batch
// holds examples of similar length and needs little padding.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "temper/core/error.hpp"
#include "temper/core/random.hpp"
#include "temper/core/tensor.hpp"
#include "temper/text/model_inputs.hpp"
#include "temper/train/sampling.hpp"

namespace temper::train {

struct BatchOptions {
    int64_t batch_size = 16;
    bool shuffle = true;
    uint64_t seed = 0;
    bool drop_last = false;      // drop a final batch smaller than batch_size
    int64_t bucket_batches = 0;  // > 0: length bucketing over chunks of this many batches (HF uses 50)
};

// Example indices of each batch of epoch `epoch` over n examples. lengths[i] (e.g. token count
// of example i) is needed only for bucketing.
inline std::vector<std::vector<int64_t>> epoch_batches(int64_t n, int64_t epoch, const BatchOptions& o,
                                                       std::span<const int64_t> lengths = {}) {
    check(o.batch_size > 0, "epoch_batches: batch_size must be positive, got ", o.batch_size);
    check(n >= 0 && epoch >= 0, "epoch_batches: negative size or epoch (", n, ", ", epoch, ")");
    check(o.bucket_batches == 0 || int64_t(lengths.size()) == n, "epoch_batches: length bucketing needs ", n,
          " lengths, got ", lengths.size());
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), int64_t(0));
    if (o.shuffle) {
        // Each epoch reads its own stretch of the seed's Philox stream.
        Generator g(o.seed);
        g.set_offset(uint64_t(epoch) << 40);
        shuffle(order, g);
    }
    if (o.bucket_batches > 0) {
        const int64_t chunk = o.bucket_batches * o.batch_size;
        for (int64_t lo = 0; lo < n; lo += chunk) {
            auto b = order.begin() + lo, e = order.begin() + std::min(n, lo + chunk);
            std::stable_sort(b, e, [&](int64_t x, int64_t y) { return lengths[size_t(x)] > lengths[size_t(y)]; });
        }
    }
    std::vector<std::vector<int64_t>> batches;
    for (int64_t lo = 0; lo < n; lo += o.batch_size) {
        const int64_t hi = std::min(n, lo + o.batch_size);
        if (hi - lo < o.batch_size && o.drop_last) break;
        batches.emplace_back(order.begin() + lo, order.begin() + hi);
    }
    return batches;
}

inline int64_t num_batches(int64_t n, const BatchOptions& o) {
    check(o.batch_size > 0, "num_batches: batch_size must be positive, got ", o.batch_size);
    return o.drop_last ? n / o.batch_size : (n + o.batch_size - 1) / o.batch_size;
}

// input_ids and attention_mask [B, S], S = the longest example in the batch.
using PaddedBatch = text::ModelInputs;

// Right-pads the token ids of the examples in `batch` with pad_id to the batch's longest length, or to
// pad_to when that is longer (a fixed shape, as a CUDA graph needs).
inline PaddedBatch pad_batch(const std::vector<std::vector<int64_t>>& token_ids, std::span<const int64_t> batch,
                             int64_t pad_id = 0, int64_t pad_to = 0) {
    size_t longest = pad_to > 0 ? size_t(pad_to) : 0;
    for (int64_t i : batch) {
        check(i >= 0 && size_t(i) < token_ids.size(), "pad_batch: index ", i, " out of range (", token_ids.size(),
              " examples)");
        longest = std::max(longest, token_ids[size_t(i)].size());
    }
    const size_t B = batch.size();
    std::vector<int64_t> ids(B * longest, pad_id), mask(B * longest, 0);
    for (size_t b = 0; b < B; ++b) {
        const auto& t = token_ids[size_t(batch[b])];
        std::copy(t.begin(), t.end(), ids.begin() + ptrdiff_t(b * longest));
        std::fill_n(mask.begin() + ptrdiff_t(b * longest), t.size(), int64_t(1));
    }
    const Shape shape = {int64_t(B), int64_t(longest)};
    return {Tensor<int64_t>::from_vector(ids, shape), Tensor<int64_t>::from_vector(mask, shape)};
}

}  // namespace temper::train
