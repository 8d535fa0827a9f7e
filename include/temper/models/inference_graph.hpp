// InferenceGraph: a model's no-grad forward at one fixed [batch, seq_len] shape, captured once as a CUDA
// graph (cuda/graph.hpp) and replayed with one launch per call. At batch 1 the forward is a few hundred
// kernels of a few microseconds each, so launching them one by one costs more than running them.
//
//   model.eval();
//   models::InferenceGraph graph(model, 1, 128);      // one eager warm-up forward, then the capture
//   Tensor<float> logits = graph(ids, mask);           // [1, num_labels], the graph's own output tensor
//
// The output tensor is overwritten by the next call (clone() it to keep it). Inputs may be on the CPU or on
// the model's device; ids are checked as model(ids, mask) checks them. The model must not be moved (to()),
// reloaded or destroyed while the graph lives: the graph reads the parameters at their captured addresses.
// In-place updates (an optimizer step) are seen by the next call. On the CPU (or a build without CUDA) the
// class runs a plain no-grad forward (backend::graphs_available), so code using it runs everywhere.
//
// Model: anything with forward_checked(ids, mask), check_inputs(ids, mask), max_seq_len(), device() and
// is_training(), such as DistilBertForSequenceClassification.
#pragma once

#include <utility>

#include "temper/autograd/grad_mode.hpp"
#include "temper/backend/graph.hpp"
#include "temper/core/tensor.hpp"

namespace temper::models {

template <class Model>
class InferenceGraph {
public:
    using Output = decltype(std::declval<const Model&>().forward_checked(Tensor<int64_t>(), Tensor<int64_t>()));

    InferenceGraph(Model& model, int64_t batch, int64_t seq_len)
        : model_(&model), batch_(batch), seq_len_(seq_len), dev_(model.device()) {
        check(!model.is_training(),
              "InferenceGraph: the model is in training mode; call model.eval() first (dropout "
              "draws new masks on every call, which a replayed graph cannot)");
        check(batch >= 1 && seq_len >= 1 && seq_len <= model.max_seq_len(), "InferenceGraph: batch ", batch,
              " and seq_len ", seq_len,
              " must be >= 1, seq_len at most max_position_embeddings = ", model.max_seq_len());
        if (!backend::graphs_available(dev_)) return;
        ids_ = Tensor<int64_t>::zeros({batch, seq_len}, dev_);
        mask_ = Tensor<int64_t>::ones({batch, seq_len}, dev_);
        NoGradGuard no_grad;
        model.forward_checked(ids_, mask_);  // warm-up: lazy initialisation stays out of the capture
        backend::synchronize(dev_);
        graph_.capture(dev_, [&] { out_ = model.forward_checked(ids_, mask_); });
    }

    // ids, mask [batch, seq_len] (mask undefined: every position is a token).
    const Output& operator()(const Tensor<int64_t>& ids, const Tensor<int64_t>& mask = Tensor<int64_t>()) {
        check(ids.defined() && ids.shape() == Shape{batch_, seq_len_}, "InferenceGraph: input_ids of shape ",
              shape_of(ids, "(undefined)"), ", but the graph was captured for [", batch_, ", ", seq_len_, "]");
        model_->check_inputs(ids, mask);
        NoGradGuard no_grad;
        if (!graph_.captured()) {
            out_ = model_->forward_checked(ids.to(dev_), mask.defined() ? mask.to(dev_) : mask);
            return out_;
        }
        check(!model_->is_training(),
              "InferenceGraph: the model is in training mode; the graph was captured in eval "
              "mode (call model.eval())");
        backend::copy_graph_inputs(ids_, mask_, ids, mask);
        graph_.replay();
        return out_;
    }

    int64_t batch() const { return batch_; }
    int64_t seq_len() const { return seq_len_; }

private:
    Model* model_;
    int64_t batch_, seq_len_;
    Device dev_;
    Tensor<int64_t> ids_, mask_;  // the captured graph's inputs: new data is copied into them
    Output out_;
    backend::Graph graph_;  // declared last: destroyed first, while its inputs and output still exist
};

}  // namespace temper::models
