// TrainStep: one fine-tuning step of a classifier, the one body that the Trainer, TrainStepGraph and a
// hand-written loop share: forward, loss (model.loss), backward, gradients to the fp32 master (mixed precision),
// global-norm clipping, AdamW, the learning-rate schedule, zero_grad. With gradient accumulation a step is
// several calls, each a micro-batch; the last one (finish = true) does the optimizer's part.
//
//   optim::AdamW<float> opt(optim::decay_param_groups(model.named_parameters(), 0.01), {.lr = 2e-5});
//   optim::LinearWarmupDecay sched(opt, warmup, total);
//   train::TrainStep step(model, opt, {.max_grad_norm = 1.0}, &sched);
//   auto r = step(ids, mask, targets);        // multi-hot float targets, or class ids [B] (single-label)
//   double loss = r.loss.item();
//
// Options:
//   bf16        forward and backward in a bf16 copy of the model (nn::MixedPrecision); the model keeps the fp32
//               weights that AdamW updates. Needs a float model.
//   cuda_graph  on a GPU, whole steps at one fixed [batch, seq_len] are recorded once as a CUDA graph and then
//               replayed with one launch (multi-label, no accumulation, no bf16): the first such step runs
//               eagerly (lazy initialisation; AdamW's moments come to exist), the second is captured, later
//               ones replay. Dropout and AdamW's step counts and learning rates follow the eager loop exactly
//               (the graph reads them from device memory written before each replay), so replayed steps equal
//               eager ones bit for bit. Other shapes, and every step on the CPU, run eagerly.
//   check_finite  a non-finite loss or gradient norm throws NonFiniteError: eagerly before the backward pass /
//               before AdamW writes it into the weights (nothing changed), in a replayed step after it (the step
//               ran). Reading them waits for the GPU; off, nothing waits (r.loss and r.grad_norm stay on the
//               device) and nothing is checked.
//
// What a graph cannot follow: moving or reloading the parameters or the optimizer state (to(), from_pretrained,
// load_state) while the graph lives, a change of train/eval mode after the capture (an error).
#pragma once

#include <cmath>
#include <memory>
#include <type_traits>
#include <vector>

#include "temper/autograd/grad_mode.hpp"
#include "temper/backend/graph.hpp"
#include "temper/core/random.hpp"
#include "temper/core/tensor.hpp"
#include "temper/nn/mixed_precision.hpp"
#include "temper/ops/elementwise.hpp"
#include "temper/optim/adamw.hpp"
#include "temper/optim/clip.hpp"
#include "temper/optim/schedule.hpp"

namespace temper::train {

struct TrainStepOptions {
    double max_grad_norm = 0.0;  // > 0: clip the global gradient norm to this (the norm is computed anyway)
    bool bf16 = false;           // mixed precision: forward and backward in a bf16 copy of the model
    bool cuda_graph = false;     // replay fixed-shape steps from a CUDA graph on a GPU (see above)
    int64_t graph_batch = 0, graph_seq_len = 0;  // the graph's [batch, seq_len]; with cuda_graph, both >= 1
    bool check_finite = true;                    // throw NonFiniteError on a NaN/Inf loss or gradient norm
};

// A NaN or Inf loss or gradient norm (TrainStepOptions::check_finite). what is "loss" or "gradient norm";
// applied says whether the step had already been applied to the weights (a replayed graph).
struct NonFiniteError : Error {
    NonFiniteError(const char* what_, double value_, bool applied_)
        : Error(str("the ", what_, " is ", value_)), what(what_), value(value_), applied(applied_) {}
    const char* what;
    double value;
    bool applied;
};

template <class T>
struct StepResult {
    Tensor<T> loss;            // 0-d on the model's device: the micro-batch's loss before loss_scale (a replayed
                               // step's is the graph's own tensor, overwritten by the next replay)
    Tensor<double> grad_norm;  // 0-d: the total norm before clipping, once the optimizer stepped (else undefined)
    bool stepped = false;      // the optimizer stepped (finish = true)
};

namespace detail {
// Model<T> -> T, and the MixedPrecision wrapper of Model's template.
template <class Model>
struct ModelTraits;
template <template <class> class M, class U>
struct ModelTraits<M<U>> {
    using value_type = U;
    using Mixed = nn::MixedPrecision<M>;
};
}  // namespace detail

template <class Model>
class TrainStep {
public:
    using T = typename detail::ModelTraits<Model>::value_type;
    using Schedule = optim::LinearWarmupDecay<optim::AdamW<T>>;
    using Mixed = typename detail::ModelTraits<Model>::Mixed;

