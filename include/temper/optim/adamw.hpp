// AdamW (Loshchilov & Hutter), identical to torch.optim.AdamW: decoupled weight decay
// p *= 1 - lr*wd, bias-corrected moments, eps added after sqrt(v_hat), per-parameter step counts,
// parameters without a gradient skipped. Parameter groups carry their own lr and weight decay
// (decay_param_groups builds HF's usual "no decay for biases and LayerNorm weights" split).
//
//   optim::AdamW opt(optim::decay_param_groups(model.named_parameters(), 0.01), {.lr = 2e-5});
//   loss.backward(); opt.step(); opt.zero_grad();
//
// State (step, exp_avg, exp_avg_sq per parameter, and each group's lr) saves to a safetensors
// file and loads back exactly, so a resumed run continues bit-identically.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "temper/core/error.hpp"
#include "temper/core/tensor.hpp"
#include "temper/backend/optim.hpp"
#include "temper/cpu/adamw.hpp"
#include "temper/io/safetensors.hpp"

namespace temper::optim {

struct AdamWOptions {
    double lr = 1e-3;
    std::array<double, 2> betas = {0.9, 0.999};
    double eps = 1e-8;
    double weight_decay = 1e-2;
    // First moment as torch >= 2.0 computes it, exp_avg.lerp_(grad, 1 - beta1); false gives torch
    // 1.x's exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1). They differ in the last bit of m.
    bool lerp_exp_avg = true;
};

// A set of parameters sharing lr and weight decay. Unset values take the optimizer's options;
// after construction, AdamW::param_groups() has both set. names (optional, one per param) make
// error messages and saved state readable and are checked when state is loaded.
template <class T>
struct ParamGroup {
    std::vector<Tensor<T>> params = {};
    std::vector<std::string> names = {};
    std::optional<double> lr = std::nullopt;
    std::optional<double> weight_decay = std::nullopt;
};

// HF's usual split: parameters whose name ends in "bias" or contains "LayerNorm" / "layer_norm"
// get no weight decay. Returns {decay group (weight_decay), no-decay group (0)}.
template <class T>
std::vector<ParamGroup<T>> decay_param_groups(const std::vector<std::pair<std::string, Tensor<T>>>& named,
                                              double weight_decay) {
    auto no_decay = [](const std::string& n) {
        const bool bias = n.size() >= 4 && n.compare(n.size() - 4, 4, "bias") == 0;
        return bias || n.find("LayerNorm") != std::string::npos || n.find("layer_norm") != std::string::npos;
    };
    ParamGroup<T> decay{.weight_decay = weight_decay}, rest{.weight_decay = 0.0};
    for (const auto& [name, p] : named) {
        ParamGroup<T>& g = no_decay(name) ? rest : decay;
        g.params.push_back(p);
        g.names.push_back(name);
    }
    return {std::move(decay), std::move(rest)};
}

namespace detail {
struct AdamWGraphHooks;
}

template <class T>
class AdamW {
public:
    struct ParamState {
        int64_t step = 0;                         // optimizer steps this parameter took part in
        Tensor<T> exp_avg = {}, exp_avg_sq = {};  // undefined until the parameter's first step
    };

    AdamW(std::vector<Tensor<T>> params, AdamWOptions options = {})
        : AdamW(std::vector<ParamGroup<T>>{ParamGroup<T>{.params = std::move(params)}}, options) {}

    AdamW(std::vector<ParamGroup<T>> groups, AdamWOptions options = {})
        : options_(options), groups_(std::move(groups)) {
        check_options(options_.lr, options_.weight_decay);
        // The checks torch makes (NaN fails them too).
        check(options_.eps >= 0, "AdamW: invalid epsilon value ", options_.eps);
        for (int k = 0; k < 2; ++k)
            check(options_.betas[k] >= 0 && options_.betas[k] < 1, "AdamW: invalid beta parameter at index ", k, ": ",
                  options_.betas[k]);
        std::set<const void*> seen;
        for (size_t gi = 0; gi < groups_.size(); ++gi) {
            ParamGroup<T>& g = groups_[gi];
            if (!g.lr) g.lr = options_.lr;
            if (!g.weight_decay) g.weight_decay = options_.weight_decay;
            check_options(*g.lr, *g.weight_decay);
            check(g.names.empty() || g.names.size() == g.params.size(), "AdamW: param group ", gi, " has ",
                  g.params.size(), " params but ", g.names.size(), " names");
            for (size_t i = 0; i < g.params.size(); ++i) {
                check(g.params[i].defined(), "AdamW: param ", describe(gi, i), " is an undefined tensor");
                check(seen.insert(g.params[i].impl_ptr().get()).second, "AdamW: param ", describe(gi, i),
                      " appears more than once (in one or more param groups)");
            }
        }
        check(!seen.empty(), "AdamW: got an empty parameter list");
        state_.resize(seen.size());
    }

