// kernels/activation.cuh against cpu/elementwise.hpp, every element, float and double: GELU (erf), ReLU and tanh
// forward and backward, and the fused bias + GELU with its bias gradient (a column sum, checked against a
// double-precision sum of the CPU's dx).
#include <sstream>
#include <utility>

#include "kernel_check.hpp"
#include "temper/cuda/launchers.hpp"
#include "temper/cpu/elementwise.hpp"

namespace test_kernel_activation {  // this file's names apart from the others' (unity build, tests/cuda/CMakeLists.txt)

using namespace temper;
using test::DeviceBuffer;

TEST_CASE_TEMPLATE("gelu forward and backward", T, float, double) {
    uint64_t seed = 3000;
    for (int64_t n : {1, 31, 1000, (1 << 20) + 3}) {
        CAPTURE(n);
        std::string tag = " n=";
        tag += std::to_string(n);
        std::vector<T> x = test::random_vector<T>(size_t(n), seed++, -6.0, 6.0);
        std::vector<T> dy = test::random_vector<T>(size_t(n), seed++), y_ref(static_cast<size_t>(n)),
                       dx_ref(static_cast<size_t>(n));
        cpu::gelu_forward(x.data(), y_ref.data(), n);
        cpu::gelu_backward(x.data(), dy.data(), dx_ref.data(), n);
        DeviceBuffer<T> dx_in(x), d_dy(dy), d_y(static_cast<size_t>(n)), d_dx(static_cast<size_t>(n));
        cuda::gelu_forward(dx_in.get(), d_y.get(), n, test::gpu());
        cuda::gelu_backward(dx_in.get(), d_dy.get(), d_dx.get(), n, test::gpu());
        test::check_close(d_y.download(), y_ref, "gelu forward" + tag);
        test::check_close(d_dx.download(), dx_ref, "gelu backward" + tag);
        // In place: y overwrites x, dx overwrites dy.
        cuda::gelu_backward(dx_in.get(), d_dy.get(), d_dy.get(), n, test::gpu());
        cuda::gelu_forward(dx_in.get(), dx_in.get(), n, test::gpu());
        test::check_close(dx_in.download(), y_ref, "gelu forward in place" + tag);
        test::check_close(d_dy.download(), dx_ref, "gelu backward in place" + tag);
    }
}

TEST_CASE_TEMPLATE("tanh forward and backward (BERT's pooler)", T, float, double) {
    uint64_t seed = 3500;
    for (int64_t n : {1, 33, (1 << 16) + 5}) {
        CAPTURE(n);
        const std::string tag = " n=" + std::to_string(n);
        std::vector<T> x = test::random_vector<T>(size_t(n), seed++, -8.0, 8.0);
        std::vector<T> dy = test::random_vector<T>(size_t(n), seed++), y_ref(static_cast<size_t>(n)),
                       dx_ref(static_cast<size_t>(n));
        cpu::tanh_forward(x.data(), y_ref.data(), n);
        cpu::tanh_backward(x.data(), dy.data(), dx_ref.data(), n);
        DeviceBuffer<T> d_x(x), d_dy(dy), d_y(static_cast<size_t>(n)), d_dx(static_cast<size_t>(n));
        cuda::tanh_forward(d_x.get(), d_y.get(), n, test::gpu());
        cuda::tanh_backward(d_x.get(), d_dy.get(), d_dx.get(), n, test::gpu());
        test::check_close(d_y.download(), y_ref, "tanh forward" + tag);
        test::check_close(d_dx.download(), dx_ref, "tanh backward" + tag);
    }
}

TEST_CASE_TEMPLATE("relu forward and backward are exact, with gradient 0 at 0", T, float, double) {
    uint64_t seed = 3100;
    for (int64_t n : {1, 7, 1000, (1 << 20) + 5}) {
        CAPTURE(n);
        std::string tag = " n=";
        tag += std::to_string(n);
        std::vector<T> x = test::random_vector<T>(size_t(n), seed++, -1.0, 1.0);
        for (size_t i = 0; i < x.size(); i += 5) x[i] = T(0);
        std::vector<T> dy = test::random_vector<T>(size_t(n), seed++), y_ref(static_cast<size_t>(n)),
                       dx_ref(static_cast<size_t>(n));
        cpu::relu_forward(x.data(), y_ref.data(), n);
        cpu::relu_backward(x.data(), dy.data(), dx_ref.data(), n);
        DeviceBuffer<T> dx_in(x), d_dy(dy), d_y(static_cast<size_t>(n)), d_dx(static_cast<size_t>(n));
        cuda::relu_forward(dx_in.get(), d_y.get(), n, test::gpu());
        cuda::relu_backward(dx_in.get(), d_dy.get(), d_dx.get(), n, test::gpu());
        test::check_close(d_y.download(), y_ref, "relu forward" + tag, 0.0);
        test::check_close(d_dx.download(), dx_ref, "relu backward" + tag, 0.0);
    }
}

TEST_CASE_TEMPLATE("bias + gelu forward and backward, with the bias gradient", T, float, double) {
    uint64_t seed = 3200;
    for (auto [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{
             {1, 1}, {1, 5}, {3, 7}, {33, 100}, {1000, 1}, {5, 33}, {512, 3072}, {2048, 768}, {70000, 3}}) {
        CAPTURE(rows);
        CAPTURE(cols);
        std::ostringstream name;
        name << "[" << rows << ", " << cols << "]";
        const size_t n = size_t(rows * cols);
        std::vector<T> x = test::random_vector<T>(n, seed++, -4.0, 4.0);
        std::vector<T> bias = test::random_vector<T>(size_t(cols), seed++, -1.0, 1.0);
        std::vector<T> dy = test::random_vector<T>(n, seed++);

        std::vector<T> pre_ref(n), y_ref(n), dx_ref(n), dbias_ref(static_cast<size_t>(cols));
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = 0; j < cols; ++j)
                pre_ref[size_t(r * cols + j)] = x[size_t(r * cols + j)] + bias[size_t(j)];
        cpu::gelu_forward(pre_ref.data(), y_ref.data(), int64_t(n));
        cpu::gelu_backward(pre_ref.data(), dy.data(), dx_ref.data(), int64_t(n));
        for (int64_t j = 0; j < cols; ++j) {
            double s = 0;
            for (int64_t r = 0; r < rows; ++r) s += double(dx_ref[size_t(r * cols + j)]);
            dbias_ref[size_t(j)] = T(s);
        }

        DeviceBuffer<T> d_x(x), d_bias(bias), d_pre(n), d_y(n);
        cuda::bias_gelu_forward(d_x.get(), d_bias.get(), d_pre.get(), d_y.get(), rows, cols, test::gpu());
        test::check_close(d_pre.download(), pre_ref, "bias_gelu pre " + name.str(), 0.0);  // x + bias: bit-exact
        test::check_close(d_y.download(), y_ref, "bias_gelu forward " + name.str());
        DeviceBuffer<T> d_y2(n);  // without saving pre (inference)
        cuda::bias_gelu_forward(d_x.get(), d_bias.get(), static_cast<T*>(nullptr), d_y2.get(), rows, cols, test::gpu());
        test::check_close(d_y2.download(), y_ref, "bias_gelu forward, no pre " + name.str());

        DeviceBuffer<T> d_dy(dy), d_dx(n), d_dbias(std::vector<T>(size_t(cols), T(1e30)));
        cuda::bias_gelu_backward(d_pre.get(), d_dy.get(), d_dx.get(), d_dbias.get(), rows, cols, test::gpu());
        test::check_close(d_dx.download(), dx_ref, "bias_gelu backward dx " + name.str());
        test::check_close(d_dbias.download(), dbias_ref, "bias_gelu backward dbias " + name.str());
    }
}

TEST_CASE("bias + gelu backward over zero rows writes a zero bias gradient") {
    DeviceBuffer<float> dbias(std::vector<float>(9, 3.0f));
    cuda::bias_gelu_backward<float>(nullptr, nullptr, nullptr, dbias.get(), 0, 9, test::gpu());
    CHECK(dbias.download() == std::vector<float>(9, 0.0f));
}

}  // namespace test_kernel_activation
