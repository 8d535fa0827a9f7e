// The losses under nn::, where libtorch users look for them (torch::nn::functional).
#pragma once

#include "temper/ops/loss.hpp"

namespace temper::nn {
using temper::bce_with_logits;
using temper::cross_entropy;
}  // namespace temper::nn