    // One update of every parameter that has a gradient.
    void step() {
        // One multi-tensor update per device holding parameters (on a GPU, one launch per 28 parameters).
        std::vector<std::pair<Device, std::vector<backend::AdamWParam<T>>>> by_device;
        last_stepped_.clear();
        size_t flat = 0;
        for (size_t gi = 0; gi < groups_.size(); ++gi) {
            const ParamGroup<T>& g = groups_[gi];
            for (size_t i = 0; i < g.params.size(); ++i, ++flat) {
                const Tensor<T>& p = g.params[i];
                Tensor<T> grad = p.grad();
                if (!grad.defined()) continue;  // like torch: no grad, no update, no step count
                check(grad.shape() == p.shape(), "AdamW: gradient of ", describe(gi, i), " has shape ",
                      shape_of(grad.shape()), ", the parameter ", shape_of(p.shape()));
                check(p.is_contiguous() && grad.is_contiguous(), "AdamW: ", describe(gi, i),
                      " and its gradient must be contiguous");
                check(p.device() == grad.device(), "AdamW: ", describe(gi, i), " is on ", p.device(),
                      " but its gradient on ", grad.device());
                ParamState& s = state_[flat];
                if (!s.exp_avg.defined()) {
                    // In a captured step the zero fill would be replayed every step.
                    check(!device_scalars_, "AdamW: ", describe(gi, i),
                          " takes its first step inside a CUDA graph "
                          "capture; run one step eagerly first");
                    s.exp_avg = Tensor<T>::zeros(p.shape(), p.device());
                    s.exp_avg_sq = Tensor<T>::zeros(p.shape(), p.device());
                }
                s.step += 1;
                last_stepped_.push_back(flat);
                auto it = std::find_if(by_device.begin(), by_device.end(),
                                       [&](const auto& d) { return d.first == p.device(); });
                if (it == by_device.end()) it = by_device.insert(by_device.end(), {p.device(), {}});
                it->second.push_back({p.data(), grad.data(), s.exp_avg.data(), s.exp_avg_sq.data(), p.numel(),
                                      scalars(g, s.step), device_scalars_ ? device_scalars_ + flat : nullptr});
            }
        }
        for (const auto& [dev, params] : by_device) backend::adamw_update(params, dev);
    }

    // Drops every gradient (torch's zero_grad(set_to_none=True), its default since 2.0).
    void zero_grad() {
        for (ParamGroup<T>& g : groups_)
            for (Tensor<T>& p : g.params) p.zero_grad();
    }

    void set_lr(double lr) {
        for (size_t gi = 0; gi < groups_.size(); ++gi) set_lr(gi, lr);
    }
    void set_lr(size_t group, double lr) {
        check(group < groups_.size(), "AdamW: no param group ", group, " (have ", groups_.size(), ")");
        check(lr >= 0, "AdamW: invalid learning rate ", lr);
        groups_[group].lr = lr;
    }
    double lr(size_t group = 0) const {
        check(group < groups_.size(), "AdamW: no param group ", group, " (have ", groups_.size(), ")");
        return *groups_[group].lr;
    }

    const AdamWOptions& options() const { return options_; }
    const std::vector<ParamGroup<T>>& param_groups() const { return groups_; }
    // State of the i-th parameter counting through the groups in order (torch's state_dict ids).
    const ParamState& state(size_t flat_index) const {
        check(flat_index < state_.size(), "AdamW: no parameter ", flat_index, " (have ", state_.size(), ")");
        return state_[flat_index];
    }
    size_t num_params() const { return state_.size(); }