    // schedule (optional) advances after every optimizer step. pos_weight (multi-label BCE, optional) may be
    // on any device. With bf16, mixed (optional) is the model's bf16 copy to train in (one the caller also
    // evaluates with); without it the step makes its own.
    TrainStep(Model& model, optim::AdamW<T>& opt, TrainStepOptions options = {}, Schedule* schedule = nullptr,
              const Tensor<T>& pos_weight = Tensor<T>(), Mixed* mixed = nullptr)
        : model_(&model), opt_(&opt), sched_(schedule), o_(options), dev_(model.device()) {
        check(o_.max_grad_norm >= 0, "TrainStep: max_grad_norm ", o_.max_grad_norm, " must be >= 0");
        check(!o_.bf16 || std::is_same_v<T, float>, "TrainStep: bf16 mixed precision needs a float model");
        check(!(o_.bf16 && o_.cuda_graph), "TrainStep: bf16 and cuda_graph cannot be combined yet");
        check(
            !o_.cuda_graph || (o_.graph_batch >= 1 && o_.graph_seq_len >= 1 && o_.graph_seq_len <= model.max_seq_len()),
            "TrainStep: cuda_graph needs graph_batch >= 1 and graph_seq_len in [1, max_position_embeddings = ",
            model.max_seq_len(), "], got ", o_.graph_batch, " and ", o_.graph_seq_len);
        if (pos_weight.defined()) pos_weight_ = pos_weight.to(dev_);
        params_ = model.parameters();
        check(!mixed || o_.bf16, "TrainStep: a bf16 copy was given without the bf16 option");
        if constexpr (std::is_same_v<T, float>) {
            if (o_.bf16 && !mixed) own_mixed_ = std::make_unique<Mixed>(model);
            mixed_ = mixed ? mixed : own_mixed_.get();
        }
    }

    // One micro-batch: ids, mask [B, S] (mask undefined: every position is a token) and targets (multi-hot
    // [B, num_labels] of T, or class ids [B]), on the CPU or the model's device. Its loss is multiplied by
    // loss_scale before the backward pass (1 / micro-batches per step); with finish the optimizer steps.
    template <class Targets>
    StepResult<T> operator()(const Tensor<int64_t>& ids, const Tensor<int64_t>& mask, const Tensor<Targets>& targets,
                             double loss_scale = 1.0, bool finish = true) {
        if constexpr (std::is_same_v<Targets, T>) {
            if (graphed(ids, loss_scale, finish)) return graph_step(ids, mask, targets);
        }
        return eager_step(ids.to(dev_), mask.defined() ? mask.to(dev_) : mask, targets.to(dev_), loss_scale, finish);
    }

    // The model's logits, from the bf16 copy with mixed precision (evaluation as training computes them).
    Tensor<T> logits(const Tensor<int64_t>& ids, const Tensor<int64_t>& mask) {
        if constexpr (std::is_same_v<T, float>)
            if (mixed_) return (*mixed_)(ids, mask);
        return (*model_)(ids, mask);
    }

    int64_t steps() const { return steps_; }
    bool captured() const { return graph_.captured(); }

