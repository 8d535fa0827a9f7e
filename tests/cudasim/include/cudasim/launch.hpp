// Kernel launches: CUDASIM_LAUNCH(grid, block, smem, stream, kernel)(args...) is the simulator's spelling
// of kernel<<<grid, block, smem, stream>>>(args...). The arguments are copied at launch, as CUDA copies them
// into the kernel's parameter space, and the launch is queued on the stream; it runs when the stream is
// waited for. The kernel expression comes last so that the commas of its template arguments need no
// parentheses; deduced template arguments (fill_kernel(out, v, n)) work as with <<<>>>.
#pragma once

#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "cudasim/runtime_api.hpp"

namespace cudasim {

struct LaunchSite {
    dim3 grid, block;
    size_t dynamic_smem;
    cudaStream_t stream;
    const char* kernel;  // the kernel expression as written
    const char* file;
    int line;
};

// A function, not an aggregate, so that `int` grid sizes convert to dim3 as they do with <<<>>>.
inline LaunchSite launch_site(dim3 grid, dim3 block, size_t smem, cudaStream_t stream, const char* kernel,
                              const char* file, int line) {
    return {grid, block, smem, stream, kernel, file, line};
}

// One launch: the kernel with its arguments, immutable once made; a captured graph replays the same object.
class Kernel {
public:
    virtual ~Kernel() = default;
    // Runs the kernel body for the simulated thread that is current.
    virtual void run_thread() const = 0;

    // The arguments as the runtime checks them: the values of pointer arguments (each must be null or point
    // into device memory of the launch's device), and where the class-type arguments are (their bytes are
    // scanned for device pointers when the race check snapshots what a kernel may write).
    struct PointerArg {
        int index;
        const void* value;
    };
    std::vector<PointerArg> pointer_args;
    std::vector<std::pair<const void*, size_t>> object_args;
};

template <class Body, class... Args>
class KernelWithArgs final : public Kernel {
public:
    template <class... A>
    explicit KernelWithArgs(const Body& body, A&&... args) : body_(body), args_(std::forward<A>(args)...) {
        describe(std::index_sequence_for<Args...>{});
    }
    void run_thread() const override { std::apply(body_, args_); }

private:
    template <size_t... I>
    void describe(std::index_sequence<I...>) {
        (describe_arg<I>(std::get<I>(args_)), ...);
    }
    template <size_t I, class A>
    void describe_arg(const A& a) {
        if constexpr (std::is_pointer_v<A> && !std::is_function_v<std::remove_pointer_t<A>>)
            pointer_args.push_back({int(I), static_cast<const void*>(a)});
        else if constexpr (std::is_class_v<A>)
            object_args.emplace_back(static_cast<const void*>(&a), sizeof(A));
    }

    Body body_;
    std::tuple<Args...> args_;
};

namespace detail {

// Queues the launch on site.stream (or records it into the stream's capture); launch errors go to
// cudaGetLastError, as with <<<>>>. kernel_address is null when the launch expression does not name one
// function (deduced template arguments that differ from the arguments' types): such a kernel is taken to
// have no attributes set (cudaFuncSetAttribute).
void launch(const LaunchSite& site, const void* kernel_address, std::shared_ptr<const Kernel> kernel);

template <class R, class... P, class... A>
const void* kernel_address(R (*f)(P...), const A&...) {
    return reinterpret_cast<const void*>(f);
}

}  // namespace detail

template <class Address, class Body>
struct Launcher {
    LaunchSite site;
    Address address;
    Body body;

    template <class... A>
    void operator()(A&&... args) const {
        const void* addr = address(args...);
        detail::launch(
            site, addr,
            std::make_shared<const KernelWithArgs<Body, std::decay_t<A>...>>(body, std::forward<A>(args)...));
    }
};

template <class Address, class Body>
Launcher<Address, Body> make_launcher(const LaunchSite& site, Address address, Body body) {
    return {site, address, body};
}

}  // namespace cudasim

#define CUDASIM_LAUNCH(grid, block, smem, stream, ...)                                                          \
    ::cudasim::make_launcher(                                                                                   \
        ::cudasim::launch_site((grid), (block), (smem), (stream), #__VA_ARGS__, __FILE__, __LINE__),            \
        [=](const auto&... cudasim_args) -> const void* {                                                       \
            if constexpr (requires { ::cudasim::detail::kernel_address(__VA_ARGS__, cudasim_args...); })        \
                return ::cudasim::detail::kernel_address(__VA_ARGS__, cudasim_args...);                         \
            else if constexpr (requires {                                                                       \
                                   static_cast<void (*)(std::decay_t<decltype(cudasim_args)>...)>(__VA_ARGS__); \
                               })                                                                               \
                return reinterpret_cast<const void*>(                                                           \
                    static_cast<void (*)(std::decay_t<decltype(cudasim_args)>...)>(__VA_ARGS__));               \
            else                                                                                                \
                return nullptr;                                                                                 \
        },                                                                                                      \
        [=](const auto&... cudasim_args) { __VA_ARGS__(cudasim_args...); })
