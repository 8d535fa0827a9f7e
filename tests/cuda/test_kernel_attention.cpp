// kernels/attention.cuh against a naive CPU reference written here in double: the unfused path of
// nn::MultiHeadSelfAttention (scores, masked softmax with the lowest finite value at masked keys, Philox
// dropout on the [B, H, S, S] weights, weights·v) and its backward, every element of out, lse, dq, dk, dv.
// S = 1..512 (not multiples of the 32 / 64 tiles too), ragged padding, a fully masked batch item, no mask,
// dropout 0 and 0.1, float and double; two runs give identical bits.
#include <algorithm>
#include <cfloat>
#include <cstring>
#include <memory>
#include <sstream>
#include <utility>

#include "kernel_check.hpp"
#include "temper/cuda/launchers.hpp"
#include "temper/core/random.hpp"

namespace test_kernel_attention {  // this file's names apart from the others' (unity build, tests/cuda/CMakeLists.txt)

using namespace temper;
using test::DeviceBuffer;

namespace {

constexpr int64_t kD = 64;

struct AttnShape {
    int64_t B, H, S;
    bool masked;
    double p;
};

// Key mask [B, S]: item 0 keeps a random prefix (padding), item 1 is fully masked, item 2 keeps another
// random prefix, later items random keys.
std::vector<int64_t> make_mask(int64_t B, int64_t S, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<int64_t> m(size_t(B * S), 1);
    for (int64_t b = 0; b < B; ++b) {
        const int64_t kept = 1 + int64_t(rng() % uint64_t(S));
        for (int64_t j = 0; j < S; ++j) {
            int64_t& v = m[size_t(b * S + j)];
            if (b == 1)
                v = 0;
            else if (b == 0 || b == 2)
                v = j < kept;
            else
                v = int64_t(rng() % 3 != 0);
        }
    }
    return m;
}

struct Reference {
    std::vector<double> out, lse, dq, dk, dv;
};

// The unfused semantics, explicit loops in double. lse follows the kernel's documented convention: the
// logsumexp of the row's scores, log(S) for a fully masked batch item.
template <class T>
Reference reference(const std::vector<T>& q, const std::vector<T>& k, const std::vector<T>& v,
                    const std::vector<T>& dout, const int64_t* mask, const AttnShape& sh, double scale, uint64_t seed,
                    uint64_t offset) {
    const int64_t B = sh.B, H = sh.H, S = sh.S;
    const double p = sh.p, rs = 1.0 / (1.0 - p);
    Reference ref;
    const size_t n = size_t(B * H * S * kD);
    ref.out.assign(n, 0.0);
    ref.dq.assign(n, 0.0);
    ref.dk.assign(n, 0.0);
    ref.dv.assign(n, 0.0);
    ref.lse.assign(size_t(B * H * S), 0.0);
    const size_t ns = static_cast<size_t>(S);
    std::vector<double> P(ns), Pd(ns), dP(ns), dS(ns);
    std::vector<char> keep(ns), masked(ns);
    for (int64_t b = 0; b < B; ++b) {
        bool any = false;
        for (int64_t j = 0; j < S; ++j) {
            masked[size_t(j)] = mask && mask[b * S + j] == 0;
            any = any || !masked[size_t(j)];
        }
        for (int64_t h = 0; h < H; ++h) {
            const int64_t base = (b * H + h) * S;
            auto at = [&](const auto& x, int64_t row, int64_t d) { return double(x[size_t((base + row) * kD + d)]); };
            for (int64_t i = 0; i < S; ++i) {
                double mx = -DBL_MAX;
                for (int64_t j = 0; j < S; ++j) {
                    double s = 0;
                    for (int64_t d = 0; d < kD; ++d) s += at(q, i, d) * at(k, j, d);
                    P[size_t(j)] = masked[size_t(j)] ? -DBL_MAX : scale * s;
                    mx = std::max(mx, P[size_t(j)]);
                }
                double sum = 0;
                for (int64_t j = 0; j < S; ++j) sum += (P[size_t(j)] = std::exp(P[size_t(j)] - mx));
                ref.lse[size_t(base + i)] = any ? mx + std::log(sum) : std::log(double(S));
                for (int64_t j = 0; j < S; ++j) {
                    P[size_t(j)] /= sum;
                    const uint64_t idx = uint64_t((base + i) * S + j);
                    keep[size_t(j)] = p == 0.0 || philox_uniform(seed, offset, idx) >= float(p);
                    Pd[size_t(j)] = keep[size_t(j)] ? P[size_t(j)] * rs : 0.0;
                }
                for (int64_t d = 0; d < kD; ++d) {
                    double o = 0;
                    for (int64_t j = 0; j < S; ++j) o += Pd[size_t(j)] * at(v, j, d);
                    ref.out[size_t((base + i) * kD + d)] = o;
                }
                // Backward of weights·v, dropout, then the masked softmax (0 at masked keys).
                double dot = 0;
                for (int64_t j = 0; j < S; ++j) {
                    double g = 0;
                    for (int64_t d = 0; d < kD; ++d) g += at(dout, i, d) * at(v, j, d);
                    dP[size_t(j)] = keep[size_t(j)] ? g * rs : 0.0;
                    dot += P[size_t(j)] * dP[size_t(j)];
                }
                for (int64_t j = 0; j < S; ++j)
                    dS[size_t(j)] = masked[size_t(j)] ? 0.0 : P[size_t(j)] * (dP[size_t(j)] - dot);
                for (int64_t j = 0; j < S; ++j)
                    for (int64_t d = 0; d < kD; ++d) {
                        ref.dq[size_t((base + i) * kD + d)] += scale * dS[size_t(j)] * at(k, j, d);
                        ref.dk[size_t((base + j) * kD + d)] += scale * dS[size_t(j)] * at(q, i, d);
                        ref.dv[size_t((base + j) * kD + d)] += Pd[size_t(j)] * at(dout, i, d);
                    }
            }
        }
    }
    return ref;
}

template <class T>
std::vector<T> as(const std::vector<double>& x) {
    return std::vector<T>(x.begin(), x.end());
}

template <class T>
struct GpuRun {
    std::vector<T> out, lse, dq, dk, dv;
};

// Forward then backward (from the kernel's own out and lse) on the GPU.
template <class T>
GpuRun<T> run_gpu(const DeviceBuffer<T>& q, const DeviceBuffer<T>& k, const DeviceBuffer<T>& v,
                  const DeviceBuffer<T>& dout, const int64_t* mask, const AttnShape& sh, T scale, uint64_t seed,
                  uint64_t offset) {
    const size_t n = q.size(), rows = size_t(sh.B * sh.H * sh.S);
    DeviceBuffer<T> out(n), lse(rows), dq(n), dk(n), dv(n);
    cuda::attention_forward(q.get(), k.get(), v.get(), mask, sh.B, sh.H, sh.S, kD, scale, sh.p, seed, offset, out.get(),
                            lse.get(), test::gpu());
    cuda::attention_backward(q.get(), k.get(), v.get(), mask, sh.B, sh.H, sh.S, kD, scale, sh.p, seed, offset,
                             out.get(), lse.get(), dout.get(), dq.get(), dk.get(), dv.get(), test::gpu());
    return {out.download(), lse.download(), dq.download(), dk.download(), dv.download()};
}

template <class T>
void check_attention(const AttnShape& sh, uint64_t seed) {
    const size_t n = size_t(sh.B * sh.H * sh.S * kD);
    const T scale = T(0.125);  // 1 / sqrt(64)
    const uint64_t philox_seed = 0x1234ABCDull + seed, offset = 17 + seed;
    std::ostringstream name;
    name << "[" << sh.B << ", " << sh.H << ", " << sh.S << ", 64]" << (sh.masked ? " masked" : "") << " p=" << sh.p;
    const std::string what = name.str();

    const std::vector<T> q = test::random_vector<T>(n, seed), k = test::random_vector<T>(n, seed + 1),
                         v = test::random_vector<T>(n, seed + 2), dout = test::random_vector<T>(n, seed + 3);
    const std::vector<int64_t> mask = sh.masked ? make_mask(sh.B, sh.S, seed + 4) : std::vector<int64_t>{};
    const Reference ref =
        reference(q, k, v, dout, sh.masked ? mask.data() : nullptr, sh, double(scale), philox_seed, offset);

    DeviceBuffer<T> dq_in(q), dk_in(k), dv_in(v), ddout(dout);
    std::unique_ptr<DeviceBuffer<int64_t>> dmask;
    if (sh.masked) dmask = std::make_unique<DeviceBuffer<int64_t>>(mask);
    const GpuRun<T> got =
        run_gpu(dq_in, dk_in, dv_in, ddout, dmask ? dmask->get() : nullptr, sh, scale, philox_seed, offset);
    test::check_close(got.out, as<T>(ref.out), "attention out " + what);
    test::check_close(got.lse, as<T>(ref.lse), "attention lse " + what);
    if (sh.S > 1) {
        test::check_close(got.dq, as<T>(ref.dq), "attention dq " + what);
        test::check_close(got.dk, as<T>(ref.dk), "attention dk " + what);
    } else {
        // One key: P = 1, so dS = P·(dP - Σ P·dP) is exactly 0 in the reference but rounding noise on the GPU
        // (dP - Dvec with Dvec from out·dout); a relative check against all zeros would be meaningless.
        double worst = 0;
        for (size_t e = 0; e < n; ++e)
            worst = std::max({worst, std::fabs(double(got.dq[e])), std::fabs(double(got.dk[e]))});
        MESSAGE("attention dq, dk ", what, ": reference 0, max |value| ", worst);
        CHECK(worst <= 100 * test::kTol<T>);
    }
    test::check_close(got.dv, as<T>(ref.dv), "attention dv " + what);

    // Masked keys get exactly zero dk; a fully masked item exactly zero dq (their score gradient is 0).
    if (sh.masked) {
        for (int64_t b = 0; b < sh.B; ++b)
            for (int64_t h = 0; h < sh.H; ++h)
                for (int64_t j = 0; j < sh.S; ++j)
                    for (int64_t d = 0; d < kD; ++d) {
                        const size_t e = size_t(((b * sh.H + h) * sh.S + j) * kD + d);
                        if (mask[size_t(b * sh.S + j)] == 0) REQUIRE(got.dk[e] == T(0));
                        if (b == 1) REQUIRE(got.dq[e] == T(0));
                    }
    }
}

}  // namespace

TEST_CASE_TEMPLATE("fused attention vs the unfused reference: S = 1..512, padding, fully masked item, dropout", T,
                   float, double) {
    uint64_t seed = 1000;
    const std::vector<std::pair<int64_t, int64_t>> BH{{1, 1}, {3, 2}, {2, 12}, {3, 4}};
    for (int64_t S : {1, 7, 64, 100, 128, 129, 512}) {
        for (double p : {0.0, 0.1}) {
            // Unmasked single item, then a masked batch of 2..3 items (item 1 fully masked).
            const auto [B1, H1] = BH[size_t((seed / 2) % BH.size())];  // cycles through all four
            const int64_t Bm = S == 512 ? 3 : std::max<int64_t>(B1, 2), Hs = S == 512 ? 2 : H1;
            for (const AttnShape& sh : {AttnShape{1, Hs, S, false, p}, AttnShape{Bm, Hs, S, true, p}}) {
                CAPTURE(sh.B);
                CAPTURE(sh.H);
                CAPTURE(S);
                CAPTURE(p);
                check_attention<T>(sh, seed++);
            }
        }
    }
    // B = 3, H = 12 at a DistilBERT-like length.
    check_attention<T>(AttnShape{3, 12, 128, true, 0.1}, seed++);
}

TEST_CASE("fused attention: deterministic (two runs give identical bits)") {
    const AttnShape sh{3, 4, 129, true, 0.1};
    const size_t n = size_t(sh.B * sh.H * sh.S * kD);
    DeviceBuffer<float> q(test::random_vector<float>(n, 1)), k(test::random_vector<float>(n, 2)),
        v(test::random_vector<float>(n, 3)), dout(test::random_vector<float>(n, 4));
    DeviceBuffer<int64_t> mask(make_mask(sh.B, sh.S, 5));
    const GpuRun<float> a = run_gpu(q, k, v, dout, mask.get(), sh, 0.125f, 77, 3);
    const GpuRun<float> b = run_gpu(q, k, v, dout, mask.get(), sh, 0.125f, 77, 3);
    auto same = [](const std::vector<float>& x, const std::vector<float>& y) {
        return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
    };
    CHECK(same(a.out, b.out));
    CHECK(same(a.lse, b.lse));
    CHECK(same(a.dq, b.dq));
    CHECK(same(a.dk, b.dk));
    CHECK(same(a.dv, b.dv));
}

TEST_CASE("fused attention: head dim other than 64 and bad dropout are errors; empty shapes launch nothing") {
    float* none = nullptr;
    CHECK_THROWS_AS(cuda::attention_forward<float>(none, none, none, nullptr, 1, 1, 4, 32, 1.0f, 0.0, 0, 0, none, none,
                                                   test::gpu()),
                    Error);
    CHECK_THROWS_AS(cuda::attention_forward<float>(none, none, none, nullptr, 1, 1, 4, 64, 1.0f, 1.0, 0, 0, none, none,
                                                   test::gpu()),
                    Error);
    CHECK_THROWS_AS(cuda::attention_backward<float>(none, none, none, nullptr, 1, 1, 4, 128, 1.0f, 0.0, 0, 0, none,
                                                    none, none, none, none, none, test::gpu()),
                    Error);
    cuda::attention_forward<float>(none, none, none, nullptr, 0, 12, 128, 64, 1.0f, 0.0, 0, 0, none, none, test::gpu());
    cuda::attention_backward<float>(none, none, none, nullptr, 2, 12, 0, 64, 1.0f, 0.1, 0, 0, none, none, none, none,
                                    none, none, test::gpu());
    test::gpu_sync();
}

}  // namespace test_kernel_attention