    // Writes the optimizer state as safetensors (atomically): tensors state.<i>.step (I64 []),
    // state.<i>.exp_avg / exp_avg_sq (the param's dtype and shape) for every parameter that has
    // stepped; __metadata__ "temper.adamw" holds the options and each group's lr, weight decay,
    // param count and names as JSON.
    void save_state(const std::string& path) const {
        std::vector<io::TensorToWrite> out;
        std::vector<int64_t> steps(state_.size());
        std::vector<Tensor<T>> host;  // CPU copies of GPU moments, alive until the file is written
        host.reserve(2 * state_.size());
        for (size_t i = 0; i < state_.size(); ++i) {
            const ParamState& s = state_[i];
            if (s.step == 0) continue;
            steps[i] = s.step;
            auto bytes = [&](const Tensor<T>& t) {
                const Tensor<T>& h = t.device().is_cpu() ? t : host.emplace_back(t.to(Device::cpu()));
                return std::as_bytes(std::span<const T>(h.data(), size_t(h.numel())));
            };
            out.push_back(
                {str("state.", i, ".step"), DType::I64, {}, std::as_bytes(std::span<const int64_t>(&steps[i], 1))});
            out.push_back({str("state.", i, ".exp_avg"), dtype_of<T>, s.exp_avg.shape(), bytes(s.exp_avg)});
            out.push_back({str("state.", i, ".exp_avg_sq"), dtype_of<T>, s.exp_avg_sq.shape(), bytes(s.exp_avg_sq)});
        }
        nlohmann::ordered_json meta = {{"format", 1},
                                       {"betas", options_.betas},
                                       {"eps", options_.eps},
                                       {"lerp_exp_avg", options_.lerp_exp_avg},
                                       {"groups", nlohmann::ordered_json::array()}};
        for (const ParamGroup<T>& g : groups_)
            meta["groups"].push_back({{"lr", *g.lr},
                                      {"weight_decay", *g.weight_decay},
                                      {"num_params", g.params.size()},
                                      {"names", g.names}});
        io::save_safetensors(path, out, {{"temper.adamw", meta.dump()}});
    }

    // Restores state written by save_state for the same parameters (same groups, counts, shapes
    // and, where both sides have them, names). Like torch's load_state_dict it also restores
    // each group's lr and weight decay and the betas / eps / lerp options.
    void load_state(const std::string& path) {
        io::SafeTensors st = io::SafeTensors::open(path);
        auto it = st.metadata().find("temper.adamw");
        check(it != st.metadata().end(), path, ": not an AdamW state file (no 'temper.adamw' metadata)");
        nlohmann::json meta;
        try {
            meta = nlohmann::json::parse(it->second);
        } catch (const nlohmann::json::exception& e) {
            fail(path, ": 'temper.adamw' metadata is not valid JSON: ", e.what());
        }
        AdamWOptions opts = options_;
        std::vector<std::pair<double, double>> group_hyper;
        try {
            check(meta.at("format").get<int>() == 1, path, ": unsupported AdamW state format ", meta.at("format"));
            opts.betas = meta.at("betas").get<std::array<double, 2>>();
            opts.eps = meta.at("eps").get<double>();
            opts.lerp_exp_avg = meta.at("lerp_exp_avg").get<bool>();
            const auto& groups = meta.at("groups");
            check(groups.size() == groups_.size(), path, ": state has ", groups.size(),
                  " param groups, this optimizer ", groups_.size());
            for (size_t gi = 0; gi < groups_.size(); ++gi) {
                const auto& g = groups[gi];
                const size_t n = g.at("num_params").get<size_t>();
                check(n == groups_[gi].params.size(), path, ": param group ", gi, " has ", n,
                      " params in the state file, ", groups_[gi].params.size(), " here");
                auto names = g.at("names").get<std::vector<std::string>>();
                check(names.empty() || names.size() == n, path, ": param group ", gi, " has ", n, " params but ",
                      names.size(), " names in the state file");
                if (!names.empty() && !groups_[gi].names.empty())
                    for (size_t i = 0; i < n; ++i)
                        check(names[i] == groups_[gi].names[i], path, ": param ", i, " of group ", gi, " is '",
                              names[i], "' in the state file but '", groups_[gi].names[i], "' here");
                group_hyper.emplace_back(g.at("lr").get<double>(), g.at("weight_decay").get<double>());
            }
        } catch (const nlohmann::json::exception& e) {
            fail(path, ": malformed 'temper.adamw' metadata: ", e.what());
        }

        std::vector<ParamState> fresh(state_.size());
        size_t flat = 0;
        for (size_t gi = 0; gi < groups_.size(); ++gi) {
            for (size_t i = 0; i < groups_[gi].params.size(); ++i, ++flat) {
                const std::string key = str("state.", flat);
                const io::TensorInfo* step = st.find(key + ".step");
                if (!step) continue;  // never stepped
                const Tensor<T>& p = groups_[gi].params[i];
                auto steps = st.read_as<int64_t>(key + ".step");
                check(steps.size() == 1 && steps[0] > 0, path, ": ", key, ".step must be one positive count");
                fresh[flat].step = steps[0];
                auto moment = [&](const std::string& name) {
                    const io::TensorInfo& t = st.at(name);
                    check(t.shape == p.shape(), path, ": ", name, " has shape ", shape_of(t.shape), " but ",
                          describe(gi, i), " has shape ", shape_of(p.shape()));
                    return Tensor<T>::from_vector(st.read_as<T>(name), p.shape()).to(p.device());
                };
                fresh[flat].exp_avg = moment(key + ".exp_avg");
                fresh[flat].exp_avg_sq = moment(key + ".exp_avg_sq");
            }
        }
        options_ = opts;
        state_ = std::move(fresh);
        for (size_t gi = 0; gi < groups_.size(); ++gi) {
            groups_[gi].lr = group_hyper[gi].first;
            groups_[gi].weight_decay = group_hyper[gi].second;
        }
    }

private:
    friend struct detail::AdamWGraphHooks;