    // A graphed step starts from no gradients (the previous one ended with zero_grad): a replay could not add
    // to gradients made outside it.
    void require_no_gradients() const {
        for (const Tensor<T>& p : params_)
            check(!p.grad().defined(),
                  "TrainStep: a parameter has a gradient before the step; it runs backward "
                  "itself (call opt.zero_grad() after any other backward)");
    }

private:
    // ---- the step's parts, shared by the eager and the captured step -----------------------------------
    template <class Targets>
    Tensor<T> forward_loss(const Tensor<int64_t>& ids, const Tensor<int64_t>& mask, const Tensor<Targets>& targets) {
        const Tensor<T> out = logits(ids, mask);
        if constexpr (std::is_same_v<Targets, T>)
            return model_->loss(out, targets, pos_weight_);
        else
            return model_->loss(out, targets);
    }
    void backward(const Tensor<T>& loss, double loss_scale) {
        (loss_scale == 1.0 ? loss : scale(loss, T(loss_scale))).backward();
        if (mixed_) mixed_->gradients_to_master();
    }
    // Without clipping the norm is still computed (max_norm = inf changes nothing): it is what check_finite reads.
    Tensor<double> clip() {
        return optim::clip_grad_norm_tensor(params_, o_.max_grad_norm > 0 ? o_.max_grad_norm : INFINITY);
    }
    void apply() {
        opt_->step();
        if (mixed_) mixed_->copy_weights_from_master();
        opt_->zero_grad();
    }
    void after_step() {
        if (sched_) sched_->step();
        ++steps_;
    }

    template <class Targets>
    StepResult<T> eager_step(const Tensor<int64_t>& ids, const Tensor<int64_t>& mask, const Tensor<Targets>& targets,
                             double loss_scale, bool finish) {
        StepResult<T> r;
        Tensor<T> loss = forward_loss(ids, mask, targets);
        r.loss = loss.detach();
        if (o_.check_finite) require_finite("loss", double(loss.item()), false);
        backward(loss, loss_scale);
        if (!finish) return r;
        r.grad_norm = clip();
        // NaN/Inf gradients stop here, before AdamW writes them into the weights.
        if (o_.check_finite) require_finite("gradient norm", r.grad_norm.item(), false);
        apply();
        after_step();
        r.stepped = true;
        return r;
    }

    // ---- CUDA graphs ---------------------------------------------------------------------------------
    bool graphed(const Tensor<int64_t>& ids, double loss_scale, bool finish) const {
        return o_.cuda_graph && backend::graphs_available(dev_) && loss_scale == 1.0 && finish && ids.defined() &&
               ids.shape() == Shape{o_.graph_batch, o_.graph_seq_len};
    }

    StepResult<T> graph_step(const Tensor<int64_t>& ids, const Tensor<int64_t>& mask, const Tensor<T>& targets) {
        model_->check_inputs(ids, mask);
        check(targets.defined() && targets.dim() == 2 && targets.size(0) == o_.graph_batch &&
                  (!ids_.defined() || targets.shape() == targets_.shape()),
              "TrainStep: targets of shape ", shape_of(targets, "(undefined)"), ", expected [", o_.graph_batch,
              ", num_labels]", ids_.defined() ? " as in the first step" : "");
        require_no_gradients();
        if (!ids_.defined()) {  // the first full-size step runs eagerly; the graph's inputs exist from now on
            StepResult<T> r =
                eager_step(ids.to(dev_), mask.defined() ? mask.to(dev_) : mask, targets.to(dev_), 1.0, true);
            const Shape input{o_.graph_batch, o_.graph_seq_len};
            ids_ = Tensor<int64_t>::empty(input, dev_);
            mask_ = Tensor<int64_t>::empty(input, dev_);
            targets_ = Tensor<T>::empty(targets.shape(), dev_);
            return r;
        }
        check(!graph_.captured() || model_->is_training() == captured_training_, "TrainStep: the model was in ",
              captured_training_ ? "training" : "eval",
              " mode when the step was captured; the graph cannot follow "
              "a change of mode");
        backend::copy_graph_inputs(ids_, mask_, ids, mask);
        targets_.copy_(targets);
        if (!graph_.captured()) capture();
        replay();
        after_step();
        StepResult<T> r{loss_, norm_, true};
        if (o_.check_finite) {
            require_finite("loss", double(loss_.item()), true);
            require_finite("gradient norm", norm_.item(), true);
        }
        return r;
    }

