// TrainStepGraph: a whole multi-label fine-tuning step at one fixed [batch, seq_len] (forward, BCE-with-logits,
// backward, gradient clipping, AdamW step, zero_grad) replayed from a CUDA graph with one launch per step, and
// nothing waiting for the GPU. It is train::TrainStep (train_step.hpp) with cuda_graph on and check_finite off:
// the first call runs eagerly, the second is captured and replayed, later calls replay; every call is a real
// training step with the eager loop's results, bit for bit (dropout and AdamW's step counts and learning rates
// follow it, so set_lr() between steps, a schedule, takes effect). On the CPU every call runs eagerly.
//
//   model.train();
//   optim::AdamW<float> opt(optim::decay_param_groups(model.named_parameters(), 0.01), {.lr = 2e-5});
//   train::TrainStepGraph step(model, opt, 32, 128, {.max_grad_norm = 1.0});
//   for (...) { opt.set_lr(lr_at(i)); double loss = step(ids, mask, targets).item(); }
//
// What a graph cannot follow: gradient accumulation (each call is one whole step), moving or reloading the
// parameters or the optimizer state while the graph lives, other shapes (make one object per shape), a change
// of train/eval mode after the capture (an error).
#pragma once

#include "temper/core/tensor.hpp"
#include "temper/optim/adamw.hpp"
#include "temper/train/train_step.hpp"

namespace temper::train {

struct TrainStepGraphOptions {
    double max_grad_norm = 0.0;  // clip the global gradient norm to this; 0: no clipping
};

template <class Model, class T = float>
class TrainStepGraph {
public:
    TrainStepGraph(Model& model, optim::AdamW<T>& opt, int64_t batch, int64_t seq_len,
                   TrainStepGraphOptions options = {}, const Tensor<T>& pos_weight = Tensor<T>())
        : batch_(batch),
          seq_len_(seq_len),
          step_(model, opt,
                {.max_grad_norm = options.max_grad_norm,
                 .cuda_graph = true,
                 .graph_batch = batch,
                 .graph_seq_len = seq_len,
                 .check_finite = false},
                nullptr, pos_weight) {}

    // One training step on ids, mask [batch, seq_len] (mask undefined: every position is a token) and
    // multi-hot targets [batch, num_labels], on the CPU or the model's device. Returns the loss, a 0-d tensor
    // on the model's device; on the GPU the graph's own output, overwritten by the next step.
    const Tensor<T>& operator()(const Tensor<int64_t>& ids, const Tensor<int64_t>& mask, const Tensor<T>& targets) {
        const Shape input{batch_, seq_len_};
        check(ids.defined() && ids.shape() == input, "TrainStepGraph: input_ids of shape ",
              shape_of(ids, "(undefined)"), ", expected ", shape_of(input));
        check(targets.defined() && targets.dim() == 2 && targets.size(0) == batch_ &&
                  (step_.steps() == 0 || targets.shape() == targets_shape_),
              "TrainStepGraph: targets of shape ", shape_of(targets, "(undefined)"), ", expected [", batch_,
              ", num_labels]", step_.steps() > 0 ? " as in the first step" : "");
        step_.require_no_gradients();  // on the CPU too: the same rules everywhere
        last_ = step_(ids, mask, targets);
        targets_shape_ = targets.shape();
        return last_.loss;
    }

    // The total gradient norm of the last step, before clipping (0-d double on the model's device). Reading it
    // (item()) waits for the step.
    const Tensor<double>& grad_norm() const { return last_.grad_norm; }
    int64_t steps() const { return step_.steps(); }

private:
    int64_t batch_, seq_len_;
    Shape targets_shape_;
    TrainStep<Model> step_;
    StepResult<T> last_;
};

}  // namespace temper::train
