// Learning-rate schedule identical to HF transformers' get_linear_schedule_with_warmup: a
// LambdaLR whose factor rises linearly from 0 to 1 over the warmup steps, then falls linearly
// to 0 at num_training_steps (and stays 0 after).
//
//   optim::LinearWarmupDecay sched(opt, /*warmup*/ 100, /*total*/ 1000);  // sets lr = base * factor(0)
//   for (...) { ...; opt.step(); sched.step(); }
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "temper/core/error.hpp"

namespace temper::optim {

// transformers' _get_linear_schedule_with_warmup_lr_lambda, including its max(1, .) guards.
inline double linear_warmup_decay_factor(int64_t step, int64_t num_warmup_steps, int64_t num_training_steps) {
    if (step < num_warmup_steps) return double(step) / double(std::max<int64_t>(1, num_warmup_steps));
    return std::max(
        0.0, double(num_training_steps - step) / double(std::max<int64_t>(1, num_training_steps - num_warmup_steps)));
}

// Drives an optimizer's per-group lr like torch's LambdaLR: base lrs are the groups' lrs when the
// schedule is made; construction applies factor(0) (so the first step of a warmup runs at lr 0,
// as in HF), and each step() advances one step. Opt needs param_groups(), lr(g) and set_lr(g, lr).
template <class Opt>
class LinearWarmupDecay {
public:
    LinearWarmupDecay(Opt& opt, int64_t num_warmup_steps, int64_t num_training_steps)
        : opt_(&opt), warmup_(num_warmup_steps), total_(num_training_steps) {
        check(num_warmup_steps >= 0 && num_training_steps >= 0, "LinearWarmupDecay: negative step counts (warmup ",
              num_warmup_steps, ", total ", num_training_steps, ")");
        for (size_t g = 0; g < opt.param_groups().size(); ++g) base_lrs_.push_back(opt.lr(g));
        apply();
    }

    double factor(int64_t step) const { return linear_warmup_decay_factor(step, warmup_, total_); }

    void step() {
        ++last_epoch_;
        apply();
    }
    // For resuming: jump to the state after `steps` calls of step() and apply that lr.
    void set_last_epoch(int64_t steps) {
        check(steps >= 0, "LinearWarmupDecay: negative step ", steps);
        last_epoch_ = steps;
        apply();
    }
    int64_t last_epoch() const { return last_epoch_; }
    const std::vector<double>& base_lrs() const { return base_lrs_; }
    std::vector<double> get_last_lr() const {
        std::vector<double> out;
        for (size_t g = 0; g < base_lrs_.size(); ++g) out.push_back(opt_->lr(g));
        return out;
    }

private:
    void apply() {
        // torch: group["lr"] = base_lr * lmbda(last_epoch), in double.
        for (size_t g = 0; g < base_lrs_.size(); ++g) opt_->set_lr(g, base_lrs_[g] * factor(last_epoch_));
    }

    Opt* opt_;
    int64_t warmup_, total_;
    int64_t last_epoch_ = 0;
    std::vector<double> base_lrs_;
};

}  // namespace temper::optim
