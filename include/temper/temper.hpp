// Umbrella header: everything temper offers.
#pragma once

#include "temper/core/tensor.hpp"
#include "temper/io/hf_checkpoint.hpp"
#include "temper/io/safetensors.hpp"
#include "temper/models/distilbert.hpp"
#include "temper/nn/layers.hpp"
#include "temper/nn/transformer.hpp"
#include "temper/ops.hpp"
