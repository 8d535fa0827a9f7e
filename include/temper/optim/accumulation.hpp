// Gradient accumulation: several micro-batches per optimizer step.
//
// temper's backward() adds into .grad, so accumulating is just not calling zero_grad between
// micro-batches. Scale each micro-batch's loss by loss_scale() so the summed gradient is the mean
// over the micro-batches of one step, and step when is_step() says so:
//
//   optim::GradientAccumulation acc{.steps = 4};
//   for (int64_t b = 0; b < n_batches; ++b) {
//       auto loss = ...;  (loss * float(acc.loss_scale(b, n_batches))).backward();
//       if (acc.is_step(b, n_batches)) { clip_grad_norm(...); opt.step(); sched.step(); opt.zero_grad(); }
//   }
//
// A step happens after every `steps`-th micro-batch and after the last micro-batch of the epoch,
// so no gradient is carried into the next epoch; that last, shorter group is averaged over its
// own size.
#pragma once

#include <algorithm>
#include <cstdint>

#include "temper/core/error.hpp"

namespace temper::optim {

struct GradientAccumulation {
    int64_t steps = 1;  // micro-batches per optimizer step

    // True when the optimizer should step after micro-batch `batch` (0-based within the epoch).
    bool is_step(int64_t batch, int64_t batches_per_epoch) const {
        check(steps >= 1, "GradientAccumulation: steps must be >= 1, got ", steps);
        return (batch + 1) % steps == 0 || batch + 1 == batches_per_epoch;
    }
    // 1 / (number of micro-batches in the group that `batch` belongs to).
    double loss_scale(int64_t batch, int64_t batches_per_epoch) const {
        check(steps >= 1, "GradientAccumulation: steps must be >= 1, got ", steps);
        const int64_t group_start = batch / steps * steps;
        const int64_t group_size = std::min(steps, batches_per_epoch - group_start);
        return 1.0 / double(group_size);
    }
    int64_t optimizer_steps_per_epoch(int64_t batches_per_epoch) const {
        check(steps >= 1, "GradientAccumulation: steps must be >= 1, got ", steps);
        return (batches_per_epoch + steps - 1) / steps;
    }
};

}  // namespace temper::optim
