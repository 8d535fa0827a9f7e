// Device: where a tensor's storage lives. A runtime property so one model code path serves CPU and GPU.
#pragma once

#include <ostream>
#include <string>

#include "temper/core/error.hpp"

namespace temper {

enum class DeviceKind { CPU, CUDA };

struct Device {
    DeviceKind kind = DeviceKind::CPU;
    int index = 0;

    static Device cpu() { return {}; }
    static Device cuda(int index = 0) { return {DeviceKind::CUDA, index}; }
    // CUDA when this build has the CUDA backend and a GPU is present, otherwise CPU. Defined by the CUDA backend's
    // runtime (cuda/runtime.hpp, or cuda/unavailable.hpp without it), which core/tensor.hpp brings in.
    static Device best();

    bool is_cpu() const { return kind == DeviceKind::CPU; }
    bool is_cuda() const { return kind == DeviceKind::CUDA; }
    bool operator==(const Device&) const = default;
    std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
};

// Streams str(), so check(ok, "on ", dev) builds the text only when the check fails.
inline std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

// Parses "cpu", "cuda", "cuda:1".
inline Device parse_device(const std::string& s) {
    if (s == "cpu") return Device::cpu();
    if (s == "cuda") return Device::cuda(0);
    if (s.rfind("cuda:", 0) == 0) {
        try {
            return Device::cuda(std::stoi(s.substr(5)));
        } catch (...) {}
    }
    fail("unknown device '", s, "': expected cpu, cuda or cuda:N");
}

}  // namespace temper
