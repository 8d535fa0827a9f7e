// Umbrella header: the library (tensors, autograd, ops, layers, DistilBERT, checkpoints, tokenizer,
// optimisers). The training utilities (datasets, metrics, trainer) are in temper/train/*.hpp.
#pragma once

#include "temper/core/tensor.hpp"
#include "temper/io/hf_checkpoint.hpp"
#include "temper/io/safetensors.hpp"
#include "temper/models/any_classifier.hpp"
#include "temper/models/bert.hpp"
#include "temper/models/distilbert.hpp"
#include "temper/models/inference_graph.hpp"
#include "temper/models/probabilities.hpp"
#include "temper/nn/layers.hpp"
#include "temper/nn/losses.hpp"
#include "temper/nn/mixed_precision.hpp"
#include "temper/nn/transformer.hpp"
#include "temper/ops.hpp"
#include "temper/optim/adamw.hpp"
#include "temper/optim/clip.hpp"
#include "temper/optim/schedule.hpp"
#include "temper/text/model_inputs.hpp"
#include "temper/text/text.hpp"
