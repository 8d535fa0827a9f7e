// Mixed precision with fp32 master weights: a bf16 copy of a float model runs forward and backward, so
// activations and GEMM operands are bf16 (half the memory traffic, bf16 tensor cores), while every kernel
// reduces in float (GEMM accumulation, softmax, LayerNorm statistics, embedding sums) and the loss is
// computed on float logits. The float model keeps the weights the optimizer updates and saves, and receives
// the gradients in float, so AdamW, clipping and checkpoints are the plain fp32 ones.
//
// One training step:
//     MixedPrecision<Model> mp(model);                    // model: Model<float>, the master
//     Tensor<float> logits = mp(ids, mask);               // bf16 forward, logits cast to float
//     model.loss(logits, targets).backward();             // back through the cast into the bf16 copy
//     mp.gradients_to_master();                           // bf16 gradients -> the float parameters' .grad
//     clip / opt.step() / opt.zero_grad();                // on the float model, as without mixed precision
//     mp.copy_weights_from_master();                      // the updated weights -> the bf16 copy
//
// Model<bf16> must be constructible from (model.config, Generator&) and list its parameters in the same
// order under the same names as Model<float> (every temper model does).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "temper/core/dtype.hpp"
#include "temper/core/tensor.hpp"
#include "temper/ops/cast.hpp"

namespace temper::nn {

template <template <class> class Model>
class MixedPrecision {
public:
    explicit MixedPrecision(Model<float>& master) : master_(master), work_(make_copy(master)) {
        master_params_ = master_.parameters();
        work_params_ = work_.parameters();
        work_.train(master_.is_training());
        copy_weights_from_master();
    }

    Model<float>& master() { return master_; }
    Model<bf16>& model() { return work_; }
    const Model<bf16>& model() const { return work_; }

    // The bf16 copy's output, cast to float (the float graph continues into the bf16 one). The copy runs in
    // the master's train/eval mode.
    template <class... Args>
    Tensor<float> operator()(Args&&... args) {
        if (work_.is_training() != master_.is_training()) work_.train(master_.is_training());
        return cast<float>(work_(std::forward<Args>(args)...));
    }

    // Writes the master weights (rounded to bf16) into the copy's tensors in place, so pointers into them
    // stay valid. Frozen master parameters (requires_grad off) are frozen in the copy too.
    void copy_weights_from_master() {
        for (size_t i = 0; i < master_params_.size(); ++i) {
            detail::convert_into(master_params_[i], work_params_[i]);
            work_params_[i].zero_grad();
            work_params_[i].impl().requires_grad = master_params_[i].requires_grad();
        }
    }

    // Adds the copy's gradients (widened to float) into the master parameters' .grad and clears them in
    // the copy. Call it after every backward: micro-batch gradients then accumulate in float.
    void gradients_to_master() {
        for (size_t i = 0; i < master_params_.size(); ++i) {
            Tensor<bf16> g = work_params_[i].grad();
            if (!g.defined()) continue;
            Tensor<float> gf = detail::converted<float>(g);
            Tensor<float> acc = master_params_[i].grad();
            if (acc.defined())
                autograd::add_into(acc, gf);
            else
                master_params_[i].set_grad(gf);
            work_params_[i].zero_grad();
        }
    }

    void train(bool on = true) {
        master_.train(on);
        work_.train(on);
    }
    void eval() { train(false); }

private:
    // The bf16 twin: built without drawing random values, then checked against the master name by name.
    static Model<bf16> make_copy(Model<float>& master) {
        Generator gen(0);
        gen.set_skip_values(true);
        Model<bf16> w(master.config, gen);
        const auto mp = master.named_parameters();
        const auto wp = w.named_parameters();
        check(mp.size() == wp.size(), "MixedPrecision: the bf16 model has ", wp.size(), " parameters, the float one ",
              mp.size());
        for (size_t i = 0; i < mp.size(); ++i)
            check(mp[i].first == wp[i].first && mp[i].second.shape() == wp[i].second.shape(),
                  "MixedPrecision: parameter ", i, " is ", mp[i].first, " ", shape_of(mp[i].second.shape()),
                  " in the float model but ", wp[i].first, " ", shape_of(wp[i].second.shape()), " in the bf16 one");
        w.to(master.device());
        return w;
    }

    Model<float>& master_;
    Model<bf16> work_;
    std::vector<Tensor<float>> master_params_;
    std::vector<Tensor<bf16>> work_params_;
};

}  // namespace temper::nn
