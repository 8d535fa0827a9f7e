// The tensors a model takes, from a tokenizer's batch: the one step between encode_batch and model(...).
//
//   auto in = text::model_inputs(tok.encode_batch(texts, {.padding = text::Padding::Longest}), dev);
//   auto logits = model(in.input_ids, in.attention_mask);
#pragma once

#include <cstdint>

#include "temper/core/device.hpp"
#include "temper/core/error.hpp"
#include "temper/core/tensor.hpp"
#include "temper/text/wordpiece.hpp"

namespace temper::text {

struct ModelInputs {
    Tensor<int64_t> input_ids = {};       // [B, S]
    Tensor<int64_t> attention_mask = {};  // [B, S], 1 for tokens, 0 for padding
};

// [batch, seq_len] tensors on `dev`. The batch must be rectangular: pad it (Padding::Longest or
// MaxLength), or have every sequence the same length.
inline ModelInputs model_inputs(const BatchEncoding& b, Device dev = Device::cpu()) {
    check(b.batch > 0, "model_inputs: the batch is empty");
    check(b.seq_len > 0 && b.input_ids.size() == b.batch * b.seq_len, "model_inputs: the ", b.batch,
          " sequences have different lengths; encode with padding (Padding::Longest or MaxLength)");
    const Shape shape = {int64_t(b.batch), int64_t(b.seq_len)};
    return {Tensor<int64_t>::from_vector(b.input_ids, shape).to(dev),
            Tensor<int64_t>::from_vector(b.attention_mask, shape).to(dev)};
}

}  // namespace temper::text
