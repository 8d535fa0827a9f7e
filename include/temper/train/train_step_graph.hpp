// TrainStepGraph: one multi-label fine-tuning step at a fixed [batch, seq_len] (forward, BCE-with-logits,
// backward, gradient clipping, AdamW step, zero_grad) captured as a CUDA graph and replayed with one launch
// per step. Every call is a real training step with the results of the eager loop:
//   - the first call runs eagerly (lazy initialisation, AdamW's moments come to exist), the second is
//     captured and replayed, later calls replay;
//   - dropout draws from default_generator() as eagerly: the graph reads the generator's seed and offset
//     from device memory, written before each replay (PhiloxPosition);
//   - AdamW's step counts and learning rates are advanced and uploaded before each replay
//     (AdamW::advance), so set_lr() between steps (a schedule) takes effect.
//
//   model.train();
//   optim::AdamW<float> opt(optim::decay_param_groups(model.named_parameters(), 0.01), {.lr = 2e-5});
//   train::TrainStepGraph step(model, opt, 32, 128, {.max_grad_norm = 1.0});
//   for (...) { opt.set_lr(lr_at(i)); double loss = step(ids, mask, targets).item(); }
//
// What a graph cannot follow: gradient accumulation over several batches (each call is one whole step),
// moving or reloading the parameters or the optimizer state (to(), from_pretrained, load_state) while the
// graph lives, other shapes (make one object per shape). The train/eval mode and the math mode in force at
// the capture are the graph's (a change of the mode afterwards is an error). On the CPU every call is the
// same step, run eagerly.
#pragma once

#include <vector>

#include "temper/autograd/grad_mode.hpp"
#include "temper/core/random.hpp"
#include "temper/core/tensor.hpp"
#include "temper/optim/adamw.hpp"
#include "temper/optim/clip.hpp"
#if defined(TEMPER_WITH_CUDA)
#include "temper/cuda/graph.hpp"
#endif

namespace temper::train {

struct TrainStepGraphOptions {
    double max_grad_norm = 0.0;  // clip the global gradient norm to this; 0: no clipping
};

template <class Model, class T = float>
class TrainStepGraph {
public:
    TrainStepGraph(Model& model, optim::AdamW<T>& opt, int64_t batch, int64_t seq_len,
                   TrainStepGraphOptions options = {}, const Tensor<T>& pos_weight = Tensor<T>())
        : model_(&model), opt_(&opt), batch_(batch), seq_len_(seq_len), options_(options), dev_(model.device()) {
        check(batch >= 1 && seq_len >= 1 && seq_len <= model.max_seq_len(), "TrainStepGraph: batch ", batch,
              " and seq_len ", seq_len, " must be >= 1, seq_len at most max_position_embeddings = ",
              model.max_seq_len());
        check(options.max_grad_norm >= 0, "TrainStepGraph: max_grad_norm ", options.max_grad_norm, " must be >= 0");
        if (pos_weight.defined()) pos_weight_ = pos_weight.to(dev_);
    }

    // One training step on ids, mask [batch, seq_len] (mask undefined: every position is a token) and
    // multi-hot targets [batch, num_labels], on the CPU or the model's device. Returns the loss, a 0-d tensor
    // on the model's device; on the GPU the graph's own output, overwritten by the next step.
    const Tensor<T>& operator()(const Tensor<int64_t>& ids, const Tensor<int64_t>& mask, const Tensor<T>& targets) {
        const Shape input{batch_, seq_len_};
        check(ids.defined() && ids.shape() == input, "TrainStepGraph: input_ids of shape ",
              ids.defined() ? shape_str(ids.shape()) : "(undefined)", ", expected ", shape_str(input));
        check(targets.defined() && targets.dim() == 2 && targets.size(0) == batch_ &&
                  (steps_ == 0 || targets.shape() == targets_shape_),
              "TrainStepGraph: targets of shape ", targets.defined() ? shape_str(targets.shape()) : "(undefined)",
              ", expected [", batch_, ", num_labels]", steps_ > 0 ? " as in the first step" : "");
        model_->check_inputs(ids, mask);
        // A step starts from no gradients (the previous one ended with zero_grad); the replayed one could not
        // add to gradients made outside it.
        for (const Tensor<T>& p : model_->parameters())
            check(!p.grad().defined(), "TrainStepGraph: a parameter has a gradient before the step; it runs "
                                       "backward itself (call opt.zero_grad() after any other backward)");
        if (!dev_.is_cuda() || steps_ == 0) {
            loss_ = step(ids.to(dev_), mask.defined() ? mask.to(dev_) : mask, targets.to(dev_));
            if (dev_.is_cuda()) {  // the captured graph's inputs, filled from now on
                ids_ = Tensor<int64_t>::empty(input, dev_);
                mask_ = Tensor<int64_t>::empty(input, dev_);
                targets_ = Tensor<T>::empty(targets.shape(), dev_);
            }
            targets_shape_ = targets.shape();
            ++steps_;
            return loss_;
        }
#if defined(TEMPER_WITH_CUDA)
        cuda::DeviceGuard guard(dev_);
        check(!graph_.captured() || model_->is_training() == captured_training_, "TrainStepGraph: the model was in ",
              captured_training_ ? "training" : "eval", " mode when the step was captured; the graph cannot follow a "
              "change of mode");
        cuda::copy_graph_inputs(ids_, mask_, ids, mask);
        targets_.copy_(targets.to(dev_));
        if (!graph_.captured()) capture();
        replay();
#endif
        ++steps_;
        return loss_;
    }