    // Records the step once. The capture runs only the host side: put back what it advanced (the dropout
    // generator's offset, AdamW's step counts), and keep what one step advances for the replays.
    void capture() {
        Generator& gen = default_generator();
        const uint64_t start = gen.offset();
        std::vector<int64_t> steps_before(opt_->num_params());
        for (size_t k = 0; k < steps_before.size(); ++k) steps_before[k] = opt_->state(k).step;
        philox_ = Tensor<int64_t>::empty({2}, dev_);  // {seed, offset base}, read as uint64 by the kernels
        const size_t scalar_bytes = opt_->num_params() * sizeof(cpu::AdamWScalars<T>);
        scalars_ = Tensor<double>::empty({int64_t((scalar_bytes + 7) / 8)}, dev_);
        gen.set_device_base(reinterpret_cast<const uint64_t*>(philox_.data()));
        Hooks::set_device_scalars(*opt_, reinterpret_cast<const cpu::AdamWScalars<T>*>(scalars_.data()));
        auto restore = [&] {
            gen.set_device_base(nullptr);
            Hooks::set_device_scalars(*opt_, static_cast<const cpu::AdamWScalars<T>*>(nullptr));
        };
        try {
            graph_.capture(dev_, [&] {
                // forward_checked: graph_step checked the ids on the host; the capture must not copy to it
                loss_ = model_->loss(model_->forward_checked(ids_, mask_), targets_, pos_weight_);
                backward(loss_, 1.0);
                norm_ = clip();
                apply();
                loss_ = loss_.detach();
            });
        } catch (...) {  // nothing ran: undo what the host side of the step did
            restore();
            gen.set_offset(start);
            std::vector<size_t> stepped;
            for (size_t k = 0; k < steps_before.size(); ++k)
                if (opt_->state(k).step != steps_before[k]) stepped.push_back(k);
            Hooks::rewind(*opt_, stepped);
            opt_->zero_grad();
            throw;
        }
        captured_training_ = model_->is_training();
        restore();
        draws_ = gen.offset() - start;
        gen.set_offset(start);
        stepped_ = Hooks::last_stepped(*opt_);
        Hooks::rewind(*opt_, stepped_);
    }

    // The per-step values go up from pageable host memory: staged at once, in stream order (backend::copy).
    void replay() {
        Generator& gen = default_generator();
        const uint64_t position[2] = {gen.seed(), gen.offset()};
        gen.set_offset(gen.offset() + draws_);
        const std::vector<cpu::AdamWScalars<T>> scalars = Hooks::advance(*opt_, stepped_);
        backend::copy(philox_.data(), dev_, position, Device::cpu(), sizeof(position));
        backend::copy(scalars_.data(), dev_, scalars.data(), Device::cpu(), scalars.size() * sizeof(scalars[0]));
        graph_.replay();
    }

    static void require_finite(const char* what, double value, bool applied) {
        if (!std::isfinite(value)) throw NonFiniteError(what, value, applied);
    }

    using Hooks = optim::detail::AdamWGraphHooks;

    Model* model_;
    optim::AdamW<T>* opt_;
    Schedule* sched_;
    TrainStepOptions o_;
    Device dev_;
    Tensor<T> pos_weight_;
    std::vector<Tensor<T>> params_;
    std::unique_ptr<Mixed> own_mixed_;
    Mixed* mixed_ = nullptr;  // bf16: the copy forward and backward run in
    int64_t steps_ = 0;
    // The graph's buffers: inputs copied in before each replay, outputs it overwrites.
    Tensor<int64_t> ids_, mask_;
    Tensor<T> targets_, loss_;
    Tensor<double> norm_;
    Tensor<int64_t> philox_;  // {seed, offset base} uploaded before each replay
    Tensor<double> scalars_;  // AdamW's per-parameter scalars, uploaded before each replay
    uint64_t draws_ = 0;      // Philox blocks one step takes
    bool captured_training_ = true;
    std::vector<size_t> stepped_;
    backend::Graph graph_;  // declared last: destroyed first, while the buffers it uses still exist
};

}  // namespace temper::train
