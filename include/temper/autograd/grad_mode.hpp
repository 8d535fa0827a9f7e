// Whether operations record the graph. NoGradGuard turns recording off for a scope (like torch.no_grad()).
#pragma once

namespace temper {

inline bool& grad_mode_flag() {
    thread_local bool enabled = true;
    return enabled;
}
inline bool grad_enabled() { return grad_mode_flag(); }

class NoGradGuard {
public:
    NoGradGuard() : prev_(grad_mode_flag()) { grad_mode_flag() = false; }
    ~NoGradGuard() { grad_mode_flag() = prev_; }
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool prev_;
};

}  // namespace temper