    // ---- CUDA graphs of a training step (train::TrainStep, through detail::AdamWGraphHooks) -------------
    // While set, step() has the GPU kernel read parameter k's scalars (k = its index through the groups)
    // from device_scalars[k] instead of kernel arguments. A captured step() then replays with the scalars of
    // each new step: rewind() undoes the capture's step counts (it ran nothing), and before each replay
    // advance() does step()'s bookkeeping and returns every parameter's scalars to upload.
    void set_device_scalars(const cpu::AdamWScalars<T>* device_scalars) { device_scalars_ = device_scalars; }
    // The parameters (flat indices) the last step() updated.
    const std::vector<size_t>& last_stepped() const { return last_stepped_; }
    void rewind(const std::vector<size_t>& flat) {
        for (size_t k : flat) state_.at(k).step -= 1;
    }
    std::vector<cpu::AdamWScalars<T>> advance(const std::vector<size_t>& flat) {
        std::vector<cpu::AdamWScalars<T>> out(state_.size());
        std::vector<size_t> group_of;
        for (size_t gi = 0; gi < groups_.size(); ++gi) group_of.insert(group_of.end(), groups_[gi].params.size(), gi);
        for (size_t k : flat) {
            ParamState& s = state_.at(k);
            s.step += 1;
            out[k] = scalars(groups_[group_of[k]], s.step);
        }
        return out;
    }

    cpu::AdamWScalars<T> scalars(const ParamGroup<T>& g, int64_t step) const {
        return cpu::adamw_scalars<T>(*g.lr, options_.betas[0], options_.betas[1], options_.eps, *g.weight_decay, step,
                                     options_.lerp_exp_avg);
    }

    static void check_options(double lr, double weight_decay) {
        check(lr >= 0, "AdamW: invalid learning rate ", lr);
        check(weight_decay >= 0, "AdamW: invalid weight_decay value ", weight_decay);
    }

    // Parameter i of group gi as a message part. Streamed, not a string: step() checks every parameter every
    // step, and check() evaluates its arguments even when it passes.
    struct ParamName {
        const ParamGroup<T>& g;
        size_t gi, i;
        friend std::ostream& operator<<(std::ostream& os, const ParamName& n) {
            if (n.g.names.empty()) return os << "#" << n.i << " of group " << n.gi;
            return os << "'" << n.g.names[n.i] << "'";
        }
    };
    ParamName describe(size_t gi, size_t i) const { return {groups_[gi], gi, i}; }

    AdamWOptions options_;
    std::vector<ParamGroup<T>> groups_;
    const cpu::AdamWScalars<T>* device_scalars_ = nullptr;
    std::vector<size_t> last_stepped_;
    std::vector<ParamState> state_;
};

namespace detail {
// train::TrainStep's access to AdamW's CUDA-graph hooks (and the tests'); not for other callers.
struct AdamWGraphHooks {
    template <class T>
    static void set_device_scalars(AdamW<T>& opt, const cpu::AdamWScalars<T>* device_scalars) {
        opt.set_device_scalars(device_scalars);
    }
    template <class T>
    static const std::vector<size_t>& last_stepped(const AdamW<T>& opt) {
        return opt.last_stepped();
    }
    template <class T>
    static void rewind(AdamW<T>& opt, const std::vector<size_t>& flat) {
        opt.rewind(flat);
    }
    template <class T>
    static std::vector<cpu::AdamWScalars<T>> advance(AdamW<T>& opt, const std::vector<size_t>& flat) {
        return opt.advance(flat);
    }
};
}  // namespace detail

}  // namespace temper::optim
