// The differentiable op set.
#pragma once

#include "temper/ops/attention.hpp"
#include "temper/ops/bias_gelu.hpp"
#include "temper/ops/cast.hpp"
#include "temper/ops/dropout.hpp"
#include "temper/ops/elementwise.hpp"
#include "temper/ops/embedding.hpp"
#include "temper/ops/layernorm.hpp"
#include "temper/ops/loss.hpp"
#include "temper/ops/matmul.hpp"
#include "temper/ops/softmax.hpp"
#include "temper/ops/views.hpp"
