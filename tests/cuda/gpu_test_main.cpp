// doctest runner for the GPU tests: on a machine without a CUDA GPU it says so and exits with 77, which
// ctest reports as skipped.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "temper/cuda/runtime.hpp"

int main(int argc, char** argv) {
    if (!temper::cuda::is_available()) {
        std::printf(
            "SKIPPED: no CUDA GPU on this machine; GPU tests run on a machine with one "
            "(scripts/test-gpu.sh)\n");
        return 77;
    }
    doctest::Context ctx(argc, argv);
    return ctx.run();
}
