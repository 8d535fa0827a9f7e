// Umbrella header: everything temper offers on the CPU.
#pragma once

#include "temper/core/tensor.hpp"
#include "temper/ops.hpp"
