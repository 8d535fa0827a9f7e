// Module: a layer that owns parameters and sub-modules under HF-style names. Each module lists its own
// parameters and children on demand (no stored pointers), so modules stay freely movable.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "temper/core/random.hpp"
#include "temper/core/tensor.hpp"

namespace temper::nn {

template <class T>
class Module {
public:
    using ParamFn = std::function<void(const std::string&, Tensor<T>&)>;
    using ChildFn = std::function<void(const std::string&, Module&)>;

    virtual ~Module() = default;

    // Direct parameters and direct children, with their local names ("weight", "q_lin", "0", ...).
    virtual void local_parameters(const ParamFn&) {}
    virtual void children(const ChildFn&) {}

    // Every parameter, depth first, named by its dotted path: "transformer.layer.0.attention.q_lin.weight".
    void for_each_parameter(const ParamFn& f, const std::string& prefix = "") {
        local_parameters([&](const std::string& name, Tensor<T>& p) { f(prefix + name, p); });
        children([&](const std::string& name, Module& m) { m.for_each_parameter(f, prefix + name + "."); });
    }
    std::vector<std::pair<std::string, Tensor<T>>> named_parameters() {
        std::vector<std::pair<std::string, Tensor<T>>> out;
        for_each_parameter([&](const std::string& n, Tensor<T>& p) { out.emplace_back(n, p); });
        return out;
    }
    std::vector<Tensor<T>> parameters() {
        std::vector<Tensor<T>> out;
        for_each_parameter([&](const std::string&, Tensor<T>& p) { out.push_back(p); });
        return out;
    }
    int64_t num_parameters() {
        int64_t n = 0;
        for_each_parameter([&](const std::string&, Tensor<T>& p) { n += p.numel(); });
        return n;
    }
    void zero_grad() {
        for_each_parameter([](const std::string&, Tensor<T>& p) { p.zero_grad(); });
    }

    // Moves every parameter to dev (a copy when it is elsewhere; gradients are dropped). Do this before
    // creating an optimizer, which holds the parameter tensors it was given.
    void to(Device dev) {
        for_each_parameter([&](const std::string&, Tensor<T>& p) {
            if (p.device() == dev) return;
            bool rg = p.requires_grad();
            p = p.detach().to(dev);
            p.set_requires_grad(rg);
        });
    }
    // The device of the first parameter (CPU for a module without parameters).
    Device device() {
        Device d = Device::cpu();
        bool found = false;
        for_each_parameter([&](const std::string&, Tensor<T>& p) {
            if (!found) d = p.device();
            found = true;
        });
        return d;
    }

    // Training mode switches dropout on; eval mode off. Applies to all children.
    void train(bool on = true) {
        training_ = on;
        children([&](const std::string&, Module& m) { m.train(on); });
    }
    void eval() { train(false); }
    bool is_training() const { return training_; }

protected:
    // A parameter: a leaf tensor that requires grad.
    static Tensor<T> param(Tensor<T> t) {
        t.set_requires_grad(true);
        return t;
    }

    bool training_ = true;
};

// A list of modules named "0", "1", ... like torch.nn.ModuleList.
template <class T, class M>
class ModuleList : public Module<T> {
public:
    std::vector<M> items;
    void children(const typename Module<T>::ChildFn& f) override {
        for (size_t i = 0; i < items.size(); ++i) f(std::to_string(i), items[i]);
    }
    M& operator[](size_t i) { return items[i]; }
    size_t size() const { return items.size(); }
};

}  // namespace temper::nn
