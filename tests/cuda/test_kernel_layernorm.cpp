// kernels/layernorm.cuh against cpu/layernorm.hpp, every element, float and double: forward (y, mean,
// rstd), the residual-fused forward, and the backward (dx, and dgamma / dbeta, which are overwritten),
// for d = 1 .. 4097 (odd, not multiples of 32 or of the pack), one row, many rows, misaligned pointers.
#include <algorithm>
#include <cmath>
#include <sstream>
#include <utility>

#include "kernel_check.hpp"
#include "temper/cuda/launchers.hpp"
#include "temper/cpu/layernorm.hpp"

namespace test_kernel_layernorm {  // this file's names apart from the others' (unity build, tests/cuda/CMakeLists.txt)

using namespace temper;
using test::DeviceBuffer;

namespace {

constexpr double kEps = 1e-12;  // DistilBERT's

template <class T>
void check_layernorm(int64_t rows, int64_t d, uint64_t seed, size_t offset = 0) {
    std::ostringstream name;
    name << "[" << rows << ", " << d << "]" << (offset ? " misaligned" : "");
    const std::string shape = name.str();
    const size_t n = size_t(rows * d);

    // A row offset of 3 makes the mean large against the spread, as the residual stream's can be.
    std::vector<T> x = test::random_vector<T>(n, seed, 1.0, 5.0);
    std::vector<T> gamma = test::random_vector<T>(size_t(d), seed + 1, 0.5, 1.5);
    std::vector<T> beta = test::random_vector<T>(size_t(d), seed + 2, -0.5, 0.5);
    std::vector<T> y_ref(n), mean_ref(static_cast<size_t>(rows)), rstd_ref(static_cast<size_t>(rows));
    cpu::layernorm_forward(x.data(), gamma.data(), beta.data(), y_ref.data(), mean_ref.data(), rstd_ref.data(), rows, d,
                           kEps);

    DeviceBuffer<T> dx_in(x, offset), dgamma_in(gamma, offset), dbeta_in(beta, offset), dy_out(n, offset);
    DeviceBuffer<T> dmean(static_cast<size_t>(rows)), drstd(static_cast<size_t>(rows));
    cuda::layernorm_forward(dx_in.get(), dgamma_in.get(), dbeta_in.get(), dy_out.get(), dmean.get(), drstd.get(), rows,
                            d, kEps, test::gpu());
    test::check_close(dy_out.download(), y_ref, "layernorm forward y " + shape);
    test::check_close(dmean.download(), mean_ref, "layernorm forward mean " + shape);
    test::check_close(drstd.download(), rstd_ref, "layernorm forward rstd " + shape);

    // Backward from the reference mean and rstd, so it is checked on its own. dgamma / dbeta start as
    // garbage: the kernel must overwrite them, as the CPU does.
    std::vector<T> dy = test::random_vector<T>(n, seed + 3), dx_ref(n), dgamma_ref(static_cast<size_t>(d)),
                   dbeta_ref(static_cast<size_t>(d));
    cpu::layernorm_backward(x.data(), gamma.data(), mean_ref.data(), rstd_ref.data(), dy.data(), dx_ref.data(),
                            dgamma_ref.data(), dbeta_ref.data(), rows, d);
    DeviceBuffer<T> d_mean(mean_ref), d_rstd(rstd_ref), d_dy(dy, offset), d_dx(n, offset);
    DeviceBuffer<T> d_dgamma(std::vector<T>(size_t(d), T(1e30))), d_dbeta(std::vector<T>(size_t(d), T(-1e30)));
    cuda::layernorm_backward(dx_in.get(), dgamma_in.get(), d_mean.get(), d_rstd.get(), d_dy.get(), d_dx.get(),
                             d_dgamma.get(), d_dbeta.get(), rows, d, test::gpu());
    if (d == 2) {
        // With two elements xhat = -+1, so dx = rstd (g - mean(g) - xhat mean(g xhat)) is exactly 0 and both sides
        // are rounding noise: check that each is noise-sized against the terms that cancel, rstd |dy gamma|.
        const std::vector<T> got = d_dx.download();
        double terms = 0, worst = 0;
        for (size_t i = 0; i < n; ++i) {
            terms = std::max(terms, std::fabs(double(rstd_ref[i / 2]) * double(dy[i]) * double(gamma[i % 2])));
            worst = std::max({worst, std::fabs(double(got[i])), std::fabs(double(dx_ref[i]))});
        }
        MESSAGE("layernorm backward dx " << shape << ": exactly 0; largest |dx| " << worst << " against terms of "
                                         << terms);
        CHECK(worst <= test::kTol<T> * terms);
    } else {
        test::check_close(d_dx.download(), dx_ref, "layernorm backward dx " + shape);
    }
    test::check_close(d_dgamma.download(), dgamma_ref, "layernorm backward dgamma " + shape);
    test::check_close(d_dbeta.download(), dbeta_ref, "layernorm backward dbeta " + shape);
}

template <class T>
void check_residual(int64_t rows, int64_t d, uint64_t seed, size_t offset = 0) {
    std::ostringstream name;
    name << "[" << rows << ", " << d << "]" << (offset ? " misaligned" : "");
    const std::string shape = name.str();
    const size_t n = size_t(rows * d);
    std::vector<T> a = test::random_vector<T>(n, seed), b = test::random_vector<T>(n, seed + 1, -1.0, 3.0);
    std::vector<T> gamma = test::random_vector<T>(size_t(d), seed + 2, 0.5, 1.5);
    std::vector<T> beta = test::random_vector<T>(size_t(d), seed + 3, -0.5, 0.5);
    std::vector<T> x(n), y_ref(n), mean_ref(static_cast<size_t>(rows)), rstd_ref(static_cast<size_t>(rows));
    for (size_t i = 0; i < n; ++i) x[i] = a[i] + b[i];
    cpu::layernorm_forward(x.data(), gamma.data(), beta.data(), y_ref.data(), mean_ref.data(), rstd_ref.data(), rows, d,
                           kEps);

    DeviceBuffer<T> da(a, offset), db(b, offset), dg(gamma, offset), dbt(beta, offset), dsum(n, offset), dy(n, offset);
    DeviceBuffer<T> dmean(static_cast<size_t>(rows)), drstd(static_cast<size_t>(rows));
    cuda::layernorm_residual_forward(da.get(), db.get(), dg.get(), dbt.get(), dsum.get(), dy.get(), dmean.get(),
                                     drstd.get(), rows, d, kEps, test::gpu());
    test::check_close(dsum.download(), x, "layernorm residual sum " + shape, 0.0);  // a + b: bit-exact
    test::check_close(dy.download(), y_ref, "layernorm residual y " + shape);
    test::check_close(dmean.download(), mean_ref, "layernorm residual mean " + shape);
    test::check_close(drstd.download(), rstd_ref, "layernorm residual rstd " + shape);

    // In place on the residual stream (sum_out = a), as a block that updates x = LN(attn + x) may do.
    cuda::layernorm_residual_forward(da.get(), db.get(), dg.get(), dbt.get(), da.get(), dy.get(), dmean.get(),
                                     drstd.get(), rows, d, kEps, test::gpu());
    test::check_close(da.download(), x, "layernorm residual in place sum " + shape, 0.0);
    test::check_close(dy.download(), y_ref, "layernorm residual in place y " + shape);
}

const std::vector<std::pair<int64_t, int64_t>> kShapes = {{1, 1},    {1, 2},     {1, 768},    {3, 1},
                                                          {5, 7},    {17, 33},   {64, 100},   {2, 4096},
                                                          {3, 4097}, {129, 768}, {4096, 768}, {1000, 3}};

}  // namespace

TEST_CASE_TEMPLATE("layernorm forward and backward", T, float, double) {
    uint64_t seed = 1000;
    for (auto [rows, d] : kShapes) {
        CAPTURE(rows);
        CAPTURE(d);
        check_layernorm<T>(rows, d, seed);
        seed += 10;
    }
    check_layernorm<T>(33, 768, 1500, 1);  // misaligned: scalar path
    check_layernorm<T>(7, 64, 1510, 1);
}

TEST_CASE_TEMPLATE("layernorm fused with the residual add", T, float, double) {
    uint64_t seed = 2000;
    for (auto [rows, d] : kShapes) {
        CAPTURE(rows);
        CAPTURE(d);
        check_residual<T>(rows, d, seed);
        seed += 10;
    }
    check_residual<T>(33, 768, 2500, 1);
}

TEST_CASE("layernorm backward over zero rows writes zero parameter gradients") {
    DeviceBuffer<float> dgamma(std::vector<float>(5, 7.0f)), dbeta(std::vector<float>(5, 7.0f));
    cuda::layernorm_backward<float>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, dgamma.get(), dbeta.get(), 0,
                                    5, test::gpu());
    CHECK(dgamma.download() == std::vector<float>(5, 0.0f));
    CHECK(dbeta.download() == std::vector<float>(5, 0.0f));
}

}  // namespace test_kernel_layernorm