    // The total gradient norm of the last step, before clipping (0-d double on the model's device; undefined
    // without clipping). Reading it (item()) waits for the step.
    const Tensor<double>& grad_norm() const { return norm_; }
    int64_t steps() const { return steps_; }

private:
    // The step itself, run eagerly or captured.
    Tensor<T> step(const Tensor<int64_t>& ids, const Tensor<int64_t>& mask, const Tensor<T>& targets) {
        Tensor<T> loss = model_->loss(model_->forward_checked(ids, mask), targets, pos_weight_);
        loss.backward();
        if (options_.max_grad_norm > 0) norm_ = optim::clip_grad_norm_tensor(model_->parameters(), options_.max_grad_norm);
        opt_->step();
        opt_->zero_grad();
        return loss.detach();
    }

#if defined(TEMPER_WITH_CUDA)
    void capture() {
        Generator& gen = default_generator();
        const uint64_t start = gen.offset();
        std::vector<int64_t> steps_before(opt_->num_params());
        for (size_t k = 0; k < steps_before.size(); ++k) steps_before[k] = opt_->state(k).step;
        philox_ = Tensor<int64_t>::empty({2}, dev_);  // {seed, offset base}, read as uint64 by the kernels
        const size_t scalar_bytes = opt_->num_params() * sizeof(cpu::AdamWScalars<T>);
        scalars_ = Tensor<double>::empty({int64_t((scalar_bytes + 7) / 8)}, dev_);
        gen.set_device_base(reinterpret_cast<const uint64_t*>(philox_.data()));
        opt_->set_device_scalars(reinterpret_cast<const cpu::AdamWScalars<T>*>(scalars_.data()));
        auto restore = [&] {
            gen.set_device_base(nullptr);
            opt_->set_device_scalars(nullptr);
        };
        try {
            graph_.capture(dev_, [&] { loss_ = step(ids_, mask_, targets_); });
        } catch (...) {  // nothing ran: undo what the host side of the step did
            restore();
            gen.set_offset(start);
            std::vector<size_t> stepped;
            for (size_t k = 0; k < steps_before.size(); ++k)
                if (opt_->state(k).step != steps_before[k]) stepped.push_back(k);
            opt_->rewind(stepped);
            opt_->zero_grad();
            throw;
        }
        captured_training_ = model_->is_training();
        restore();
        // The capture ran nothing: put back what it advanced, and keep what each replay advances.
        draws_ = gen.offset() - start;
        gen.set_offset(start);
        stepped_ = opt_->last_stepped();
        opt_->rewind(stepped_);
    }

    // The per-step values go up from pageable host memory: cudaMemcpyAsync stages them at once, in stream order.
    void replay() {
        Generator& gen = default_generator();
        const uint64_t position[2] = {gen.seed(), gen.offset()};
        gen.set_offset(gen.offset() + draws_);
        const std::vector<cpu::AdamWScalars<T>> scalars = opt_->advance(stepped_);
        cudaStream_t s = cuda::stream(dev_);
        TEMPER_CUDA_CHECK(cudaMemcpyAsync(philox_.data(), position, sizeof(position), cudaMemcpyHostToDevice, s));
        TEMPER_CUDA_CHECK(cudaMemcpyAsync(scalars_.data(), scalars.data(), scalars.size() * sizeof(scalars[0]),
                                          cudaMemcpyHostToDevice, s));
        graph_.replay();
    }
#endif

    Model* model_;
    optim::AdamW<T>* opt_;
    int64_t batch_, seq_len_;
    TrainStepGraphOptions options_;
    Device dev_;
    Tensor<T> pos_weight_;
    int64_t steps_ = 0;
    Tensor<int64_t> ids_, mask_;  // the graph's inputs (GPU)
    Tensor<T> targets_;
    Shape targets_shape_;
    Tensor<T> loss_;
    Tensor<double> norm_;
    Tensor<int64_t> philox_;  // {seed, offset base} uploaded before each replay
    Tensor<double> scalars_;  // AdamW's per-parameter scalars, uploaded before each replay
    uint64_t draws_ = 0;      // Philox blocks one step takes
    bool captured_training_ = true;
    std::vector<size_t> stepped_;
#if defined(TEMPER_WITH_CUDA)
    cuda::Graph graph_;  // declared last: destroyed first, while the buffers it uses still exist
#endif
};

}  // namespace temper::train
