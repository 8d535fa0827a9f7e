// kernels/softmax.cuh against cpu/softmax.hpp, every element, float and double: attention shapes with
// S = 1..512 (padded, fully masked and unmasked batch items), odd widths, no mask, long rows, and
// misaligned pointers (the scalar path).
#include <algorithm>
#include <memory>
#include <sstream>
#include <utility>

#include "kernel_check.hpp"
#include "temper/cuda/launchers.hpp"
#include "temper/cpu/softmax.hpp"

namespace test_kernel_softmax {  // this file's names apart from the others' (unity build, tests/cuda/CMakeLists.txt)

using namespace temper;
using test::DeviceBuffer;

namespace {

// Key mask for B batch items of S keys: item 0 keeps a random prefix of 1..S keys (padding), item 1 is
// fully masked, item 2 keeps everything, later items are random.
std::vector<int64_t> make_mask(int64_t B, int64_t S, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<int64_t> m(size_t(B * S), 1);
    const int64_t kept = 1 + int64_t(rng() % uint64_t(S));
    for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < S; ++j) {
            int64_t& v = m[size_t(b * S + j)];
            if (b == 0)
                v = j < kept;
            else if (b == 1)
                v = 0;
            else if (b >= 3)
                v = int64_t(rng() % 3 != 0);
        }
    return m;
}

// Forward and backward of one [rows, cols] problem. offset = 1 starts every buffer one element into its
// allocation (misaligned: the scalar path even when cols is a multiple of the pack).
template <class T>
void check_softmax(int64_t rows, int64_t cols, int64_t rows_per_batch, const std::vector<int64_t>* mask, uint64_t seed,
                   size_t offset = 0) {
    const T scale = T(0.125);
    const size_t n = size_t(rows * cols);
    const int64_t* hmask = mask ? mask->data() : nullptr;
    std::ostringstream name;
    name << "[" << rows << ", " << cols << "]" << (mask ? " masked" : "") << (offset ? " misaligned" : "");
    const std::string shape = name.str();

    std::vector<T> x = test::random_vector<T>(n, seed, -8.0, 8.0), y_ref(n);
    cpu::masked_softmax_forward(x.data(), y_ref.data(), hmask, rows, cols, rows_per_batch, scale);
    DeviceBuffer<T> dx_in(x, offset), dy_out(n, offset);
    std::unique_ptr<DeviceBuffer<int64_t>> dmask;
    if (mask) dmask = std::make_unique<DeviceBuffer<int64_t>>(*mask);
    cuda::masked_softmax_forward(dx_in.get(), dy_out.get(), dmask ? dmask->get() : nullptr, rows, cols, rows_per_batch,
                                 scale, test::gpu());
    const std::vector<T> y = dy_out.download();
    test::check_close(y, y_ref, "softmax forward " + shape);

    // Fully masked rows are exactly uniform.
    if (mask) {
        for (int64_t r = 0; r < rows; ++r) {
            const int64_t* mr = hmask + (r / rows_per_batch) * cols;
            if (std::any_of(mr, mr + cols, [](int64_t v) { return v != 0; })) continue;
            for (int64_t j = 0; j < cols; ++j) REQUIRE(y[size_t(r * cols + j)] == y[size_t(r * cols)]);
        }
    }

    // Backward from the reference y, so it is checked on its own.
    std::vector<T> dy = test::random_vector<T>(n, seed + 1), dx_ref(n);
    cpu::masked_softmax_backward(y_ref.data(), dy.data(), dx_ref.data(), hmask, rows, cols, rows_per_batch, scale);
    DeviceBuffer<T> d_y(y_ref, offset), d_dy(dy, offset), d_dx(n, offset);
    cuda::masked_softmax_backward(d_y.get(), d_dy.get(), d_dx.get(), dmask ? dmask->get() : nullptr, rows, cols,
                                  rows_per_batch, scale, test::gpu());
    test::check_close(d_dx.download(), dx_ref, "softmax backward " + shape);
}

}  // namespace

TEST_CASE_TEMPLATE("masked softmax: attention shapes [B, H, S, S], S = 1..512, padded and fully masked items", T, float,
                   double) {
    const int64_t B = 4, H = 2;
    uint64_t seed = 100;
    for (int64_t S : {1, 2, 3, 4, 5, 7, 8, 31, 32, 33, 63, 64, 100, 127, 128, 129, 255, 256, 257, 384, 511, 512}) {
        CAPTURE(S);
        const std::vector<int64_t> mask = make_mask(B, S, seed);
        check_softmax<T>(B * H * S, S, H * S, &mask, seed++);
    }
}

TEST_CASE_TEMPLATE("masked softmax: no mask, single rows, long and odd rows", T, float, double) {
    uint64_t seed = 200;
    for (auto [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{
             {1, 1}, {1, 5}, {1, 4096}, {3, 1000}, {9, 4097}, {17, 30522}, {1000, 12}, {70000, 3}}) {
        CAPTURE(rows);
        CAPTURE(cols);
        check_softmax<T>(rows, cols, rows, nullptr, seed++);
    }
}

TEST_CASE_TEMPLATE("masked softmax: misaligned pointers take the scalar path", T, float, double) {
    const std::vector<int64_t> mask = make_mask(4, 128, 7);
    check_softmax<T>(4 * 3 * 128, 128, 3 * 128, &mask, 300, 1);
    check_softmax<T>(5, 64, 5, nullptr, 301, 1);
}

TEST_CASE("masked softmax: empty shapes launch nothing and bad rows_per_batch is an error") {
    cuda::masked_softmax_forward<float>(nullptr, nullptr, nullptr, 0, 16, 1, 1.0f, test::gpu());
    cuda::masked_softmax_backward<float>(nullptr, nullptr, nullptr, nullptr, 16, 0, 1, 1.0f, test::gpu());
    DeviceBuffer<int64_t> mask(std::vector<int64_t>(4, 1));
    CHECK_THROWS_AS(cuda::masked_softmax_forward<float>(nullptr, nullptr, mask.get(), 4, 4, 0, 1.0f, test::gpu()),
                    Error);
    test::gpu_sync();
}

}  // namespace test_kernel_softmax
