// The elementwise activations temper computes (exact erf GELU, ReLU, tanh): what a model config names and what
// the kernels implement. Tanh is BERT's pooler activation, never a config's hidden_act.
#pragma once

#include <string>

#include "temper/core/error.hpp"

namespace temper {

enum class Activation { GELU, ReLU, Tanh };

// "gelu" or "relu", as HF configs spell them; where names the file and field for the error.
inline Activation parse_activation(const std::string& name, const std::string& where) {
    if (name == "gelu") return Activation::GELU;
    if (name == "relu") return Activation::ReLU;
    fail(where, ": activation '", name, "' is not supported (expected \"gelu\" or \"relu\")");
}

}  // namespace temper
